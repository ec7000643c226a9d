package flog

import (
	"bufio"
	"fmt"
	"io"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
	"github.com/gatherer/gatherer/internal/bzip2w"
)

// WriterOptions tunes a Writer.
type WriterOptions struct {
	// Compress writes a bzip2 stream (level 9, like Python's bz2.BZ2File).
	// Set it from IsCompressedName(path).
	Compress bool
}

// Writer writes a flogfile: the magic line, then one JSON document per line
// with python-foolscap's exact bytes.
type Writer struct {
	bw  *bufio.Writer
	bz  *bzip2w.Writer
	buf []byte
}

// NewWriter writes the magic line to w and returns a Writer. Call Close to
// flush (and end the bzip2 stream); Close does not close w.
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	fw := &Writer{}
	dst := w
	if opts.Compress {
		bz, err := bzip2w.NewWriter(w, 9)
		if err != nil {
			return nil, fmt.Errorf("starting bzip2 stream: %w", err)
		}
		fw.bz = bz
		dst = bz
	}
	fw.bw = bufio.NewWriterSize(dst, 64<<10)
	if _, err := fw.bw.WriteString(Magic); err != nil {
		return nil, fmt.Errorf("writing flogfile magic: %w", err)
	}
	return fw, nil
}

// Reset starts a new flogfile on w with the same options, reusing the
// Writer's buffers and, for bzip2, its compressor (about ten bytes of block
// and sorting arrays per input byte, which a new Writer would allocate
// again). Whatever the Writer held and did not Close is discarded.
func (w *Writer) Reset(dst io.Writer) error {
	if w.bz != nil {
		w.bz.Reset(dst)
		dst = w.bz
	}
	w.bw.Reset(dst)
	if _, err := w.bw.WriteString(Magic); err != nil {
		return fmt.Errorf("writing flogfile magic: %w", err)
	}
	return nil
}

// WriteHeader writes {"header": h}. Build h with NewHeader for the key
// order python-foolscap uses, or pass a received header dict as is.
func (w *Writer) WriteHeader(h any) error {
	return w.WriteDoc(banana.NewDict("header", h))
}

// WriteEvent writes the wrapper {"from": from, "rx_time": rxTime, "d": ev}.
// An event json.dumps cannot encode (a bytes key: *pyjson.KeyTypeError)
// fails without writing anything, as in Python.
func (w *Writer) WriteEvent(from string, rxTime float64, ev any) error {
	// The bytes of json.dumps({"from": from, "rx_time": rxTime, "d": ev}),
	// appended piecewise: building the wrapper dict for every event was
	// most of the allocations of writing an incident.
	b := append(w.buf[:0], `{"from": `...)
	b, err := pyjson.Append(b, from)
	if err == nil {
		b = append(b, `, "rx_time": `...)
		b, err = pyjson.Append(b, rxTime)
	}
	if err == nil {
		b = append(b, `, "d": `...)
		b, err = pyjson.Append(b, ev)
	}
	if err != nil {
		return fmt.Errorf("encoding flogfile line: %w", err)
	}
	w.buf = append(b, '}', '\n')
	return w.WriteRaw(w.buf)
}

// WriteDoc writes any document as one line.
func (w *Writer) WriteDoc(doc any) error {
	b, err := pyjson.Append(w.buf[:0], doc)
	if err != nil {
		return fmt.Errorf("encoding flogfile line: %w", err)
	}
	w.buf = append(b, '\n')
	return w.WriteRaw(w.buf)
}

// WriteRaw writes an already encoded line verbatim (it must end in "\n";
// Record.Raw from a Reader does, except perhaps the last line of a file).
func (w *Writer) WriteRaw(line []byte) error {
	if _, err := w.bw.Write(line); err != nil {
		return fmt.Errorf("writing flogfile line: %w", err)
	}
	return nil
}

// Flush pushes buffered lines to the underlying writer (for bzip2, into
// the compressor: a bzip2 block is only emitted when full or at Close).
func (w *Writer) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("flushing flogfile: %w", err)
	}
	return nil
}

// Close flushes everything and ends the bzip2 stream if any.
func (w *Writer) Close() error {
	if err := w.Flush(); err != nil {
		return err
	}
	if w.bz != nil {
		if err := w.bz.Close(); err != nil {
			return fmt.Errorf("finishing bzip2 stream: %w", err)
		}
	}
	return nil
}
