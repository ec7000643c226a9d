package flog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// DumpOptions are the flags of `flogtool dump`.
type DumpOptions struct {
	Verbose     bool   // -v/--verbose: header dicts, and the repr of every event
	JustNumbers bool   // -n/--just-numbers: "<time> <num>" only
	RxTime      bool   // -r/--rx-time: receive time as well as emit time
	Timestamps  string // -t/--timestamps: one of TimeModes(); "" means short-local
	// Location is the zone of the *-local timestamp modes; nil means
	// time.Local (which honours $TZ, as Python does).
	Location *time.Location
	// Stderr receives flogtool's error texts; nil discards them.
	Stderr io.Writer
	// Reader limits.
	Reader ReaderOptions
}

// DumpError is a failure of Dump that makes flogtool exit with status 1.
// Msg is the text flogtool prints on stderr (Dump has already printed it
// to DumpOptions.Stderr); it is empty for a broken stdout pipe, where
// flogtool exits 1 silently.
type DumpError struct {
	Msg string
	Err error
}

func (e *DumpError) Error() string {
	if e.Msg == "" {
		return "flog dump: output closed: " + e.Err.Error()
	}
	return strings.TrimRight(e.Msg, "\n")
}

func (e *DumpError) Unwrap() error { return e.Err }

// Dump prints the flogfile at path to stdout exactly as `flogtool dump`
// does, and returns a *DumpError (exit status 1) in the cases where
// flogtool fails, after printing flogtool's error text to opts.Stderr:
// a FURL file, an old pickle flogfile, a wrong magic, a line that is not
// JSON ("truncated pickle file? (PATH): ..."), an unreadable file, an event
// flogtool cannot format (it crashes; the Python exception's last line is
// printed). Output up to the failing line has been written.
func Dump(ctx context.Context, stdout io.Writer, path string, opts DumpOptions) (err error) {
	if opts.Timestamps == "" {
		opts.Timestamps = TimeShortLocal
	}
	if err := CheckTimeMode(opts.Timestamps); err != nil {
		return &DumpError{Msg: err.Error(), Err: err}
	}
	stderr := opts.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	out := bufio.NewWriter(stdout)
	fail := func(msg string, cause error) error {
		if ferr := out.Flush(); ferr != nil && isBrokenPipe(ferr) {
			return &DumpError{Err: ferr}
		}
		fmt.Fprint(stderr, msg)
		return &DumpError{Msg: msg, Err: cause}
	}
	r, err := Open(path, opts.Reader)
	if err != nil {
		switch {
		case errors.Is(err, ErrFURLFile):
			return fail(fmt.Sprintf("Error: %s appears to be a FURL file.\nPerhaps you meant to run 'flogtool tail' instead of 'flogtool dump'?\n", path), err)
		case errors.Is(err, ErrPickleFile):
			return fail(fmt.Sprintf("Error: %s appears to be an old-style\n(pickle-based) flogfile, which cannot be loaded safely. If you\nwish to allow the author of the flogfile to take over your\ncomputer (and incidentally allow you to view the content), please\nuse the flogtool from a copy of foolscap-0.12.7 or earlier.\n", path), err)
		case errors.Is(err, ErrBadMagic):
			return fail(fmt.Sprintf("Error: %s does not appear to be a flogfile.\n\n", path), err)
		}
		return fail(osErrorText(path, err)+"\n", err)
	}
	defer r.Close()
	d := dumper{opts: opts, out: out}
	for {
		if err := ctx.Err(); err != nil {
			out.Flush()
			return err
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var de *pyjson.DecodeError
			if errors.As(err, &de) && !errors.Is(err, pyjson.ErrTooDeep) {
				return fail(fmt.Sprintf("truncated pickle file? (%s): %s\n", path, de.Error()), err)
			}
			return fail(fmt.Sprintf("Error: %s: %v\n", path, err), err)
		}
		if err := d.record(rec); err != nil {
			return fail(err.Error()+"\n", err)
		}
		if d.werr != nil {
			break
		}
	}
	if err := out.Flush(); err != nil || d.werr != nil {
		if err == nil {
			err = d.werr
		}
		if isBrokenPipe(err) {
			return &DumpError{Err: err}
		}
		return fail(fmt.Sprintf("Error: writing output: %v\n", err), err)
	}
	return nil
}

func isBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE)
}

// osErrorText renders an open failure the way Python's OSError does.
func osErrorText(path string, err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		name := "OSError"
		switch {
		case errors.Is(err, fs.ErrNotExist):
			name = "FileNotFoundError"
		case errors.Is(err, fs.ErrPermission):
			name = "PermissionError"
		case errno == syscall.EISDIR:
			name = "IsADirectoryError"
		}
		msg := errno.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return fmt.Sprintf("%s: [Errno %d] %s: %s", name, int(errno), msg, pyjson.Repr(path))
	}
	return fmt.Sprintf("Error: %s: %v", path, err)
}

type dumper struct {
	opts    DumpOptions
	out     *bufio.Writer
	trigger [2]any // (incarnation, num) of an incident's trigger
	hasTrig bool
	werr    error
}

func (d *dumper) println(s string) {
	if d.werr != nil {
		return
	}
	if _, err := d.out.WriteString(s); err != nil {
		d.werr = err
		return
	}
	if err := d.out.WriteByte('\n'); err != nil {
		d.werr = err
	}
}

// crash is a Python exception flogtool does not catch: its traceback ends
// with "Type: message".
func crash(err error) error {
	var pe *PyError
	if errors.As(err, &pe) {
		return pe
	}
	return err
}

func (d *dumper) record(rec *Record) error {
	e := rec.Dict()
	if e == nil {
		return &PyError{Type: "TypeError", Msg: fmt.Sprintf("flogfile line %d is a JSON %s, not an object", rec.Line, pyjson.TypeName(rec.Value))}
	}
	if _, ok := e.Get("header"); ok {
		if err := d.header(e); err != nil {
			return crash(err)
		}
	}
	if _, ok := e.Get("d"); ok {
		if err := d.event(e); err != nil {
			return crash(err)
		}
	}
	return nil
}

func keyError(k string) error { return &PyError{Type: "KeyError", Msg: pyjson.Repr(k)} }

// get is Python's mapping[key] on a value that must be a dict.
func get(v any, k string) (any, error) {
	d, ok := v.(*banana.Dict)
	if !ok {
		return nil, typeError("'%s' object is not subscriptable", pyjson.TypeName(v))
	}
	x, ok := d.Get(k)
	if !ok {
		return nil, keyError(k)
	}
	return x, nil
}

func (d *dumper) header(e *banana.Dict) error {
	h, _ := e.Get("header")
	typ, err := get(h, "type")
	if err != nil {
		return err
	}
	if typ == "incident" {
		t, err := get(h, "trigger")
		if err != nil {
			return err
		}
		inc, err := get(t, "incarnation")
		if err != nil {
			return err
		}
		num, err := get(t, "num")
		if err != nil {
			return err
		}
		d.trigger, d.hasTrig = [2]any{inc, num}, true
	}
	if d.opts.Verbose {
		d.println(pyjson.Str(e))
	}
	if d.opts.JustNumbers || d.opts.Verbose {
		return nil
	}
	hd := h.(*banana.Dict)
	if v, ok := hd.Get("versions"); ok {
		d.println("Application versions (embedded in logfile):")
		vd, ok := v.(*banana.Dict)
		if !ok {
			return &PyError{Type: "AttributeError", Msg: fmt.Sprintf("'%s' object has no attribute 'keys'", pyjson.TypeName(v))}
		}
		names := make([]string, 0, len(vd.Items))
		longest := 0
		for _, it := range vd.Items {
			name, ok := it.Key.(string)
			if !ok {
				return typeError("'<' not supported between instances of '%s' and 'str'", pyjson.TypeName(it.Key))
			}
			names = append(names, name)
			longest = max(longest, utf8.RuneCountInString(name))
		}
		sort.Strings(names)
		for _, name := range names {
			v, _ := vd.Get(name)
			pad := longest - utf8.RuneCountInString(name)
			d.println(strings.Repeat(" ", pad) + name + ": " + pyjson.Str(v))
		}
	}
	if pid, ok := hd.Get("pid"); ok {
		d.println("PID: " + pyjson.Str(pid))
	}
	d.println("")
	return nil
}

func (d *dumper) event(e *banana.Dict) error {
	from, err := get(e, "from")
	if err != nil {
		return err
	}
	fromS, ok := from.(string)
	if !ok {
		return typeError("'%s' object is not subscriptable", pyjson.TypeName(from))
	}
	short := fromS
	if r := []rune(fromS); len(r) > 8 {
		short = string(r[:8])
	}
	ev, _ := e.Get("d")
	tm, err := get(ev, "time")
	if err != nil {
		return err
	}
	when, err := FormatTime(tm, d.opts.Timestamps, d.opts.Location)
	if err != nil {
		return err
	}
	evd := ev.(*banana.Dict)
	if d.opts.JustNumbers {
		num, _ := evd.Get("num") // d.get('num'): None when absent
		d.println(when + " " + pyjson.Str(num))
		return nil
	}
	inc, err := get(ev, "incarnation")
	if err != nil {
		return err
	}
	num, err := get(ev, "num")
	if err != nil {
		return err
	}
	isTrigger := d.hasTrig && banana.Equal(inc, d.trigger[0]) && banana.Equal(num, d.trigger[1])
	text, err := FormatMessage(ev)
	if err != nil {
		d.println("unformattable event " + pyjson.Str(ev))
		return err
	}
	head, err := PercentFormat("%s#%d ", banana.Tuple{short, num})
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(head)
	if d.opts.RxTime {
		rx, err := get(e, "rx_time")
		if err != nil {
			return err
		}
		rxWhen, err := FormatTime(rx, d.opts.Timestamps, d.opts.Location)
		if err != nil {
			return err
		}
		b.WriteString("rx(" + rxWhen + ") emit(" + when + ")")
	} else {
		b.WriteString(when)
	}
	b.WriteString(": " + text)
	if d.opts.Verbose {
		b.WriteString(": " + pyjson.Repr(ev))
	}
	if isTrigger {
		b.WriteString(" [INCIDENT-TRIGGER]")
	}
	d.println(b.String())
	if f, ok := evd.Get("failure"); ok {
		d.println(" FAILURE:")
		fd, ok := f.(*banana.Dict)
		if !ok {
			return &PyError{Type: "AttributeError", Msg: fmt.Sprintf("'%s' object has no attribute 'get'", pyjson.TypeName(f))}
		}
		s, ok := fd.Get("str")
		if !ok {
			s = fd
		}
		for _, line := range strings.Split(pyjson.Str(s), "\n") {
			d.println(" " + line)
		}
	}
	return nil
}
