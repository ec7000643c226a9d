package incident

import (
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/gatherer/gatherer/gatherer/flog"
)

// maxHeaderLine bounds the header line read back at start-up.
const maxHeaderLine = 16 << 20

// PyFlog is the default Flog, on gatherer/flog: Python-exact JSON lines in a
// bzip2 stream of level 9, like Python's bz2.BZ2File.
//
// The zero PyFlog makes a new writer for every incident. NewPyFlog keeps
// up to n writers for reuse: a bzip2 compressor holds about ten bytes of
// block and sorting arrays per input byte, and allocating and clearing
// them again for each incident costs a fifth of the compression time and
// most of the garbage the gatherer makes.
type PyFlog struct {
	idle chan *flog.Writer
}

var _ Flog = PyFlog{}

// NewPyFlog returns a PyFlog that keeps up to n idle writers for reuse.
func NewPyFlog(n int) PyFlog {
	return PyFlog{idle: make(chan *flog.Writer, max(n, 1))}
}

// writer returns an idle writer reset to w, or a new one.
func (p PyFlog) writer(w io.Writer) (*flog.Writer, error) {
	select {
	case fw := <-p.idle:
		if err := fw.Reset(w); err != nil {
			return nil, err
		}
		return fw, nil
	default:
		return flog.NewWriter(w, flog.WriterOptions{Compress: true})
	}
}

// release keeps fw for reuse unless enough writers are idle already. A
// writer that failed is dropped: Reset would clear it, but its error may
// have come from the compressor itself.
func (p PyFlog) release(fw *flog.Writer, err error) {
	if err != nil {
		return
	}
	select {
	case p.idle <- fw:
	default:
	}
}

// WriteIncident implements Flog. An event that Python's json.dumps could
// not encode fails the whole file, as it does in Python.
func (p PyFlog) WriteIncident(w io.Writer, header any, from string, rxTime float64, events []any) (err error) {
	fw, err := p.writer(w)
	if err != nil {
		return err
	}
	defer func() { p.release(fw, err) }()
	if err := fw.WriteHeader(header); err != nil {
		return fmt.Errorf("incident header: %w", err)
	}
	for i, ev := range events {
		if err := fw.WriteEvent(from, rxTime, ev); err != nil {
			return fmt.Errorf("incident event %d: %w", i, err)
		}
	}
	return fw.Close()
}

// ReadHeader implements Flog.
func (PyFlog) ReadHeader(r io.Reader) (any, error) {
	return readHeader(bzip2.NewReader(bufio.NewReader(r)))
}

// ReadWhole implements Flog: the header as ReadHeader reads it, then the
// rest of the bzip2 stream to its end (its CRCs checked), which must end
// the flogfile with a complete line.
func (PyFlog) ReadWhole(r io.Reader) (any, error) {
	src := &lastByteReader{r: bzip2.NewReader(bufio.NewReader(r))}
	h, err := readHeader(src)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, src); err != nil {
		return nil, fmt.Errorf("bzip2 stream: %w", err)
	}
	if src.last != '\n' {
		return nil, errors.New("the file ends in the middle of a line")
	}
	return h, nil
}

// readHeader returns the value of the {"header": ...} line that starts
// the decompressed flogfile src.
func readHeader(src io.Reader) (any, error) {
	fr, err := flog.NewReader(src, flog.ReaderOptions{MaxLineSize: maxHeaderLine})
	if err != nil {
		return nil, err
	}
	rec, err := fr.Next()
	if err != nil {
		return nil, fmt.Errorf("read header line: %w", err)
	}
	h, ok := rec.Header()
	if !ok {
		return nil, errors.New("first line is not a header")
	}
	return h, nil
}

// lastByteReader remembers the last byte read through it.
type lastByteReader struct {
	r    io.Reader
	last byte
}

func (l *lastByteReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}
