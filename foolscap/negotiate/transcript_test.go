package negotiate

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "re-record missing or failing testdata/transcripts from the real python-foolscap")

const transcriptDir = "testdata/transcripts/foolscap-21.7"

// flow is a run of bytes in one direction.
type flow struct {
	fromClient bool   // sent by the TCP client
	tls        bool   // inside TLS (plaintext seen through the TLS connection)
	b          []byte // the bytes
}

// recorder records a negotiation as flows: the plaintext GET/101 exchange
// from the raw connection, then (through inner) what passes inside TLS.
type recorder struct {
	net.Conn
	goClient     bool // the recorded Go side is the TCP client
	mu           sync.Mutex
	flows        []flow
	rawR, rawW   []byte // plaintext seen so far per direction
	rawRd, rawWd bool   // that direction's plaintext block is complete
}

func newRecorder(c net.Conn, goClient bool) *recorder { return &recorder{Conn: c, goClient: goClient} }

// add records b, written by the Go side if out.
func (r *recorder) add(out, tls bool, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flows = appendFlow(r.flows, out == r.goClient, tls, b)
}

func appendFlow(flows []flow, fromClient, tls bool, b []byte) []flow {
	if len(b) == 0 {
		return flows
	}
	if n := len(flows); n > 0 && flows[n-1].fromClient == fromClient && flows[n-1].tls == tls {
		flows[n-1].b = append(flows[n-1].b, b...)
		return flows
	}
	return append(flows, flow{fromClient: fromClient, tls: tls, b: bytes.Clone(b)})
}

// plain records raw bytes until that direction's plaintext block ends.
func (r *recorder) plain(out bool, b []byte) {
	r.mu.Lock()
	seen, done := &r.rawR, &r.rawRd
	if out {
		seen, done = &r.rawW, &r.rawWd
	}
	if *done {
		r.mu.Unlock()
		return
	}
	*seen = append(*seen, b...)
	keep := b
	if i := bytes.Index(*seen, endOfBlock); i >= 0 {
		*done = true
		keep = b[:len(b)-(len(*seen)-i-len(endOfBlock))]
	}
	r.mu.Unlock()
	r.add(out, false, keep)
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.plain(false, p[:n])
	return n, err
}

func (r *recorder) Write(p []byte) (int, error) {
	r.plain(true, p)
	return r.Conn.Write(p)
}

// inner wraps the TLS connection to record its plaintext.
func (r *recorder) inner(c net.Conn) net.Conn { return &tlsRecorder{Conn: c, r: r} }

type tlsRecorder struct {
	net.Conn
	r *recorder
}

func (t *tlsRecorder) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.r.add(false, true, p[:n])
	return n, err
}

func (t *tlsRecorder) Write(p []byte) (int, error) {
	t.r.add(true, true, p)
	return t.Conn.Write(p)
}

type transcriptMeta struct {
	Client, Server           string // "go" or "python"
	ClientTubID, ServerTubID string
	Host                     string
	Recorder                 string // the test that recorded it
}

// saveTranscript writes a recording under -update.
func saveTranscript(t *testing.T, name string, flows []flow, m transcriptMeta) {
	t.Helper()
	if !*update {
		return
	}
	path := filepath.Join(transcriptDir, name+".txt")
	if data, err := os.ReadFile(path); err == nil {
		if tr, err := parseTranscript(data); err == nil && replay(tr) == nil {
			t.Logf("%s replays cleanly; not re-recorded", path)
			return
		}
	}
	version := runPython(t, "-c", "import foolscap; print(foolscap.__version__)")
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Foolscap negotiation (%s client, %s server) on 127.0.0.1, recorded by\n", m.Client, m.Server)
	fmt.Fprintf(&b, "# %s -update. TLS flows show the plaintext inside TLS;\n", m.Recorder)
	fmt.Fprintf(&b, "# bytes after the last block of a direction are already Banana.\n")
	fmt.Fprintf(&b, "peer: python-foolscap %s\n", version)
	fmt.Fprintf(&b, "client: %s\nserver: %s\nclient-tubid: %s\nserver-tubid: %s\nhost: %s\n", m.Client, m.Server, m.ClientTubID, m.ServerTubID, m.Host)
	for i, f := range flows {
		dir := "server -> client"
		if f.fromClient {
			dir = "client -> server"
		}
		layer := "plaintext"
		if f.tls {
			layer = "tls"
		}
		fmt.Fprintf(&b, ">>> Flow %d (%s, %s)\n", i+1, dir, layer)
		b.WriteString(hex.Dump(f.b))
	}
	if err := os.MkdirAll(transcriptDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s", path)
}

// snapshot returns the flows recorded so far.
func (r *recorder) snapshot() []flow {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]flow(nil), r.flows...)
}

type transcript struct {
	meta  map[string]string
	flows []flow
}

func parseTranscript(data []byte) (*transcript, error) {
	tr := &transcript{meta: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var cur *flow
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"), line == "":
		case strings.HasPrefix(line, ">>> Flow "):
			tr.flows = append(tr.flows, flow{fromClient: strings.Contains(line, "(client -> server"), tls: strings.Contains(line, ", tls)")})
			cur = &tr.flows[len(tr.flows)-1]
		case cur == nil:
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				return nil, fmt.Errorf("bad header line %q", line)
			}
			tr.meta[k] = v
		default:
			if len(line) < 10 {
				return nil, fmt.Errorf("bad dump line %q", line)
			}
			hexPart, _, _ := strings.Cut(line[10:], "|")
			for _, h := range strings.Fields(hexPart) {
				v, err := hex.DecodeString(h)
				if err != nil || len(v) != 1 {
					return nil, fmt.Errorf("bad hex %q in %q", h, line)
				}
				cur.b = append(cur.b, v[0])
			}
		}
	}
	return tr, sc.Err()
}

// TestReplayTranscripts checks recorded python-foolscap negotiations
// offline: the plaintext GET and 101 equal what we generate for the same
// inputs, every hello and decision parses and re-encodes byte for byte, the
// greater tubid sent the decision, and our evaluation accepts it.
func TestReplayTranscripts(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(transcriptDir, "*.txt"))
	sort.Strings(files)
	for _, want := range []string{"accept-go-master", "accept-go-slave", "connect-go-master", "connect-go-slave", "python-to-python"} {
		if _, err := os.Stat(filepath.Join(transcriptDir, want+".txt")); err != nil {
			t.Errorf("transcript %s.txt is missing (record it with go test -run 'ToPython|FromPython|PythonToPython' -update)", want)
		}
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := parseTranscript(data)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tr.meta["peer"], "python-foolscap 21.7") {
				t.Fatalf("transcript peer is %q, want python-foolscap 21.7", tr.meta["peer"])
			}
			if err := replay(tr); err != nil {
				t.Error(err)
			}
		})
	}
}

// replay checks a transcript; it reports every problem found.
func replay(tr *transcript) error {
	var errs []error
	clientTub, serverTub := tr.meta["client-tubid"], tr.meta["server-tubid"]
	if len(clientTub) != 32 || len(serverTub) != 32 {
		return fmt.Errorf("transcript lacks client-tubid/server-tubid")
	}
	if len(tr.flows) < 4 {
		return fmt.Errorf("only %d flows", len(tr.flows))
	}
	// Plaintext: the GET from the TCP client, the 101 from the server.
	get, resp := tr.flows[0], tr.flows[1]
	if get.tls || resp.tls || !get.fromClient || resp.fromClient {
		return fmt.Errorf("first flows are not the GET and the 101")
	}
	if want := clientRequest(serverTub, tr.meta["host"]); !bytes.Equal(get.b, want) {
		errs = append(errs, fmt.Errorf("GET\n got %q\nwant %q", get.b, want))
	}
	if !bytes.Equal(resp.b, []byte(switchingProtocols)) {
		errs = append(errs, fmt.Errorf("101\n got %q\nwant %q", resp.b, switchingProtocols))
	}
	if h, f := parseRequest(bytes.TrimSuffix(get.b, endOfBlock)); f != nil || h != serverTub {
		errs = append(errs, fmt.Errorf("parseRequest = %q, %v", h, f))
	}
	if f := parseResponse(bytes.TrimSuffix(resp.b, endOfBlock)); f != nil {
		errs = append(errs, fmt.Errorf("parseResponse: %v", f))
	}
	// Inside TLS: each side's hello, then the master's decision.
	var fromClient, fromServer []byte
	for _, f := range tr.flows[2:] {
		if !f.tls {
			return fmt.Errorf("plaintext flow after TLS started")
		}
		if f.fromClient {
			fromClient = append(fromClient, f.b...)
		} else {
			fromServer = append(fromServer, f.b...)
		}
	}
	clientMaster := clientTub > serverTub
	check := func(who string, stream []byte, tubid string, master, tcpClient bool) error {
		br := newBlockReader(bytes.NewReader(stream), nil)
		blk, err := br.readBlock()
		if err != nil {
			return fmt.Errorf("%s hello: %v", who, err)
		}
		hello, f := parseBlock(blk)
		if f != nil {
			return fmt.Errorf("%s hello: %v", who, f)
		}
		var last *string
		if lc, ok := hello[keyLastConnection]; ok {
			last = &lc
		}
		if (last != nil) != tcpClient {
			errs = append(errs, fmt.Errorf("%s hello: last-connection present=%v, but TCP client=%v", who, last != nil, tcpClient))
		}
		want := formatBlock(makeHello(tubid, hello[keyIncarnation], last))
		if !bytes.Equal(append(blk, endOfBlock...), want) {
			errs = append(errs, fmt.Errorf("%s hello\n got %q\nwant %q", who, append(blk, endOfBlock...), want))
		}
		if inc := hello[keyIncarnation]; len(inc) != 16 {
			errs = append(errs, fmt.Errorf("%s incarnation %q", who, inc))
		}
		blk, err = br.readBlock()
		if !master {
			if err == nil {
				errs = append(errs, fmt.Errorf("%s (slave) sent a second block %q", who, blk))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s (master) decision: %v", who, err)
		}
		d, f := parseBlock(blk)
		if f != nil {
			return fmt.Errorf("%s decision: %v", who, f)
		}
		if !bytes.Equal(append(blk, endOfBlock...), formatBlock(d)) {
			errs = append(errs, fmt.Errorf("%s decision does not re-encode: %q", who, blk))
		}
		dr, f := acceptDecision(d)
		if f != nil {
			return fmt.Errorf("%s decision rejected: %v", who, f)
		}
		if dr.vocab != 1 || dr.version != 3 || dr.seqnum != 1 || dr.masterIR != hello[keyIncarnation] {
			errs = append(errs, fmt.Errorf("%s decision %+v", who, dr))
		}
		return nil
	}
	if err := check("client", fromClient, clientTub, clientMaster, true); err != nil {
		errs = append(errs, err)
	}
	if err := check("server", fromServer, serverTub, !clientMaster, false); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// TestReplayDetectsTampering: the replay check is not vacuous.
func TestReplayDetectsTampering(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(transcriptDir, "python-to-python.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(tr *transcript)
	}{
		{"GET host changed", func(tr *transcript) { tr.meta["host"] = "localhost" }},
		{"101 altered", func(tr *transcript) { tr.flows[1].b[9] = '2' }},
		{"hello key case", func(tr *transcript) { tr.flows[2].b[0] = 'B' }},
		{"decision dropped", func(tr *transcript) {
			for i := range tr.flows {
				if tr.flows[i].tls {
					if j := bytes.Index(tr.flows[i].b, []byte("banana-decision-version")); j >= 0 {
						tr.flows[i].b = tr.flows[i].b[:j]
					}
				}
			}
		}},
		{"tubids swapped", func(tr *transcript) {
			tr.meta["client-tubid"], tr.meta["server-tubid"] = tr.meta["server-tubid"], tr.meta["client-tubid"]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := parseTranscript(data)
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(tr)
			if err := replay(tr); err == nil {
				t.Error("tampered transcript replays cleanly")
			}
		})
	}
}
