package twistdlog

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestHandlerLines(t *testing.T) {
	at := time.Date(2026, 11, 27, 6, 8, 35, 0, time.UTC)
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{
			name: "python stdout line keeps its trailing space",
			log: func(l *slog.Logger) {
				l.Info("connected to qrrnx55najmpo4kcseajcszexvro4qig, last known incident is ")
			},
			want: "2026-11-27T06:08:35+0000 [stdout#info] connected to qrrnx55najmpo4kcseajcszexvro4qig, last known incident is \n",
		},
		{
			name: "error with attributes",
			log: func(l *slog.Logger) {
				l.Error("fetching incident failed", "tubid", "abc", "err", errors.New("connection lost"))
			},
			want: "2026-11-27T06:08:35+0000 [gatherer#error] fetching incident failed tubid=abc err=\"connection lost\"\n",
		},
		{
			name: "multi-line message",
			log:  func(l *slog.Logger) { l.Warn("a\nb", "n", 1) },
			want: "2026-11-27T06:08:35+0000 [gatherer#warn] a\n2026-11-27T06:08:35+0000 [gatherer#warn] b n=1\n",
		},
		{
			name: "plain",
			log: func(l *slog.Logger) {
				slog.New(New(l.Handler().(*Handler).out.w, Options{Plain: true})).Info("x", "k", "v w")
			},
			want: "x k=\"v w\"\n",
		},
		{
			name: "own system",
			log: func(l *slog.Logger) {
				slog.New(l.Handler().(*Handler).WithSystem("foolscap")).Warn("connection lost", "peer", "abc")
			},
			want: "2026-11-27T06:08:35+0000 [foolscap#warn] connection lost peer=abc\n",
		},
		{
			name: "debug suppressed",
			log:  func(l *slog.Logger) { l.Debug("noise") },
			want: "",
		},
		{
			name: "with attrs and group",
			log:  func(l *slog.Logger) { l.With("tubid", "x").WithGroup("g").Info("hello", "k", "v") },
			want: "2026-11-27T06:08:35+0000 [stdout#info] hello tubid=x g.k=v\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := New(&buf, Options{Now: func() time.Time { return at }, Location: time.UTC})
			tt.log(slog.New(h))
			if got := buf.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
