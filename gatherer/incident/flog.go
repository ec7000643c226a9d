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
type PyFlog struct{}

var _ Flog = PyFlog{}

// WriteIncident implements Flog. An event that Python's json.dumps could
// not encode fails the whole file, as it does in Python.
func (PyFlog) WriteIncident(w io.Writer, header any, from string, rxTime float64, events []any) error {
	fw, err := flog.NewWriter(w, flog.WriterOptions{Compress: true})
	if err != nil {
		return err
	}
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
	fr, err := flog.NewReader(bzip2.NewReader(bufio.NewReader(r)), flog.ReaderOptions{MaxLineSize: maxHeaderLine})
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
