package negotiate

import (
	"net"
)

// prefixConn replays bytes already read from Conn before reading more.
type prefixConn struct {
	net.Conn
	pending []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// withPending wraps c so that pending is read first; it returns c itself
// when there is nothing pending.
func withPending(c net.Conn, pending []byte) net.Conn {
	if len(pending) == 0 {
		return c
	}
	return &prefixConn{Conn: c, pending: pending}
}
