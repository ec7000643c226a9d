package negotiate

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// DefaultServerTimeout is foolscap's SERVER_TIMEOUT: a client has this long
// to finish negotiating.
const DefaultServerTimeout = 120 * time.Second

// AcceptConfig configures the TCP server side of a negotiation.
type AcceptConfig struct {
	// Lookup returns the local Tub a client asks for by tubid, or false.
	// One listener may serve several Tubs.
	Lookup func(tubID string) (Local, bool)
	// Timeout bounds the negotiation (0 means DefaultServerTimeout,
	// negative means none beyond ctx).
	Timeout time.Duration
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger

	recordTLS func(net.Conn) net.Conn // tests only
}

// Accept negotiates as the TCP server over conn, a freshly accepted
// connection. On success the caller owns Result.Conn; on failure conn has
// been closed, after the client was told why in foolscap's words.
// Cancelling ctx closes conn and returns ctx.Err(); the server timeout
// gives an *Error wrapping ErrTimeout.
func Accept(ctx context.Context, conn net.Conn, cfg AcceptConfig) (*Result, error) {
	if cfg.Lookup == nil {
		_ = conn.Close()
		return nil, fmt.Errorf("negotiate: AcceptConfig.Lookup is nil")
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultServerTimeout
	}
	tctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeoutCause(ctx, timeout, &Error{Phase: "timer", Detail: fmt.Sprintf("client did not finish within %v", timeout), Err: ErrTimeout})
		defer cancel()
	}
	n := &negotiation{
		raw:       conn,
		w:         conn,
		log:       loggerOrDiscard(cfg.Logger).With("remote", conn.RemoteAddr().String()),
		recordTLS: cfg.recordTLS,
	}
	res, err := guard(tctx, conn, func() (*Result, error) { return n.accept(tctx, cfg) })
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return res, err
}

func (n *negotiation) accept(ctx context.Context, cfg AcceptConfig) (*Result, error) {
	br := newBlockReader(n.raw, nil)
	hdr, err := br.readBlock()
	if err != nil {
		return nil, n.ioError("plaintext", "reading the client's GET request", err)
	}
	tubID, f := parseRequest(hdr)
	if f != nil {
		return nil, n.fail("plaintext", f)
	}
	local, ok := cfg.Lookup(tubID)
	if !ok {
		return nil, n.fail("plaintext", negotiationError(ErrUnknownTubID, "unknown TubID "+tubID))
	}
	if err := checkLocal(local); err != nil {
		return nil, n.fail("plaintext", internalError(ErrMalformed, err.Error(), err.Error()))
	}
	n.local = local
	n.log = n.log.With("local_tubid", tubID)
	if _, err := n.raw.Write([]byte(switchingProtocols)); err != nil {
		return nil, n.ioError("plaintext", "sending 101 Switching Protocols", err)
	}
	n.send = sendEncrypted
	tc := tls.Server(withPending(n.raw, br.pending()), local.Identity.ServerTLSConfig())
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = n.raw.Close()
		return nil, &Error{Phase: "tls", Detail: "handshake with the client", Err: fmt.Errorf("%w: %w", ErrTLS, err)}
	}
	return n.encrypted(tc, nil)
}
