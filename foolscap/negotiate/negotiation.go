package negotiate

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"
)

// Local is one of our Tubs as negotiation sees it.
type Local struct {
	// Identity is the Tub's key and certificate (required).
	Identity *Identity
	// Incarnation is the Tub's my-incarnation: 16 lowercase hex digits,
	// fixed for the life of the Tub (see NewIncarnation).
	Incarnation string
	// Arbiter answers the duplicate-connection questions; nil means a
	// Tub with no other connections (a fresh MemoryArbiter per call).
	Arbiter Arbiter
}

// NewIncarnation returns a fresh incarnation string: 8 bytes from r in hex.
func NewIncarnation(r io.Reader) (string, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("reading randomness for the Tub incarnation: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Result is a negotiated connection.
type Result struct {
	// Conn is the TLS connection; Banana bytes that arrived with the
	// decision are replayed first. The caller owns and must close it.
	Conn net.Conn
	// TLS is the state of the TLS connection.
	TLS tls.ConnectionState
	// LocalTubID is the tubid of our Tub on this connection (on a server,
	// the one the client asked for).
	LocalTubID string
	// PeerTubID is the authenticated tubid of the peer.
	PeerTubID string
	// PeerIncarnation is the peer's my-incarnation ("" if it sent none);
	// the master's broker records it as current_slave_IR.
	PeerIncarnation string
	// Master is true if we made the decision (our tubid is greater).
	Master bool
	// DecisionVersion is the Banana protocol version (3).
	DecisionVersion int
	// VocabIndex is the initial VOCAB table to use (0 or 1).
	VocabIndex int
	// MasterIncarnation and Seqnum are the decision's current-connection
	// (Seqnum 0 if the master sent none); the broker records Seqnum as
	// current_seqnum.
	MasterIncarnation string
	Seqnum            int
}

type sendPhase int

const (
	sendPlaintext sendPhase = iota
	sendEncrypted
	sendBanana
)

// negotiation is the state of one Connect or Accept call.
type negotiation struct {
	raw       net.Conn
	w         io.Writer // raw before TLS, then the TLS conn
	send      sendPhase
	client    bool
	local     Local
	wantTubID string // client: the FURL's tubid
	log       *slog.Logger
	// recordTLS, set by tests, wraps the TLS connection to see its plaintext.
	recordTLS func(net.Conn) net.Conn
}

// fail tells the peer about f as foolscap would, closes the connection and
// returns the *Error.
func (n *negotiation) fail(phase string, f *failure) error {
	sent := ""
	if !f.remote {
		sent = f.wireText()
		var msg []byte
		switch n.send {
		case sendPlaintext:
			msg = errorReply(sent)
		case sendEncrypted:
			msg = errorBlock(sent)
		case sendBanana:
			msg = bananaErrorToken(sent)
		}
		_ = n.raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := n.w.Write(msg); err != nil {
			sent = ""
		}
	}
	_ = n.raw.Close()
	detail := f.detail
	if detail == "" {
		detail = f.msg
	}
	n.log.Debug("negotiation failed", "phase", phase, "error", detail, "sent", sent)
	return &Error{Phase: phase, Sent: sent, Detail: detail, Err: f.err}
}

// ioError turns a read or write failure into an *Error.
func (n *negotiation) ioError(phase, doing string, err error) error {
	if errors.Is(err, ErrHeaderTooLong) {
		return n.fail(phase, internalError(ErrHeaderTooLong, "Header too long", doing))
	}
	_ = n.raw.Close()
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Phase: phase, Detail: doing, Err: fmt.Errorf("%w: peer closed the connection (%w)", ErrMalformed, err)}
	}
	return &Error{Phase: phase, Detail: doing, Err: err}
}

// encrypted runs everything after the TLS handshake: hellos, then the
// decision one way or the other.
func (n *negotiation) encrypted(tc *tls.Conn, lastConnection *string) (*Result, error) {
	var conn net.Conn = tc
	if n.recordTLS != nil {
		conn = n.recordTLS(tc)
	}
	n.w = conn
	myTubID := n.local.Identity.TubID()
	if _, err := conn.Write(formatBlock(makeHello(myTubID, n.local.Incarnation, lastConnection))); err != nil {
		return nil, n.ioError("hello", "sending our hello", err)
	}
	br := newBlockReader(conn, nil)
	blk, err := br.readBlock()
	if err != nil {
		return nil, n.ioError("hello", "reading the peer's hello", err)
	}
	hello, f := parseBlock(blk)
	if f != nil {
		return nil, n.fail("hello", f)
	}
	cs := tc.ConnectionState()
	hr, f := evaluateHello(hello, cs, myTubID, n.wantTubID)
	if f != nil {
		return nil, n.fail("hello", f)
	}
	arb := n.local.Arbiter
	if arb == nil {
		arb = NewMemoryArbiter()
	}
	res := &Result{
		TLS:             cs,
		LocalTubID:      myTubID,
		PeerTubID:       hr.peerTubID,
		PeerIncarnation: hr.incarnation,
		Master:          hr.master,
		DecisionVersion: hr.version,
	}
	if hr.master {
		d, vocab, seq, f := decide(hello, hr, arb, n.local.Incarnation)
		if f != nil {
			return nil, n.fail("decision", f)
		}
		if _, err := conn.Write(formatBlock(d)); err != nil {
			return nil, n.ioError("decision", "sending the decision", err)
		}
		n.send = sendBanana
		res.VocabIndex, res.MasterIncarnation, res.Seqnum = vocab, n.local.Incarnation, seq
	} else {
		n.send = sendBanana
		blk, err := br.readBlock()
		if err != nil {
			return nil, n.ioError("decision", "reading the decision", err)
		}
		d, f := parseBlock(blk)
		if f != nil {
			return nil, n.fail("decision", f)
		}
		dr, f := acceptDecision(d)
		if f != nil {
			return nil, n.fail("decision", f)
		}
		arb.Decided(hr.peerTubID, dr.masterIR, dr.seqnum, dr.hasCurrent)
		res.DecisionVersion, res.VocabIndex = dr.version, dr.vocab
		res.MasterIncarnation, res.Seqnum = dr.masterIR, dr.seqnum
	}
	res.Conn = withPending(tc, br.pending())
	n.log.Debug("negotiation complete", "tubid", res.PeerTubID, "master", res.Master,
		"tcp_client", n.client, "vocab_index", res.VocabIndex, "seqnum", res.Seqnum)
	return res, nil
}

// guard runs fn with ctx governing conn: the context's deadline becomes the
// connection's, and cancellation closes the connection. If ctx ends first,
// guard returns ctx's cause (ctx.Err() for a caller's context).
func guard(ctx context.Context, conn net.Conn, fn func() (*Result, error)) (*Result, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = conn.Close()
		close(fired)
	})
	res, err := fn()
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		if _, ok := ctx.Deadline(); ok {
			<-ctx.Done() // the I/O deadline is the context's: it ends now
		}
	}
	if !stop() {
		<-fired
		if res != nil {
			_ = res.Conn.Close()
		}
		return nil, context.Cause(ctx)
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return res, nil
}

func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func checkLocal(l Local) error {
	if l.Identity == nil {
		return errors.New("negotiate: no Identity configured")
	}
	if len(l.Incarnation) != 16 {
		return fmt.Errorf("negotiate: incarnation %q is not 16 hex digits", l.Incarnation)
	}
	if _, err := hex.DecodeString(l.Incarnation); err != nil {
		return fmt.Errorf("negotiate: incarnation %q is not 16 hex digits", l.Incarnation)
	}
	return nil
}
