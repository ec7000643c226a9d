package incident

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
)

const maxNameLength = 200

var (
	nameRE  = regexp.MustCompile(`^incident-[A-Za-z0-9._-]+$`)
	tubidRE = regexp.MustCompile(`^[a-z2-7]{32}$`)
)

// ValidName checks an incident name from the network before it becomes part
// of a path. Foolscap names look like incident-2026-11-27--06-08-37Z-dfeow4y.
func ValidName(name string) error {
	switch {
	case len(name) > maxNameLength:
		return fmt.Errorf("incident name of %d bytes is longer than %d", len(name), maxNameLength)
	case !nameRE.MatchString(name):
		return fmt.Errorf("incident name %.80q must start with \"incident-\" and use only letters, digits, '.', '_' and '-'", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("incident name %.80q contains \"..\"", name)
	case strings.HasSuffix(name, ".tmp"):
		return fmt.Errorf("incident name %.80q ends in .tmp", name)
	}
	return nil
}

// ValidTubID checks a tubid before it names a directory: 32 characters of
// lowercase base32, as every authenticated Foolscap tubid is.
func ValidTubID(tubid string) error {
	if !tubidRE.MatchString(tubid) {
		return fmt.Errorf("tubid %.80q is not 32 characters of lowercase base32", tubid)
	}
	return nil
}

// text returns a str or bytes value as a Go string.
func text(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case []byte:
		if !utf8.Valid(t) {
			return "", errors.New("bytes are not UTF-8")
		}
		return string(t), nil
	}
	return "", fmt.Errorf("expected str or bytes, got %T", v)
}

// dictGet looks a key up in a dict of the value model (or a map from a
// flogfile reader), accepting str or bytes keys.
func dictGet(d any, key string) (any, bool) {
	switch t := d.(type) {
	case *banana.Dict:
		return t.GetStr(key)
	case map[string]any:
		v, ok := t[key]
		return v, ok
	}
	return nil, false
}

func isDict(v any) bool {
	switch v.(type) {
	case *banana.Dict, map[string]any:
		return v != nil
	}
	return false
}

// fingerprint identifies a trigger event across tubids and across a round
// trip through a flogfile: its incarnation and event number (unique per
// emitting process), time and level. A trigger lacking the incarnation is
// identified by all its fields.
//
// The trigger comes from a node, and Banana lets a message refer back to
// containers it already sent: a list may hold itself, and a few hundred
// bytes may describe a value whose expansion is exponential. The text is
// therefore cut at maxCanonBytes and maxCanonDepth, marked as cut; two
// triggers alike that far are the same event for de-duplication, which
// also needs the same incident name.
func fingerprint(trigger any) string {
	c := &canonizer{}
	inc, ok1 := dictGet(trigger, "incarnation")
	num, ok2 := dictGet(trigger, "num")
	if !ok1 || !ok2 {
		c.canon(trigger, 0)
		return c.String()
	}
	for _, v := range []any{inc, num} {
		c.canon(v, 0)
		c.sb.WriteByte('|')
	}
	for _, k := range []string{"time", "level"} {
		v, _ := dictGet(trigger, k)
		c.canon(v, 0)
		c.sb.WriteByte('|')
	}
	return c.String()
}

// Bounds of a fingerprint's text; real triggers stay far below both.
const (
	maxCanonBytes = 64 << 10
	maxCanonDepth = 64
)

// canonizer writes a canonical text of a value that is the same whether
// the value came over the wire or back from a flogfile (str = bytes,
// tuple = list, sorted dict keys), up to the bounds above.
type canonizer struct {
	sb  strings.Builder
	cut bool
}

// String is the text, with a mark when it was cut.
func (c *canonizer) String() string {
	if c.cut {
		return c.sb.String() + "\x00cut"
	}
	return c.sb.String()
}

func (c *canonizer) canon(v any, depth int) {
	if c.cut || c.sb.Len() > maxCanonBytes || depth > maxCanonDepth {
		c.cut = true
		return
	}
	sb := &c.sb
	switch t := v.(type) {
	case nil:
		sb.WriteString("N")
	case bool:
		sb.WriteString(strconv.FormatBool(t))
	case string:
		sb.WriteString(strconv.Quote(t))
	case []byte:
		sb.WriteString(strconv.Quote(string(t)))
	case int64:
		sb.WriteString("i" + strconv.FormatInt(t, 10))
	case int:
		sb.WriteString("i" + strconv.Itoa(t))
	case *big.Int:
		sb.WriteString("i" + t.String())
	case float64:
		sb.WriteString("f" + strconv.FormatFloat(t, 'g', -1, 64))
	case banana.List:
		c.list(t, depth)
	case banana.Tuple:
		c.list(t, depth)
	case []any:
		c.list(t, depth)
	case *banana.Dict:
		m := make(map[string]any, t.Len())
		for _, it := range t.Items {
			k := &canonizer{}
			k.canon(it.Key, depth+1)
			if k.cut {
				c.cut = true
				return
			}
			m[k.sb.String()] = it.Value
		}
		c.dict(m, depth)
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, val := range t {
			m[strconv.Quote(k)] = val
		}
		c.dict(m, depth)
	case fmt.Stringer:
		// json.Number and the like.
		s := t.String()
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			sb.WriteString("i" + s)
		} else if f, err := strconv.ParseFloat(s, 64); err == nil {
			sb.WriteString("f" + strconv.FormatFloat(f, 'g', -1, 64))
		} else {
			sb.WriteString(strconv.Quote(s))
		}
	default:
		fmt.Fprintf(sb, "?%T", v)
	}
}

func (c *canonizer) list(l []any, depth int) {
	c.sb.WriteByte('[')
	for _, v := range l {
		if c.cut {
			return
		}
		c.canon(v, depth+1)
		c.sb.WriteByte(',')
	}
	c.sb.WriteByte(']')
}

func (c *canonizer) dict(m map[string]any, depth int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c.sb.WriteByte('{')
	for _, k := range keys {
		if c.cut {
			return
		}
		c.sb.WriteString(k)
		c.sb.WriteByte(':')
		c.canon(m[k], depth+1)
		c.sb.WriteByte(',')
	}
	c.sb.WriteByte('}')
}
