package flog

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// Timestamp modes of flogtool's --timestamps option (foolscap.util
// FORMAT_TIME_MODES).
const (
	TimeShortLocal = "short-local" // HH:MM:SS.mmm, local zone (the default)
	TimeLongLocal  = "long-local"  // YYYY-MM-DD_HH:MM:SS.ffffff+zzzz
	TimeUTC        = "utc"         // YYYY-MM-DD_HH:MM:SS.ffffffZ
	TimeEpoch      = "epoch"       // seconds with 3 decimals
)

// TimeModes lists the valid --timestamps values in flogtool's order.
func TimeModes() []string {
	return []string{TimeShortLocal, TimeLongLocal, TimeUTC, TimeEpoch}
}

// CheckTimeMode returns flogtool's usage error text for an unknown mode.
func CheckTimeMode(mode string) error {
	for _, m := range TimeModes() {
		if m == mode {
			return nil
		}
	}
	return fmt.Errorf("--timestamps= must be one of (short-local, long-local, utc, epoch)")
}

// maxTimestamp bounds the seconds FormatTime accepts; Python's localtime
// fails (OverflowError/OSError) far beyond any real event time.
const maxTimestamp = 1e15

// FormatTime renders an event time like foolscap.util.format_time: when
// is an int or float of seconds since the epoch; loc is the zone of the
// *-local modes (nil means time.Local, which honours $TZ like Python).
func FormatTime(when any, mode string, loc *time.Location) (string, error) {
	var w float64
	switch x := when.(type) {
	case float64:
		w = x
	case int64:
		w = float64(x)
	case int:
		w = float64(x)
	case bool:
		if x {
			w = 1
		}
	case *big.Int:
		if x == nil {
			return "", typeError("'NoneType' object cannot be interpreted as an integer")
		}
		w, _ = new(big.Float).SetInt(x).Float64()
	default:
		return "", typeError("'%s' object cannot be interpreted as an integer", pyjson.TypeName(when))
	}
	if math.IsNaN(w) {
		return "", valueError("Invalid value NaN (not a number)")
	}
	if mode == TimeEpoch {
		return strconv.FormatFloat(w, 'f', 3, 64), nil
	}
	if math.Abs(w) > maxTimestamp {
		return "", &PyError{Type: "OverflowError", Msg: "timestamp out of range for platform time_t"}
	}
	if loc == nil {
		loc = time.Local
	}
	t := time.Unix(int64(math.Floor(w)), 0)
	frac := w - math.Trunc(w) // Python: when - int(when)
	switch mode {
	case TimeShortLocal:
		return t.In(loc).Format("15:04:05") + fmt.Sprintf(".%03d", int64(1000*frac)), nil
	case TimeLongLocal:
		lt := t.In(loc)
		return lt.Format("2006-01-02_15:04:05") + fmt.Sprintf(".%06d", int64(1000000*frac)) + lt.Format("-0700"), nil
	case TimeUTC:
		return t.UTC().Format("2006-01-02_15:04:05") + fmt.Sprintf(".%06d", int64(1000000*frac)) + "Z", nil
	}
	return "", CheckTimeMode(mode)
}
