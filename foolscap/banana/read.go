package banana

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf8"
)

// OpenHandler decodes the body of an open type that the value model does
// not know (PB's call, answer, my-reference, ...). It reads children with
// s.Next and may stop before the CLOSE: the decoder then requires the CLOSE
// next. s is valid only until the handler returns. A handler returning a *Violation abandons the sequence (the decoder
// discards what is left of it); any other error is returned as is and
// should be a *ConnError.
type OpenHandler func(s *Seq) (any, error)

// Seq is an open sequence being decoded, handed to an OpenHandler.
type Seq struct {
	d      *Decoder
	typ    string
	header uint64 // the OPEN token's header, which CLOSE must repeat
	id     uint64 // the receiver's object number, used by references
	depth  int
	count  int
	closed bool
	slot   int // index of the container in the scope's objs, or -1 (see track)
}

// OpenType returns the sequence's open type ("call", "list", ...).
func (s *Seq) OpenType() string { return s.typ }

// ID returns the object number of the sequence (its OPEN count).
func (s *Seq) ID() uint64 { return s.id }

// Depth returns the nesting depth: 0 for a top-level message.
func (s *Seq) Depth() int { return s.depth }

// Decoder returns the decoder reading the sequence.
func (s *Seq) Decoder() *Decoder { return s.d }

// Count returns the number of children read so far.
func (s *Seq) Count() int { return s.count }

// Next reads the next child value. ok is false when the sequence's CLOSE
// token was read instead. A reference to a sequence that is still open is
// a Violation here; only the value model's containers can hold one.
func (s *Seq) Next() (v any, ok bool, err error) {
	v, ok, err = s.next()
	if err == nil && ok {
		if _, pend := v.(*pendingRef); pend {
			return nil, false, &Violation{Offset: s.d.off, Err: ErrUnfinishedObject}
		}
	}
	return v, ok, err
}

// IndexToken reads one more open-type index token (a STRING or VOCAB of at
// most max bytes), such as a copyable's class name.
func (s *Seq) IndexToken(max int) ([]byte, error) {
	tok, err := s.d.nextData()
	if err != nil {
		return nil, err
	}
	switch tok.Type {
	case TypeVocab:
		return append([]byte(nil), vocabBytes[tok.Header]...), nil
	case TypeString:
		if tok.Header > uint64(max) {
			return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: index token of %d bytes, limit %d", ErrOpenTypeTooLong, tok.Header, max)}
		}
		return s.d.readBody()
	case TypeClose:
		if err := s.d.checkClose(tok, s); err != nil {
			return nil, err
		}
		return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %s sequence ended early", ErrUnexpectedToken, s.typ)}
	case TypeAbort:
		return nil, &Violation{Offset: tok.Offset, Err: ErrAborted}
	case TypeOpen:
		s.d.nextOpen++
		return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: OPEN where an index token is required", ErrUnexpectedToken)}
	}
	return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %v where an index token is required", ErrUnexpectedToken, tok.Type)}
}

func (s *Seq) next() (any, bool, error) {
	if s.closed {
		return nil, false, nil
	}
	v, closed, ok := s.d.quickChild(s)
	if !ok {
		var err error
		if v, closed, err = s.d.readChild(s); err != nil {
			return nil, false, err
		}
	}
	if closed {
		return nil, false, nil
	}
	s.count++
	return v, true, nil
}

// scope is the reference scope of one top-level message. Objects are
// numbered by their OPEN count; only containers can be referred to, so
// only they are recorded (most OPENs in a message are str values).
type scope struct {
	base uint64
	objs []scopeObj // by ascending id, as containers are opened
	fix  map[uint64][]fixup
}

// scopeObj is a container of the message: its value, or openMarker{}
// while it is still being decoded.
type scopeObj struct {
	id uint64
	v  any
}

type openMarker struct{}

// find returns the index of the object numbered id in objs.
func (sc *scope) find(id uint64) (int, bool) {
	return slices.BinarySearchFunc(sc.objs, id, func(o scopeObj, id uint64) int { return cmp.Compare(o.id, id) })
}

// get returns the object numbered id: its value, or open=true while it
// is still being decoded.
func (sc *scope) get(id uint64) (v any, open, found bool) {
	i, ok := sc.find(id)
	if !ok {
		return nil, false, false
	}
	v = sc.objs[i].v
	if _, isOpen := v.(openMarker); isOpen {
		return nil, true, true
	}
	return v, false, v != nil
}

// open records the container numbered id, which must be above every id
// recorded so far, and returns its index in objs, or -1.
func (sc *scope) open(id uint64) int {
	if id < sc.base {
		return -1
	}
	sc.objs = append(sc.objs, scopeObj{id: id, v: openMarker{}})
	return len(sc.objs) - 1
}

// pendingRef stands for a reference to a container that is still open.
type pendingRef struct{ id uint64 }

// holder receives the final value of a container that holds a pendingRef.
type holder struct{ v any }

type fixup struct {
	h     *holder
	index int
}

// nextData reads the next token, answering PINGs and dropping PONGs.
func (d *Decoder) nextData() (*Token, error) {
	for {
		tok, err := d.next()
		if err != nil {
			return tok, err
		}
		switch tok.Type {
		case TypePing:
			if d.onPing != nil {
				d.onPing(tok.Header)
			}
			continue
		case TypePong:
			continue
		}
		return tok, nil
	}
}

// ReadValue reads one complete value: a bare token or a whole OPEN
// sequence, with its own reference scope.
func (d *Decoder) ReadValue() (any, error) {
	return d.readTop(false)
}

// ReadMessage reads one top-level message as a PB broker does: only OPEN is
// allowed at top level, anything else is a fatal ErrTopLevelNotOpen. A
// *Violation means the message was discarded and the stream is usable.
func (d *Decoder) ReadMessage() (any, error) {
	return d.readTop(true)
}

func (d *Decoder) readTop(onlyOpen bool) (any, error) {
	// One scope per message, its table reused from message to message (and
	// cleared, so it pins nothing between them).
	sc := &d.scopeBuf
	*sc = scope{base: d.nextOpen, objs: sc.objs[:0]}
	d.scope = sc
	d.msgLeft = d.lim.MaxMessageBytes
	d.kw.left, d.kwCredited = keyWorkFloor, 0
	defer func() {
		clear(sc.objs)
		if cap(sc.objs) > 128 {
			// A big message's table is not kept: at 24 bytes an entry,
			// an incident's 400 containers would pin 10 KiB on every
			// idle connection after its last fetch.
			sc.objs = nil
		}
		sc.fix = nil
		d.scope = nil
		d.texts.reset()
		d.sync()
		// Nor are the buffers of a deep message or of a long str (a
		// traceback): an idle connection would keep them.
		if len(d.seqs) > maxKeptSeqs {
			clear(d.seqs[maxKeptSeqs:])
			d.seqs = d.seqs[:maxKeptSeqs:maxKeptSeqs]
		}
		if cap(d.scratch) > maxKeptScratch {
			d.scratch = nil
		}
	}()
	tok, err := d.nextData()
	if err != nil {
		return nil, err
	}
	if tok.Type != TypeOpen {
		if onlyOpen || tok.Type == TypeClose || tok.Type == TypeAbort {
			return nil, d.connErr(tok.Offset, true, ErrTopLevelNotOpen)
		}
		return d.scalar(tok, nil)
	}
	v, err := d.readOpen(tok, 0)
	if err != nil {
		return nil, err
	}
	if _, pend := v.(*pendingRef); pend {
		return nil, &Violation{Offset: d.off, Err: ErrUnfinishedObject}
	}
	return v, nil
}

// readChild reads the next child of s. closed reports that s's CLOSE was
// read (and checked). (Seq.next tries quickChild first.)
func (d *Decoder) readChild(s *Seq) (v any, closed bool, err error) {
	tok, err := d.nextData()
	if err != nil {
		return nil, false, err
	}
	switch tok.Type {
	case TypeClose:
		if err := d.checkClose(tok, s); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	case TypeAbort:
		return nil, false, &Violation{Offset: tok.Offset, Err: ErrAborted}
	case TypeOpen:
		if s.count >= d.lim.MaxItems {
			d.nextOpen++
			off := tok.Offset // before discard reads over tok
			if err := d.discard(tok.Header); err != nil {
				return nil, false, err
			}
			return nil, false, &Violation{Offset: off, Err: fmt.Errorf("%w: more than %d", ErrTooManyItems, d.lim.MaxItems)}
		}
		if tok.BigHeader == nil {
			if v, ok := d.quickText(d.unread(), 0, tok.Header, s.depth+1); ok {
				return v, false, nil
			}
		}
		v, err := d.readOpen(tok, s.depth+1)
		return v, false, err
	}
	if s.count >= d.lim.MaxItems {
		return nil, false, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: more than %d", ErrTooManyItems, d.lim.MaxItems)}
	}
	v, err = d.scalar(tok, s)
	return v, false, err
}

func (d *Decoder) checkClose(tok *Token, s *Seq) error {
	if tok.BigHeader != nil || tok.Header != s.header {
		return d.connErr(tok.Offset, true, fmt.Errorf("%w: got CLOSE(%s) but expecting %d", ErrLostSync, headerString(tok), s.header))
	}
	s.closed = true
	return nil
}

// charge takes n bytes from the message budget.
func (d *Decoder) charge(n uint64, off int64) error {
	if n > uint64(d.msgLeft) {
		return &Violation{Offset: off, Err: fmt.Errorf("%w: over %d bytes", ErrMessageTooLarge, d.lim.MaxMessageBytes)}
	}
	d.msgLeft -= int(n)
	return nil
}

// scalar decodes a non-OPEN data token.
func (d *Decoder) scalar(tok *Token, s *Seq) (any, error) {
	switch tok.Type {
	case TypeInt:
		if tok.BigHeader != nil {
			return new(big.Int).Set(tok.BigHeader), nil
		}
		if tok.Header > math.MaxInt64 {
			return new(big.Int).SetUint64(tok.Header), nil
		}
		return int64(tok.Header), nil
	case TypeNeg:
		if tok.BigHeader != nil {
			return new(big.Int).Neg(tok.BigHeader), nil
		}
		if tok.Header > 1<<63 {
			return new(big.Int).Neg(new(big.Int).SetUint64(tok.Header)), nil
		}
		return -int64(tok.Header), nil // -(1<<63) wraps to itself, as wanted
	case TypeFloat:
		return math.Float64frombits(binary.BigEndian.Uint64(d.body[:])), nil
	case TypeVocab:
		return append([]byte(nil), vocabBytes[tok.Header]...), nil
	case TypeString:
		if tok.Header > uint64(d.lim.MaxStringBytes) {
			return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %d>%d", ErrStringTooLong, tok.Header, d.lim.MaxStringBytes)}
		}
		if err := d.charge(tok.Header, tok.Offset); err != nil {
			return nil, err
		}
		return d.readBody()
	case TypeLongInt, TypeLongNeg:
		if tok.Header > uint64(d.lim.MaxLongIntBytes) {
			return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %d>%d", ErrLongIntTooLong, tok.Header, d.lim.MaxLongIntBytes)}
		}
		if err := d.charge(tok.Header, tok.Offset); err != nil {
			return nil, err
		}
		b, err := d.readBodyTemp()
		if err != nil {
			return nil, err
		}
		v := new(big.Int).SetBytes(b)
		if tok.Type == TypeLongNeg {
			v.Neg(v)
		}
		if v.IsInt64() {
			return v.Int64(), nil
		}
		return v, nil
	}
	return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %v", ErrUnexpectedToken, tok.Type)}
}

// discard skips tokens up to and including the CLOSE matching an OPEN with
// the given header, counting (and checking) nested sequences.
func (d *Decoder) discard(header uint64) error {
	stack := []uint64{header}
	for len(stack) > 0 {
		tok, err := d.nextData()
		if err != nil {
			return err
		}
		switch tok.Type {
		case TypeOpen:
			d.nextOpen++
			if len(stack) >= 10*d.lim.MaxDepth {
				return d.connErr(tok.Offset, true, ErrTooDeep)
			}
			stack = append(stack, tok.Header)
		case TypeClose:
			top := stack[len(stack)-1]
			if tok.BigHeader != nil || tok.Header != top {
				return d.connErr(tok.Offset, true, fmt.Errorf("%w: got CLOSE(%s) but expecting %d", ErrLostSync, headerString(tok), top))
			}
			stack = stack[:len(stack)-1]
		}
	}
	return nil
}

// readOpen decodes the sequence started by the OPEN token tok.
func (d *Decoder) readOpen(tok *Token, depth int) (any, error) {
	// One Seq per depth is reused: a sequence is finished before another
	// one at its depth starts, and handlers must not keep their Seq.
	for len(d.seqs) <= depth {
		d.seqs = append(d.seqs, &Seq{})
	}
	s := d.seqs[depth]
	*s = Seq{d: d, header: tok.Header, id: d.nextOpen, depth: depth}
	d.nextOpen++
	if tok.BigHeader != nil {
		return nil, d.connErr(tok.Offset, true, fmt.Errorf("%w: OPEN id too large", ErrLostSync))
	}
	v, err := d.readOpenBody(s, tok.Offset)
	if err == nil {
		if !s.closed {
			// The handler stopped early: the CLOSE must come next.
			next, err := d.nextData()
			if err != nil {
				return nil, err
			}
			if next.Type == TypeClose {
				if err := d.checkClose(next, s); err != nil {
					return nil, err
				}
				return v, nil
			}
			err = &Violation{Offset: next.Offset, Err: fmt.Errorf("%w: too many children in %s", ErrUnexpectedToken, s.typ)}
			if next.Type == TypeOpen {
				d.nextOpen++
				if err := d.discard(next.Header); err != nil {
					return nil, err
				}
			}
			if derr := d.discard(s.header); derr != nil {
				return nil, derr
			}
			return nil, d.annotate(err, s)
		}
		return v, nil
	}
	viol, ok := asViolation(err)
	if !ok {
		return nil, err
	}
	if !s.closed {
		if derr := d.discard(s.header); derr != nil {
			return nil, derr
		}
		s.closed = true
	}
	return nil, d.annotate(viol, s)
}

func (d *Decoder) annotate(err error, s *Seq) error {
	viol, ok := asViolation(err)
	if !ok {
		return err
	}
	name := s.typ
	if name == "" {
		name = "<open>"
	}
	switch s.typ {
	case "list", "tuple", "set", "immutable-set", "dict", "copyable", "arguments":
		name += "[" + strconv.Itoa(s.count) + "]"
	}
	viol.Path = append([]string{name}, viol.Path...)
	return viol
}

// readOpenBody decodes the sequence s, whose OPEN token was at openOffset.
func (d *Decoder) readOpenBody(s *Seq, openOffset int64) (any, error) {
	tok, err := d.nextData()
	if err != nil {
		return nil, err
	}
	word := -1 // the open type's index in vocabWords, if it is one
	switch tok.Type {
	case TypeVocab:
		word = int(tok.Header)
		s.typ = vocabWords[word]
	case TypeString:
		if tok.Header > MaxOpenTypeBytes {
			return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %d bytes", ErrOpenTypeTooLong, tok.Header)}
		}
		b, err := d.readBodyTemp()
		if err != nil {
			return nil, err
		}
		if i, ok := vocabIndex(b); ok {
			word = i
			s.typ = vocabWords[i] // no allocation for the usual open types
		} else {
			s.typ = string(b)
		}
	case TypeClose:
		if err := d.checkClose(tok, s); err != nil {
			return nil, err
		}
		return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: OPEN without an open type", ErrUnexpectedToken)}
	case TypeAbort:
		return nil, &Violation{Offset: tok.Offset, Err: ErrAborted}
	case TypeOpen:
		d.nextOpen++
		off := tok.Offset // before discard reads over tok
		if err := d.discard(tok.Header); err != nil {
			return nil, err
		}
		return nil, &Violation{Offset: off, Err: fmt.Errorf("%w: OPEN where an open type is required", ErrUnexpectedToken)}
	default:
		return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %v where an open type is required", ErrUnexpectedToken, tok.Type)}
	}
	if s.depth >= d.lim.MaxDepth {
		return nil, &Violation{Offset: openOffset, Err: fmt.Errorf("%w: more than %d levels", ErrTooDeep, d.lim.MaxDepth)}
	}
	// Only the open types with a handler cost a map lookup: the value
	// model's (list, dict, unicode, ...) usually have none.
	if word < 0 || d.handled&(1<<word) != 0 {
		if h, ok := d.hands[s.typ]; ok {
			return h(s)
		}
	}
	switch word {
	case vocabNone:
		return nil, nil
	case vocabBoolean:
		v, ok, err := s.Next()
		if err != nil {
			return nil, err
		}
		n, isInt := v.(int64)
		if !ok || !isInt || (n != 0 && n != 1) {
			return nil, Violationf("%w: boolean needs INT 0 or 1", ErrUnexpectedToken)
		}
		return n == 1, nil
	case vocabUnicode:
		return d.readTextValue(s)
	case vocabReference:
		v, ok, err := s.Next()
		if err != nil {
			return nil, err
		}
		n, isInt := v.(int64)
		if !ok || !isInt || n < 0 {
			return nil, Violationf("%w: reference needs one INT", ErrUnexpectedToken)
		}
		obj, open, found := d.scope.get(uint64(n))
		switch {
		case open:
			return &pendingRef{id: uint64(n)}, nil
		case found:
			return obj, nil
		}
		return nil, Violationf("%w %d", ErrBadReference, n)
	case vocabList, vocabTuple, vocabSet, vocabImmutableSet:
		return d.readList(s)
	case vocabDict:
		return d.readDict(s)
	case vocabCopyable:
		return d.readCopyable(s)
	case -1:
		if s.typ == "decimal" {
			text, err := d.readText(s)
			if err != nil {
				return nil, err
			}
			return Decimal(text), nil
		}
	}
	return nil, Violationf("%w %q", ErrUnknownOpenType, s.typ)
}

// textTable interns the short str values of one message. Dict keys and
// common values (field names, facilities, formats, tubids) repeat in
// every event of an incident, and a hit saves both the string and its
// boxing into an interface. The table is a fixed set of 4-way buckets: a
// new value goes first in its bucket and the oldest drops out, so the
// table is bounded whatever the peer sends and keeps up when the common
// values change, while the few dozen common values of an incident do not
// evict one another (with 2-way buckets, three of them hashed alike for
// one Decoder seed in thirty). It is made only once a message has had
// internAfter str values, and dropped when the message ends, so small
// messages and idle connections do not pay for it.
type textTable struct {
	seed    uint64
	buckets []textBucket // nil, or internBuckets
	seen    int          // str values read in the current message
}

// textBucket holds boxed strings, newest first; nil where empty.
type textBucket [4]any

const (
	maxInternBytes = 64  // longer values are rarely repeated
	internBuckets  = 128 // 8 KiB while a big message is decoded
	internAfter    = 32
)

// bucket returns the bucket where b is, or would be, interned; nil when b
// is not to be interned.
func (t *textTable) bucket(b []byte) *textBucket {
	if len(b) > maxInternBytes {
		return nil
	}
	if t.buckets == nil {
		if t.seen++; t.seen < internAfter {
			return nil
		}
		t.buckets = make([]textBucket, internBuckets)
	}
	return &t.buckets[textHash(b, t.seed)&(internBuckets-1)]
}

// find returns the boxed string equal to b, or nil.
func (bk *textBucket) find(b []byte) any {
	for _, v := range bk {
		if t, ok := v.(string); ok && t == string(b) {
			return v
		}
	}
	return nil
}

// add puts v first, dropping the oldest value.
func (bk *textBucket) add(v any) {
	copy(bk[1:], bk[:len(bk)-1])
	bk[0] = v
}

// textHash hashes a short string from its length and its first, middle
// and last eight bytes, which tell apart the keys and values that repeat,
// for a third to a half of maphash.Bytes's cost on an incident's. Strings
// that share all of those only share a bucket. The seed is per Decoder,
// so a peer cannot aim values at one bucket.
func textHash(b []byte, seed uint64) uint64 {
	x := seed ^ uint64(len(b))
	if len(b) >= 8 {
		x ^= binary.LittleEndian.Uint64(b)
		x = x*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(b[len(b)/2-4:])
		x = x*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(b[len(b)-8:])
	} else {
		for _, c := range b {
			x = x<<8 | x>>56 ^ uint64(c)
		}
	}
	// The finalizer of splitmix64, so that every input bit reaches the
	// low bits that pick the bucket.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (t *textTable) reset() {
	t.buckets = nil
	t.seen = 0
}

// readTextValue reads a unicode body as a value of the model (a boxed
// string), interned when it is short.
func (d *Decoder) readTextValue(s *Seq) (any, error) {
	b, err := d.readTextBody(s)
	if err != nil {
		return nil, err
	}
	bk := d.texts.bucket(b)
	if bk != nil {
		if v := bk.find(b); v != nil {
			s.count++
			return v, nil // valid UTF-8: it was checked when stored
		}
	}
	if !utf8.Valid(b) {
		return nil, NewViolation(ErrBadUnicode)
	}
	s.count++
	var v any = string(b)
	if bk != nil {
		bk.add(v)
	}
	return v, nil
}

// quickChild decodes the next child of s straight from the window when it
// is one of the tokens that make up most of a message, in its usual form:
// an INT, NEG or FLOAT, bytes (STRING or VOCAB), the CLOSE of s, or a
// whole str value (see quickText). It takes what readChild would, and only when readChild would
// succeed; in every other case (a PING, a token split at the end of the
// window, a limit reached, an error to report) it consumes nothing and
// leaves the token to readChild.
func (d *Decoder) quickChild(s *Seq) (v any, closed, ok bool) {
	if d.pending > 0 || d.fatal != nil {
		return nil, false, false
	}
	w := d.unread()
	h, typ, end, ok := peekHeader(w, 0)
	if !ok {
		return nil, false, false
	}
	if Type(typ) == TypeClose {
		if h != s.header {
			return nil, false, false
		}
		s.closed = true
		d.consume(end)
		return nil, true, true
	}
	if s.count >= d.lim.MaxItems {
		return nil, false, false
	}
	switch Type(typ) {
	case TypeInt: // peekHeader's 63 bits always fit in an int64
		v = int64(h)
	case TypeNeg:
		v = -int64(h)
	case TypeFloat:
		if len(w) < end+8 {
			return nil, false, false
		}
		v = math.Float64frombits(binary.BigEndian.Uint64(w[end:]))
		end += 8
	case TypeString: // bytes, as Python 2 peers send most values
		if h > uint64(d.lim.MaxStringBytes) || h > uint64(d.msgLeft) || h > uint64(len(w)-end) {
			return nil, false, false
		}
		b := make([]byte, h)
		copy(b, w[end:])
		end += int(h)
		d.msgLeft -= int(h)
		v = b
	case TypeVocab:
		if !d.vocab || h >= uint64(len(vocabWords)) {
			return nil, false, false
		}
		v = append([]byte(nil), vocabBytes[h]...)
	case TypeOpen:
		if v, ok := d.quickText(w, end, h, s.depth+1); ok {
			return v, false, true
		}
		return nil, false, false
	default:
		return nil, false, false
	}
	d.consume(end)
	return v, false, true
}

// quickText decodes a str value whose OPEN token, with header open, ends
// at w[i:], where w is the unread window: when the rest of it is in the
// window in its usual form (the open type "unicode", as VOCAB or STRING,
// one STRING body and the CLOSE, nothing in between), it consumes the
// whole value, OPEN included, and does in one pass what readOpen does
// through a Seq and four calls to next, for the values that make up most
// of a message (every str key and most values). Whatever it does not
// handle (a PING in between, a token split at the end of the window, a
// limit reached, bad UTF-8, a handler for "unicode") it leaves to
// readOpen, having consumed nothing, and readOpen decodes it or fails as
// ever.
func (d *Decoder) quickText(w []byte, i int, open uint64, depth int) (any, bool) {
	if depth >= d.lim.MaxDepth || d.handled&(1<<vocabUnicode) != 0 {
		return nil, false
	}
	h, typ, i, ok := peekHeader(w, i)
	switch {
	case !ok:
		return nil, false
	case typ == byte(TypeVocab) && h == vocabUnicode && d.vocab:
	case typ == byte(TypeString) && h == uint64(len("unicode")) && len(w) >= i+int(h) && string(w[i:i+int(h)]) == "unicode":
		i += int(h)
	default:
		return nil, false
	}
	n, typ, i, ok := peekHeader(w, i)
	if !ok || typ != byte(TypeString) || n > uint64(d.lim.MaxStringBytes) || n > uint64(d.msgLeft) || n > uint64(len(w)-i) {
		return nil, false
	}
	body := w[i : i+int(n)]
	h, typ, end, ok := peekHeader(w, i+int(n))
	if !ok || typ != byte(TypeClose) || h != open {
		return nil, false
	}
	var v any
	bk := d.texts.bucket(body)
	if bk != nil {
		v = bk.find(body)
	}
	if v == nil {
		if !utf8.Valid(body) {
			return nil, false
		}
		v = string(body)
		if bk != nil {
			bk.add(v)
		}
	}
	d.nextOpen++
	d.msgLeft -= int(n)
	d.consume(end)
	return v, true
}

// peekHeader parses the token at w[i:] when its header is complete in w
// and at most 63 bits long, returning its value and type byte and the
// index just past the type byte. (Small enough to be inlined.)
func peekHeader(w []byte, i int) (v uint64, typ byte, end int, ok bool) {
	if i < 0 || i > len(w) {
		return 0, 0, 0, false
	}
	var shift uint
	for j, b := range w[i:] {
		if b >= 0x80 {
			return v, b, i + j + 1, true
		}
		if j == 9 {
			break
		}
		v |= uint64(b) << shift
		shift += 7
	}
	return 0, 0, 0, false
}

// readText reads the one STRING or VOCAB child of a unicode or decimal
// sequence as UTF-8 text.
func (d *Decoder) readText(s *Seq) (string, error) {
	b, err := d.readTextBody(s)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", NewViolation(ErrBadUnicode)
	}
	s.count++
	return string(b), nil
}

// readTextBody reads the one STRING or VOCAB child of a unicode or
// decimal sequence, not yet checked as UTF-8. The bytes are valid only
// until the next read.
func (d *Decoder) readTextBody(s *Seq) ([]byte, error) {
	tok, err := d.nextData()
	if err != nil {
		return nil, err
	}
	switch tok.Type {
	case TypeVocab:
		return vocabBytes[tok.Header], nil
	case TypeString:
		if tok.Header > uint64(d.lim.MaxStringBytes) {
			return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %d>%d", ErrStringTooLong, tok.Header, d.lim.MaxStringBytes)}
		}
		if err := d.charge(tok.Header, tok.Offset); err != nil {
			return nil, err
		}
		return d.readBodyTemp()
	case TypeClose:
		if err := d.checkClose(tok, s); err != nil {
			return nil, err
		}
		return nil, Violationf("%w: %s needs one STRING", ErrUnexpectedToken, s.typ)
	case TypeAbort:
		return nil, &Violation{Offset: tok.Offset, Err: ErrAborted}
	case TypeOpen:
		d.nextOpen++
		if err := d.discard(tok.Header); err != nil {
			return nil, err
		}
		return nil, Violationf("%w: %s needs one STRING, not a sequence", ErrUnexpectedToken, s.typ)
	default:
		return nil, Violationf("%w: %s needs one STRING, not %v", ErrUnexpectedToken, s.typ, tok.Type)
	}
}

// track marks s as an open container that references may point to.
func (d *Decoder) track(s *Seq) {
	s.slot = -1
	if d.scope != nil {
		s.slot = d.scope.open(s.id)
	}
}

// finish records the final value of a tracked container and patches the
// references that were made to it while it was open.
func (d *Decoder) finish(s *Seq, v any) {
	if d.scope == nil {
		return
	}
	if d.scope.fix != nil {
		for _, f := range d.scope.fix[s.id] {
			setElem(f.h.v, f.index, v)
		}
		delete(d.scope.fix, s.id)
	}
	if s.slot >= 0 {
		d.scope.objs[s.slot].v = v
	}
}

// pend registers a child that is a reference to an open container.
func (d *Decoder) pend(h **holder, ref *pendingRef, index int) {
	if *h == nil {
		*h = &holder{}
	}
	if d.scope.fix == nil {
		d.scope.fix = map[uint64][]fixup{}
	}
	d.scope.fix[ref.id] = append(d.scope.fix[ref.id], fixup{h: *h, index: index})
}

func setElem(container any, i int, v any) {
	switch c := container.(type) {
	case List:
		c[i] = v
	case Tuple:
		c[i] = v
	case Set:
		c[i] = v
	case FrozenSet:
		c[i] = v
	case *Dict:
		c.Items[i].Value = v
	case *Copyable:
		c.Attrs[i].Value = v
	}
}

func (d *Decoder) readList(s *Seq) (any, error) {
	d.track(s)
	var h *holder
	// Elements are staged on a stack shared by all the lists being
	// decoded, as dict items are (see readDict).
	start := len(d.elems)
	defer d.popElems(start)
	for {
		v, ok, err := s.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if err := d.charge(16, d.off); err != nil {
			return nil, err
		}
		if ref, pend := v.(*pendingRef); pend {
			if s.typ == "set" || s.typ == "immutable-set" {
				return nil, NewViolation(ErrUnhashableKey)
			}
			d.pend(&h, ref, len(d.elems)-start)
		}
		d.elems = append(d.elems, v)
	}
	items := []any{} // never nil
	if n := len(d.elems) - start; n > 0 {
		items = make([]any, n)
		copy(items, d.elems[start:])
	}
	var out any
	switch s.typ {
	case "list":
		out = List(items)
	case "tuple":
		out = Tuple(items)
	case "set":
		out = Set(items)
	default:
		out = FrozenSet(items)
	}
	if s.typ == "set" || s.typ == "immutable-set" {
		// Duplicates collapse silently in Python; only unhashable
		// elements are an error.
		w := d.keyWork()
		for _, it := range items {
			if !hashable(it, w) {
				if w.exhausted() {
					return nil, d.tooComplex("set element")
				}
				return nil, NewViolation(ErrUnhashableKey)
			}
		}
	}
	if h != nil {
		h.v = out
	}
	d.finish(s, out)
	return out, nil
}

// popElems drops the staged list elements above start, clearing them so
// they pin nothing, and lets a stack grown by a long list go.
func (d *Decoder) popElems(start int) {
	clear(d.elems[start:])
	d.elems = d.elems[:start]
	if start == 0 && cap(d.elems) > maxKeptStaged {
		d.elems = nil
	}
}

// The Seqs and the scratch body buffer kept between messages.
const (
	maxKeptSeqs    = 8
	maxKeptScratch = 1 << 10
)

// maxKeptStaged bounds the staging stacks (d.items, d.elems) kept between
// messages: 8 KiB at most for items, whatever the last message held.
const maxKeptStaged = 256

func (d *Decoder) readDict(s *Seq) (any, error) {
	d.track(s)
	dict := &Dict{}
	var seen map[string]struct{} // built once the dict is too big to scan
	var h *holder
	// While the keys are str in increasing order, as python-foolscap and
	// our Encoder send them, a new key greater than the last one cannot
	// be a duplicate, and there is nothing to scan.
	var last string
	ordered := true
	// Items are staged on a stack shared by all the dicts being decoded
	// (nested ones above their parent's) and copied out once, at their
	// exact size, when the dict closes: no growth garbage per dict.
	start := len(d.items)
	defer d.popItems(start)
	for {
		k, ok, err := s.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if _, pend := k.(*pendingRef); pend {
			return nil, NewViolation(ErrUnhashableKey)
		}
		if ks, isStr := k.(string); isStr && ordered && (len(d.items) == start || ks > last) {
			last = ks
		} else {
			ordered = false
			dict.Items = d.items[start:] // a view for the duplicate check
			if err := d.checkKey(dict, &seen, k); err != nil {
				return nil, err
			}
		}
		v, ok, err := s.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, Violationf("%w: dict ended after a key", ErrUnexpectedToken)
		}
		if err := d.charge(32, d.off); err != nil {
			return nil, err
		}
		if ref, pend := v.(*pendingRef); pend {
			d.pend(&h, ref, len(d.items)-start)
		}
		d.items = append(d.items, DictItem{Key: k, Value: v})
	}
	dict.Items = nil
	if n := len(d.items) - start; n > 0 {
		dict.Items = make([]DictItem, n)
		copy(dict.Items, d.items[start:])
	}
	if h != nil {
		h.v = dict
	}
	d.finish(s, dict)
	return dict, nil
}

// popItems drops the staged dict items above start, clearing them so they
// pin nothing, and lets a stack grown by one huge dict go.
func (d *Decoder) popItems(start int) {
	clear(d.items[start:])
	d.items = d.items[:start]
	if start == 0 && cap(d.items) > maxKeptStaged {
		d.items = nil
	}
}

// smallDict is the size up to which duplicate keys are found by scanning.
const smallDict = 16

// checkKey rejects an unhashable or duplicate key, fatally as
// python-foolscap does.
func (d *Decoder) checkKey(dict *Dict, seen *map[string]struct{}, k any) error {
	if ks, ok := k.(string); ok && len(dict.Items) < smallDict {
		// The usual key: a str is hashable and equals only a str.
		for _, it := range dict.Items {
			if is, ok := it.Key.(string); ok && is == ks {
				return d.connErr(d.off, true, fmt.Errorf("%w in dict", ErrDuplicateKey))
			}
		}
		return nil
	}
	w := d.keyWork()
	if len(dict.Items) < smallDict {
		if !hashable(k, w) {
			if w.exhausted() {
				return d.tooComplex("dict key")
			}
			return d.connErr(d.off, true, fmt.Errorf("%w in dict", ErrUnhashableKey))
		}
		for _, it := range dict.Items {
			if keyEqual(it.Key, k, w) {
				return d.connErr(d.off, true, fmt.Errorf("%w in dict", ErrDuplicateKey))
			}
			if w.exhausted() {
				return d.tooComplex("dict key")
			}
		}
		return nil
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*len(dict.Items))
		for _, it := range dict.Items {
			hk, _ := hashKey(it.Key, w)
			if w.exhausted() {
				return d.tooComplex("dict key")
			}
			(*seen)[hk] = struct{}{}
		}
	}
	hk, ok := hashKey(k, w)
	if !ok {
		if w.exhausted() {
			return d.tooComplex("dict key")
		}
		return d.connErr(d.off, true, fmt.Errorf("%w in dict", ErrUnhashableKey))
	}
	if _, dup := (*seen)[hk]; dup {
		return d.connErr(d.off, true, fmt.Errorf("%w in dict", ErrDuplicateKey))
	}
	(*seen)[hk] = struct{}{}
	return nil
}

func (d *Decoder) readCopyable(s *Seq) (any, error) {
	name, err := s.IndexToken(d.lim.MaxClassNameBytes)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(name) {
		return nil, NewViolation(ErrBadUnicode)
	}
	d.track(s)
	c := &Copyable{Class: string(name)}
	var h *holder
	for {
		k, ok, err := s.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		kb, isBytes := k.([]byte)
		if !isBytes || !utf8.Valid(kb) {
			return nil, Violationf("%w: copyable attribute names must be STRINGs", ErrUnexpectedToken)
		}
		v, ok, err := s.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, Violationf("%w: copyable ended after an attribute name", ErrUnexpectedToken)
		}
		if err := d.charge(32, d.off); err != nil {
			return nil, err
		}
		if ref, pend := v.(*pendingRef); pend {
			d.pend(&h, ref, len(c.Attrs))
		}
		c.Attrs = append(c.Attrs, Attr{Name: string(kb), Value: v})
	}
	if h != nil {
		h.v = c
	}
	d.finish(s, c)
	return c, nil
}

// Budget of keyWork units (see hash.go) for the set elements and dict keys
// of one message: keyWorkFloor, plus keyWorkPerByte for every byte charged
// to MaxMessageBytes so far. Work stays proportional to what the peer
// sent: any tree-shaped value is far below it (each element is charged at
// least 16 bytes, worth 64 units), while a 300-byte message of tuples
// sharing references 40 levels deep is refused within about a million
// units (milliseconds) instead of walking 2**40 leaves.
const (
	keyWorkFloor   = 1 << 20
	keyWorkPerByte = 4
)

// keyWork tops up the message's key budget with the credit of the bytes
// charged since the last call, and returns it.
func (d *Decoder) keyWork() *keyWork {
	used := d.lim.MaxMessageBytes - d.msgLeft
	d.kw.left += keyWorkPerByte * (used - d.kwCredited)
	d.kwCredited = used
	return &d.kw
}

// tooComplex is the Violation for a set element or dict key whose
// hashing or comparison ran out of the message's key budget.
func (d *Decoder) tooComplex(what string) error {
	return &Violation{Offset: d.off, Err: fmt.Errorf("%w: a %s expands, through shared references, beyond what %d bytes of message may cost to hash or compare", ErrValueTooComplex, what, d.lim.MaxMessageBytes-d.msgLeft)}
}
