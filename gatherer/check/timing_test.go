package check

import (
	"net"
	"testing"
	"time"
)

// record returns a TLS record of type typ with an n-byte body.
func record(typ byte, n int) []byte {
	r := []byte{typ, 3, 3, byte(n >> 8), byte(n)}
	return append(r, make([]byte, n)...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestStepConnScan(t *testing.T) {
	hs := record(22, 300) // handshake
	ccs := record(20, 1)  // change cipher spec
	app := record(23, 40) // application data
	tests := []struct {
		name   string
		writes [][]byte
		want   int // index of the write that starts application data; -1 none
	}{
		{"handshake only", [][]byte{hs, cat(ccs, hs)}, -1},
		{"tls 1.3 flight", [][]byte{hs, cat(ccs, app, app)}, 1},
		{"application data first", [][]byte{app}, 0},
		{"header split across writes", [][]byte{hs[:3], hs[3:], app[:2], app[2:]}, 2},
		{"body split across writes", [][]byte{hs[:100], hs[100:], app}, 2},
		{"big record body", [][]byte{record(22, 0xffff), app}, 1},
		{"application data after handshake in one write", [][]byte{cat(hs, hs, app)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &stepConn{}
			got := -1
			for i, w := range tt.writes {
				if c.scan(w) && got < 0 {
					got = i
				}
			}
			if got != tt.want {
				t.Errorf("application data starts at write %d, want %d", got, tt.want)
			}
		})
	}
}

// TestStepConnMarks: the reply mark comes from the first read, the TLS mark
// only from writes after it.
func TestStepConnMarks(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	tick := time.Unix(0, 0)
	c := &stepConn{Conn: a, now: func() time.Time { tick = tick.Add(time.Second); return tick }}
	go func() {
		buf := make([]byte, 1024)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
		}
	}()
	if _, err := c.Write(record(23, 1)); err != nil { // the GET: before any reply
		t.Fatal(err)
	}
	if r, app := c.marks(); !r.IsZero() || !app.IsZero() {
		t.Fatalf("marks before the reply: %v %v", r, app)
	}
	go func() { _, _ = b.Write([]byte("HTTP/1.1 101\r\n\r\n")) }()
	if _, err := c.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(record(22, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(record(23, 10)); err != nil {
		t.Fatal(err)
	}
	r, app := c.marks()
	if r.IsZero() || app.IsZero() || !app.After(r) {
		t.Fatalf("marks = %v, %v: want the reply, then application data", r, app)
	}
}

// FuzzStepConnScan: any bytes, cut anywhere, never panic the record
// follower, and a record stream is read the same whatever the cuts.
func FuzzStepConnScan(f *testing.F) {
	f.Add(cat(record(22, 300), record(20, 1), record(23, 40)), uint8(3))
	f.Add(record(23, 0), uint8(1))
	f.Add([]byte{22, 3, 3, 0xff, 0xff}, uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		whole := &stepConn{}
		want := whole.scan(stream)
		pieces := &stepConn{}
		got := false
		step := int(cut)%7 + 1
		for i := 0; i < len(stream); i += step {
			if pieces.scan(stream[i:min(i+step, len(stream))]) {
				got = true
				break
			}
		}
		if got != want {
			t.Fatalf("application data found %v in one write, %v in pieces of %d", want, got, step)
		}
	})
}
