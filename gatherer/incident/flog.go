package incident

import (
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	dsbzip2 "github.com/dsnet/compress/bzip2"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// flogMagic is the first line of every flogfile (gatherers.md §4.1).
const flogMagic = "# foolscap flogfile v1\n"

// maxHeaderLine bounds the header line read back at start-up.
const maxHeaderLine = 16 << 20

// PyFlog is the default Flog: Python-exact JSON lines (gatherer/flog/pyjson)
// in a bzip2 stream of level 9, like Python's bz2.BZ2File.
type PyFlog struct{}

var _ Flog = PyFlog{}

// WriteIncident implements Flog. An event that Python's json.dumps could
// not encode fails the whole file, as it does in Python.
func (PyFlog) WriteIncident(w io.Writer, header any, from string, rxTime float64, events []any) error {
	bz, err := dsbzip2.NewWriter(w, &dsbzip2.WriterConfig{Level: 9})
	if err != nil {
		return fmt.Errorf("start bzip2 stream: %w", err)
	}
	bw := bufio.NewWriterSize(bz, 64<<10)
	if _, err := bw.WriteString(flogMagic); err != nil {
		return err
	}
	line, err := pyjson.Append(nil, banana.NewDict("header", header))
	if err != nil {
		return fmt.Errorf("encode incident header: %w", err)
	}
	if _, err := bw.Write(append(line, '\n')); err != nil {
		return err
	}
	for i, ev := range events {
		line, err = pyjson.Append(line[:0], banana.NewDict("from", from, "rx_time", rxTime, "d", ev))
		if err != nil {
			return fmt.Errorf("encode incident event %d: %w", i, err)
		}
		if _, err := bw.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := bz.Close(); err != nil {
		return fmt.Errorf("finish bzip2 stream: %w", err)
	}
	return nil
}

// ReadHeader implements Flog.
func (PyFlog) ReadHeader(r io.Reader) (any, error) {
	br := bufio.NewReaderSize(bzip2.NewReader(r), 64<<10)
	magic := make([]byte, len(flogMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != flogMagic {
		if err == nil {
			err = errors.New("wrong magic line")
		}
		return nil, fmt.Errorf("not a flogfile: %w", err)
	}
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxHeaderLine {
			return nil, fmt.Errorf("header line longer than %d bytes", maxHeaderLine)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("read header line: %w", err)
		}
	}
	v, err := pyjson.Unmarshal(line)
	if err != nil {
		return nil, fmt.Errorf("decode header line: %w", err)
	}
	h, ok := dictGet(v, "header")
	if !ok {
		return nil, errors.New("first line is not a header")
	}
	return h, nil
}
