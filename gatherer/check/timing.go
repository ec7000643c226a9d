package check

import (
	"net"
	"sync"
	"time"
)

// recordApplicationData is the TLS record type of application data; in TLS
// 1.3 every encrypted record carries it, so the client's first one is its
// Finished flight (1.3) or the hello block (1.2): either way the handshake,
// with its tubid pin, is over.
const recordApplicationData = 23

// tlsRecordHeader is the size of a TLS record header: type, version (2),
// length (2).
const tlsRecordHeader = 5

// stepConn watches a negotiating connection to time its steps: when the
// first reply bytes arrive (the end of the plaintext step) and when we first
// write a TLS application-data record (the end of the handshake). It only
// looks at the bytes; it never changes them.
type stepConn struct {
	net.Conn
	now func() time.Time

	mu        sync.Mutex
	replyAt   time.Time // first successful Read
	appDataAt time.Time // first Write carrying an application-data record
	hdr       [tlsRecordHeader]byte
	nhdr      int // bytes of hdr filled
	body      int // bytes of the current record's body still to come
}

func (c *stepConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if c.replyAt.IsZero() {
			c.replyAt = c.now()
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *stepConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if !c.replyAt.IsZero() && c.appDataAt.IsZero() && c.scan(p) {
		c.appDataAt = c.now()
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// scan follows the TLS record framing of the bytes we write after the
// plaintext reply and reports whether p starts an application-data record.
func (c *stepConn) scan(p []byte) bool {
	for len(p) > 0 {
		if c.body > 0 {
			n := min(c.body, len(p))
			c.body -= n
			p = p[n:]
			continue
		}
		if c.nhdr == 0 && p[0] == recordApplicationData {
			return true // the type byte is the first of the header
		}
		n := copy(c.hdr[c.nhdr:], p)
		c.nhdr += n
		p = p[n:]
		if c.nhdr < tlsRecordHeader {
			return false
		}
		c.nhdr = 0
		c.body = int(c.hdr[3])<<8 | int(c.hdr[4])
	}
	return false
}

// marks returns the two instants seen so far (zero when not reached).
func (c *stepConn) marks() (replyAt, appDataAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replyAt, c.appDataAt
}
