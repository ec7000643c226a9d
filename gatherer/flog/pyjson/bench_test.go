package pyjson

import "testing"

// A gatherer-stored event line from shared/fixtures-reference (log gatherer).
var benchLine = []byte(`{"from": "67xgfwcpbiuyd6sviaef4ztfpmnld3a4", "rx_time": 1795759817.879293, "d": {"facility": "demo.lg", "incarnation": ["3d1c2488ab282af8", null], "level": 20, "message": "after-subscribe caf\u00e9 \u2603", "num": 30, "time": 1795759817.860938}}`)

func BenchmarkUnmarshal(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		if _, err := Unmarshal(benchLine); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	v, err := Unmarshal(benchLine)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	buf := make([]byte, 0, 512)
	for b.Loop() {
		if buf, err = Append(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRepr(b *testing.B) {
	v, err := Unmarshal(benchLine)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = AppendRepr(buf[:0], v)
	}
}
