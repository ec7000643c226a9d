package pb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "re-record transcripts against the real python-foolscap")

const transcriptDir = "testdata/transcripts/foolscap-21.7"

// flow is a run of bytes in one direction.
type flow struct {
	fromPeer bool
	data     []byte
}

// recordingConn records what is read from and written to a connection,
// grouping consecutive bytes of one direction into flows.
type recordingConn struct {
	net.Conn
	mu    sync.Mutex
	flows []flow
}

func (c *recordingConn) add(fromPeer bool, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.flows); n > 0 && c.flows[n-1].fromPeer == fromPeer {
		c.flows[n-1].data = append(c.flows[n-1].data, b...)
		return
	}
	c.flows = append(c.flows, flow{fromPeer: fromPeer, data: append([]byte(nil), b...)})
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.add(true, b[:n])
	}
	return n, err
}

func (c *recordingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.add(false, b[:n])
	}
	return n, err
}

type transcript struct {
	peerTubID string
	vocab     int
	flows     []flow
}

func (tr *transcript) marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Banana transcript: python-foolscap 21.7.0 peer (pypeer.py transcript mode) <-> Go pb.Broker\n")
	fmt.Fprintf(&b, "# vocab-index: %d\n# peer-tubid: %s\n# go-tubid: %s\n", tr.vocab, tr.peerTubID, goTubID)
	for i, f := range tr.flows {
		who := "go"
		if f.fromPeer {
			who = "peer"
		}
		fmt.Fprintf(&b, ">>> Flow %d (%s)\n%s", i+1, who, hex.Dump(f.data))
	}
	return b.Bytes()
}

func parseTranscript(data []byte) (*transcript, error) {
	tr := &transcript{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# vocab-index: "):
			v, err := strconv.Atoi(strings.TrimPrefix(line, "# vocab-index: "))
			if err != nil || (v != 0 && v != 1) {
				return nil, fmt.Errorf("bad vocab-index line %q", line)
			}
			tr.vocab = v
		case strings.HasPrefix(line, "# peer-tubid: "):
			tr.peerTubID = strings.TrimPrefix(line, "# peer-tubid: ")
		case strings.HasPrefix(line, "#"), line == "":
		case strings.HasPrefix(line, ">>> Flow "):
			tr.flows = append(tr.flows, flow{fromPeer: strings.HasSuffix(line, "(peer)")})
		default:
			if len(tr.flows) == 0 {
				return nil, fmt.Errorf("hex before the first flow heading: %q", line)
			}
			fields := strings.Fields(line)
			for _, f := range fields[1:] {
				if strings.HasPrefix(f, "|") {
					break
				}
				b, err := hex.DecodeString(f)
				if err != nil || len(b) != 1 {
					return nil, fmt.Errorf("bad hex dump line %q", line)
				}
				last := &tr.flows[len(tr.flows)-1]
				last.data = append(last.data, b...)
			}
		}
	}
	if tr.peerTubID == "" || len(tr.flows) == 0 {
		return nil, fmt.Errorf("transcript has no peer tubid or no flows")
	}
	return tr, sc.Err()
}

// transcriptObjects are the Go objects of the transcript scenario.
func transcriptObjects() map[string]Referenceable {
	return map[string]Referenceable{"goecho": &echoObj{}}
}

func recordTranscript(t *testing.T, name string, vocab int) {
	var rec *recordingConn
	p := startPython(t, "transcript", vocab, transcriptObjects(), func(c net.Conn) net.Conn {
		rec = &recordingConn{Conn: c}
		return rec
	})
	p.waitChecks(t)
	if t.Failed() {
		t.Fatal("not writing a transcript from a failed run")
	}
	p.broker.Close()
	tr := &transcript{peerTubID: p.broker.PeerTubID(), vocab: vocab, flows: rec.flows}
	if err := os.MkdirAll(transcriptDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(transcriptDir, name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, tr.marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s with %d flows", path, len(tr.flows))
}

// replayTranscript plays the peer's flows to a Go broker over net.Pipe
// and checks that the broker's output matches the Go flows byte for byte.
func replayTranscript(t *testing.T, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("missing transcript (run go test -update with python-foolscap installed): %w", err)
	}
	tr, err := parseTranscript(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	goSide, peer := net.Pipe()
	objs := transcriptObjects()
	b := NewBroker(BrokerConfig{Conn: goSide, PeerTubID: tr.peerTubID, VocabIndex: tr.vocab, KeepaliveTimeout: -1,
		Local: func(n string) (Referenceable, bool) { o, ok := objs[n]; return o, ok }})
	serve := make(chan error, 1)
	go func() { serve <- b.Serve(context.Background()) }()
	defer func() {
		peer.Close()
		b.Close()
		<-serve
	}()
	for i, f := range tr.flows {
		_ = peer.SetDeadline(time.Now().Add(10 * time.Second))
		if f.fromPeer {
			if _, err := peer.Write(f.data); err != nil {
				return fmt.Errorf("flow %d: writing the peer's bytes: %w", i+1, err)
			}
			continue
		}
		got := make([]byte, len(f.data))
		if _, err := readFull(peer, got); err != nil {
			return fmt.Errorf("flow %d: reading %d bytes from the broker: %w (got %x)", i+1, len(f.data), err, got)
		}
		if !bytes.Equal(got, f.data) {
			return fmt.Errorf("flow %d differs:\n got  %x\n want %x", i+1, got, f.data)
		}
	}
	return nil
}

func readFull(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestTranscripts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		vocab int
	}{
		{"call-every-value-and-reference.txt", 1},
		{"call-every-value-and-reference-vocab0.txt", 0},
	} {
		name := tc.name
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(transcriptDir, name)
			err := replayTranscript(t, path)
			if err == nil {
				return
			}
			if !*update {
				t.Fatal(err)
			}
			t.Logf("replay failed (%v); re-recording against python-foolscap", err)
			recordTranscript(t, name, tc.vocab)
			if err := replayTranscript(t, path); err != nil {
				t.Fatalf("replay of the new recording: %v", err)
			}
		})
	}
}
