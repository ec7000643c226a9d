package logs

import (
	"fmt"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// PyFlog is the default Flog: Python-exact JSON lines from
// gatherer/flog/pyjson, each encoded completely before it is written (so an
// event that cannot be encoded leaves no partial line, as in Python).
type PyFlog struct{}

var _ Flog = PyFlog{}

// Preamble implements Flog.
func (PyFlog) Preamble(header any) ([]byte, error) {
	b, err := pyjson.Append([]byte(flog.Magic), banana.NewDict("header", header))
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}
	return append(b, '\n'), nil
}

// EncodeEvent implements Flog.
func (PyFlog) EncodeEvent(from string, rxTime float64, event any) ([]byte, error) {
	b, err := pyjson.Append(nil, banana.NewDict("from", from, "rx_time", rxTime, "d", event))
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
