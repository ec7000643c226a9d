package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog"
	"github.com/gatherer/gatherer/gatherer/logs"
)

// replayNode plays back events as a node would send them.
type replayNode struct {
	pid      any
	versions any
	events   []any
	catchUp  []bool
}

func (n *replayNode) GetPID(context.Context) (any, error) {
	if n.pid == nil {
		return nil, errors.New("no such method get_pid")
	}
	return n.pid, nil
}

func (n *replayNode) GetVersions(context.Context) (any, error) { return n.versions, nil }

func (n *replayNode) SubscribeToAll(ctx context.Context, obs logs.Observer, catchUp bool) error {
	n.catchUp = append(n.catchUp, catchUp)
	for _, ev := range n.events {
		if err := obs.Msg(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// TestTailMatchesFlogtool replays the first events flogtool tail received
// from a demo node and compares what we print and save with what flogtool
// printed and saved.
func TestTailMatchesFlogtool(t *testing.T) {
	r, err := flog.Open("testdata/tail-21.7/tail-save.flog", flog.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var header *banana.Dict
	var events []any
	var rx []float64
	for len(events) < 4 {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if h, ok := rec.Header(); ok {
			header = h.(*banana.Dict)
			continue
		}
		d := rec.Dict()
		ev, _ := d.Get("d")
		e := ev.(*banana.Dict)
		// Back to the wire form: tuples for args, bytes for the blob.
		if a, ok := e.Get("args"); ok {
			e.Set("args", banana.Tuple(a.(banana.List)))
		}
		if _, ok := e.Get("blob"); ok {
			e.Set("blob", []byte{0, 1})
		}
		t0, _ := d.Get("rx_time")
		rx = append(rx, t0.(float64))
		events = append(events, e)
	}
	versions, _ := header.Get("versions")
	pid, _ := header.Get("pid")
	node := &replayNode{pid: pid, versions: versions, events: events}
	i := 0
	a := &app{
		loc: time.UTC,
		now: func() time.Time {
			f := rx[i]
			i++
			return time.Unix(0, int64(f*1e9+0.5))
		},
		connect: func(ctx context.Context, furl string, on func(context.Context, TailPublisher)) error {
			if !strings.HasPrefix(furl, "pb://k5rxhgob4sbjqaxdpdjvajqvtjq6b6m6@") {
				t.Errorf("connecting to %q", furl)
			}
			cctx, drop := context.WithCancel(ctx)
			drop() // the connection ends after the replay
			on(cctx, node)
			return nil
		},
	}
	dir := t.TempDir()
	furlFile := filepath.Join(dir, "logport.furl")
	if err := os.WriteFile(furlFile, []byte("pb://k5rxhgob4sbjqaxdpdjvajqvtjq6b6m6@tcp:127.0.0.1:1/swiss\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	save := filepath.Join(dir, "saved.flog")
	var out bytes.Buffer
	if code := runApp(t.Context(), a, []string{"tail", "--save-to", save, dir}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	wantOut, _ := os.ReadFile("testdata/tail-21.7/tail-stdout.txt")
	want := strings.Join(strings.SplitAfter(string(wantOut), "\n")[:11], "") + "Disconnected\n"
	if out.String() != want {
		t.Errorf("stdout:\n%s\nflogtool printed:\n%s", out.String(), want)
	}
	wantSave, _ := os.ReadFile("testdata/tail-21.7/tail-save.flog")
	gotSave, _ := os.ReadFile(save)
	if w := strings.Join(strings.SplitAfter(string(wantSave), "\n")[:6], ""); string(gotSave) != w {
		t.Errorf("saved:\n%s\nflogtool saved:\n%s", gotSave, w)
	}
	if len(node.catchUp) != 1 || node.catchUp[0] {
		t.Errorf("catch-up %v, want off", node.catchUp)
	}
}

func TestTailTargets(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tail", filepath.Join(dir, "missing")}, exitFailure, "can't use tail target"},
		{[]string{"tail", "-t", "never", "pb://x"}, exitUsage, "--timestamps= must be one of"},
		{[]string{"tail", "pb://k5rxhgob4sbjqaxdpdjvajqvtjq6b6m6@tcp:h:1/s"}, exitFailure, "no Foolscap Tub"},
		{[]string{"tail", "pb://not-a-furl"}, exitFailure, "furl"},
	} {
		out.Reset()
		noTub := func(context.Context, string, func(context.Context, TailPublisher)) error { return errNoTub }
		if code := runApp(t.Context(), &app{connect: noTub}, tt.args, &out, &out); code != tt.code || !strings.Contains(out.String(), tt.want) {
			t.Errorf("%v: exit %d %q, want %d %q", tt.args, code, out.String(), tt.code, tt.want)
		}
	}
}
