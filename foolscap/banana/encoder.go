package banana

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
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
	opens    []uint64          // ids of the sequences currently open
	refs     map[refKey]uint64 // reference scope of the current message
}

type refKey struct {
	kind byte
	p    *any
	n    int
	d    *Dict
}

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
func (e *Encoder) BeginScope() { e.refs = map[refKey]uint64{} }

// EndScope ends the current reference scope.
func (e *Encoder) EndScope() { e.refs = nil }

func (e *Encoder) header(v uint64, typ Type) {
	if v == 0 {
		e.buf = append(e.buf, 0, byte(typ))
		return
	}
	for v > 0 {
		e.buf = append(e.buf, byte(v&0x7f))
		v >>= 7
	}
	e.buf = append(e.buf, byte(typ))
}

// Open writes an OPEN token and the open type as its index token, and
// returns the OPEN's id for Close.
func (e *Encoder) Open(openType string) uint64 {
	id := e.nextOpen
	e.nextOpen++
	e.header(id, TypeOpen)
	e.WriteBytes([]byte(openType))
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
func (e *Encoder) WriteBytes(b []byte) {
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
		e.Close(e.Open("none"))
	case bool:
		id := e.Open("boolean")
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
		id := e.Open("unicode")
		e.WriteBytes([]byte(x))
		e.Close(id)
	case Decimal:
		id := e.Open("decimal")
		e.WriteBytes([]byte(x))
		e.Close(id)
	case List:
		return e.seq("list", 'l', x, depth)
	case []any:
		return e.seq("list", 'l', x, depth)
	case Tuple:
		return e.seq("tuple", 't', x, depth)
	case Set:
		return e.seq("set", 's', x, depth)
	case FrozenSet:
		return e.seq("immutable-set", 0, x, depth)
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
func (e *Encoder) reference(k refKey) (sent bool) {
	if e.refs == nil {
		return false
	}
	if id, ok := e.refs[k]; ok {
		r := e.Open("reference")
		e.WriteInt(int64(id))
		e.Close(r)
		return true
	}
	e.refs[k] = e.nextOpen
	return false
}

func (e *Encoder) tooDeep(depth int) error {
	if depth >= e.maxDepth {
		return &Violation{Err: fmt.Errorf("%w: values nested more than %d deep", ErrCannotSerialize, e.maxDepth)}
	}
	return nil
}

func (e *Encoder) seq(openType string, kind byte, items []any, depth int) error {
	if err := e.tooDeep(depth); err != nil {
		return err
	}
	if kind != 0 && len(items) > 0 {
		if e.reference(refKey{kind: kind, p: &items[0], n: len(items)}) {
			return nil
		}
	}
	id := e.Open(openType)
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
	if e.reference(refKey{kind: 'd', d: d}) {
		return nil
	}
	id := e.Open("dict")
	for _, it := range sortedItems(d.Items) {
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

func (e *Encoder) copyable(c *Copyable, depth int) error {
	if c == nil {
		return &Violation{Err: fmt.Errorf("%w: nil *Copyable", ErrCannotSerialize)}
	}
	if err := e.tooDeep(depth); err != nil {
		return err
	}
	id := e.Open("copyable")
	e.WriteBytes([]byte(c.Class))
	for _, a := range c.Attrs {
		e.WriteBytes([]byte(a.Name))
		if err := e.encode(a.Value, depth+1); err != nil {
			e.AbortTo(id)
			return err
		}
	}
	e.Close(id)
	return nil
}
