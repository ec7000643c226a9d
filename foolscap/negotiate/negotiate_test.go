package negotiate

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// goPair runs Connect and Accept against each other over loopback TCP.
type pairResult struct {
	client, server       *Result
	clientErr, serverErr error
}

func runPair(t *testing.T, ctx context.Context, client ConnectConfig, server AcceptConfig) pairResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var pr pairResult
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			pr.serverErr = err
			return
		}
		pr.server, pr.serverErr = Accept(ctx, c, server)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pr.client, pr.clientErr = Connect(ctx, c, client)
	wg.Wait()
	t.Cleanup(func() {
		for _, r := range []*Result{pr.client, pr.server} {
			if r != nil {
				_ = r.Conn.Close()
			}
		}
	})
	return pr
}

func serveOne(local Local) AcceptConfig {
	return AcceptConfig{Lookup: func(s string) (Local, bool) { return local, s == local.Identity.TubID() }}
}

func TestGoToGo(t *testing.T) {
	a := mustIdentity(t)
	b := mustIdentity(t)
	hi, lo := a, b
	if lo.TubID() > hi.TubID() {
		hi, lo = lo, hi
	}
	tests := []struct {
		name           string
		client, server *Identity
	}{
		{"client is master", hi, lo},
		{"server is master", lo, hi},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cl := Local{Identity: tt.client, Incarnation: mustIncarnation(t), Arbiter: NewMemoryArbiter()}
			sv := Local{Identity: tt.server, Incarnation: mustIncarnation(t), Arbiter: NewMemoryArbiter()}
			pr := runPair(t, ctx, ConnectConfig{Local: cl, TargetTubID: tt.server.TubID(), Host: "127.0.0.1"}, serveOne(sv))
			if pr.clientErr != nil || pr.serverErr != nil {
				t.Fatalf("client %v, server %v", pr.clientErr, pr.serverErr)
			}
			c, s := pr.client, pr.server
			if c.Master == s.Master || c.Master != (tt.client == hi) {
				t.Fatalf("master: client %v server %v", c.Master, s.Master)
			}
			masterIR := cl.Incarnation
			if s.Master {
				masterIR = sv.Incarnation
			}
			for _, r := range []*Result{c, s} {
				if r.VocabIndex != 1 || r.DecisionVersion != 3 || r.Seqnum != 1 || r.MasterIncarnation != masterIR {
					t.Errorf("result %+v", r)
				}
			}
			if c.PeerTubID != tt.server.TubID() || s.PeerTubID != tt.client.TubID() || s.LocalTubID != tt.server.TubID() {
				t.Errorf("tubids: client sees %s, server sees %s", c.PeerTubID, s.PeerTubID)
			}
			if s.PeerIncarnation != cl.Incarnation || c.PeerIncarnation != sv.Incarnation {
				t.Errorf("incarnations not exchanged")
			}
			// The connections carry data both ways after negotiation.
			if _, err := c.Conn.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if got := readAtLeast(t, s.Conn, 4); string(got) != "ping" {
				t.Errorf("server read %q", got)
			}
		})
	}
}

// TestDuplicateConnectionArbitration walks the §3.7 rules with two Go Tubs,
// the server being master.
func TestDuplicateConnectionArbitration(t *testing.T) {
	hi, lo := mustOrderedPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	replaced := make(chan string, 10)
	svArb := NewMemoryArbiter()
	svArb.OnReplace = func(p string) { replaced <- p }
	sv := Local{Identity: hi, Incarnation: mustIncarnation(t), Arbiter: svArb}
	clArb := NewMemoryArbiter()
	cl := Local{Identity: lo, Incarnation: mustIncarnation(t), Arbiter: clArb}
	connect := func(l Local) pairResult {
		return runPair(t, ctx, ConnectConfig{Local: l, TargetTubID: hi.TubID(), Host: "127.0.0.1"}, serveOne(sv))
	}

	first := connect(cl)
	if first.clientErr != nil || first.serverErr != nil || first.server.Seqnum != 1 {
		t.Fatalf("first connection: %v %v", first.clientErr, first.serverErr)
	}
	// The Tub attaches a broker for the new connection.
	svArb.Attach(lo.TubID(), Existing{SlaveIncarnation: first.server.PeerIncarnation, Seqnum: first.server.Seqnum})
	if ir, seq, ok := clArb.LastConnection(hi.TubID()); !ok || ir != sv.Incarnation || seq != 1 {
		t.Fatalf("client slave_table = %q %d %v", ir, seq, ok)
	}

	// Same peer incarnation, but it does not remember us: rejected.
	fresh := cl
	fresh.Arbiter = NewMemoryArbiter()
	dup := connect(fresh)
	if !errors.Is(dup.serverErr, ErrDuplicateConnection) {
		t.Fatalf("server error %v, want ErrDuplicateConnection", dup.serverErr)
	}
	var ce *Error
	if !errors.As(dup.clientErr, &ce) || !errors.Is(dup.clientErr, ErrRemote) || !strings.Contains(ce.Detail, "Duplicate connection") {
		t.Fatalf("client error %v, want the remote's Duplicate connection", dup.clientErr)
	}

	// The peer remembers the current seqnum: accepted, old one replaced.
	again := connect(cl)
	if again.clientErr != nil || again.serverErr != nil {
		t.Fatalf("reconnect: %v %v", again.clientErr, again.serverErr)
	}
	if again.server.Seqnum != 2 || again.client.Seqnum != 2 {
		t.Errorf("seqnum after replacement = %d/%d, want 2", again.server.Seqnum, again.client.Seqnum)
	}
	select {
	case p := <-replaced:
		if p != lo.TubID() {
			t.Errorf("replaced %s", p)
		}
	default:
		t.Error("the existing connection was not replaced")
	}
}

func TestCompareOffer(t *testing.T) {
	const mine = "aaaaaaaaaaaaaaaa"
	ex := Existing{SlaveIncarnation: "bbbbbbbbbbbbbbbb", Seqnum: 3}
	tests := []struct {
		name  string
		offer Offer
		want  bool
	}{
		{"no incarnation", Offer{LastConnection: mine + " 3", HasLastConnection: true}, false},
		{"no last-connection (TCP server peer)", Offer{Incarnation: ex.SlaveIncarnation}, false},
		{"peer restarted", Offer{Incarnation: "cccccccccccccccc", LastConnection: "none 0", HasLastConnection: true}, true},
		{"peer forgot us", Offer{Incarnation: ex.SlaveIncarnation, LastConnection: "none 0", HasLastConnection: true}, false},
		{"our past life", Offer{Incarnation: ex.SlaveIncarnation, LastConnection: "dddddddddddddddd 3", HasLastConnection: true}, true},
		{"current seqnum", Offer{Incarnation: ex.SlaveIncarnation, LastConnection: mine + " 3", HasLastConnection: true}, true},
		{"old seqnum", Offer{Incarnation: ex.SlaveIncarnation, LastConnection: mine + " 2", HasLastConnection: true}, false},
		{"future seqnum", Offer{Incarnation: ex.SlaveIncarnation, LastConnection: mine + " 4", HasLastConnection: true}, false},
		{"garbled", Offer{Incarnation: ex.SlaveIncarnation, LastConnection: "x", HasLastConnection: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CompareOffer(tt.offer, ex, mine); got != tt.want {
				t.Errorf("CompareOffer = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWrongCertificateForFURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	claimed, actual := mustIdentity(t), mustIdentity(t)
	sv := Local{Identity: actual, Incarnation: mustIncarnation(t)}
	pr := runPair(t, ctx,
		ConnectConfig{Local: Local{Identity: mustIdentity(t), Incarnation: mustIncarnation(t)}, TargetTubID: claimed.TubID()},
		AcceptConfig{Lookup: func(string) (Local, bool) { return sv, true }})
	if !errors.Is(pr.clientErr, ErrWrongTubID) {
		t.Fatalf("client error %v, want ErrWrongTubID", pr.clientErr)
	}
	if !strings.Contains(pr.clientErr.Error(), claimed.TubID()) || !strings.Contains(pr.clientErr.Error(), actual.TubID()) {
		t.Errorf("error %q should name both tubids", pr.clientErr)
	}
	if pr.serverErr == nil {
		t.Error("server succeeded with a client that rejected it")
	}
}

// scriptedClient plays a TCP client that sends a given hello (and more)
// inside TLS, and returns everything the Go server sent inside TLS.
func scriptedClient(t *testing.T, addr, target string, id *Identity, send []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(clientRequest(target, "x")); err != nil {
		t.Fatal(err)
	}
	br := newBlockReader(c, nil)
	if _, err := br.readBlock(); err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{InsecureSkipVerify: true}
	if id != nil {
		cfg.Certificates = []tls.Certificate{id.TLSCertificate()}
	}
	tc := tls.Client(c, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Write(send); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(tc)
	return got
}

func helloBytes(tubid string, extra map[string]string, drop ...string) []byte {
	last := "none 0"
	h := makeHello(tubid, "0123456789abcdef", &last)
	for k, v := range extra {
		h[k] = v
	}
	for _, k := range drop {
		delete(h, k)
	}
	return formatBlock(h)
}

// TestServerEvaluatesHello feeds crafted hellos and decisions to Accept and
// checks what it answers, in python-foolscap's words.
func TestServerEvaluatesHello(t *testing.T) {
	hi, lo := mustOrderedPair(t)
	goodDecision := formatBlock(map[string]string{keyDecisionVersion: "3", keyCurrent: "fedcba9876543210 1", keyVocabIndex: "1 bb33"})
	tests := []struct {
		name      string
		goTub     *Identity // the server
		peer      *Identity // the scripted client's certificate (nil: none)
		claim     string    // my-tub-id the client claims
		send      []byte
		wantAfter string // what Go sends after its hello
		wantErr   error
		wantBytes string // Banana bytes Result.Conn must yield first
	}{
		{name: "peer error hello", goTub: hi, peer: lo, send: formatBlock(map[string]string{keyError: "boom"}), wantErr: ErrRemote},
		{name: "old banana versions", goTub: hi, peer: lo, send: helloBytes(lo.TubID(), map[string]string{keyNegotiationRange: "1 2"}),
			wantAfter: "banana-decision-version: 1\r\nerror: I can't handle banana version 2\r\n\r\n", wantErr: ErrVersion},
		{name: "future banana versions", goTub: hi, peer: lo, send: helloBytes(lo.TubID(), map[string]string{keyNegotiationRange: "4 5"}),
			wantAfter: "banana-decision-version: 1\r\nerror: You can't handle banana version 3\r\n\r\n", wantErr: ErrVersion},
		{name: "no range", goTub: hi, peer: lo, send: helloBytes(lo.TubID(), nil, keyNegotiationRange),
			wantAfter: "banana-decision-version: 1\r\nerror: No valid banana-negotiation sequence seen\r\n\r\n", wantErr: ErrMalformed},
		{name: "claims another tubid", goTub: hi, peer: lo, claim: hi.TubID(), send: nil,
			wantAfter: "banana-decision-version: 1\r\nerror: internal server error, see logs\r\n\r\n", wantErr: ErrWrongTubID},
		{name: "no certificate", goTub: hi, peer: nil, claim: lo.TubID(), send: nil,
			wantAfter: "banana-decision-version: 1\r\nerror: internal server error, see logs\r\n\r\n", wantErr: ErrNoPeerCertificate},
		{name: "line without colon", goTub: hi, peer: lo, send: []byte("banana\r\n\r\n"),
			wantAfter: "banana-decision-version: 1\r\nerror: internal server error, see logs\r\n\r\n", wantErr: ErrMalformed},
		{name: "hello too long", goTub: hi, peer: lo, send: []byte("a: " + strings.Repeat("b", MaxHeaderSize)),
			wantAfter: "banana-decision-version: 1\r\nerror: internal server error, see logs\r\n\r\n", wantErr: ErrHeaderTooLong},
		{name: "master decides", goTub: hi, peer: lo, send: helloBytes(lo.TubID(), nil),
			wantAfter: "banana-decision-version: 3\r\ncurrent-connection: IR 1\r\ninitial-vocab-table-index: 1 bb33\r\n\r\n"},
		{name: "master with vocab 0 peer", goTub: hi, peer: lo, send: helloBytes(lo.TubID(), map[string]string{keyVocabRange: "0 0"}),
			wantAfter: "banana-decision-version: 3\r\ncurrent-connection: IR 1\r\ninitial-vocab-table-index: 0 da39\r\n\r\n"},
		{name: "slave keeps banana after decision", goTub: lo, peer: hi, send: append(append(helloBytes(hi.TubID(), nil), goodDecision...), "\x00\x88banana"...),
			wantBytes: "\x00\x88banana"},
		{name: "slave rejects vocab hash", goTub: lo, peer: hi,
			send:      append(helloBytes(hi.TubID(), nil), formatBlock(map[string]string{keyDecisionVersion: "3", keyVocabIndex: "1 ffff"})...),
			wantAfter: string(bananaErrorToken("Our hash for vocab-table-index 1 (bb33) does not match your hash (ffff)")), wantErr: ErrVersion},
		{name: "slave rejects vocab index", goTub: lo, peer: hi,
			send:      append(helloBytes(hi.TubID(), nil), formatBlock(map[string]string{keyDecisionVersion: "3", keyVocabIndex: "2 ffff"})...),
			wantAfter: string(bananaErrorToken("I can't handle initial vocab table index 2")), wantErr: ErrVersion},
		{name: "slave gets error decision", goTub: lo, peer: hi,
			send:    append(helloBytes(hi.TubID(), nil), errorBlock("Duplicate connection")...),
			wantErr: ErrRemote},
		{name: "slave gets decision without version", goTub: lo, peer: hi,
			send:      append(helloBytes(hi.TubID(), nil), formatBlock(map[string]string{keyVocabIndex: "1 bb33"})...),
			wantAfter: string(bananaErrorToken("No banana-decision-version value")), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local := Local{Identity: tt.goTub, Incarnation: mustIncarnation(t)}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			type out struct {
				res *Result
				err error
			}
			done := make(chan out, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					done <- out{err: err}
					return
				}
				res, err := Accept(context.Background(), c, AcceptConfig{Lookup: func(string) (Local, bool) { return local, true }, Timeout: 10 * time.Second})
				if err == nil {
					var first []byte
					if tt.wantBytes != "" {
						first = readAtLeast(t, res.Conn, len(tt.wantBytes))
					}
					_ = res.Conn.Close()
					done <- out{res: &Result{Conn: nil, PeerTubID: string(first)}}
					return
				}
				done <- out{err: err}
			}()
			claim := tt.claim
			send := tt.send
			if send == nil {
				send = helloBytes(claim, nil)
			}
			got := scriptedClient(t, ln.Addr().String(), tt.goTub.TubID(), tt.peer, send)
			o := <-done
			ourHello := formatBlock(makeHello(tt.goTub.TubID(), local.Incarnation, nil))
			if !bytes.HasPrefix(got, ourHello) {
				t.Fatalf("Go did not start with its hello: %q", got)
			}
			after := string(got[len(ourHello):])
			want := strings.ReplaceAll(tt.wantAfter, "IR", local.Incarnation)
			if after != want {
				t.Errorf("after hello Go sent %q, want %q", after, want)
			}
			if tt.wantErr == nil {
				if o.err != nil {
					t.Fatalf("Accept: %v", o.err)
				}
				if o.res.PeerTubID != tt.wantBytes {
					t.Errorf("Banana bytes %q, want %q", o.res.PeerTubID, tt.wantBytes)
				}
				return
			}
			if !errors.Is(o.err, tt.wantErr) {
				t.Errorf("Accept error %v, want %v", o.err, tt.wantErr)
			}
		})
	}
}

// TestServerTimeoutsAndCancellation: slow-loris and truncated clients, and
// the caller's context.
func TestServerTimeoutsAndCancellation(t *testing.T) {
	id := mustIdentity(t)
	local := Local{Identity: id, Incarnation: mustIncarnation(t)}
	tests := []struct {
		name    string
		send    string
		close   bool // client closes after sending
		cancel  bool // the caller cancels instead of the timer firing
		wantErr error
	}{
		{name: "slow loris", send: "GET /id/", wantErr: ErrTimeout},
		{name: "silent client", send: "", wantErr: ErrTimeout},
		{name: "truncated header", send: "GET /id/" + id.TubID() + " HTTP/1.1\r\nHost: x\r\n", close: true, wantErr: ErrMalformed},
		{name: "immediate close", send: "", close: true, wantErr: io.EOF},
		{name: "caller cancels", send: "GET", cancel: true, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := Accept(ctx, server, AcceptConfig{
					Lookup:  func(string) (Local, bool) { return local, true },
					Timeout: 300 * time.Millisecond,
				})
				errc <- err
			}()
			if tt.send != "" {
				if _, err := client.Write([]byte(tt.send)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.close {
				_ = client.Close()
			}
			if tt.cancel {
				cancel()
			}
			select {
			case err := <-errc:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Accept error %v, want %v", err, tt.wantErr)
				}
				if tt.cancel && err != context.Canceled {
					t.Errorf("cancellation returned %v, not ctx.Err() itself", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Accept did not return")
			}
		})
	}
}

func TestConnectCancellation(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := Connect(ctx, client, ConnectConfig{
			Local:       Local{Identity: mustIdentity(t), Incarnation: mustIncarnation(t)},
			TargetTubID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		})
		errc <- err
	}()
	buf := make([]byte, 512)
	if _, err := server.Read(buf); err != nil { // the GET
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-errc:
		if err != context.Canceled {
			t.Fatalf("Connect error %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Connect did not return after cancellation")
	}
	// The connection was closed.
	if _, err := server.Read(buf); err == nil {
		t.Error("connection still open after cancellation")
	}
}

func TestConnectBadReplies(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		wantErr error
		sent    string
	}{
		{"500", "HTTP/1.1 500 Internal Server Error: unknown TubID x\r\n\r\n", ErrRefused,
			"banana-decision-version: 1\r\nerror: internal server error, see logs\r\n\r\n"},
		{"garbage", "garbage\r\n\r\n", ErrMalformed, "banana-decision-version: 1\r\nerror: internal server error, see logs\r\n\r\n"},
		{"101 without upgrade", "HTTP/1.1 101 Switching Protocols\r\n\r\n", ErrMalformed, "banana-decision-version: 1\r\nerror: internal server error, see logs\r\n\r\n"},
		{"truncated", "HTTP/1.1 101 Swi", ErrMalformed, ""},
		{"too long", "HTTP/1.1 101 " + strings.Repeat("x", MaxHeaderSize), ErrHeaderTooLong, "banana-decision-version: 1\r\nerror: internal server error, see logs\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan string, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- ""
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				br := newBlockReader(c, nil)
				_, _ = br.readBlock()
				_, _ = c.Write([]byte(tt.reply))
				if tt.name == "truncated" {
					_ = c.(*net.TCPConn).CloseWrite()
				}
				rest, _ := io.ReadAll(c)
				got <- string(append(br.pending(), rest...))
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			_, err = Connect(context.Background(), c, ConnectConfig{
				Local:       Local{Identity: mustIdentity(t), Incarnation: mustIncarnation(t)},
				TargetTubID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Host: "h",
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Connect error %v, want %v", err, tt.wantErr)
			}
			if s := <-got; s != tt.sent {
				t.Errorf("client sent %q after the reply, want %q", s, tt.sent)
			}
		})
	}
}

// TestAcceptServesSeveralTubs: one listener, two local Tubs chosen by the
// tubid in the GET.
func TestAcceptServesSeveralTubs(t *testing.T) {
	a := Local{Identity: mustIdentity(t), Incarnation: mustIncarnation(t)}
	b := Local{Identity: mustIdentity(t), Incarnation: mustIncarnation(t)}
	locals := map[string]Local{a.Identity.TubID(): a, b.Identity.TubID(): b}
	server := AcceptConfig{Lookup: func(s string) (Local, bool) { l, ok := locals[s]; return l, ok }}
	for _, target := range []Local{a, b} {
		t.Run(target.Identity.TubID()[:8], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cl := Local{Identity: mustIdentity(t), Incarnation: mustIncarnation(t)}
			pr := runPair(t, ctx, ConnectConfig{Local: cl, TargetTubID: target.Identity.TubID()}, server)
			if pr.clientErr != nil || pr.serverErr != nil {
				t.Fatalf("client %v, server %v", pr.clientErr, pr.serverErr)
			}
			if pr.server.LocalTubID != target.Identity.TubID() || pr.client.PeerTubID != target.Identity.TubID() {
				t.Errorf("served %s, client reached %s", pr.server.LocalTubID, pr.client.PeerTubID)
			}
		})
	}
}
