package twistdlog

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TimeFormat is Twisted's default log time format (%Y-%m-%dT%H:%M:%S%z).
const TimeFormat = "2006-01-02T15:04:05-0700"

// Options configure a Handler.
type Options struct {
	// Level is the minimum level written; nil means slog.LevelInfo.
	Level slog.Leveler
	// Now overrides the record time (tests); nil uses the record's time.
	Now func() time.Time
	// Location is the time zone of the time stamps; nil means time.Local.
	Location *time.Location
	// Plain drops the time stamp and system prefix (for terminal output
	// of command-line tools).
	Plain bool
}

// Handler is a slog.Handler writing twistd.log lines to one io.Writer.
type Handler struct {
	out    *output
	opts   Options
	attrs  string // attributes added with WithAttrs, already rendered
	groups []string
	system string // "" means the default systems (see System)
}

// WithSystem returns a Handler that logs under "<name>#info",
// "<name>#warn", ... (e.g. "foolscap" for the Tub's own messages, the way
// twistd shows foolscap.pb.Listener#info).
func (h *Handler) WithSystem(name string) *Handler {
	h2 := *h
	h2.system = name
	return &h2
}

func (h *Handler) systemFor(l slog.Level) string {
	if h.system == "" {
		return System(l)
	}
	switch {
	case l >= slog.LevelError:
		return h.system + "#error"
	case l >= slog.LevelWarn:
		return h.system + "#warn"
	case l >= slog.LevelInfo:
		return h.system + "#info"
	}
	return h.system + "#debug"
}

type output struct {
	mu sync.Mutex
	w  io.Writer
}

// New returns a Handler writing to w. Writes to w are serialised.
func New(w io.Writer, opts Options) *Handler {
	return &Handler{out: &output{w: w}, opts: opts}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	min := slog.LevelInfo
	if h.opts.Level != nil {
		min = h.opts.Level.Level()
	}
	return l >= min
}

// System returns the bracketed system name used for a level.
func System(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "gatherer#error"
	case l >= slog.LevelWarn:
		return "gatherer#warn"
	case l >= slog.LevelInfo:
		return "stdout#info"
	default:
		return "gatherer#debug"
	}
}

// Handle implements slog.Handler.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	t := r.Time
	if h.opts.Now != nil {
		t = h.opts.Now()
	}
	if t.IsZero() {
		t = time.Now()
	}
	loc := h.opts.Location
	if loc == nil {
		loc = time.Local
	}
	prefix := t.In(loc).Format(TimeFormat) + " [" + h.systemFor(r.Level) + "] "
	if h.opts.Plain {
		prefix = ""
	}

	var sb strings.Builder
	sb.WriteString(r.Message)
	sb.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&sb, h.groups, a)
		return true
	})
	var buf strings.Builder
	for _, line := range strings.Split(sb.String(), "\n") {
		buf.WriteString(prefix)
		buf.WriteString(line)
		buf.WriteByte('\n')
	}
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := io.WriteString(h.out.w, buf.String())
	return err
}

func appendAttr(sb *strings.Builder, groups []string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		g := append(append([]string(nil), groups...), a.Key)
		for _, sub := range a.Value.Group() {
			appendAttr(sb, g, sub)
		}
		return
	}
	sb.WriteByte(' ')
	for _, g := range groups {
		sb.WriteString(g)
		sb.WriteByte('.')
	}
	sb.WriteString(a.Key)
	sb.WriteByte('=')
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " \t\n\"=") {
		v = strconv.Quote(v)
	}
	sb.WriteString(v)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	var sb strings.Builder
	sb.WriteString(h.attrs)
	for _, a := range as {
		appendAttr(&sb, h.groups, a)
	}
	h2.attrs = sb.String()
	return &h2
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = append(append([]string(nil), h.groups...), name)
	return &h2
}
