package peers

import (
	"testing"

	"go.uber.org/goleak"
)

// Every peer goroutine (process waiters, control readers) must end with Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
