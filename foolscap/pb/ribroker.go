package pb

import (
	"context"
	"fmt"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// ribroker serves the calls a peer makes on clid 0 (RIBroker, §5.7).
type ribroker struct{ b *Broker }

func (ribroker) RemoteInterfaceName() string { return "RIBroker" }

func (r ribroker) RemoteCall(_ context.Context, c *Call) (any, error) {
	switch c.Method {
	case "getReferenceByName":
		v, err := oneArg(c, "name")
		if err != nil {
			return nil, err
		}
		name, ok := v.([]byte)
		if !ok {
			return nil, banana.Violationf("getReferenceByName: name must be bytes, not %s", pyType(v))
		}
		if r.b.cfg.Local != nil {
			if obj, ok := r.b.cfg.Local(string(name)); ok && obj != nil {
				return obj, nil
			}
		}
		hint := []rune(string(name))
		if len(hint) > 2 {
			hint = hint[:2]
		}
		// Python: KeyError("unable to find reference for name starting
		// with '%s'"); str() of a KeyError is the repr of its message.
		return nil, &RemoteError{
			Type:      "builtins.KeyError",
			Value:     fmt.Sprintf("\"unable to find reference for name starting with '%s'\"", string(hint)),
			Traceback: "Traceback unavailable\n",
			Parents:   []string{"builtins.KeyError", "builtins.LookupError", "builtins.Exception", "builtins.BaseException", "builtins.object"},
		}
	case "decref":
		clid, count, err := twoInts(c, "clid", "count")
		if err != nil {
			return nil, err
		}
		b := r.b
		b.mu.Lock()
		if ex := b.exports[clid]; ex != nil {
			ex.refcount -= int(count)
			if ex.refcount <= 0 {
				delete(b.exports, clid)
				delete(b.exportByObj, ex.obj)
			}
		}
		b.mu.Unlock()
		return nil, nil
	case "decgift":
		id, count, err := twoInts(c, "giftID", "count")
		if err != nil {
			return nil, err
		}
		b := r.b
		b.mu.Lock()
		if ref := b.giftByID[id]; ref != nil {
			g := b.gifts[ref]
			g.count -= int(count)
			if g.count <= 0 {
				delete(b.gifts, ref)
				delete(b.giftByID, id)
			}
		}
		b.mu.Unlock()
		return nil, nil
	}
	return nil, banana.Violationf("method '%s' not defined in RIBroker", truncateName(c.Method))
}

func truncateName(s string) string { return truncate(s, 60) }

// oneArg returns the single argument called name, given by position or
// keyword.
func oneArg(c *Call, name string) (any, error) {
	switch {
	case len(c.Args) == 1 && len(c.Kwargs) == 0:
		return c.Args[0], nil
	case len(c.Args) == 0 && len(c.Kwargs) == 1:
		if v, ok := c.Kwargs[name]; ok {
			return v, nil
		}
	}
	return nil, banana.Violationf("%s takes exactly one argument, %s", c.Method, name)
}

func twoInts(c *Call, n1, n2 string) (int64, int64, error) {
	if len(c.Args) > 2 {
		return 0, 0, banana.Violationf("%s takes %s and %s", c.Method, n1, n2)
	}
	vals := make([]any, 0, 2)
	vals = append(vals, c.Args...)
	for _, n := range []string{n1, n2}[len(c.Args):] {
		if len(vals) >= 2 {
			break
		}
		vals = append(vals, c.Kwargs[n])
	}
	if len(vals) != 2 {
		return 0, 0, banana.Violationf("%s takes %s and %s", c.Method, n1, n2)
	}
	a, ok1 := vals[0].(int64)
	b, ok2 := vals[1].(int64)
	if !ok1 || !ok2 {
		return 0, 0, banana.Violationf("%s: %s and %s must be ints", c.Method, n1, n2)
	}
	return a, b, nil
}

// pyType names the Python type of a value of the model, for messages.
func pyType(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case int64:
		return "int"
	case bool:
		return "bool"
	case float64:
		return "float"
	}
	return fmt.Sprintf("%T", v)
}
