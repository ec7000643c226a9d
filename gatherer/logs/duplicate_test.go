package logs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// tubNode is a fakeNode that tells its tubid, as cmd/gatherer's publisher
// does, and, like a python-foolscap publisher, sends every event to every
// subscription it has.
type tubNode struct {
	mu   sync.Mutex
	obs  []Observer
	subs chan struct{}
}

func (n *tubNode) TubID() string { return "qrrnx55najmpo4kcseajcszexvro4qig" }

func (n *tubNode) SubscribeToAll(_ context.Context, obs Observer, _ bool) error {
	n.mu.Lock()
	n.obs = append(n.obs, obs)
	n.mu.Unlock()
	n.subs <- struct{}{}
	return nil
}

func (n *tubNode) log(t *testing.T, msg string) {
	t.Helper()
	n.mu.Lock()
	obs := append([]Observer(nil), n.obs...)
	n.mu.Unlock()
	for _, o := range obs {
		if err := o.Msg(t.Context(), banana.NewDict("message", msg)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDuplicateLogportWritesOnce: a node that calls logport twice (both
// subscriptions alive on the node) has each event written once.
func TestDuplicateLogportWritesOnce(t *testing.T) {
	c := &clock{t: time.Unix(1795759722, 0)}
	s, _ := newService(t, t.TempDir(), c, nil)
	node := &tubNode{subs: make(chan struct{}, 2)}
	if err := s.Logport(t.Context(), []byte("node"), node); err != nil {
		t.Fatal(err)
	}
	<-node.subs
	node.log(t, "one")
	if err := s.Logport(t.Context(), []byte("node"), node); err != nil {
		t.Fatal(err)
	}
	<-node.subs
	// The second subscription is marked current once SubscribeToAll has
	// returned in the Service's goroutine: wait until an event is written
	// once.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		node.log(t, fmt.Sprintf("probe-%d", i))
		b, err := os.ReadFile(s.CurrentFile())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(b), fmt.Sprintf("d=probe-%d\n", i)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("events from a node with two subscriptions are still written twice")
		}
		time.Sleep(5 * time.Millisecond) // the Service's goroutine records the new subscription
	}
	node.log(t, "two")
	b, _ := os.ReadFile(s.CurrentFile())
	for _, m := range []string{"d=one\n", "d=two\n"} {
		if n := strings.Count(string(b), m); n != 1 {
			t.Errorf("%q written %d times", m, n)
		}
	}
	if _, err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}
