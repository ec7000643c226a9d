package classify

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gatherer/gatherer/foolscap/banana"
)

func mustParse(t *testing.T, src string) *Rules {
	t.Helper()
	rs, err := Parse("test.rules", strings.NewReader(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return rs
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"slash in category", "a/b umid=x", "test.rules:1: category \"a/b\""},
		{"dot category", "\n.. umid=x", "test.rules:2: category \"..\""},
		{"bad operator", "cat umid", "expected ~, !~, =, !=, ? or ?true"},
		{"bad regex", "cat message~(", "bad regular expression"},
		{"unterminated quote", "cat message~\"abc", "unterminated \" quote"},
		{"no field", "cat ~abc", "does not start with a field name"},
		{"negated match", "cat !message~x", "a leading \"!\" is only allowed"},
		{"quoted category", "'cat' umid=x", "must not be quoted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.rules", strings.NewReader(tt.src))
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a SyntaxError containing %q", err, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	rules := `
# comment
weird     level~^(30|40)$           # trailing comment
demo      umid=Ab12Cd
demo      facility~^demo\.
spaced    message~"a b c"
first     umid=STOP stop
second    umid=STOP
hasargs   args?
noargs    !args? umid=NA
errs      isError?true
noterr    !isError?true umid=NE
notmatch  umid=NM message!~boom
noteq     umid=NQ facility!=x
fmt       text~"^User reports incident through web page: disk"
`
	rs := mustParse(t, rules)
	tests := []struct {
		name    string
		trigger any
		want    []string
	}{
		{"nothing matches", banana.NewDict("level", int64(20)), []string{"unknown"}},
		{"union of rules, sorted", banana.NewDict("level", int64(30), "umid", "Ab12Cd", "facility", "demo.app"), []string{"demo", "weird"}},
		{"bytes keys and values from python 2 nodes", banana.NewDict([]byte("umid"), []byte("Ab12Cd")), []string{"demo"}},
		{"quoted regex with blanks", banana.NewDict("message", "x a b c y"), []string{"spaced"}},
		{"stop ends evaluation", banana.NewDict("umid", "STOP"), []string{"first"}},
		{"presence", banana.NewDict("args", banana.Tuple{}), []string{"hasargs"}},
		{"absence", banana.NewDict("umid", "NA"), []string{"noargs"}},
		{"truthy int", banana.NewDict("isError", int64(1)), []string{"errs"}},
		{"falsy int", banana.NewDict("isError", int64(0), "umid", "NE"), []string{"noterr"}},
		{"negated regex on absent field", banana.NewDict("umid", "NM"), []string{"notmatch"}},
		{"negated regex on matching field", banana.NewDict("umid", "NM", "message", "boom!"), []string{"unknown"}},
		{"not equal", banana.NewDict("umid", "NQ", "facility", "y"), []string{"noteq"}},
		{"formatted text", banana.NewDict("format", "User reports incident through web page: %(details)s", "details", "disk noise"), []string{"fmt"}},
		{"map from a flogfile reader", map[string]any{"umid": "Ab12Cd"}, []string{"demo"}},
		{"not a dict", "garbage", []string{"unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rs.Classify(tt.trigger); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
		})
	}
	var empty *Rules
	if got := empty.Classify(banana.NewDict()); !reflect.DeepEqual(got, []string{"unknown"}) {
		t.Errorf("nil rules: %v", got)
	}
}

// TestTahoeRules checks the shipped example against the decisions of
// Tahoe-LAFS's classify_tahoe.py, case by case.
func TestTahoeRules(t *testing.T) {
	rs, err := Parse("tahoe.rules", bytes.NewReader(TahoeRules()))
	if err != nil {
		t.Fatal(err)
	}
	eq := "error during query: "
	tests := []struct {
		name    string
		trigger *banana.Dict
		want    string
	}{
		{"button", banana.NewDict("format", "User reports incident through web page: %(details)s", "umid", "LkD9Pw", "level", int64(30)), "user-incident-button"},
		{"umid beats message", banana.NewDict("umid", "lp1vaQ", "message", eq+"IOError"), "download-not-enough-shares"},
		{"get buckets", banana.NewDict("umid", "3uuBUQ"), "download-connection-lost-in-get-buckets"},
		{"surprise shares", banana.NewDict("message", "they had shares [1, 2] that we didn't know about"), "mutable-publish-surprise-shares"},
		{"mapupdate stale broker", banana.NewDict("message", eq+"mutable/servermap.py line 3 in _do_query Calling Stale Broker DeadReferenceError"), "mutable-mapupdate-query-lost-server"},
		{"mapupdate ioerror", banana.NewDict("message", eq+"mutable/servermap.py _do_query IOError"), "mutable-mapupdate-query-ioerror"},
		{"retrieve ucwe", banana.NewDict("message", eq+"mutable/retrieve.py _got_results_one_share UncoordinatedWriteError: someone wrote to the data since we read the servermap"), "mutable-retrieve-query-uncoordinated-write-error"},
		{"retrieve ucwe without text", banana.NewDict("message", eq+"mutable/retrieve.py _got_results_one_share UncoordinatedWriteError"), "mutable-retrieve-query-unknown"},
		{"unknown where, connection lost", banana.NewDict("message", eq+"ConnectionLost"), "mutable-unknown-query-lost-server"},
		{"unknown where, unknown what", banana.NewDict("message", eq+"???"), "mutable-unknown-query-unknown"},
		{"stale broker needs both words", banana.NewDict("message", eq+"Calling Stale Broker"), "mutable-unknown-query-unknown"},
		{"retrieve failure", banana.NewDict("format", "ran out of peers: have %(have)d", "have", int64(1), "need", int64(3)), "mutable-retrieve-failure"},
		{"retrieve failure needs need", banana.NewDict("format", "ran out of peers: have %(have)d", "have", int64(1)), "unknown"},
		{"bad privkey", banana.NewDict("message", "invalid privkey from [xyz]"), "mutable-mapupdate-bad-privkey"},
		{"introducer lost", banana.NewDict("facility", "tahoe.introducer", "isError", int64(1), "failure", &banana.Copyable{Class: "twisted.python.failure.Failure", Attrs: []banana.Attr{{Name: "traceback", Value: "twisted.internet.error.ConnectionDone: Connection was closed cleanly."}}}), "introducer-lost-connection"},
		{"introducer lost needs isError", banana.NewDict("facility", "tahoe.introducer", "failure", "ConnectionDone"), "unknown"},
		{"introducer failed", banana.NewDict("facility", "tahoe.introducer", "message", "Initial Introducer connection failed: see below"), "introducer-connection-failed"},
		{"other", banana.NewDict("message", "hello"), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rs.Classify(tt.trigger); len(got) != 1 || got[0] != tt.want {
				t.Errorf("Classify = %v, want [%s]", got, tt.want)
			}
		})
	}
}
