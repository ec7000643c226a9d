package atomicfile

import "sync"

// Appender appends lines to one file with group commit: lines handed to
// Append while an earlier write and fsync are under way wait, then go out
// together in one write and one fsync. Callers still return only once
// their line is durable, but N concurrent callers pay one fsync instead of
// N in a row; on a disk whose fsync takes milliseconds that is the
// difference between a fixed ceiling on appends per second and none.
//
// The zero Appender is not usable; make one with NewAppender. It is safe
// for concurrent use.
type Appender struct {
	path string

	mu      sync.Mutex
	busy    bool         // a caller is writing a batch
	pending []byte       // lines waiting for the next batch
	waiters []chan error // one per line in pending
	spare   []byte       // the previous batch's buffer, for reuse
}

// NewAppender returns an Appender for path (created on first use).
func NewAppender(path string) *Appender { return &Appender{path: path} }

// Path is the file the Appender appends to.
func (a *Appender) Path() string { return a.path }

// Append appends line, which must end in a newline, and returns once it is
// fsynced, or with the error of the write that carried it. A batch is one
// write call, so readers see whole lines, as with AppendLine.
func (a *Appender) Append(line []byte) error {
	done := make(chan error, 1)
	a.mu.Lock()
	a.pending = append(a.pending, line...)
	a.waiters = append(a.waiters, done)
	if a.busy {
		a.mu.Unlock()
		return <-done
	}
	// This caller leads: it writes batches until none is left, its own
	// line being in the first.
	a.busy = true
	for len(a.waiters) > 0 {
		batch, waiters := a.pending, a.waiters
		a.pending, a.waiters = a.spare[:0], nil
		a.mu.Unlock()
		err := AppendLine(a.path, batch)
		for _, w := range waiters {
			w <- err
		}
		a.mu.Lock()
		a.spare = batch
	}
	a.busy = false
	a.mu.Unlock()
	return <-done
}
