package negotiate

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize is python-foolscap's cap on buffered negotiation data: a
// plaintext header or a hello/decision block, terminator included, must fit.
const MaxHeaderSize = 4096

var endOfBlock = []byte("\r\n\r\n")

// blockReader reads CRLF-CRLF terminated blocks and keeps whatever follows
// the last block (the TLS handshake after the 101, Banana after a decision),
// so nothing is lost to read-ahead. It never buffers more than
// MaxHeaderSize bytes.
type blockReader struct {
	r   io.Reader
	buf []byte // bytes read but not yet consumed
}

func newBlockReader(r io.Reader, pending []byte) *blockReader {
	b := make([]byte, len(pending), MaxHeaderSize)
	copy(b, pending)
	return &blockReader{r: r, buf: b}
}

// readBlock returns the next block without its terminator. The result is a
// copy that stays valid after further reads.
func (br *blockReader) readBlock() ([]byte, error) {
	for {
		if i := bytes.Index(br.buf, endOfBlock); i >= 0 {
			if i+len(endOfBlock) > MaxHeaderSize {
				return nil, ErrHeaderTooLong
			}
			blk := bytes.Clone(br.buf[:i])
			br.buf = append(br.buf[:0], br.buf[i+len(endOfBlock):]...)
			return blk, nil
		}
		if len(br.buf) >= MaxHeaderSize {
			return nil, ErrHeaderTooLong
		}
		n, err := br.r.Read(br.buf[len(br.buf):MaxHeaderSize])
		br.buf = br.buf[:len(br.buf)+n]
		if n > 0 {
			continue
		}
		if err == io.EOF {
			if len(br.buf) == 0 {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
	}
}

// pending returns the bytes read past the last block.
func (br *blockReader) pending() []byte { return bytes.Clone(br.buf) }

// parseBlock splits a block into its fields the way Negotiation.parseLines
// does: lines split on CRLF, each at its first ':', key lowercased (ASCII),
// value left-stripped of ASCII whitespace; a later duplicate key wins. A
// line without ':' or text that is not UTF-8 fails (foolscap raises a
// non-negotiation exception, reported as an internal error).
func parseBlock(blk []byte) (map[string]string, *failure) {
	fields := make(map[string]string)
	for _, line := range bytes.Split(blk, []byte("\r\n")) {
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return nil, internalError(ErrMalformed, "substring not found", "line without a colon: "+quote(line))
		}
		key := asciiOnlyLower(line[:colon])
		val := bytes.TrimLeft(line[colon+1:], pyWhitespace)
		if !utf8.Valid(key) || !utf8.Valid(val) {
			return nil, internalError(ErrMalformed, "invalid utf-8", "line is not UTF-8: "+quote(line))
		}
		fields[string(key)] = string(val)
	}
	return fields, nil
}

// pyWhitespace is what Python's bytes.strip() and split() treat as space.
const pyWhitespace = " \t\n\r\x0b\x0c"

// asciiOnlyLower lowercases A-Z only (Python bytes.lower), leaving other
// bytes alone so bytes.ToLower cannot touch non-ASCII text.
func asciiOnlyLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// asciiFields splits like Python's bytes.split() with no argument.
func asciiFields(b []byte) [][]byte {
	return bytes.FieldsFunc(b, func(r rune) bool {
		return r < 0x80 && bytes.ContainsRune([]byte(pyWhitespace), r)
	})
}

// formatBlock encodes fields as Negotiation.sendBlock does: keys sorted
// ascending, "key: value\r\n" each, then a blank line.
func formatBlock(fields map[string]string) []byte {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, fields[k])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
