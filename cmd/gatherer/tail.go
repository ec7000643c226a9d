package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/gatherer/flog"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
	"github.com/gatherer/gatherer/gatherer/logs"
)

const tailUsage = `Usage: gatherer tail [options] (LOGPORT.furl/furlfile/nodedir)

Follow a node's log events live, like "flogtool tail". The target is a
logport FURL, a file holding one, or a directory holding logport.furl (for
Tahoe-LAFS: NODEDIR/private). Reconnects when the connection drops (as long
as the FURL stays valid; Tahoe's log Tub changes it at every start).

Options:
  -c, --catch-up           Catch up with recent events
  -s, --save-to=FILE       Save events to FILE (overwritten), as a flogfile
  -t, --timestamps=FORMAT  Format for timestamps: short-local long-local utc
                           epoch [default: short-local]
  -v, --verbose            Show all event arguments
  -h, --help               Display this help and exit
`

// TailPublisher is a node's logport as "tail" uses it
// (RILogPublisher.foolscap.lothar.com).
type TailPublisher interface {
	// GetPID calls get_pid(); old nodes fail it.
	GetPID(ctx context.Context) (any, error)
	// GetVersions calls get_versions().
	GetVersions(ctx context.Context) (any, error)
	logs.Publisher
}

// ConnectFunc connects to the logport at furl and keeps reconnecting (like
// Tub.connectTo), calling onConnect for every connection with a ctx that
// ends when that connection drops. It returns when ctx ends. It is the
// Tub seam of "tail".
type ConnectFunc func(ctx context.Context, furl string, onConnect func(ctx context.Context, pub TailPublisher)) error

// defaultConnect is the production connection (tubserve.go).
func defaultConnect(ctx context.Context, furl string, on func(context.Context, TailPublisher)) error {
	return tubConnect(ctx, furl, on)
}

// tailTarget resolves flogtool tail's target argument to a FURL.
func tailTarget(target string) (string, error) {
	if strings.HasPrefix(target, "pb:") {
		return target, nil
	}
	fi, err := os.Stat(target)
	if err != nil {
		return "", fmt.Errorf("can't use tail target: %s", target)
	}
	p := target
	if fi.IsDir() {
		p = filepath.Join(target, "logport.furl")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("can't use tail target %s: %w", target, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func runTail(ctx context.Context, a *app, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var catchUp, verbose bool
	var saveTo, timestamps string
	for _, n := range []string{"c", "catch-up"} {
		fs.BoolVar(&catchUp, n, false, "")
	}
	for _, n := range []string{"v", "verbose"} {
		fs.BoolVar(&verbose, n, false, "")
	}
	for _, n := range []string{"s", "save-to"} {
		fs.StringVar(&saveTo, n, "", "")
	}
	for _, n := range []string{"t", "timestamps"} {
		fs.StringVar(&timestamps, n, flog.TimeShortLocal, "")
	}
	target, code := parseArgs(fs, args, tailUsage, stdout, stderr)
	if code != 0 {
		return max(code, 0)
	}
	pr, err := flog.NewPrinter(stdout, flog.PrinterOptions{Verbose: verbose, Timestamps: timestamps, Location: a.loc})
	if err != nil {
		fmt.Fprintf(stderr, "gatherer tail: %v\n", err)
		return exitUsage
	}
	furlStr, err := tailTarget(target)
	if err != nil {
		fmt.Fprintf(stderr, "gatherer tail: %v\n", err)
		return exitFailure
	}
	fu, err := furl.Parse(furlStr)
	if err != nil {
		fmt.Fprintf(stderr, "gatherer tail: %v\n", err)
		return exitFailure
	}
	t := &tailer{out: stdout, printer: pr, from: flog.TailFrom(fu.TubID), catchUp: catchUp, now: a.now}
	if t.now == nil {
		t.now = time.Now
	}
	if saveTo != "" {
		f, err := os.Create(saveTo)
		if err != nil {
			fmt.Fprintf(stderr, "gatherer tail: %v\n", err)
			return exitFailure
		}
		defer f.Close()
		// flogtool writes a plain file whatever the name.
		w, err := flog.NewWriter(f, flog.WriterOptions{})
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			fmt.Fprintf(stderr, "gatherer tail: %v\n", err)
			return exitFailure
		}
		t.save = w
		defer w.Close()
	}
	connect := a.connect
	if connect == nil {
		connect = defaultConnect
	}
	fmt.Fprintln(stdout, "starting..")
	fmt.Fprintln(stdout, "Connecting..")
	if err := connect(ctx, furlStr, t.connected); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "gatherer tail: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// tailer is flogtool tail's LogTail + LogPrinter + LogSaver.
type tailer struct {
	out     io.Writer
	printer *flog.Printer
	from    string
	catchUp bool
	now     func() time.Time

	mu   sync.Mutex // printer and save are used from the connection's goroutines
	save *flog.Writer
}

func (t *tailer) connected(ctx context.Context, pub TailPublisher) {
	pid, err := pub.GetPID(ctx)
	t.mu.Lock()
	if err != nil {
		pid = nil
		fmt.Fprintln(t.out, "Connected (unable to get pid)")
	} else {
		fmt.Fprintf(t.out, "Connected (to pid %v)\n", pid)
	}
	t.mu.Unlock()
	versions, err := pub.GetVersions(ctx)
	if err != nil {
		t.println("ERROR", err)
		return
	}
	t.mu.Lock()
	err = t.printer.Versions(versions)
	if err == nil && t.save != nil {
		var h any
		if h, err = flog.TailHeader(versions, pid); err == nil {
			if err = t.save.WriteHeader(h); err == nil {
				err = t.save.Flush()
			}
		}
	}
	t.mu.Unlock()
	if err != nil {
		t.println("ERROR", err)
		return
	}
	if err := pub.SubscribeToAll(ctx, t, t.catchUp); err != nil {
		t.println("ERROR", err)
		return
	}
	<-ctx.Done()
	t.println("Disconnected")
}

func (t *tailer) println(a ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(t.out, a...)
}

// Msg implements logs.Observer: print, and save with the keys as str.
func (t *tailer) Msg(_ context.Context, event any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.printer.Event(event); err != nil {
		fmt.Fprintf(t.out, "ERROR printing an event: %v\n", err)
	}
	if t.save != nil {
		ev := event
		if d, ok := hasDict(event); ok {
			ev = flog.StrKeys(d)
		}
		rx := float64(t.now().UnixNano()) / 1e9
		if err := t.save.WriteEvent(t.from, rx, ev); err != nil {
			// flogtool prints json.dumps's own message.
			for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
				err = u
			}
			fmt.Fprintf(t.out, "GATHERER: unable to serialize %s: %v\n", flogRepr(ev), err)
		} else if err := t.save.Flush(); err != nil {
			fmt.Fprintf(t.out, "ERROR saving an event: %v\n", err)
		}
	}
	return nil
}

func hasDict(v any) (*banana.Dict, bool) {
	d, ok := v.(*banana.Dict)
	return d, ok && d != nil
}

func flogRepr(v any) string { return pyjson.Repr(v) }
