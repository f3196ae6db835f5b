package tldtest

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/plugins"
	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// CompareNative times the same call natively (ron.Dispatch on p.Native, the
// code the module runs) and through the host on the module, b.N times each
// in the same run, after checking that both accept input and, except for
// resolve, answer the same bytes. obj is the payload for resolve (nil: an
// empty one). It reports native-ns/op, wasm-ns/op, their ratio x-native and
// the module's median and 99th percentile (p50-µs, p99-µs).
func (p *Plugin) CompareNative(b *testing.B, e plugins.Entry, input, obj []byte) {
	pl := p.Load(b)
	ctx := context.Background()
	call := func() (int32, []byte, error) {
		if e != plugins.EntryResolve {
			res, err := pl.Call(ctx, e, input)
			return res.Status, res.Output, err
		}
		var in plugins.ResolveInput
		if err := json.Unmarshal(input, &in); err != nil {
			return 0, nil, err
		}
		r, err := pl.Resolve(ctx, in, bytes.NewReader(obj))
		if err != nil {
			return 0, nil, err
		}
		out, err := json.Marshal(r)
		return 0, out, err
	}
	native := func() (int32, []byte) {
		return ron.Dispatch(p.Native, string(e), input, bytes.NewReader(obj))
	}
	// Warm both sides and check they agree.
	nst, nout := native()
	wst, wout, err := call()
	if err != nil || nst != 0 || wst != 0 || (e != plugins.EntryResolve && !bytes.Equal(nout, wout)) {
		b.Fatalf("native (%d %s) and wasm (%d %s %v) disagree", nst, nout, wst, wout, err)
	}
	b.ResetTimer()
	nstart := time.Now()
	for range b.N {
		native()
	}
	nativeNs := float64(time.Since(nstart).Nanoseconds()) / float64(b.N)
	lat := make([]time.Duration, 0, b.N)
	wstart := time.Now()
	for range b.N {
		t0 := time.Now()
		if st, out, err := call(); err != nil || st != 0 {
			b.Fatalf("%d %s %v", st, out, err)
		}
		lat = append(lat, time.Since(t0))
	}
	wasmNs := float64(time.Since(wstart).Nanoseconds()) / float64(b.N)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(nativeNs, "native-ns/op")
	b.ReportMetric(wasmNs, "wasm-ns/op")
	b.ReportMetric(wasmNs/nativeNs, "x-native")
	b.ReportMetric(float64(quantile(lat, 50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(quantile(lat, 99).Microseconds()), "p99-µs")
}

// Quantiles runs f in a b.Loop and reports the median and 99th percentile
// of its wall time (p50-ns, p99-ns) next to the mean (ns/op).
func Quantiles(b *testing.B, f func()) {
	b.Helper()
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		f()
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	b.ReportMetric(float64(quantile(ds, 50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(quantile(ds, 99).Nanoseconds()), "p99-ns")
}

// quantile is the q-th percentile (0..100) of sorted by the nearest rank:
// the smallest value with at least q% of the values at or below it; 0 for
// none.
func quantile(sorted []time.Duration, q int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[max((len(sorted)*q+99)/100-1, 0)]
}

// SplitInput is the split input of the benchmarks, as JSON: manifest,
// amount 1000003 and usage by four servers, two of them paid at the same
// address.
func SplitInput(manifest json.RawMessage) []byte {
	in, err := json.Marshal(map[string]any{"manifest": manifest, "epoch": "e", "amount": 1000003, "usage": map[string]any{
		"requests": 60, "bytes": 1 << 20, "servers": []map[string]any{
			{"node": "node-a", "payout": "op-a", "requests": 10, "bytes": 1000},
			{"node": "node-b", "payout": "op-b", "requests": 30, "bytes": 777777},
			{"node": "node-c", "payout": "op-a", "requests": 5, "bytes": 3},
			{"node": "node-d", "payout": "op-d", "requests": 15, "bytes": 270796},
		}}})
	if err != nil {
		panic(err) // a json.RawMessage that is not JSON: the caller's bug
	}
	return in
}

// BenchValidate validates each manifest (JSON) through the host, as the
// sub-benchmark of the same name, with [Quantiles].
func (p *Plugin) BenchValidate(b *testing.B, payloadSize uint64, names, manifests []string) {
	pl := p.Load(b)
	for i, name := range names {
		m := json.RawMessage(manifests[i])
		b.Run(name, func(b *testing.B) {
			Quantiles(b, func() {
				if _, err := pl.Validate(context.Background(), m, plugins.ValidateContext{TLD: p.TLD, PayloadSize: payloadSize}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchSplit splits the normalized manifest m (JSON, validated first)
// through the host, 1000003 units without usage, with [Quantiles], and
// reports the module's size (wasm-bytes).
func (p *Plugin) BenchSplit(b *testing.B, m string) {
	pl := p.Load(b)
	in := plugins.SplitInput{Manifest: p.Validated(b, pl, m).Manifest, Epoch: "2026-03", Amount: 1_000_003}
	Quantiles(b, func() {
		if _, err := pl.Split(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(float64(len(p.Module(b))), "wasm-bytes")
}

// BenchResolveRoot resolves "/" of the normalized manifest m (JSON,
// validated first) with a payload of payloadSize bytes through the host,
// with [Quantiles]; each call must answer 200.
func (p *Plugin) BenchResolveRoot(b *testing.B, m string, payloadSize uint64) {
	pl := p.Load(b)
	in := plugins.ResolveInput{Manifest: p.Validated(b, pl, m).Manifest, Path: "/", PayloadSize: payloadSize}
	obj := bytes.NewReader(make([]byte, payloadSize))
	Quantiles(b, func() {
		r, err := pl.Resolve(context.Background(), in, obj)
		if err != nil || r.Status != 200 {
			b.Fatal(r, err)
		}
	})
}
