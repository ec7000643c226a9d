package peers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// maxControlLine bounds one line from a peer's control channel.
const maxControlLine = 1 << 20

// control speaks the line protocol of peerctl.py: one command per line out,
// one JSON object per line back; objects with a "command" key answer the
// oldest outstanding command, the others are announcements.
type control struct {
	mu      sync.Mutex // serializes commands (one outstanding at a time)
	w       io.Writer
	answers chan map[string]any
	done    chan struct{} // closed when the reader ends
	log     *lockedBuffer
	readErr error // set before done is closed
}

// lockedBuffer collects a peer's output for failure reports.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newControl starts reading r (the peer's answers) until it ends; the reading
// goroutine exits when r returns an error or EOF, which happens when the peer
// exits or the connection is closed.
func newControl(w io.Writer, r io.Reader, log *lockedBuffer) *control {
	c := &control{w: w, answers: make(chan map[string]any, 16), done: make(chan struct{}), log: log}
	go c.read(r)
	return c
}

func (c *control) read(r io.Reader) {
	defer close(c.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxControlLine)
	for sc.Scan() {
		line := sc.Bytes()
		fmt.Fprintf(c.log, "%s\n", line)
		var obj map[string]any
		if json.Unmarshal(line, &obj) != nil {
			continue // not a JSON line: a Python warning or traceback, kept in the log
		}
		if _, ok := obj["command"]; ok {
			c.answers <- obj
		}
	}
	c.readErr = sc.Err()
}

// command sends one line and waits for its answer.
func (c *control) command(ctx context.Context, line string) (map[string]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.ContainsAny(line, "\r\n") {
		return nil, fmt.Errorf("control command %q spans lines", line)
	}
	if _, err := io.WriteString(c.w, line+"\n"); err != nil {
		return nil, fmt.Errorf("send %q to the peer: %w", line, err)
	}
	select {
	case ans := <-c.answers:
		return ans, refused(ans, line)
	case <-c.done:
		if c.readErr != nil {
			return nil, fmt.Errorf("peer's control channel failed during %q: %w", line, c.readErr)
		}
		return nil, errors.New("peer exited before answering " + fmt.Sprintf("%q", line))
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the answer to %q: %w", line, ctx.Err())
	}
}

func (c *control) output() string { return c.log.String() }

// announcement returns the first announcement of the given event seen so far
// (e.g. "ready"), from the collected output.
func (c *control) announcement(event string) map[string]any {
	for _, line := range strings.Split(c.log.String(), "\n") {
		var obj map[string]any
		if json.Unmarshal([]byte(line), &obj) != nil {
			continue
		}
		if obj["event"] == event {
			return obj
		}
	}
	return nil
}

// refused is the error of an answer that reports one ("error"), else nil.
func refused(ans map[string]any, line string) error {
	if msg, ok := ans["error"].(string); ok {
		return fmt.Errorf("peer refused %q: %s", line, msg)
	}
	return nil
}

// parseAnswer reads the one-line JSON answer to line that peerctl.py send
// printed.
func parseAnswer(out, line string) (map[string]any, error) {
	var ans map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &ans); err != nil {
		return nil, fmt.Errorf("the answer to %q is not a JSON object: %q", line, out)
	}
	return ans, refused(ans, line)
}
