package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/foolscap/tub"
	"github.com/gatherer/gatherer/internal/loadnode"
)

//go:embed pycodec.py
var pycodecScript []byte

type pyCodec struct {
	BatchBytes     int     `json:"batch_bytes"`
	EncodeMBs      float64 `json:"encode_mb_s"`
	EncodeBatches  float64 `json:"encode_batches_s"`
	DecodeMBs      float64 `json:"decode_mb_s"`
	DecodeBatches  float64 `json:"decode_batches_s"`
	FURLParses     float64 `json:"furl_parse_per_s"`
	CallRemotePerS float64 `json:"callremote_per_s"`
	Error          string  `json:"error"`
}

// goBench is one "go test -bench" result line.
type goBench struct {
	nsPerOp float64
	mbs     float64
}

func (b *bench) codec(ctx context.Context, rep *report) {
	py := pyCodec{EncodeMBs: math.NaN(), EncodeBatches: math.NaN(), DecodeMBs: math.NaN(), DecodeBatches: math.NaN(), FURLParses: math.NaN(), CallRemotePerS: math.NaN()}
	if b.hasPython {
		script := filepath.Join(b.work, "pycodec.py")
		if err := os.WriteFile(script, pycodecScript, 0o644); err != nil {
			rep.Notes = append(rep.Notes, "codec: "+err.Error())
		} else {
			out, err := exec.CommandContext(ctx, python, script, fmt.Sprint(b.cfg.codecTime.Seconds())).Output()
			if err != nil {
				rep.Notes = append(rep.Notes, "codec: pycodec.py: "+err.Error())
			} else if err := json.Unmarshal(lastLine(out), &py); err != nil {
				rep.Notes = append(rep.Notes, "codec: pycodec.py output: "+err.Error())
			} else if py.Error != "" {
				rep.Notes = append(rep.Notes, "codec: pycodec.py: "+py.Error)
			}
		}
	}
	benchtime := fmt.Sprintf("%gs", b.cfg.codecTime.Seconds())
	banana, err := b.goBenchmarks(ctx, "./foolscap/banana", "^(BenchmarkEncode|BenchmarkDecode)$", benchtime)
	if err != nil {
		rep.Notes = append(rep.Notes, "codec: "+err.Error())
	}
	furls, err := b.goBenchmarks(ctx, "./foolscap/furl", "^BenchmarkParse$", benchtime)
	if err != nil {
		rep.Notes = append(rep.Notes, "codec: "+err.Error())
	}
	cs := "200-event batch"
	enc, dec := banana["BenchmarkEncode"], banana["BenchmarkDecode"]
	rep.add(Row{Workload: "codec", Case: cs, Metric: "Banana encode", Unit: "MB/s", Go: orNaNf(enc.mbs), Python: py.EncodeMBs, HigherBetter: true,
		Note: fmt.Sprintf("python: foolscap.storage.serialize, %d-byte batch", py.BatchBytes)})
	rep.add(Row{Workload: "codec", Case: cs, Metric: "Banana decode", Unit: "MB/s", Go: orNaNf(dec.mbs), Python: py.DecodeMBs, HigherBetter: true,
		Note: "python: foolscap.storage.unserialize"})
	rep.add(Row{Workload: "codec", Case: cs, Metric: "Banana decode", Unit: "batches/s", Go: perSec(dec.nsPerOp), Python: py.DecodeBatches, HigherBetter: true})
	rep.add(Row{Workload: "codec", Case: "3-hint FURL", Metric: "FURL parse", Unit: "parses/s", Go: perSec(furls["BenchmarkParse"].nsPerOp), Python: py.FURLParses, HigherBetter: true,
		Note: "python: foolscap.furl.decode_furl (regexp, no hint checks)"})
	rt, err := goRoundTrips(ctx, b.cfg.codecTime, b.ids)
	if err != nil {
		rep.Notes = append(rep.Notes, "codec: round trips: "+err.Error())
		rt = math.NaN()
	}
	rep.add(Row{Workload: "codec", Case: "echo(dict), loopback TLS, one at a time", Metric: "callRemote round trips", Unit: "calls/s", Go: rt, Python: py.CallRemotePerS, HigherBetter: true})
}

func orNaNf(f float64) float64 {
	if f == 0 {
		return math.NaN()
	}
	return f
}

func perSec(ns float64) float64 {
	if ns <= 0 {
		return math.NaN()
	}
	return 1e9 / ns
}

// goBenchmarks runs "go test -bench" in one package and parses ns/op and
// MB/s per benchmark (the -N CPU suffix removed).
func (b *bench) goBenchmarks(ctx context.Context, pkg, pattern, benchtime string) (map[string]goBench, error) {
	out, err := goCmd(ctx, b.cfg.root, "test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime, "-benchmem", pkg).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench %s %s: %w: %s", pattern, pkg, err, shorten(string(out), 300))
	}
	res := map[string]goBench{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name, _, _ := strings.Cut(f[0], "-")
		var r goBench
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.nsPerOp = v
			case "MB/s":
				r.mbs = v
			}
		}
		res[name] = r
	}
	return res, nil
}

// echo is a Referenceable answering echo(x) with x.
type echo struct{}

func (echo) RemoteInterfaceName() string { return "RIEcho.bench.gatherer" }

func (echo) RemoteCall(ctx context.Context, c *pb.Call) (any, error) {
	if c.Method != "echo" || len(c.Args) != 1 {
		return nil, banana.Violationf("echo(x) only")
	}
	return c.Args[0], nil
}

// goRoundTrips is pycodec.py's round trip test with two of our Tubs.
func goRoundTrips(ctx context.Context, d time.Duration, ids *loadnode.Identities) (float64, error) {
	ida, err := ids.New()
	if err != nil {
		return 0, err
	}
	idb, err := ids.New()
	if err != nil {
		return 0, err
	}
	a, err := tub.New(tub.Options{Identity: ida})
	if err != nil {
		return 0, err
	}
	bt, err := tub.New(tub.Options{Identity: idb})
	if err != nil {
		return 0, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = bt.Shutdown(sctx)
		_ = a.Shutdown(sctx)
	}()
	addr, err := a.Listen(ctx, furl.ListenSpec{Port: 0, Interface: "127.0.0.1"})
	if err != nil {
		return 0, err
	}
	if err := a.SetLocation("tcp:" + addr.String()); err != nil {
		return 0, err
	}
	f, err := a.Register(echo{}, "")
	if err != nil {
		return 0, err
	}
	ref, err := bt.GetReference(ctx, f)
	if err != nil {
		return 0, err
	}
	arg := banana.NewDict("format", "event %(n)d", "num", int64(7), "time", 1.7e9, "facility", "tahoe.upload")
	if _, err := ref.Call(ctx, "echo", []any{arg}, nil); err != nil {
		return 0, err
	}
	n, start := 0, time.Now()
	for time.Since(start) < d {
		if _, err := ref.Call(ctx, "echo", []any{arg}, nil); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
