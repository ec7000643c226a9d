package negotiate

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
)

// ConnectConfig configures the TCP client side of a negotiation.
type ConnectConfig struct {
	Local
	// TargetTubID is the FURL's tubid; the server's certificate must hash to it.
	TargetTubID string
	// Host is the Host: header value: the dialed hint's host, IPv6 brackets
	// removed (furl.Hint.HostHeader).
	Host string
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger

	recordTLS func(net.Conn) net.Conn // tests only
}

// Connect negotiates as the TCP client over conn, a fresh connection to a
// hint of the target Tub. On success the caller owns Result.Conn; on
// failure conn has been closed. Cancelling ctx closes conn and returns
// ctx.Err(); ctx's deadline bounds the whole negotiation.
func Connect(ctx context.Context, conn net.Conn, cfg ConnectConfig) (*Result, error) {
	if err := checkLocal(cfg.Local); err != nil {
		_ = conn.Close()
		return nil, err
	}
	n := &negotiation{
		raw:       conn,
		w:         conn,
		client:    true,
		local:     cfg.Local,
		wantTubID: cfg.TargetTubID,
		log:       loggerOrDiscard(cfg.Logger).With("tubid", cfg.TargetTubID, "remote", conn.RemoteAddr().String()),
		recordTLS: cfg.recordTLS,
	}
	return guard(ctx, conn, func() (*Result, error) { return n.connect(ctx, cfg) })
}

func (n *negotiation) connect(ctx context.Context, cfg ConnectConfig) (*Result, error) {
	if _, err := n.raw.Write(clientRequest(cfg.TargetTubID, cfg.Host)); err != nil {
		return nil, n.ioError("plaintext", "sending the GET request", err)
	}
	n.send = sendEncrypted // foolscap's send phase after the GET
	br := newBlockReader(n.raw, nil)
	hdr, err := br.readBlock()
	if err != nil {
		return nil, n.ioError("plaintext", "reading the reply to our GET", err)
	}
	if f := parseResponse(hdr); f != nil {
		return nil, n.fail("plaintext", f)
	}
	tc := tls.Client(withPending(n.raw, br.pending()), n.local.Identity.ClientTLSConfig(cfg.TargetTubID))
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = n.raw.Close()
		return nil, &Error{Phase: "tls", Detail: "handshake with the server", Err: fmt.Errorf("%w: %w", ErrTLS, err)}
	}
	arb := n.local.Arbiter
	last := "none 0"
	if arb != nil {
		if ir, seq, ok := arb.LastConnection(cfg.TargetTubID); ok {
			last = fmt.Sprintf("%s %d", ir, seq)
		}
	}
	return n.encrypted(tc, &last)
}
