package banana

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"
)

// Marshaler is implemented by values that write their own tokens, such as
// PB references. MarshalBanana must leave every sequence it opens closed.
type Marshaler interface {
	MarshalBanana(e *Encoder) error
}

// EncoderOptions configures an Encoder.
type EncoderOptions struct {
	// VocabIndex is the negotiated initial-vocab-table-index; with 1 every
	// bytes token equal to one of VocabWords is sent as VOCAB.
	VocabIndex int
	// MaxDepth bounds the nesting of values (default DefaultMaxDepth), so
	// that a cyclic structure without shared identity cannot recurse
	// forever.
	MaxDepth int
	// Marshal is consulted for values outside the value model that do not
	// implement Marshaler. It reports whether it wrote the value.
	Marshal func(e *Encoder, v any) (handled bool, err error)
}

// Encoder appends Banana tokens to an internal buffer. It keeps the
// per-direction OPEN counter, which is never reset, so one Encoder must be
// used for the whole life of a connection direction and its output written
// in order. It is not safe for concurrent use.
type Encoder struct {
	buf      []byte
	nextOpen uint64
	vocab    bool
	maxDepth int
	hook     func(*Encoder, any) (bool, error)
	opens    []uint64 // ids of the sequences currently open
	order    []int32  // stack of the key orders of the dicts being written (sortOrder)

	// The reference scope of the current message: the OPEN id of every
	// container written in it, by identity. The maps are made on the
	// first container (most messages hold none), at the size the last
	// message needed (messages on a connection tend to be alike, and
	// growing a map is most of its cost), and kept from message to
	// message only while small.
	scoped   bool
	dictRefs map[*Dict]uint64
	seqRefs  map[*any]seqRef   // lists, tuples and sets, by first element
	seqMore  map[seqKey]uint64 // the rare others with the same first element
	dictHint int32
	seqHint  int32
}

// seqKey identifies a list, tuple or set: Go slices have no identity of
// their own, so two are the same object when they share their first
// element and length and are of the same kind.
type seqKey struct {
	p    *any
	n    int
	kind byte
}

// seqRef is the first sequence of a scope that began with a given element
// (keying seqRefs by that element alone makes its lookups a pointer's).
type seqRef struct {
	n    int
	kind byte
	id   uint64
}

// maxKeptRefs is the size up to which the reference maps are kept (cleared)
// between messages: a few hundred bytes each, not worth making again for
// every message, where a big message's maps would pin kilobytes on an idle
// connection.
const maxKeptRefs = 8

// maxRefsHint bounds the size a reference map is made at, so that one huge
// message does not make every later one allocate a huge map.
const maxRefsHint = 4096

// NewEncoder returns an Encoder whose first OPEN gets id 0.
func NewEncoder(opts EncoderOptions) *Encoder {
	e := &Encoder{vocab: opts.VocabIndex == 1, maxDepth: opts.MaxDepth, hook: opts.Marshal}
	if e.maxDepth <= 0 {
		e.maxDepth = DefaultMaxDepth
	}
	return e
}

// Bytes returns the buffered output. It is valid until the next write.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len returns the number of buffered bytes.
func (e *Encoder) Len() int { return len(e.buf) }

// Reset drops the buffered output, keeping the OPEN counter.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// OpenCount returns the number of OPEN tokens written so far.
func (e *Encoder) OpenCount() uint64 { return e.nextOpen }

// BeginScope starts the reference scope of a top-level message: a
// list, tuple, set or dict written twice within it is sent the second time
// as a reference sequence.
func (e *Encoder) BeginScope() {
	e.EndScope()
	e.scoped = true
}

// EndScope ends the current reference scope.
func (e *Encoder) EndScope() {
	e.scoped = false
	e.dictHint = int32(min(len(e.dictRefs), maxRefsHint))
	if len(e.dictRefs) > maxKeptRefs {
		e.dictRefs = nil
	}
	clear(e.dictRefs)
	e.seqHint = int32(min(len(e.seqRefs), maxRefsHint))
	if len(e.seqRefs) > maxKeptRefs {
		e.seqRefs = nil
	}
	clear(e.seqRefs)
	e.seqMore = nil
}

func (e *Encoder) header(v uint64, typ Type) {
	// e.buf = append(e.buf, ...) and e.buf = e.buf[:n] store only the
	// length back: no write barrier for the pointer.
	if v < 0x80 { // includes 0, which is sent as one zero byte
		e.buf = append(e.buf, byte(v), byte(typ))
		return
	}
	e.longHeader(v, typ)
}

// longHeader is header for v >= 0x80. OPEN and CLOSE ids on a long-lived
// connection take 3 or 4 bytes: up to 7 of them and the type byte are
// written with one 8-byte store rather than appended one by one.
func (e *Encoder) longHeader(v uint64, typ Type) {
	n := len(e.buf)
	if cap(e.buf)-n < maxHeader64 {
		e.buf = slices.Grow(e.buf, maxHeader64)
	}
	b := e.buf[n : n+maxHeader64]
	if v >= 1<<49 {
		i := 0
		for ; v >= 0x80; i++ {
			b[i] = byte(v & 0x7f)
			v >>= 7
		}
		b[i], b[i+1] = byte(v), byte(typ)
		e.buf = e.buf[:n+i+2]
		return
	}
	digits := (bits.Len64(v) + 6) / 7 // 2 to 7
	// The 7-bit digits, one per byte (written out: Go does not unroll
	// loops, and a loop's exit is a branch on the value).
	x := v&0x7f | v>>7&0x7f<<8 | v>>14&0x7f<<16 | v>>21&0x7f<<24 |
		v>>28&0x7f<<32 | v>>35&0x7f<<40 | v>>42&0x7f<<48
	x |= uint64(typ) << (8 * digits)
	binary.LittleEndian.PutUint64(b, x)
	e.buf = e.buf[:n+digits+1]
}

// maxHeader64 is the longest token prefix of a 64-bit header: ten 7-bit
// digits and the type byte.
const maxHeader64 = 11

// Open writes an OPEN token and the open type as its index token, and
// returns the OPEN's id for Close.
func (e *Encoder) Open(openType string) uint64 {
	id := e.nextOpen
	e.nextOpen++
	e.header(id, TypeOpen)
	writeText(e, openType)
	e.opens = append(e.opens, id)
	return id
}

// openVocab is Open for the open type vocabWords[i], which it need not
// look up.
func (e *Encoder) openVocab(i uint64) uint64 {
	if !e.vocab {
		return e.Open(vocabWords[i])
	}
	id := e.nextOpen
	e.nextOpen++
	e.header(id, TypeOpen)
	e.header(i, TypeVocab)
	e.opens = append(e.opens, id)
	return id
}

// Close writes the CLOSE token of the innermost open sequence, whose id
// must be id.
func (e *Encoder) Close(id uint64) {
	if n := len(e.opens); n > 0 && e.opens[n-1] == id {
		e.opens = e.opens[:n-1]
	}
	e.header(id, TypeClose)
}

// AbortTo abandons the open sequences from the innermost one up to and
// including the one with the given id, writing ABORT and CLOSE for each as
// python-foolscap does when serialization fails.
func (e *Encoder) AbortTo(id uint64) {
	for len(e.opens) > 0 {
		top := e.opens[len(e.opens)-1]
		e.opens = e.opens[:len(e.opens)-1]
		e.header(top, TypeAbort)
		e.header(top, TypeClose)
		if top == id {
			return
		}
	}
}

// WriteInt writes an integer with INT, NEG, LONGINT or LONGNEG, switching
// at ±2^31 like python-foolscap.
func (e *Encoder) WriteInt(v int64) {
	switch {
	case v >= 0 && v < 1<<31:
		e.header(uint64(v), TypeInt)
	case v < 0 && v >= -(1<<31):
		e.header(uint64(-v), TypeNeg)
	default:
		e.WriteBigInt(big.NewInt(v))
	}
}

// WriteBigInt writes an integer of any size.
func (e *Encoder) WriteBigInt(v *big.Int) {
	if v.IsInt64() {
		n := v.Int64()
		if n >= -(1<<31) && n < 1<<31 {
			e.WriteInt(n)
			return
		}
	}
	mag := new(big.Int).Abs(v).Bytes()
	typ := TypeLongInt
	if v.Sign() < 0 {
		typ = TypeLongNeg
	}
	e.header(uint64(len(mag)), typ)
	e.buf = append(e.buf, mag...)
}

// WriteFloat writes a FLOAT token (no header, big-endian IEEE 754).
func (e *Encoder) WriteFloat(f float64) {
	e.buf = append(e.buf, byte(TypeFloat))
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// WriteBytes writes a bytes string: VOCAB when it is a word of the
// negotiated table, else STRING.
func (e *Encoder) WriteBytes(b []byte) { writeText(e, b) }

// writeText is WriteBytes for a string as well, which spares converting
// every str, open type and class name to a []byte first.
func writeText[S string | []byte](e *Encoder, b S) {
	if e.vocab {
		if i, ok := vocabIndex(b); ok {
			e.header(uint64(i), TypeVocab)
			return
		}
	}
	e.header(uint64(len(b)), TypeString)
	e.buf = append(e.buf, b...)
}

// WritePing writes a PING; PING 0 has no header.
func (e *Encoder) WritePing(n uint64) { e.pingPong(n, TypePing) }

// WritePong writes a PONG answering PING n; PONG 0 has no header.
func (e *Encoder) WritePong(n uint64) { e.pingPong(n, TypePong) }

func (e *Encoder) pingPong(n uint64, typ Type) {
	if n == 0 {
		e.buf = append(e.buf, byte(typ))
		return
	}
	e.header(n, typ)
}

// WriteError writes an ERROR token, truncating msg to MaxErrorBytes.
func (e *Encoder) WriteError(msg string) {
	if len(msg) > MaxErrorBytes {
		msg = msg[:MaxErrorBytes]
	}
	e.header(uint64(len(msg)), TypeError)
	e.buf = append(e.buf, msg...)
}

// Encode writes one value of the value model (or a Marshaler, or a value
// the Marshal hook accepts). If the value cannot be serialized, the
// sequences Encode opened are aborted and a *Violation wrapping
// ErrCannotSerialize is returned; sequences opened before the call stay
// open for the caller to abort.
func (e *Encoder) Encode(v any) error {
	return e.encode(v, 0)
}

func (e *Encoder) encode(v any, depth int) error {
	switch x := v.(type) {
	case nil:
		e.Close(e.openVocab(vocabNone))
	case bool:
		id := e.openVocab(vocabBoolean)
		if x {
			e.WriteInt(1)
		} else {
			e.WriteInt(0)
		}
		e.Close(id)
	case int:
		e.WriteInt(int64(x))
	case int8:
		e.WriteInt(int64(x))
	case int16:
		e.WriteInt(int64(x))
	case int32:
		e.WriteInt(int64(x))
	case int64:
		e.WriteInt(x)
	case uint:
		e.WriteBigInt(new(big.Int).SetUint64(uint64(x)))
	case uint8:
		e.WriteInt(int64(x))
	case uint16:
		e.WriteInt(int64(x))
	case uint32:
		e.WriteInt(int64(x))
	case uint64:
		e.WriteBigInt(new(big.Int).SetUint64(x))
	case *big.Int:
		if x == nil {
			return &Violation{Err: fmt.Errorf("%w: nil *big.Int", ErrCannotSerialize)}
		}
		e.WriteBigInt(x)
	case float64:
		e.WriteFloat(x)
	case float32:
		e.WriteFloat(float64(x))
	case []byte:
		e.WriteBytes(x)
	case string:
		if !validUTF8(x) {
			return &Violation{Err: fmt.Errorf("%w: %w", ErrCannotSerialize, ErrBadUnicode)}
		}
		id := e.openVocab(vocabUnicode)
		writeText(e, x)
		e.Close(id)
	case Decimal:
		id := e.Open("decimal")
		writeText(e, string(x))
		e.Close(id)
	case List:
		return e.seq(vocabList, 'l', x, depth)
	case []any:
		return e.seq(vocabList, 'l', x, depth)
	case Tuple:
		return e.seq(vocabTuple, 't', x, depth)
	case Set:
		return e.seq(vocabSet, 's', x, depth)
	case FrozenSet:
		return e.seq(vocabImmutableSet, 0, x, depth)
	case *Dict:
		return e.dict(x, depth)
	case *Copyable:
		return e.copyable(x, depth)
	case Marshaler:
		return x.MarshalBanana(e)
	default:
		if e.hook != nil {
			handled, err := e.hook(e, v)
			if handled || err != nil {
				return err
			}
		}
		return &Violation{Err: fmt.Errorf("%w %T", ErrCannotSerialize, v)}
	}
	return nil
}

// reference writes a reference sequence if the container was already sent
// in this scope, or remembers it.
func reference[K comparable](e *Encoder, refs *map[K]uint64, hint int32, k K) (sent bool) {
	if !e.scoped {
		return false
	}
	if id, ok := (*refs)[k]; ok {
		e.writeReference(id)
		return true
	}
	if *refs == nil {
		*refs = make(map[K]uint64, int(hint))
	}
	(*refs)[k] = e.nextOpen
	return false
}

// seqReference is reference for a non-empty list, tuple or set.
func (e *Encoder) seqReference(items []any, kind byte) (sent bool) {
	if !e.scoped {
		return false
	}
	p := &items[0]
	r, ok := e.seqRefs[p]
	switch {
	case !ok:
		if e.seqRefs == nil {
			e.seqRefs = make(map[*any]seqRef, int(e.seqHint))
		}
		e.seqRefs[p] = seqRef{n: len(items), kind: kind, id: e.nextOpen}
		return false
	case r.n == len(items) && r.kind == kind:
		e.writeReference(r.id)
		return true
	}
	// Another sequence began with the same element: a sub-slice, or a
	// List and a Tuple of one array.
	return reference(e, &e.seqMore, 0, seqKey{p: p, n: len(items), kind: kind})
}

// writeReference writes a reference sequence to the object numbered id.
func (e *Encoder) writeReference(id uint64) {
	r := e.openVocab(vocabReference)
	e.WriteInt(int64(id))
	e.Close(r)
}

func (e *Encoder) tooDeep(depth int) error {
	if depth >= e.maxDepth {
		return &Violation{Err: fmt.Errorf("%w: values nested more than %d deep", ErrCannotSerialize, e.maxDepth)}
	}
	return nil
}

func (e *Encoder) seq(openType uint64, kind byte, items []any, depth int) error {
	if err := e.tooDeep(depth); err != nil {
		return err
	}
	if kind != 0 && len(items) > 0 {
		if e.seqReference(items, kind) {
			return nil
		}
	}
	id := e.openVocab(openType)
	for _, it := range items {
		if err := e.encode(it, depth+1); err != nil {
			e.AbortTo(id)
			return err
		}
	}
	e.Close(id)
	return nil
}

func (e *Encoder) dict(d *Dict, depth int) error {
	if err := e.tooDeep(depth); err != nil {
		return err
	}
	if d == nil {
		d = &Dict{}
	}
	if reference(e, &e.dictRefs, e.dictHint, d) {
		return nil
	}
	id := e.openVocab(vocabDict)
	// The order, if the items need sorting, lives on e.order until the
	// dict is written, above those of the dicts that contain it.
	mark := len(e.order)
	defer e.popOrder(mark)
	items := d.Items
	order := sortOrder(items, &e.order)
	for i := range items {
		it := &items[i]
		if order != nil {
			it = &items[order[i]]
		}
		if err := e.encode(it.Key, depth+1); err != nil {
			e.AbortTo(id)
			return err
		}
		if err := e.encode(it.Value, depth+1); err != nil {
			e.AbortTo(id)
			return err
		}
	}
	e.Close(id)
	return nil
}

// popOrder drops the orders above mark, and lets a stack grown by a huge
// dict go.
func (e *Encoder) popOrder(mark int) {
	e.order = e.order[:mark]
	if mark == 0 && cap(e.order) > 1024 {
		e.order = nil
	}
}

func (e *Encoder) copyable(c *Copyable, depth int) error {
	if c == nil {
		return &Violation{Err: fmt.Errorf("%w: nil *Copyable", ErrCannotSerialize)}
	}
	if err := e.tooDeep(depth); err != nil {
		return err
	}
	id := e.openVocab(vocabCopyable)
	writeText(e, c.Class)
	for _, a := range c.Attrs {
		writeText(e, a.Name)
		if err := e.encode(a.Value, depth+1); err != nil {
			e.AbortTo(id)
			return err
		}
	}
	e.Close(id)
	return nil
}
