package flog

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// ReaderOptions tunes a Reader. Zero values mean the defaults.
type ReaderOptions struct {
	// MaxLineSize bounds one line, newline included (DefaultMaxLineSize).
	MaxLineSize int
	// MaxDepth bounds JSON nesting (pyjson.DefaultMaxDepth).
	MaxDepth int
}

// Record is one line of a flogfile after the magic.
type Record struct {
	// Raw is the line exactly as stored, with its trailing newline if it
	// had one, for verbatim copies. It is valid until the next call to Next.
	Raw []byte
	// Line is the 1-based line number in the (decompressed) file; the
	// magic is line 1.
	Line int
	// Value is the decoded JSON document (a *banana.Dict for every line
	// python-foolscap writes).
	Value any
}

// Dict returns the document as a dict, or nil if it is not one.
func (r *Record) Dict() *banana.Dict {
	d, _ := r.Value.(*banana.Dict)
	return d
}

// Header returns the value of the "header" key, if present (the test
// flogtool uses: `"header" in e`).
func (r *Record) Header() (any, bool) {
	return r.Dict().Get("header")
}

// Event returns the value of the "d" key (the event dict), if present.
func (r *Record) Event() (any, bool) {
	return r.Dict().Get("d")
}

// Reader reads a flogfile record by record.
type Reader struct {
	br      *bufio.Reader
	closer  io.Closer
	opts    ReaderOptions
	buf     []byte
	line    int
	lastErr error
}

// Open opens a flogfile, decompressing it with bzip2 when its name ends in
// ".bz2", and checks the magic line. Close the Reader when done.
func Open(path string, opts ReaderOptions) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var src io.Reader = f
	if IsCompressedName(path) {
		src = bzip2.NewReader(bufio.NewReader(f))
	}
	r, err := NewReader(src, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads a flogfile from an already decompressed stream and checks
// its magic line. The errors for a wrong magic are ErrBadMagic,
// ErrPickleFile and ErrFURLFile (all matching errors.Is(err, ErrBadMagic)).
func NewReader(src io.Reader, opts ReaderOptions) (*Reader, error) {
	if opts.MaxLineSize <= 0 {
		opts.MaxLineSize = DefaultMaxLineSize
	}
	r := &Reader{br: bufio.NewReaderSize(src, 64<<10), opts: opts, line: 1}
	magic := make([]byte, len(Magic))
	n, err := io.ReadFull(r.br, magic)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading flogfile magic: %w", err)
	}
	magic = magic[:n]
	if string(magic) != Magic {
		switch {
		case bytes.HasPrefix(magic, []byte("(dp0")):
			return nil, ErrPickleFile
		case bytes.HasPrefix(magic, []byte("pb:")):
			return nil, ErrFURLFile
		}
		return nil, fmt.Errorf("%w: first bytes %s", ErrBadMagic, pyjson.Repr(magic))
	}
	return r, nil
}

// Next returns the next record, or io.EOF after the last one. A line that
// is not valid JSON yields a *pyjson.DecodeError (with Python's text) and
// Next may be called again for the line after it; I/O errors (including a
// corrupt bzip2 stream) and ErrLineTooLong are permanent.
func (r *Reader) Next() (*Record, error) {
	if r.lastErr != nil {
		return nil, r.lastErr
	}
	line, err := r.readLine()
	if err != nil {
		r.lastErr = err
		return nil, err
	}
	r.line++
	rec := &Record{Raw: line, Line: r.line}
	v, err := pyjson.DecodeOptions{MaxDepth: r.opts.MaxDepth, MaxLength: r.opts.MaxLineSize}.Unmarshal(line)
	if err != nil {
		return rec, fmt.Errorf("flogfile line %d: %w", r.line, err)
	}
	rec.Value = v
	return rec, nil
}

// readLine returns the next line including its newline (the last line may
// lack one), never more than MaxLineSize bytes.
func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf)+len(chunk) > r.opts.MaxLineSize {
			return nil, fmt.Errorf("flogfile line %d is longer than %d bytes: %w", r.line+1, r.opts.MaxLineSize, ErrLineTooLong)
		}
		r.buf = append(r.buf, chunk...)
		switch {
		case err == nil:
			return r.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
			return r.buf, nil
		default:
			return nil, fmt.Errorf("reading flogfile line %d: %w", r.line+1, err)
		}
	}
}

// Close closes the file opened by Open (a no-op for NewReader).
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	err := r.closer.Close()
	r.closer = nil
	return err
}
