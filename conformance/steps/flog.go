package steps

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
)

// maxFlog bounds how much of a decompressed flogfile a step reads.
const maxFlog = 64 << 20

const flogMagic = "# foolscap flogfile v1\n"

// readFlog decompresses a gathered .flog.bz2 and returns its lines (without
// the magic line). It fails on a truncated file or a missing header.
func readFlog(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open flogfile: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(bzip2.NewReader(bufio.NewReader(f)), maxFlog+1))
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", path, err)
	}
	if len(b) > maxFlog {
		return nil, fmt.Errorf("%s decompresses to more than %d bytes", path, maxFlog)
	}
	rest, ok := bytes.CutPrefix(b, []byte(flogMagic))
	if !ok {
		return nil, fmt.Errorf("%s does not start with %q", path, flogMagic)
	}
	var lines []string
	for _, l := range bytes.SplitAfter(rest, []byte("\n")) {
		if len(l) > 0 {
			lines = append(lines, string(l))
		}
	}
	if len(lines) == 0 || !bytes.HasPrefix([]byte(lines[0]), []byte(`{"header": `)) {
		return nil, fmt.Errorf("%s has no header line", path)
	}
	return lines, nil
}

// flogHeader is the part of an incident file's header the steps check.
type flogHeader struct {
	Header struct {
		Type    string `json:"type"`
		Trigger struct {
			Umid    string  `json:"umid"`
			Format  string  `json:"format"`
			Details *string `json:"details"`
		} `json:"trigger"`
	} `json:"header"`
}

func readFlogHeader(path string) (*flogHeader, error) {
	lines, err := readFlog(path)
	if err != nil {
		return nil, err
	}
	var h flogHeader
	if err := json.Unmarshal([]byte(lines[0]), &h); err != nil {
		return nil, fmt.Errorf("parse the header of %s: %w", path, err)
	}
	return &h, nil
}

// rxTime matches the rx_time of an event wrapper, the one value in which two
// gatherers' copies of an incident may differ.
var rxTime = regexp.MustCompile(`"rx_time": [-+0-9.eE]+`)

// normalizedFlog returns the lines of a flogfile with rx_time values blanked.
func normalizedFlog(path string) ([]string, error) {
	lines, err := readFlog(path)
	if err != nil {
		return nil, err
	}
	for i, l := range lines {
		lines[i] = rxTime.ReplaceAllString(l, `"rx_time": RX`)
	}
	return lines, nil
}

// sameLines reports the first difference between two normalized flogfiles.
func sameLines(nameA string, a []string, nameB string, b []string) error {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return fmt.Errorf("the copies differ at line %d:\n%s: %.600q\n%s: %.600q", i+2, nameA, a[i], nameB, b[i])
		}
	}
	if len(a) != len(b) {
		return fmt.Errorf("the copies have different lengths: %s %d lines, %s %d lines", nameA, len(a), nameB, len(b))
	}
	if len(a) == 0 {
		return errors.New("both copies are empty")
	}
	return nil
}
