package loadnode

import (
	"errors"
	"testing"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/pb"
)

// TestPublisherCalls drives the RILogPublisher directly with the
// arguments a gatherer sends (bytes names, kwargs) and checks the answers
// and the refusals.
func TestPublisherCalls(t *testing.T) {
	ids, err := NewIdentities(nil)
	if err != nil {
		t.Fatal(err)
	}
	incs := testIncidents(t, 3, 5)
	n := newTestNode(t, ids, Options{Incidents: incs})
	p := &publisher{n: n}
	tests := []struct {
		name      string
		call      pb.Call
		check     func(t *testing.T, v any)
		wantError string // "violation", "KeyError" or ""
	}{
		{name: "get_incident by bytes name", call: pb.Call{Method: "get_incident", Args: []any{[]byte(incs[1].Name)}},
			check: func(t *testing.T, v any) {
				pair, ok := v.(banana.Tuple)
				if !ok || len(pair) != 2 || pair[0] != any(incs[1].Header) {
					t.Fatalf("answer %#v, want (header, events)", v)
				}
				if evs, ok := pair[1].(banana.List); !ok || len(evs) != 5 {
					t.Errorf("events %#v", pair[1])
				}
			}},
		{name: "get_incident by kwarg", call: pb.Call{Method: "get_incident", Kwargs: pb.KW{"name": incs[0].Name}},
			check: func(t *testing.T, v any) {
				if pair, ok := v.(banana.Tuple); !ok || pair[0] != any(incs[0].Header) {
					t.Fatalf("answer %#v", v)
				}
			}},
		{name: "unknown incident", call: pb.Call{Method: "get_incident", Args: []any{[]byte("incident-nope")}}, wantError: "KeyError"},
		{name: "list_incidents since the first", call: pb.Call{Method: "list_incidents", Args: []any{[]byte(incs[0].Name)}},
			check: func(t *testing.T, v any) {
				d, ok := v.(*banana.Dict)
				if !ok || d.Len() != 2 {
					t.Fatalf("answer %#v, want the two later incidents", v)
				}
				if _, ok := d.GetStr(incs[2].Name); !ok {
					t.Errorf("%s missing", incs[2].Name)
				}
			}},
		{name: "get_versions as bytes", call: pb.Call{Method: "get_versions"},
			check: func(t *testing.T, v any) {
				d, ok := v.(*banana.Dict)
				if !ok {
					t.Fatalf("answer %#v", v)
				}
				if got, _ := d.Get([]byte("foolscap")); !bytesEqual(got, "21.7.0") {
					t.Errorf("foolscap version %#v", got)
				}
			}},
		{name: "get_pid", call: pb.Call{Method: "get_pid"}, check: func(t *testing.T, v any) {
			if v != any(int64(4242)) {
				t.Errorf("pid %#v", v)
			}
		}},
		{name: "subscribe without a reference", call: pb.Call{Method: "subscribe_to_all", Args: []any{"not a reference"}}, wantError: "violation"},
		{name: "subscribe_to_incidents without observer", call: pb.Call{Method: "subscribe_to_incidents"}, wantError: "violation"},
		{name: "unknown method", call: pb.Call{Method: "drop_tables"}, wantError: "violation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := p.RemoteCall(t.Context(), &tc.call)
			switch tc.wantError {
			case "":
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, v)
			case "violation":
				var viol *banana.Violation
				if !errors.As(err, &viol) {
					t.Fatalf("err = %v, want a Violation", err)
				}
			case "KeyError":
				var re *pb.RemoteError
				if !errors.As(err, &re) || !re.Check("builtins.KeyError") {
					t.Fatalf("err = %v, want builtins.KeyError", err)
				}
			}
		})
	}
}

func bytesEqual(v any, s string) bool {
	b, ok := v.([]byte)
	return ok && string(b) == s
}
