package pb

import (
	"context"

	"github.com/gatherer/gatherer/foolscap/banana"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzBrokerInput feeds arbitrary bytes to a Go broker as if from the
// peer. Property: no panic, Serve returns once the input ends, and every
// goroutine exits (checked by goleak in TestMain).
func FuzzBrokerInput(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(transcriptDir, "*.txt"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		tr, err := parseTranscript(data)
		if err != nil {
			f.Fatal(err)
		}
		var peer []byte
		for _, fl := range tr.flows {
			if fl.fromPeer {
				peer = append(peer, fl.data...)
			}
		}
		f.Add(peer)
	}
	f.Add(mustHex(f, "0088 0b87 0181 0081 0482 6563686f 0188 0c87 0181 0288 1087 0981 0289 0189 0089"))
	f.Fuzz(runFuzzOne)
}

func runFuzzOne(t *testing.T, data []byte) {
	{
		a, b := net.Pipe()
		obj := fuzzObj{}
		br := NewBroker(BrokerConfig{Conn: a, PeerTubID: pyTubID, VocabIndex: 1, KeepaliveTimeout: -1,
			Local: func(string) (Referenceable, bool) { return obj, true }})
		served := make(chan error, 1)
		go func() { served <- br.Serve(context.Background()) }()
		go func() { _, _ = io.Copy(io.Discard, b) }()
		_ = b.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = b.Write(data)
		b.Close()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after the input ended")
		}
		br.Close()
	}
}

// fuzzObj answers every call at once with its arguments, and passes any
// reference it gets back to the peer.
type fuzzObj struct{}

func (fuzzObj) RemoteInterfaceName() string { return "" }

func (fuzzObj) RemoteCall(_ context.Context, c *Call) (any, error) {
	return banana.Tuple{banana.List(c.Args), len(c.Kwargs)}, nil
}
