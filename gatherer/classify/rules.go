package classify

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// FileName is the rules file's name inside a gatherer directory.
const FileName = "classify.rules"

// Unknown is the category of an incident no rule claims.
const Unknown = "unknown"

// Limits on a rules file, so a mistaken path (a huge log file) fails fast.
const (
	maxRulesFileSize = 1 << 20
	maxLineLength    = 64 << 10
)

//go:embed examples/tahoe.rules
var examples embed.FS

// TahoeRules returns the example rules equivalent to Tahoe-LAFS's
// classify_tahoe.py.
func TahoeRules() []byte {
	b, err := examples.ReadFile("examples/tahoe.rules")
	if err != nil {
		// The file is embedded at build time; a failure here is a build bug.
		return nil
	}
	return b
}

type condKind int

const (
	condMatch    condKind = iota // field~RE
	condNotMatch                 // field!~RE
	condEqual                    // field=TEXT
	condNotEqual                 // field!=TEXT
	condPresent                  // field?
	condAbsent                   // !field?
	condTrue                     // field?true
	condNotTrue                  // !field?true
)

type condition struct {
	kind  condKind
	field string
	text  string
	re    *regexp.Regexp
}

type rule struct {
	line     int
	category string
	conds    []condition
	stop     bool
}

// Rules is a parsed rules file. The zero value has no rules. A Rules is
// immutable and safe for concurrent use.
type Rules struct {
	source string
	rules  []rule
}

// SyntaxError reports a bad line in a rules file.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Load reads DIR/classify.rules. A missing file gives empty rules (every
// incident is "unknown").
func Load(dir string) (*Rules, error) {
	path := filepath.Join(dir, FileName)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &Rules{source: path}, nil
		}
		return nil, fmt.Errorf("open classification rules: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse reads rules from r; name is used in error messages.
func Parse(name string, r io.Reader) (*Rules, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRulesFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read classification rules %s: %w", name, err)
	}
	if len(data) > maxRulesFileSize {
		return nil, &SyntaxError{File: name, Line: 0, Msg: fmt.Sprintf("file is larger than %d bytes", maxRulesFileSize)}
	}
	rs := &Rules{source: name}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 0, 4096), maxLineLength)
	n := 0
	for sc.Scan() {
		n++
		ru, ok, err := parseLine(sc.Text())
		if err != nil {
			return nil, &SyntaxError{File: name, Line: n, Msg: err.Error()}
		}
		if ok {
			ru.line = n
			rs.rules = append(rs.rules, ru)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &SyntaxError{File: name, Line: n + 1, Msg: err.Error()}
	}
	return rs, nil
}

// Len returns the number of rules.
func (rs *Rules) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.rules)
}

// Source returns the file the rules came from.
func (rs *Rules) Source() string {
	if rs == nil {
		return ""
	}
	return rs.source
}

// Classify returns the sorted, distinct categories of an incident whose
// trigger event is trigger (*banana.Dict or map[string]any), or
// []string{"unknown"} when no rule matches.
func (rs *Rules) Classify(trigger any) []string {
	ev := newEvent(trigger)
	seen := map[string]bool{}
	var cats []string
	if rs != nil {
		for _, ru := range rs.rules {
			if !ru.matches(ev) {
				continue
			}
			if !seen[ru.category] {
				seen[ru.category] = true
				cats = append(cats, ru.category)
			}
			if ru.stop {
				break
			}
		}
	}
	if len(cats) == 0 {
		return []string{Unknown}
	}
	sort.Strings(cats)
	return cats
}

func (ru *rule) matches(ev *event) bool {
	for _, c := range ru.conds {
		if !c.holds(ev) {
			return false
		}
	}
	return true
}

func (c *condition) holds(ev *event) bool {
	v, present := ev.get(c.field)
	switch c.kind {
	case condPresent:
		return present
	case condAbsent:
		return !present
	case condTrue:
		return present && truthy(v)
	case condNotTrue:
		return !present || !truthy(v)
	}
	if !present {
		return c.kind == condNotMatch || c.kind == condNotEqual
	}
	s := ev.text(c.field, v)
	switch c.kind {
	case condMatch:
		return c.re.MatchString(s)
	case condNotMatch:
		return !c.re.MatchString(s)
	case condEqual:
		return s == c.text
	case condNotEqual:
		return s != c.text
	}
	return false
}

// ValidCategory reports whether c can be used as a file name under
// classified/.
func ValidCategory(c string) error {
	switch {
	case c == "":
		return errors.New("empty category")
	case c == "." || c == ".." || strings.HasPrefix(c, "."):
		return fmt.Errorf("category %q must not start with a dot", c)
	case strings.ContainsAny(c, "/\\\x00"):
		return fmt.Errorf("category %q must not contain a slash, backslash or NUL", c)
	case len(c) > 200:
		return fmt.Errorf("category %.20q... is longer than 200 bytes", c)
	}
	return nil
}

// parseLine returns ok=false for blank and comment lines.
func parseLine(line string) (rule, bool, error) {
	toks, err := tokenize(line)
	if err != nil {
		return rule{}, false, err
	}
	if len(toks) == 0 {
		return rule{}, false, nil
	}
	ru := rule{category: toks[0].text}
	if toks[0].quoted {
		return rule{}, false, errors.New("the category must not be quoted")
	}
	if err := ValidCategory(ru.category); err != nil {
		return rule{}, false, err
	}
	rest := toks[1:]
	if n := len(rest); n > 0 && !rest[n-1].quoted && rest[n-1].text == "stop" {
		ru.stop = true
		rest = rest[:n-1]
	}
	for _, t := range rest {
		c, err := parseCondition(t.text)
		if err != nil {
			return rule{}, false, err
		}
		ru.conds = append(ru.conds, c)
	}
	return ru, true, nil
}

var fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*`)

func parseCondition(tok string) (condition, error) {
	neg := strings.HasPrefix(tok, "!")
	body := strings.TrimPrefix(tok, "!")
	field := fieldRE.FindString(body)
	if field == "" {
		return condition{}, fmt.Errorf("condition %q does not start with a field name", tok)
	}
	op := body[len(field):]
	c := condition{field: field}
	switch {
	case op == "?" || op == "?true":
		switch {
		case op == "?" && !neg:
			c.kind = condPresent
		case op == "?":
			c.kind = condAbsent
		case !neg:
			c.kind = condTrue
		default:
			c.kind = condNotTrue
		}
		return c, nil
	case neg:
		return condition{}, fmt.Errorf("condition %q: a leading \"!\" is only allowed with field? and field?true", tok)
	case strings.HasPrefix(op, "!~"):
		c.kind, c.text = condNotMatch, op[2:]
	case strings.HasPrefix(op, "~"):
		c.kind, c.text = condMatch, op[1:]
	case strings.HasPrefix(op, "!="):
		c.kind, c.text = condNotEqual, op[2:]
	case strings.HasPrefix(op, "="):
		c.kind, c.text = condEqual, op[1:]
	default:
		return condition{}, fmt.Errorf("condition %q: expected ~, !~, =, !=, ? or ?true after the field name", tok)
	}
	if c.kind == condMatch || c.kind == condNotMatch {
		re, err := regexp.Compile(c.text)
		if err != nil {
			return condition{}, fmt.Errorf("condition %q: bad regular expression: %w", tok, err)
		}
		c.re = re
	}
	return c, nil
}

type token struct {
	text   string
	quoted bool
}

// tokenize splits on blanks; a quoted section ('...' or "...") is taken
// verbatim and may be glued to unquoted text (message~"a b"). A token that
// begins with "#" starts a comment.
func tokenize(line string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
			i++
		}
		if i >= len(line) || line[i] == '#' {
			return toks, nil
		}
		var sb strings.Builder
		quoted := false
		for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' {
			q := line[i]
			if q != '"' && q != '\'' {
				sb.WriteByte(q)
				i++
				continue
			}
			end := strings.IndexByte(line[i+1:], q)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c quote", q)
			}
			sb.WriteString(line[i+1 : i+1+end])
			i += end + 2
			quoted = true
		}
		toks = append(toks, token{text: sb.String(), quoted: quoted})
	}
}
