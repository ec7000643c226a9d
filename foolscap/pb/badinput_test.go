package pb

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// rawPeer is the far end of a net.Pipe connected to a Go broker: the test
// writes raw Banana bytes and reads what the broker sends back.
type rawPeer struct {
	conn   net.Conn
	broker *Broker
	serve  chan error
	out    chan []byte
}

func newRawPeer(t *testing.T, cfg BrokerConfig) *rawPeer {
	t.Helper()
	a, b := net.Pipe()
	cfg.Conn = a
	if cfg.PeerTubID == "" {
		cfg.PeerTubID = pyTubID
	}
	p := &rawPeer{conn: b, broker: NewBroker(cfg), serve: make(chan error, 1), out: make(chan []byte, 100)}
	go func() { p.serve <- p.broker.Serve(context.Background()) }()
	go func() {
		defer close(p.out)
		buf := make([]byte, 64<<10)
		for {
			n, err := b.Read(buf)
			if n > 0 {
				p.out <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		p.broker.Close()
		b.Close()
		for range p.out {
		}
	})
	return p
}

func (p *rawPeer) write(t *testing.T, data []byte) {
	t.Helper()
	_ = p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.conn.Write(data); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		t.Logf("write: %v", err)
	}
}

// readAll collects what the broker sends until it closes the connection.
func (p *rawPeer) readAll(t *testing.T) []byte {
	t.Helper()
	var got []byte
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b, ok := <-p.out:
			if !ok {
				return got
			}
			got = append(got, b...)
		case <-timeout:
			t.Fatal("broker did not close the connection")
		}
	}
}

// readMsg reads one complete top-level message from the broker.
func (p *rawPeer) readMsg(t *testing.T) []byte {
	t.Helper()
	var got []byte
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b, ok := <-p.out:
			if !ok {
				t.Fatalf("connection closed after %x", got)
			}
			got = append(got, b...)
			d := banana.NewDecoder(bytes.NewReader(got), banana.DecoderOptions{VocabIndex: 1,
				Handlers: map[string]banana.OpenHandler{"error": skipSeq, "answer": skipSeq}})
			if _, err := d.ReadMessage(); err == nil {
				if d.Offset() != int64(len(got)) {
					t.Fatalf("more than one message: %x", got)
				}
				return got
			}
		case <-timeout:
			t.Fatalf("timed out after %x", got)
		}
	}
}

func skipSeq(s *banana.Seq) (any, error) {
	for {
		_, ok, err := s.Next()
		if err != nil || !ok {
			return nil, err
		}
	}
}

// readN reads exactly n bytes from the broker.
func (p *rawPeer) readN(t *testing.T, n int) []byte {
	t.Helper()
	var got []byte
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case b, ok := <-p.out:
			if !ok {
				t.Fatalf("connection closed after %x, wanted %d bytes", got, n)
			}
			got = append(got, b...)
		case <-timeout:
			t.Fatalf("timed out after %x, wanted %d bytes", got, n)
		}
	}
	if len(got) != n {
		t.Fatalf("got %d bytes %x, wanted %d", len(got), got, n)
	}
	return got
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		limits  banana.Limits
		wantErr error  // what Serve returns, via errors.Is
		wantMsg string // in the ERROR token sent back ("" = none)
	}{
		{name: "garbage at top level", in: "90", wantErr: banana.ErrBadTypeByte, wantMsg: "invalid type byte"},
		{name: "stray INT at top level", in: "0181", wantErr: banana.ErrTopLevelNotOpen, wantMsg: "top-level must be OPEN"},
		{name: "oversize header", in: strings.Repeat("01", 65) + "82", wantErr: banana.ErrHeaderTooLong, wantMsg: "64 bytes"},
		{name: "oversize ERROR token", in: "6907 8d", wantErr: banana.ErrOversizedError, wantMsg: "oversized ERROR"},
		{name: "lost sync", in: "0088 0b87 0789", wantErr: banana.ErrLostSync, wantMsg: "lost sync"},
		{name: "unknown vocab", in: "0088 6387", wantErr: banana.ErrUnknownVocab, wantMsg: "VOCAB"},
		{name: "reqID not an INT", in: "0088 0b87 0182 78 0089", wantMsg: "request ID must be an INT"},
		{name: "your-reference to unknown clid", in: "0088 0b87 0181 0081 0482 6563686f 0188 0c87 0181 0288 1087 0981 0289 0189 0089", wantMsg: "unknown clid"},
		{name: "truncated stream", in: "0088 0b87 0181 0081 0a82 6765", wantErr: io.ErrUnexpectedEOF},
		{name: "peer ERROR", in: "0a8d 'some error'", wantErr: banana.ErrPeerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newRawPeer(t, BrokerConfig{VocabIndex: 1, Limits: tc.limits})
			in := tc.in
			var data []byte
			if i := strings.Index(in, "'"); i >= 0 {
				data = append(mustHex(t, in[:i]), in[i+1:len(in)-1]...)
			} else {
				data = mustHex(t, in)
			}
			p.write(t, data)
			if tc.wantErr != nil && errors.Is(tc.wantErr, io.ErrUnexpectedEOF) {
				p.conn.Close()
			}
			got := p.readAll(t)
			err := <-p.serve
			p.serve <- err
			if err == nil {
				t.Fatal("Serve returned nil after bad input")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Serve returned %v, want %v", err, tc.wantErr)
			}
			if tc.wantMsg == "" {
				if len(got) != 0 {
					t.Errorf("broker sent %x, want nothing", got)
				}
				return
			}
			d := banana.NewDecoder(bytes.NewReader(got), banana.DecoderOptions{})
			_, derr := d.ReadMessage()
			var ce *banana.ConnError
			if !errors.As(derr, &ce) || !errors.Is(derr, banana.ErrPeerError) || !strings.Contains(ce.PeerMsg, tc.wantMsg) {
				t.Errorf("broker sent %q (%v), want an ERROR token containing %q", got, derr, tc.wantMsg)
			}
		})
	}
}

// TestViolationsKeepConnection sends messages that python-foolscap
// absorbs as Violations; the broker must answer where Python does and stay
// connected.
func TestViolationsKeepConnection(t *testing.T) {
	obj := &echoObj{}
	p := newRawPeer(t, BrokerConfig{VocabIndex: 1, Limits: banana.Limits{MaxStringBytes: 64},
		Local: func(string) (Referenceable, bool) { return obj, true }})
	ping := mustHex(t, "8e")
	tests := []struct {
		name  string
		in    string
		reply string // hex prefix of the expected reply, "" for none
	}{
		{"unknown top-level open type", "0088 0382 666f6f 0181 0089", ""},
		{"answer to unknown reqID", "0188 0d87 0981 0088 0087 0089 0189", ""},
		{"aborted call gets no reply", "0288 0b87 0581 0081 0482 6563686f 028a 0289", ""},
		{"call to unknown clid", "0388 0b87 0181 0781 0482 6563686f 0488 0c87 0081 0489 0389", "0088 0e87 0181 0188 1287"},
		{"gift refused", "0588 0b87 0281 0081 0482 6563686f 0688 0c87 0181 0788 1187 0181 0082 0789 0689 0589", "0388 0e87 0281 0488 1287"},
		{"oversize string argument", "0888 0b87 0381 0081 0482 6563686f 0988 0c87 0181 4182 " + strings.Repeat("61", 65) + " 0989 0889", "0688 0e87 0381 0788 1287"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.write(t, mustHex(t, tc.in))
			if tc.reply != "" {
				want := mustHex(t, tc.reply)
				got := p.readMsg(t)
				if !bytes.HasPrefix(got, want) {
					t.Fatalf("reply %x, want it to start %x", got, want)
				}
			}
			p.write(t, ping)
			if got := p.readN(t, 1); got[0] != 0x8f {
				t.Fatalf("got %x, want only a PONG", got)
			}
		})
	}
}

func TestKeepalive(t *testing.T) {
	p := newRawPeer(t, BrokerConfig{VocabIndex: 1, KeepaliveTimeout: 100 * time.Millisecond})
	if got := p.readN(t, 1); got[0] != 0x8e {
		t.Fatalf("got %x, want a PING after the keepalive timeout", got)
	}
	p.write(t, mustHex(t, "2c02 8e"))
	if got := p.readN(t, 3); !bytes.Equal(got, mustHex(t, "2c02 8f")) {
		t.Fatalf("got %x, want PONG 300", got)
	}
}

func TestDisconnectTimeout(t *testing.T) {
	p := newRawPeer(t, BrokerConfig{VocabIndex: 1, KeepaliveTimeout: -1, DisconnectTimeout: 100 * time.Millisecond})
	p.readAll(t)
	err := <-p.serve
	p.serve <- err
	if err == nil || !strings.Contains(err.Error(), "banana timeout") {
		t.Fatalf("Serve returned %v, want a banana timeout", err)
	}
}
