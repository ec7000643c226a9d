package flog

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// PrinterOptions are the display flags of `flogtool tail`.
type PrinterOptions struct {
	Verbose    bool   // -v/--verbose: print str(event) instead of the formatted line
	Timestamps string // -t/--timestamps: one of TimeModes(); "" means short-local
	// Location is the zone of the *-local modes; nil means time.Local.
	Location *time.Location
}

// Printer renders live events the way flogtool tail's LogPrinter does.
// Events are values of the banana model as received over the wire (str or
// bytes keys, tuples, received Failures as *banana.Copyable). A Printer is
// not safe for concurrent use; give it to the goroutine that owns the
// subscription.
type Printer struct {
	w    io.Writer
	opts PrinterOptions
}

// NewPrinter returns a Printer writing to w. It fails with flogtool's usage
// text for an unknown timestamp mode.
func NewPrinter(w io.Writer, opts PrinterOptions) (*Printer, error) {
	if opts.Timestamps == "" {
		opts.Timestamps = TimeShortLocal
	}
	if err := CheckTimeMode(opts.Timestamps); err != nil {
		return nil, err
	}
	return &Printer{w: w, opts: opts}, nil
}

// Versions prints the answer of get_versions: "Remote Versions:" and one
// " name: version" line per entry, sorted by name.
func (p *Printer) Versions(versions any) error {
	d, ok := versions.(*banana.Dict)
	if !ok {
		return &PyError{Type: "AttributeError", Msg: fmt.Sprintf("'%s' object has no attribute 'items'", pyjson.TypeName(versions))}
	}
	m := make(map[string]string, len(d.Items))
	names := make([]string, 0, len(d.Items))
	for _, it := range d.Items {
		k, err := ensureText(it.Key)
		if err != nil {
			return err
		}
		v, err := ensureText(it.Value)
		if err != nil {
			return err
		}
		if _, dup := m[k]; !dup {
			names = append(names, k)
		}
		m[k] = v
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Remote Versions:\n")
	for _, k := range names {
		b.WriteString(" " + k + ": " + m[k] + "\n")
	}
	return p.write(b.String())
}

// Event prints one event (LogPrinter.remote_msg): with Verbose, str() of
// the event dict; otherwise "<time> L<level> []#<num> <text>", followed by
// " FAILURE:" and the indented lines of str(failure) when the event carries
// one. A *PyError is returned where flogtool's printer would raise (missing
// "time" or "num", an event FormatMessage cannot render); nothing is
// printed for that event then.
func (p *Printer) Event(event any) error {
	d, ok := event.(*banana.Dict)
	if !ok {
		return &PyError{Type: "AttributeError", Msg: fmt.Sprintf("'%s' object has no attribute 'items'", pyjson.TypeName(event))}
	}
	d = StrKeys(d)
	if p.opts.Verbose {
		return p.write(pyjson.Str(d) + "\n")
	}
	tm, err := get(d, "time")
	if err != nil {
		return err
	}
	when, err := FormatTime(tm, p.opts.Timestamps, p.opts.Location)
	if err != nil {
		return err
	}
	msg, err := FormatMessage(d)
	if err != nil {
		return err
	}
	level, ok := d.Get("level")
	if !ok {
		level = int64(20) // log.OPERATIONAL
	}
	num, err := get(d, "num")
	if err != nil {
		return err
	}
	line, err := PercentFormat("%s L%d [%s]#%d %s", banana.Tuple{when, level, "", num, msg})
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(line + "\n")
	if f, ok := d.Get("failure"); ok {
		b.WriteString(" FAILURE:\n")
		for _, l := range strings.Split(pyjson.Str(f), "\n") {
			b.WriteString(" " + l + "\n")
		}
	}
	return p.write(b.String())
}

// TailHeader builds the header `flogtool tail --save-to` writes: type
// "tail", the versions after ensure_dict_str (keys and values as str, in
// the received order) and the pid (nil when get_pid failed). Events are
// then saved with Writer.WriteEvent(TailFrom(tubid), rxTime, StrKeys(ev)).
func TailHeader(versions, pid any) (*banana.Dict, error) {
	d, ok := versions.(*banana.Dict)
	if !ok {
		return nil, &PyError{Type: "AttributeError", Msg: fmt.Sprintf("'%s' object has no attribute 'items'", pyjson.TypeName(versions))}
	}
	v := &banana.Dict{}
	for _, it := range d.Items {
		k, err := ensureText(it.Key)
		if err != nil {
			return nil, err
		}
		val, err := ensureText(it.Value)
		if err != nil {
			return nil, err
		}
		v.Set(k, val)
	}
	return NewHeader("tail", "versions", v, "pid", pid), nil
}

// TailFrom is the "from" of events saved by flogtool tail: the first 8
// characters of the target's tubid.
func TailFrom(tubID string) string {
	if len(tubID) > 8 {
		return tubID[:8]
	}
	return tubID
}

func (p *Printer) write(s string) error {
	if _, err := io.WriteString(p.w, s); err != nil {
		return fmt.Errorf("writing tail output: %w", err)
	}
	return nil
}
