package pb

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// FailureClass is the copyable class name of a Failure on the wire.
const FailureClass = "twisted.python.failure.Failure"

// Receiver limits of python-foolscap's FailureConstraint, which a sender
// must respect or the caller sees a local Violation instead of the error.
const (
	maxFailureValue     = 1000
	maxFailureType      = 200
	maxFailureTraceback = 2000
	maxFailureParent    = 200
)

// RemoteError is a failure that crossed the wire (a python-foolscap
// CopiedFailure): the exception's qualified type, its str(), the sender's
// traceback text and the qualified names of its classes (the MRO).
//
// A local method returning a *RemoteError (or an error wrapping one) sends
// exactly those fields, so a Go object can raise a Python-typed exception
// such as builtins.KeyError.
type RemoteError struct {
	Type      string
	Value     string
	Traceback string
	Parents   []string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("remote exception %s: %s", e.Type, e.Value)
}

// Check reports whether the remote exception is, or derives from, the
// class with the given qualified name ("builtins.KeyError"), like
// CopiedFailure.check.
func (e *RemoteError) Check(qualname string) bool {
	if e.Type == qualname {
		return true
	}
	for _, p := range e.Parents {
		if p == qualname {
			return true
		}
	}
	return false
}

// DeadReferenceError is returned by calls on a connection that was lost
// or closed, like python-foolscap's DeadReferenceError.
type DeadReferenceError struct {
	TubID  string // short peer tubid, for messages
	Reason error  // why the connection ended
}

func (e *DeadReferenceError) Error() string {
	if e.Reason != nil {
		return fmt.Sprintf("foolscap: connection to %s was lost: %v", e.TubID, e.Reason)
	}
	return fmt.Sprintf("foolscap: connection to %s was lost", e.TubID)
}

func (e *DeadReferenceError) Unwrap() error { return e.Reason }

// ErrClosed is the reason recorded when Close ends a broker.
var ErrClosed = errors.New("broker closed")

// Python class hierarchies used for errors that Go code produces.
func parentsViolation() []string {
	return []string{"foolscap.tokens.Violation", "builtins.Exception", "builtins.BaseException", "builtins.object"}
}

func parentsException() []string {
	return []string{"builtins.Exception", "builtins.BaseException", "builtins.object"}
}

// failureFor describes a local error as a Failure to send.
func failureFor(err error) *RemoteError {
	var re *RemoteError
	if errors.As(err, &re) {
		return re
	}
	var v *banana.Violation
	if errors.As(err, &v) {
		return &RemoteError{
			Type:      "foolscap.tokens.Violation",
			Value:     err.Error(),
			Traceback: "Traceback unavailable\n",
			Parents:   parentsViolation(),
		}
	}
	return &RemoteError{
		Type:      "builtins.Exception",
		Value:     err.Error(),
		Traceback: "Traceback unavailable\n",
		Parents:   parentsException(),
	}
}

// truncate shortens s like call.py's truncate (limit-3 characters plus
// ".."), then further at a rune boundary if its UTF-8 is still longer than
// limit bytes, which python-foolscap's receiver would refuse.
func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		s = string(r[:limit-3]) + ".."
	}
	for len(s) > limit {
		_, size := utf8.DecodeLastRuneInString(s[:len(s)-2])
		s = s[:len(s)-2-size] + ".."
	}
	return s
}

// elideTraceback applies FailureSlicer's rule: over 1900 characters, keep
// the first 700 and the last 1200 around a marker.
func elideTraceback(tb string) string {
	r := []rune(tb)
	if len(r) > 1900 {
		tb = string(r[:700]) + "\n\n-- TRACEBACK ELIDED --\n\n" + string(r[len(r)-1200:])
	}
	return truncate(tb, maxFailureTraceback)
}

// copyable returns the Failure copyable with the attributes in the order
// python-foolscap sends them, truncated to the receiver's limits.
func (e *RemoteError) copyable() *banana.Copyable {
	parents := make(banana.List, len(e.Parents))
	for i, p := range e.Parents {
		parents[i] = []byte(truncate(p, maxFailureParent))
	}
	return &banana.Copyable{Class: FailureClass, Attrs: []banana.Attr{
		{Name: "value", Value: []byte(truncate(e.Value, maxFailureValue))},
		{Name: "type", Value: []byte(truncate(e.Type, maxFailureType))},
		{Name: "traceback", Value: []byte(elideTraceback(e.Traceback))},
		{Name: "parents", Value: parents},
	}}
}

// remoteErrorFrom converts a received Failure copyable.
func remoteErrorFrom(v any) (*RemoteError, error) {
	c, ok := v.(*banana.Copyable)
	if !ok || c.Class != FailureClass {
		return nil, banana.Violationf("error reply does not carry a %s", FailureClass)
	}
	re := &RemoteError{}
	for _, a := range c.Attrs {
		switch a.Name {
		case "value":
			re.Value = textOf(a.Value)
		case "type":
			re.Type = textOf(a.Value)
		case "traceback":
			re.Traceback = textOf(a.Value)
		case "parents":
			items, _ := a.Value.(banana.List)
			for _, p := range items {
				re.Parents = append(re.Parents, textOf(p))
			}
		default:
			return nil, banana.Violationf("unknown Failure attribute %q", truncate(a.Name, 40))
		}
	}
	return re, nil
}

// textOf renders a bytes or str value as text.
func textOf(v any) string {
	switch x := v.(type) {
	case []byte:
		return strings.ToValidUTF8(string(x), "\uFFFD")
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// Violation is banana's Violation: a refused argument or answer (the
// message or sub-object was dropped, the connection stays up).
type Violation = banana.Violation
