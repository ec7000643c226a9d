package furl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

var update = flag.Bool("update", false, "rewrite fixtures/furls/*.jsonl from python-foolscap (only when the python check fails)")

const (
	corpusDir   = "../../fixtures/furls"
	pythonPath  = "/usr/bin/python3"
	oracleShell = "testdata/pyfurl.py"
)

// furlRecord is one line of fixtures/furls/furls.jsonl.
type furlRecord struct {
	Case    string   `json:"case"`
	Input   string   `json:"input"`
	Error   string   `json:"error"`
	TubID   string   `json:"tubid"`
	Hints   []string `json:"hints"`
	Name    string   `json:"name"`
	Encoded string   `json:"encoded"`
}

// hintRecord is one line of fixtures/furls/hints.jsonl.
type hintRecord struct {
	Case   string `json:"case"`
	Input  string `json:"input"`
	Kind   string `json:"kind"`
	Legacy bool   `json:"legacy"`
	Host   string `json:"host"`
	Port   int    `json:"port"`
	Error  string `json:"error"`
}

// errorClass maps our sentinels to the corpus' error classes.
func errorClass(err error) string {
	for _, c := range []struct {
		err   error
		class string
	}{
		{ErrPrefix, "prefix"}, {ErrTubID, "tubid"}, {ErrEmptyHint, "empty-hint"},
		{ErrEncoding, "encoding"}, {ErrNoColon, "no-colon"},
		{ErrUnknownHintType, "unknown-type"}, {ErrBadTCPHint, "bad-tcp"},
		{ErrBadTorHint, "bad-tor"}, {ErrBadI2PHint, "bad-i2p"}, {ErrPortRange, "port-range"},
	} {
		if errors.Is(err, c.err) {
			return c.class
		}
	}
	if err != nil {
		return "unclassified: " + err.Error()
	}
	return ""
}

// readCorpus reads a JSON-lines corpus, skipping the header record (the one
// naming the reference implementation).
func readCorpus[T any](t *testing.T, name string) (header string, recs []T) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatalf("corpus missing: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte(`{"reference"`)) {
			header = string(line)
			continue
		}
		var r T
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s: bad line %q: %v", name, line, err)
		}
		recs = append(recs, r)
	}
	if header == "" && !*update {
		t.Fatalf("%s: no {\"reference\": ...} header line naming the python-foolscap version", name)
	}
	return header, recs
}

func TestCorpusFURLs(t *testing.T) {
	_, recs := readCorpus[furlRecord](t, "furls.jsonl")
	for _, rc := range recs {
		t.Run(rc.Case, func(t *testing.T) {
			f, err := Parse(rc.Input)
			if got := errorClass(err); got != rc.Error {
				t.Fatalf("Parse(%q) error class = %q (%v), want %q", rc.Input, got, err, rc.Error)
			}
			if err != nil {
				return
			}
			var raws []string
			for _, h := range f.Hints {
				raws = append(raws, h.Raw)
			}
			if f.TubID != rc.TubID || f.Name != rc.Name || !equalStrings(raws, rc.Hints) {
				t.Errorf("Parse(%q) = %q %q %q, want %q %q %q", rc.Input, f.TubID, raws, f.Name, rc.TubID, rc.Hints, rc.Name)
			}
			if got := f.String(); got != rc.Encoded {
				t.Errorf("String() = %q, want %q", got, rc.Encoded)
			}
			// The canonical form must parse back to itself.
			g, err := Parse(f.String())
			if err != nil || g.String() != f.String() {
				t.Errorf("re-parse of %q = %v, %v", f.String(), g, err)
			}
		})
	}
}

func TestCorpusHints(t *testing.T) {
	_, recs := readCorpus[hintRecord](t, "hints.jsonl")
	for _, rc := range recs {
		t.Run(rc.Case, func(t *testing.T) {
			h, err := ParseHint(rc.Input)
			if got := errorClass(err); got != rc.Error {
				t.Fatalf("ParseHint(%q) error class = %q (%v), want %q", rc.Input, got, err, rc.Error)
			}
			if h.Raw != rc.Input || h.Kind != rc.Kind || h.Legacy != rc.Legacy {
				t.Errorf("ParseHint(%q) kind/legacy = %q/%v, want %q/%v", rc.Input, h.Kind, h.Legacy, rc.Kind, rc.Legacy)
			}
			if err != nil {
				if _, derr := h.DialAddress(); derr == nil {
					t.Errorf("DialAddress of a bad hint succeeded")
				}
				return
			}
			if h.Host != rc.Host || h.Port != rc.Port || h.HostHeader() != rc.Host {
				t.Errorf("ParseHint(%q) = host %q port %d, want %q %d", rc.Input, h.Host, h.Port, rc.Host, rc.Port)
			}
			addr, derr := h.DialAddress()
			switch h.Kind {
			case KindTCP:
				if derr != nil || !strings.HasSuffix(addr, ":"+itoa(rc.Port)) {
					t.Errorf("DialAddress = %q, %v", addr, derr)
				}
			default:
				if !errors.Is(derr, ErrNotDialable) {
					t.Errorf("DialAddress of %s hint = %q, %v; want ErrNotDialable", h.Kind, addr, derr)
				}
			}
		})
	}
}

// TestCorpusAgreesWithPython feeds every corpus input to python-foolscap's
// own parsers and checks it gives the recorded answers, so the Go parser and
// Python's cannot drift apart. With -update, a failing corpus is rewritten
// from Python's answers.
func TestCorpusAgreesWithPython(t *testing.T) {
	pyfoolscap.Need(t)
	for _, file := range []string{"furls.jsonl", "hints.jsonl"} {
		t.Run(file, func(t *testing.T) {
			kind := strings.TrimSuffix(strings.TrimSuffix(file, ".jsonl"), "s")
			var recs []map[string]any
			if file == "furls.jsonl" {
				_, rs := readCorpus[furlRecord](t, file)
				for _, r := range rs {
					recs = append(recs, toMap(t, r))
				}
			} else {
				_, rs := readCorpus[hintRecord](t, file)
				for _, r := range rs {
					recs = append(recs, toMap(t, r))
				}
			}
			answers, version := runOracle(t, kind, recs)
			failed := false
			for i, rec := range recs {
				for k, want := range answers[i] {
					if got := rec[k]; !reflect.DeepEqual(normalize(got), normalize(want)) {
						failed = true
						t.Errorf("%s %q: field %s: corpus has %v, python-foolscap %s says %v", file, rec["case"], k, got, version, want)
					}
				}
			}
			if failed && *update {
				writeCorpus(t, file, version, recs, answers)
			}
		})
	}
}

func runOracle(t *testing.T, kind string, recs []map[string]any) ([]map[string]any, string) {
	t.Helper()
	var in bytes.Buffer
	for _, r := range recs {
		b, _ := json.Marshal(map[string]any{"kind": kind, "input": r["input"]})
		in.Write(append(b, '\n'))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pythonPath, oracleShell)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python oracle failed: %v\n%s", err, stderr.String())
	}
	var answers []map[string]any
	version := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("python oracle wrote %q: %v", sc.Bytes(), err)
		}
		version, _ = m["version"].(string)
		delete(m, "version")
		answers = append(answers, m)
	}
	if len(answers) != len(recs) {
		t.Fatalf("python oracle answered %d of %d inputs", len(answers), len(recs))
	}
	return answers, version
}

func writeCorpus(t *testing.T, file, version string, recs, answers []map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	hdr, _ := json.Marshal(map[string]string{"reference": "python-foolscap " + version})
	buf.Write(append(hdr, '\n'))
	for i, rec := range recs {
		m := map[string]any{"case": rec["case"], "input": rec["input"]}
		for k, v := range answers[i] {
			m[k] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(append(b, '\n'))
	}
	path := filepath.Join(corpusDir, file)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote %s from python-foolscap %s", path, version)
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// normalize makes nil and empty lists compare equal.
func normalize(v any) any {
	if l, ok := v.([]any); ok && len(l) == 0 {
		return nil
	}
	return v
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
