package banana

// The value model: Go types that keep every distinction Python makes on the
// wire (bytes vs str, list vs tuple vs set vs frozenset, ordered dicts).
//
//	nil               None
//	bool              bool
//	int64, *big.Int   int (decoders produce int64 when the value fits)
//	float64           float
//	[]byte            bytes (a bare STRING or VOCAB token)
//	string            str (an OPEN "unicode" sequence)
//	List              list
//	Tuple             tuple
//	Set               set
//	FrozenSet         frozenset
//	*Dict             dict, in the order its keys were received or added
//	Decimal           decimal.Decimal
//	*Copyable         a pass-by-copy object (e.g. twisted.python.failure.Failure)

// List is a Python list.
type List []any

// Tuple is a Python tuple.
type Tuple []any

// Set is a Python set.
type Set []any

// FrozenSet is a Python frozenset.
type FrozenSet []any

// Decimal is a Python decimal.Decimal in its string form.
type Decimal string

// DictItem is one key/value pair of a Dict.
type DictItem struct {
	Key   any
	Value any
}

// Dict is a Python dict whose items keep their order. Keys are compared with
// Python equality for the types of the value model (see KeyEqual).
type Dict struct {
	Items []DictItem
}

// NewDict returns a Dict holding the given key/value pairs in order:
// NewDict("a", 1, "b", 2). It panics on an odd number of arguments.
func NewDict(kv ...any) *Dict {
	if len(kv)%2 != 0 {
		panic("banana.NewDict: odd number of arguments")
	}
	d := &Dict{Items: make([]DictItem, 0, len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		d.Items = append(d.Items, DictItem{Key: kv[i], Value: kv[i+1]})
	}
	return d
}

// Len returns the number of items.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.Items)
}

// Get returns the value stored under a key equal to k.
func (d *Dict) Get(k any) (any, bool) {
	if d == nil {
		return nil, false
	}
	for _, it := range d.Items {
		if KeyEqual(it.Key, k) {
			return it.Value, true
		}
	}
	return nil, false
}

// GetStr looks a key up as Python 3 str or, failing that, as bytes (peers on
// Python 2 send bytes where Python 3 peers send str).
func (d *Dict) GetStr(k string) (any, bool) {
	if v, ok := d.Get(k); ok {
		return v, true
	}
	return d.Get([]byte(k))
}

// Set replaces the value under k, or appends a new item.
func (d *Dict) Set(k, v any) {
	for i, it := range d.Items {
		if KeyEqual(it.Key, k) {
			d.Items[i].Value = v
			return
		}
	}
	d.Items = append(d.Items, DictItem{Key: k, Value: v})
}

// Attr is one attribute of a Copyable's state.
type Attr struct {
	Name  string
	Value any
}

// Copyable is a pass-by-copy object: OPEN "copyable" classname (name value)*.
type Copyable struct {
	Class string
	Attrs []Attr
}

// Attr returns the value of the named attribute.
func (c *Copyable) Attr(name string) (any, bool) {
	for _, a := range c.Attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return nil, false
}
