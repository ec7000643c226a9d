package banana

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
)

// DecoderOptions configures a Decoder.
type DecoderOptions struct {
	// Limits bounds what is accepted; zero fields take the defaults.
	Limits Limits
	// VocabIndex is the negotiated initial-vocab-table-index: 0 (empty
	// table) or 1 (the 25 words of VocabWords).
	VocabIndex int
	// OnPing is called with the number of every PING token received, at the
	// point in the stream where it appears. The owner answers with a PONG.
	// Nil ignores PINGs.
	OnPing func(n uint64)
	// Handlers decode open types that are not part of the value model
	// (PB's call, answer, error, my-reference, ...). A handler is called
	// after the open-type index token has been read.
	Handlers map[string]OpenHandler
	// BufferSize is the size of the read buffer made when r is not a
	// *bufio.Reader; 0 means DefaultBufferSize. Bodies larger than the
	// buffer are read straight into their own slice, so a small buffer
	// costs little throughput and keeps idle connections cheap.
	BufferSize int
}

// DefaultBufferSize is the read buffer of a Decoder: enough for the small
// tokens of a PB conversation, small enough that a gatherer holding
// thousands of idle connections does not pay for it.
const DefaultBufferSize = 4 << 10

// Decoder reads Banana tokens and values from a stream. The token level is
// Next / ReadBody / SkipBody; the value level is ReadMessage and, inside
// handlers, Seq. A Decoder is not safe for concurrent use; it buffers, so
// it may read past the last complete token.
type Decoder struct {
	r   *bufio.Reader
	off int64
	// win is r's buffered bytes as last peeked, of which the decoder has
	// consumed the first pos, but r has not yet been told. Tokens and
	// bodies are parsed in place from win[pos:], which saves two bufio
	// calls per token; sync tells r before anything else reads from it
	// (win is only valid until then), and before a call returns to the
	// caller, so that r is always left just past the last token read.
	win []byte
	pos int

	lim    Limits
	vocab  bool
	onPing func(uint64)
	hands  map[string]OpenHandler

	pending  int64  // unread body bytes of the last token
	nextOpen uint64 // id the next received OPEN gets
	tok      Token  // the last token read (see next)
	hdr      [MaxHeaderBytes + 1]byte
	body     [8]byte
	errBuf   []byte

	scope      *scope     // reference scope of the current top-level message
	scopeBuf   scope      // the storage d.scope points at, reused
	seqs       []*Seq     // reused, one per depth
	scratch    []byte     // reused body buffer for text
	texts      textTable  // short str values of the current message (see readTextValue)
	items      []DictItem // staged items of the dicts being decoded (see readDict)
	elems      []any      // staged elements of the lists being decoded (see readList)
	handled    uint32     // bit i: hands has a handler for vocabWords[i]
	msgLeft    int        // MaxMessageBytes budget left in the current message
	kw         keyWork    // key hashing budget of the current message (see keyWork)
	kwCredited int        // message bytes already credited to kw
	fatal      error      // first fatal error; every later call returns it
}

// NewDecoder returns a Decoder reading from r. If r is a *bufio.Reader it is
// used directly, so bytes already buffered there are not lost, and every
// call leaves it just past the last token the Decoder consumed.
func NewDecoder(r io.Reader, opts DecoderOptions) *Decoder {
	br, ok := r.(*bufio.Reader)
	if !ok {
		size := opts.BufferSize
		if size <= 0 {
			size = DefaultBufferSize
		}
		br = bufio.NewReaderSize(r, size)
	}
	d := &Decoder{
		r:      br,
		lim:    opts.Limits.withDefaults(),
		vocab:  opts.VocabIndex == 1,
		onPing: opts.OnPing,
		hands:  opts.Handlers,
	}
	const _ = uint32(1) << (len(vocabWords) - 1) // the words fit in handled
	for i, w := range vocabWords {
		if _, ok := d.hands[w]; ok {
			d.handled |= 1 << i
		}
	}
	d.msgLeft = d.lim.MaxMessageBytes
	d.texts.seed = rand.Uint64()
	return d
}

// sync discards from r the bytes the decoder consumed from its window, and
// forgets the window.
func (d *Decoder) sync() {
	if d.pos > 0 {
		d.r.Discard(d.pos) // they are buffered: this cannot fail
	}
	d.win, d.pos = nil, 0
}

// unread returns the bytes of the window not consumed yet.
func (d *Decoder) unread() []byte { return d.win[d.pos:] }

// consume takes n bytes off the window.
func (d *Decoder) consume(n int) {
	d.pos += n
	d.off += int64(n)
}

// Offset returns the number of bytes consumed from the stream so far.
func (d *Decoder) Offset() int64 { return d.off }

// OpenCount returns the number of OPEN tokens received so far (the id the
// next OPEN will carry).
func (d *Decoder) OpenCount() uint64 { return d.nextOpen }

// Limits returns the limits in force, with defaults filled in.
func (d *Decoder) Limits() Limits { return d.lim }

func (d *Decoder) connErr(off int64, sendErr bool, err error) error {
	ce := &ConnError{Offset: off, SendError: sendErr, Err: err}
	if d.fatal == nil {
		d.fatal = ce
	}
	return ce
}

// ioErr turns a read error into a fatal error. A clean end of stream
// between tokens stays io.EOF (wrapped); inside a token it is
// io.ErrUnexpectedEOF.
func (d *Decoder) ioErr(err error, midToken bool) error {
	if midToken && errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return d.connErr(d.off, false, fmt.Errorf("reading the Banana stream: %w", err))
}

// Next reads the next token. PING and PONG are returned like any other
// token; ERROR is turned into a *ConnError wrapping ErrPeerError. FLOAT
// bodies and VOCAB words are in Token.Body; STRING, LONGINT and LONGNEG
// bodies are left for ReadBody or SkipBody (an unread body is skipped by
// the next call to Next).
func (d *Decoder) Next() (Token, error) {
	tok, err := d.next()
	d.sync()
	if err != nil {
		return Token{}, err
	}
	t := *tok
	t.Body = d.body0(tok)
	return t, nil
}

// body0 is the Body of the token tok, which next leaves out of d.tok:
// storing a pointer there for every token would cost a write barrier
// each time the garbage collector runs.
func (d *Decoder) body0(tok *Token) []byte {
	switch tok.Type {
	case TypeFloat:
		return d.body[:]
	case TypeVocab:
		return vocabBytes[tok.Header]
	}
	return nil
}

// next is Next, leaving the window unsynced. The token it returns is
// d.tok, valid until the next call (returning a Token by value would copy
// it through memory on every token), and without its Body (see body0).
func (d *Decoder) next() (*Token, error) {
	if d.fatal != nil {
		return nil, d.fatal
	}
	if d.pending > 0 {
		if err := d.skipBody(); err != nil {
			return nil, err
		}
	}
	if d.pos == len(d.win) {
		// Look at whatever r holds; only the slow path below waits
		// for more, and only for bytes the token needs.
		d.sync()
		d.win, _ = d.r.Peek(d.r.Buffered())
	}
	start := d.off
	tok := &d.tok
	tok.Header, tok.Offset = 0, start
	if tok.BigHeader != nil { // rare: spare the write barrier
		tok.BigHeader = nil
	}
	var typ byte
	// Fast path: the whole token prefix is in the window (the usual
	// case), so decode it in place.
	w := d.unread()
	w = w[:min(len(w), MaxHeaderBytes+1)]
	for i, b := range w {
		if b < 0x80 {
			continue
		}
		typ = b
		if i <= 9 { // up to 63 bits: no big.Int
			var v uint64
			for j := i - 1; j >= 0; j-- {
				v = v<<7 | uint64(w[j])
			}
			tok.Header = v
		} else {
			n := copy(d.hdr[:], w[:i])
			tok.Header, tok.BigHeader = decodeHeader(d.hdr[:n])
		}
		d.consume(i + 1)
		break
	}
	if typ == 0 {
		// The window ends inside the token (or the header is too long,
		// which the byte-by-byte loop reports): read it from r.
		d.sync()
		n := 0
		for typ == 0 {
			b, err := d.r.ReadByte()
			if err != nil {
				return nil, d.ioErr(err, n > 0)
			}
			d.off++
			if b >= 0x80 {
				typ = b
				break
			}
			if n == MaxHeaderBytes {
				return nil, d.connErr(start, true, ErrHeaderTooLong)
			}
			d.hdr[n] = b
			n++
		}
		tok.Header, tok.BigHeader = decodeHeader(d.hdr[:n])
	}
	tok.Type = Type(typ)
	switch tok.Type {
	case TypeInt, TypeNeg, TypeOpen, TypeClose, TypeAbort, TypePing, TypePong:
	case TypeString, TypeLongInt, TypeLongNeg:
		if tok.BigHeader != nil || tok.Header > 1<<62 {
			return nil, d.connErr(start, true, fmt.Errorf("%v length %s: %w", tok.Type, headerString(tok), ErrStringTooLong))
		}
		d.pending = int64(tok.Header)
	case TypeFloat:
		if w := d.unread(); len(w) >= len(d.body) {
			copy(d.body[:], w)
			d.consume(len(d.body))
		} else if err := d.readFull(d.body[:]); err != nil {
			return nil, err
		}
	case TypeVocab:
		if !d.vocab || tok.BigHeader != nil || tok.Header >= uint64(len(vocabWords)) {
			return nil, d.connErr(start, true, fmt.Errorf("%w %s", ErrUnknownVocab, headerString(tok)))
		}
	case TypeError:
		if tok.BigHeader != nil || tok.Header > MaxErrorBytes {
			return nil, d.connErr(start, true, ErrOversizedError)
		}
		if cap(d.errBuf) < int(tok.Header) {
			d.errBuf = make([]byte, tok.Header)
		}
		buf := d.errBuf[:tok.Header]
		if err := d.readFull(buf); err != nil {
			return nil, err
		}
		ce := &ConnError{Offset: start, PeerMsg: string(buf), Err: ErrPeerError}
		d.fatal = ce
		return nil, ce
	default:
		return nil, d.connErr(start, true, fmt.Errorf("%w 0x%02x", ErrBadTypeByte, typ))
	}
	return tok, nil
}

// readFull fills buf from the stream, past the window, as the body of a
// token.
func (d *Decoder) readFull(buf []byte) error {
	d.sync()
	if _, err := io.ReadFull(d.r, buf); err != nil {
		return d.ioErr(err, true)
	}
	d.off += int64(len(buf))
	return nil
}

// ReadBody reads the pending body of the last STRING, LONGINT or LONGNEG
// token into a new slice. The caller must have checked the length against
// its limits: ReadBody allocates what the header announced.
func (d *Decoder) ReadBody() ([]byte, error) {
	b, err := d.readBody()
	d.sync()
	return b, err
}

func (d *Decoder) readBody() ([]byte, error) {
	if d.fatal != nil {
		return nil, d.fatal
	}
	buf := make([]byte, d.pending)
	if w := d.unread(); len(buf) <= len(w) {
		copy(buf, w)
		d.consume(len(buf))
	} else if err := d.readFull(buf); err != nil {
		return nil, err
	}
	d.pending = 0
	return buf, nil
}

// readBodyTemp returns the pending body, valid only until the next read:
// in place in the window when it is there, else read into a reused buffer.
func (d *Decoder) readBodyTemp() ([]byte, error) {
	if d.fatal != nil {
		return nil, d.fatal
	}
	n := int(d.pending)
	d.pending = 0
	if w := d.unread(); n <= len(w) {
		d.consume(n)
		return w[:n], nil
	}
	if cap(d.scratch) < n {
		d.scratch = make([]byte, n)
	}
	buf := d.scratch[:n]
	if cap(d.scratch) > 1<<16 {
		d.scratch = nil // do not pin a large buffer between messages
	}
	if err := d.readFull(buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// SkipBody discards the pending body of the last token without buffering it.
func (d *Decoder) SkipBody() error {
	err := d.skipBody()
	d.sync()
	return err
}

func (d *Decoder) skipBody() error {
	if d.fatal != nil {
		return d.fatal
	}
	if d.pending <= int64(len(d.win)-d.pos) {
		d.consume(int(d.pending))
		d.pending = 0
		return nil
	}
	d.sync()
	for d.pending > 0 {
		chunk := d.pending
		if chunk > 1<<20 {
			chunk = 1 << 20
		}
		n, err := d.r.Discard(int(chunk))
		d.off += int64(n)
		d.pending -= int64(n)
		if err != nil {
			return d.ioErr(err, true)
		}
	}
	return nil
}

// decodeHeader decodes a little-endian base-128 header.
func decodeHeader(h []byte) (uint64, *big.Int) {
	if len(h) <= 9 { // at most 63 bits
		var v uint64
		for i := len(h) - 1; i >= 0; i-- {
			v = v<<7 | uint64(h[i])
		}
		return v, nil
	}
	v := new(big.Int)
	for i := len(h) - 1; i >= 0; i-- {
		v.Lsh(v, 7)
		v.Or(v, big.NewInt(int64(h[i])))
	}
	if v.IsUint64() {
		return v.Uint64(), nil
	}
	return 0, v
}

func headerString(t *Token) string {
	if t.BigHeader != nil {
		return t.BigHeader.String()
	}
	return fmt.Sprint(t.Header)
}
