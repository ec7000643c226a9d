package banana

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
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
		return append([]byte(nil), tok.Body...), nil
	case TypeString:
		if tok.Header > uint64(max) {
			return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: index token of %d bytes, limit %d", ErrOpenTypeTooLong, tok.Header, max)}
		}
		return s.d.ReadBody()
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
	v, closed, err := s.d.readChild(s)
	if err != nil {
		return nil, false, err
	}
	if closed {
		return nil, false, nil
	}
	s.count++
	return v, true, nil
}

// scope is the reference scope of one top-level message. Objects are
// numbered by their OPEN count, consecutive from base within a message.
type scope struct {
	base uint64
	objs []any // by id-base: nil = not an object, openMarker{} while open
	fix  map[uint64][]fixup
}

type openMarker struct{}

// get returns the object numbered id: its value, or open=true while it
// is still being decoded.
func (sc *scope) get(id uint64) (v any, open, found bool) {
	if id < sc.base || id-sc.base >= uint64(len(sc.objs)) {
		return nil, false, false
	}
	v = sc.objs[id-sc.base]
	if _, isOpen := v.(openMarker); isOpen {
		return nil, true, true
	}
	return v, false, v != nil
}

func (sc *scope) set(id uint64, v any) {
	if id < sc.base {
		return
	}
	i := id - sc.base
	for uint64(len(sc.objs)) <= i {
		sc.objs = append(sc.objs, nil)
	}
	sc.objs[i] = v
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
func (d *Decoder) nextData() (Token, error) {
	for {
		tok, err := d.Next()
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
	defer func() {
		clear(sc.objs)
		if cap(sc.objs) > 256 {
			// A big message's table is not kept: at 16 bytes an entry,
			// an incident's 4,096 would pin 64 KiB on every idle
			// connection after its last fetch.
			sc.objs = nil
		}
		sc.fix = nil
		d.scope = nil
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
// read (and checked).
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
			if err := d.discard(tok.Header); err != nil {
				return nil, false, err
			}
			return nil, false, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: more than %d", ErrTooManyItems, d.lim.MaxItems)}
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

func (d *Decoder) checkClose(tok Token, s *Seq) error {
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
func (d *Decoder) scalar(tok Token, s *Seq) (any, error) {
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
		return math.Float64frombits(binary.BigEndian.Uint64(tok.Body)), nil
	case TypeVocab:
		return append([]byte(nil), tok.Body...), nil
	case TypeString:
		if tok.Header > uint64(d.lim.MaxStringBytes) {
			return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %d>%d", ErrStringTooLong, tok.Header, d.lim.MaxStringBytes)}
		}
		if err := d.charge(tok.Header, tok.Offset); err != nil {
			return nil, err
		}
		return d.ReadBody()
	case TypeLongInt, TypeLongNeg:
		if tok.Header > uint64(d.lim.MaxLongIntBytes) {
			return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %d>%d", ErrLongIntTooLong, tok.Header, d.lim.MaxLongIntBytes)}
		}
		if err := d.charge(tok.Header, tok.Offset); err != nil {
			return nil, err
		}
		b, err := d.ReadBody()
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
func (d *Decoder) readOpen(tok Token, depth int) (any, error) {
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
	v, err := d.readOpenBody(s, tok)
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
			if next.Type == TypeOpen {
				d.nextOpen++
				if err := d.discard(next.Header); err != nil {
					return nil, err
				}
			}
			err = &Violation{Offset: next.Offset, Err: fmt.Errorf("%w: too many children in %s", ErrUnexpectedToken, s.typ)}
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

func (d *Decoder) readOpenBody(s *Seq, open Token) (any, error) {
	tok, err := d.nextData()
	if err != nil {
		return nil, err
	}
	switch tok.Type {
	case TypeVocab:
		s.typ = vocabWords[tok.Header]
	case TypeString:
		if tok.Header > MaxOpenTypeBytes {
			return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %d bytes", ErrOpenTypeTooLong, tok.Header)}
		}
		b, err := d.ReadBody()
		if err != nil {
			return nil, err
		}
		if i, ok := vocabIndex(b); ok {
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
		if err := d.discard(tok.Header); err != nil {
			return nil, err
		}
		return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: OPEN where an open type is required", ErrUnexpectedToken)}
	default:
		return nil, &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %v where an open type is required", ErrUnexpectedToken, tok.Type)}
	}
	if s.depth >= d.lim.MaxDepth {
		return nil, &Violation{Offset: open.Offset, Err: fmt.Errorf("%w: more than %d levels", ErrTooDeep, d.lim.MaxDepth)}
	}
	if h, ok := d.hands[s.typ]; ok {
		return h(s)
	}
	switch s.typ {
	case "none":
		return nil, nil
	case "boolean":
		v, ok, err := s.Next()
		if err != nil {
			return nil, err
		}
		n, isInt := v.(int64)
		if !ok || !isInt || (n != 0 && n != 1) {
			return nil, Violationf("%w: boolean needs INT 0 or 1", ErrUnexpectedToken)
		}
		return n == 1, nil
	case "unicode":
		return d.readTextValue(s)
	case "decimal":
		text, err := d.readText(s)
		if err != nil {
			return nil, err
		}
		return Decimal(text), nil
	case "reference":
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
	case "list", "tuple", "set", "immutable-set":
		return d.readList(s)
	case "dict":
		return d.readDict(s)
	case "copyable":
		return d.readCopyable(s)
	}
	return nil, Violationf("%w %q", ErrUnknownOpenType, s.typ)
}

// readText reads the one STRING or VOCAB child of a unicode or decimal
// sequence as UTF-8 text, through a scratch buffer so that the text is
// allocated once.
// Bounds of the per-Decoder cache of short str values: dict keys and
// common values (field names, facilities, formats) repeat in every event,
// and the cache saves both the string and its boxing into an interface.
const (
	maxCachedText  = 24  // bytes
	maxCachedTexts = 128 // entries; a few KiB per busy connection
)

// readTextValue reads a unicode body as a value of the model (a boxed
// string), from the cache when it is short and was seen before.
func (d *Decoder) readTextValue(s *Seq) (any, error) {
	var cached any
	text, err := d.readTextWith(s, func(b []byte) (string, bool) {
		if len(b) > maxCachedText {
			return "", false
		}
		v, ok := d.texts[string(b)]
		if ok {
			cached = v
		}
		return "", ok
	})
	if err != nil {
		return nil, err
	}
	if cached != nil {
		return cached, nil
	}
	var v any = text
	if len(text) <= maxCachedText && len(d.texts) < maxCachedTexts {
		if d.texts == nil {
			d.texts = make(map[string]any)
		}
		d.texts[text] = v
	}
	return v, nil
}

func (d *Decoder) readText(s *Seq) (string, error) {
	return d.readTextWith(s, nil)
}

// readTextWith reads a unicode body; lookup, if set, may supply the result
// without the body being turned into a new string.
func (d *Decoder) readTextWith(s *Seq, lookup func([]byte) (string, bool)) (string, error) {
	tok, err := d.nextData()
	if err != nil {
		return "", err
	}
	var b []byte
	switch tok.Type {
	case TypeVocab:
		b = tok.Body
	case TypeString:
		if tok.Header > uint64(d.lim.MaxStringBytes) {
			return "", &Violation{Offset: tok.Offset, Err: fmt.Errorf("%w: %d>%d", ErrStringTooLong, tok.Header, d.lim.MaxStringBytes)}
		}
		if err := d.charge(tok.Header, tok.Offset); err != nil {
			return "", err
		}
		if b, err = d.readBodyScratch(); err != nil {
			return "", err
		}
	case TypeClose:
		if err := d.checkClose(tok, s); err != nil {
			return "", err
		}
		return "", Violationf("%w: %s needs one STRING", ErrUnexpectedToken, s.typ)
	case TypeAbort:
		return "", &Violation{Offset: tok.Offset, Err: ErrAborted}
	case TypeOpen:
		d.nextOpen++
		if err := d.discard(tok.Header); err != nil {
			return "", err
		}
		return "", Violationf("%w: %s needs one STRING, not a sequence", ErrUnexpectedToken, s.typ)
	default:
		return "", Violationf("%w: %s needs one STRING, not %v", ErrUnexpectedToken, s.typ, tok.Type)
	}
	if lookup != nil {
		if text, ok := lookup(b); ok {
			s.count++
			return text, nil
		}
	}
	if !utf8.Valid(b) {
		return "", NewViolation(ErrBadUnicode)
	}
	s.count++
	return string(b), nil
}

// track marks s as an open container that references may point to.
func (d *Decoder) track(s *Seq) {
	if d.scope != nil {
		d.scope.set(s.id, openMarker{})
	}
}

// finish records the final value of a tracked container and patches the
// references that were made to it while it was open.
func (d *Decoder) finish(s *Seq, v any) {
	if d.scope == nil {
		return
	}
	for _, f := range d.scope.fix[s.id] {
		setElem(f.h.v, f.index, v)
	}
	delete(d.scope.fix, s.id)
	d.scope.set(s.id, v)
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
	var items []any
	var h *holder
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
			d.pend(&h, ref, len(items))
		}
		items = append(items, v)
	}
	var out any
	switch s.typ {
	case "list":
		out = List(nonNil(items))
	case "tuple":
		out = Tuple(nonNil(items))
	case "set":
		out = Set(nonNil(items))
	default:
		out = FrozenSet(nonNil(items))
	}
	if s.typ == "set" || s.typ == "immutable-set" {
		// Duplicates collapse silently in Python; only unhashable
		// elements are an error.
		for _, it := range items {
			if _, ok := hashKey(it); !ok {
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

func nonNil(items []any) []any {
	if items == nil {
		return []any{}
	}
	return items
}

func (d *Decoder) readDict(s *Seq) (any, error) {
	d.track(s)
	dict := &Dict{}
	var seen map[string]struct{} // built once the dict is too big to scan
	var h *holder
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
		dict.Items = d.items[start:] // a view for the duplicate check
		if err := d.checkKey(dict, &seen, k); err != nil {
			return nil, err
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
	if start == 0 && cap(d.items) > 4096 {
		d.items = nil
	}
}

// smallDict is the size up to which duplicate keys are found by scanning.
const smallDict = 16

// checkKey rejects an unhashable or duplicate key, fatally as
// python-foolscap does.
func (d *Decoder) checkKey(dict *Dict, seen *map[string]struct{}, k any) error {
	if len(dict.Items) < smallDict {
		if !hashable(k) {
			return d.connErr(d.off, true, fmt.Errorf("%w in dict", ErrUnhashableKey))
		}
		for _, it := range dict.Items {
			if KeyEqual(it.Key, k) {
				return d.connErr(d.off, true, fmt.Errorf("%w in dict", ErrDuplicateKey))
			}
		}
		return nil
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*len(dict.Items))
		for _, it := range dict.Items {
			hk, _ := hashKey(it.Key)
			(*seen)[hk] = struct{}{}
		}
	}
	hk, ok := hashKey(k)
	if !ok {
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
