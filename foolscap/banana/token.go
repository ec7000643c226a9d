package banana

import (
	"fmt"
	"math/big"
)

// Type is a Banana token type byte (wire-protocol.md §4.1).
type Type byte

// Token type bytes. 0x80 (the obsolete LIST), 0x8B, 0x8C and 0x90-0xFF are
// not valid on the wire.
const (
	TypeList    Type = 0x80
	TypeInt     Type = 0x81
	TypeString  Type = 0x82
	TypeNeg     Type = 0x83
	TypeFloat   Type = 0x84
	TypeLongInt Type = 0x85
	TypeLongNeg Type = 0x86
	TypeVocab   Type = 0x87
	TypeOpen    Type = 0x88
	TypeClose   Type = 0x89
	TypeAbort   Type = 0x8A
	TypeError   Type = 0x8D
	TypePing    Type = 0x8E
	TypePong    Type = 0x8F
)

func (t Type) String() string {
	switch t {
	case TypeList:
		return "LIST"
	case TypeInt:
		return "INT"
	case TypeString:
		return "STRING"
	case TypeNeg:
		return "NEG"
	case TypeFloat:
		return "FLOAT"
	case TypeLongInt:
		return "LONGINT"
	case TypeLongNeg:
		return "LONGNEG"
	case TypeVocab:
		return "VOCAB"
	case TypeOpen:
		return "OPEN"
	case TypeClose:
		return "CLOSE"
	case TypeAbort:
		return "ABORT"
	case TypeError:
		return "ERROR"
	case TypePing:
		return "PING"
	case TypePong:
		return "PONG"
	}
	return fmt.Sprintf("0x%02x", byte(t))
}

// Token is one decoded token. For STRING, LONGINT and LONGNEG the body is
// not read by Decoder.Next: the caller checks Header against its limits
// and then calls Decoder.ReadBody or Decoder.SkipBody.
type Token struct {
	Type Type
	// Header is the header value when it fits in 64 bits.
	Header uint64
	// BigHeader is set (and Header is meaningless) when the header value
	// needs more than 64 bits. Only INT and NEG can carry such a value
	// meaningfully; for lengths and ids it is always too large.
	BigHeader *big.Int
	// Body is the expanded word of a VOCAB token, the 8 bytes of a FLOAT,
	// or the message of an ERROR token. It is valid until the next call to
	// Next and must be copied to be kept.
	Body []byte
	// Offset is the stream offset of the token's first header byte.
	Offset int64
}

// Indexes of the open types the value model uses in the initial VOCAB
// table (vocabWords).
const (
	vocabNone         = 0
	vocabBoolean      = 1
	vocabReference    = 2
	vocabDict         = 3
	vocabList         = 4
	vocabTuple        = 5
	vocabSet          = 6
	vocabImmutableSet = 7
	vocabUnicode      = 8
	vocabCopyable     = 18
)

// The initial VOCAB table (vocab.py, index 1).
var vocabWords = [...]string{
	"none", "boolean", "reference", "dict", "list", "tuple", "set",
	"immutable-set", "unicode", "set-vocab", "add-vocab", "call",
	"arguments", "answer", "error", "my-reference", "your-reference",
	"their-reference", "copyable", "instance", "module", "class", "method",
	"function", "attrdict",
}

// vocabBytes holds the same words as byte slices, so that decoding a VOCAB
// token allocates nothing. Read-only: Token.Body must not be modified.
var vocabBytes = func() (t [len(vocabWords)][]byte) {
	for i, w := range vocabWords {
		t[i] = []byte(w)
	}
	return t
}()

// VocabWords returns a copy of the 25 words of initial VOCAB table 1.
func VocabWords() []string {
	return append([]string(nil), vocabWords[:]...)
}

// vocabByLen lists the indexes of the initial VOCAB words by length, and
// vocabFirst the first letters of the words of each length (bit c-'a'),
// so that the lookup every sent bytes token and every received open type
// goes through mostly ends at the first byte. Read-only.
var vocabByLen, vocabFirst = func() (byLen [16][]uint8, first [16]uint32) {
	for i, w := range vocabWords {
		byLen[len(w)] = append(byLen[len(w)], uint8(i))
		first[len(w)] |= 1 << (w[0] - 'a')
	}
	return byLen, first
}()

// vocabIndex returns the index of s in the initial VOCAB table.
func vocabIndex[S string | []byte](s S) (int, bool) {
	if len(s) < 3 || len(s) > 15 {
		return 0, false
	}
	if c := s[0] - 'a'; c >= 26 || vocabFirst[len(s)]&(1<<c) == 0 {
		return 0, false
	}
	for _, i := range vocabByLen[len(s)] {
		if w := vocabWords[i]; w[0] == s[0] && w == string(s) {
			return int(i), true
		}
	}
	return 0, false
}
