package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/wasmbuild"
	"github.com/ronhost/ronhost/plugins"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/tlds/map/internal/pmtiles"
	"github.com/ronhost/ronhost/tlds/map/maptld"
)

var update = flag.Bool("update", false, "rewrite the expectations of testdata/cases with what the plugin answers")

// cacheDir is wazero's compilation cache for every host in this binary;
// buildDir holds the module, built once.
var cacheDir, buildDir string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, cleanup, err := wasmbuild.TestCacheDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	if buildDir, err = os.MkdirTemp("", "tlds-map-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(buildDir)
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

var (
	wasmOnce sync.Once
	wasmMod  []byte
	wasmErr  error
)

// module builds this package as a wasip1 reactor, once per test binary.
func module(tb testing.TB) []byte {
	tb.Helper()
	wasmOnce.Do(func() {
		out := filepath.Join(buildDir, "map.wasm")
		if wasmErr = wasmbuild.Build(context.Background(), ".", out); wasmErr == nil {
			wasmMod, wasmErr = os.ReadFile(out)
		}
	})
	if wasmErr != nil {
		tb.Fatal(wasmErr)
	}
	return wasmMod
}

// TestConformance runs the whole conformance suite, generic checks and this
// plugin's cases, on the module through the real host.
func TestConformance(t *testing.T) {
	rep := conformance.Test(t, module(t), conformance.Options{CasesDir: "testdata/cases", CacheDir: cacheDir, Update: *update})
	if rep.TLD != "map" || rep.Failed() != 0 {
		t.Fatalf("tld %q, %d failed", rep.TLD, rep.Failed())
	}
	cases := 0
	for _, c := range rep.Checks {
		if len(c.ID) > 6 && c.ID[:6] == "cases." {
			cases++
		}
	}
	if cases < 20 {
		t.Fatalf("%d cases ran, want at least 20", cases)
	}
}

// load loads the module into a host of its own (memoization off, so every
// call reaches the module).
func load(tb testing.TB) *plugins.Plugin {
	tb.Helper()
	h := plugins.New(plugins.Config{CacheDir: cacheDir, MemoEntries: -1, PoolSize: 1})
	tb.Cleanup(func() { _ = h.Close(context.Background()) })
	p, err := h.Load(context.Background(), module(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// testArchive holds every tile of zooms 0..6, gzip directories, leaves of
// 256 entries: a tile lookup reads the header, the root and one leaf.
func testArchive(tb testing.TB) ([]byte, map[[3]uint32][]byte) {
	tb.Helper()
	want := map[[3]uint32][]byte{}
	var tiles []pmtiles.Tile
	for z := uint8(0); z <= 6; z++ {
		for x := uint32(0); x < 1<<z; x++ {
			for y := uint32(0); y < 1<<z; y++ {
				if (x+y)%3 == 0 { // a third of the tiles are missing
					continue
				}
				data := []byte(fmt.Sprintf("mvt %d/%d/%d", z, x, y))
				want[[3]uint32{uint32(z), x, y}] = data
				tiles = append(tiles, pmtiles.Tile{Z: z, X: x, Y: y, Data: data})
			}
		}
	}
	arc, err := pmtiles.Write(tiles, pmtiles.WriteOptions{TileType: pmtiles.TileMVT, TileCompression: pmtiles.CompressionNone, Compression: pmtiles.CompressionGzip, DirEntries: 256})
	if err != nil {
		tb.Fatal(err)
	}
	return arc, want
}

// normalizedExample validates the describe example through the host.
func normalizedExample(tb testing.TB, p *plugins.Plugin, size uint64) json.RawMessage {
	tb.Helper()
	m := ron.MustManifest(maptld.Example)
	// The payload is the test archive; 0..6 are its zooms.
	raw, _ := m.MarshalJSON()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		tb.Fatal(err)
	}
	doc["payload"].(map[string]any)["size"] = size
	doc["map"].(map[string]any)["maxzoom"] = 6
	raw, _ = json.Marshal(doc)
	v, err := p.Validate(context.Background(), raw, plugins.ValidateContext{TLD: "map", PayloadSize: size})
	if err != nil {
		tb.Fatal(err)
	}
	return v.Manifest
}

// TestResolveThroughHost resolves tiles of a PMTiles archive in the real
// host: the plugin reads the header and directories through object_read
// and the byte range it answers holds exactly the tile.
func TestResolveThroughHost(t *testing.T) {
	p := load(t)
	arc, want := testArchive(t)
	m := normalizedExample(t, p, uint64(len(arc)))
	ctx := context.Background()
	checked := 0
	for z := uint32(0); z <= 6; z++ {
		for x := uint32(0); x < 1<<z; x += 3 {
			for y := uint32(0); y < 1<<z; y += 2 {
				r, err := p.Resolve(ctx, plugins.ResolveInput{Manifest: m, Path: fmt.Sprintf("/%d/%d/%d.mvt", z, x, y), PayloadSize: uint64(len(arc))}, bytes.NewReader(arc))
				if err != nil {
					t.Fatalf("%d/%d/%d: %v", z, x, y, err)
				}
				data, ok := want[[3]uint32{z, x, y}]
				if !ok {
					if r.Status != 404 {
						t.Fatalf("%d/%d/%d: %+v, want 404", z, x, y, r)
					}
					continue
				}
				if r.Status != 200 || r.ContentType != maptld.ContentTypeMVT || !bytes.Equal(arc[r.Offset:r.Offset+r.Length], data) {
					t.Fatalf("%d/%d/%d: %+v", z, x, y, r)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d tiles checked", checked)
	}
	// The whole archive at /.
	r, err := p.Resolve(ctx, plugins.ResolveInput{Manifest: m, Path: "/", PayloadSize: uint64(len(arc))}, bytes.NewReader(arc))
	if err != nil || r.Status != 200 || r.Offset != 0 || r.Length != uint64(len(arc)) || r.ContentType != "application/vnd.pmtiles" {
		t.Fatalf("/: %+v %v", r, err)
	}
	// A payload that is not an archive is a rejection, not a fault.
	junk := bytes.Repeat([]byte("not pmtiles "), 200)
	_, err = p.Resolve(ctx, plugins.ResolveInput{Manifest: m, Path: "/1/1/0", PayloadSize: uint64(len(junk))}, bytes.NewReader(junk))
	var rej *plugins.RejectedError
	if !errors.As(err, &rej) || rej.Errors[0].Code != maptld.CodePMTiles {
		t.Fatalf("junk payload: %v", err)
	}
	if st := p.Stats(); st.Faults != 0 {
		t.Fatalf("faults: %+v", st)
	}
}

// durations runs f n times and reports the median and 99th percentile of
// the host-measured time in the module.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	if len(ds) == 0 {
		return
	}
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds()), "p99-ns")
}

func benchCall(b *testing.B, e plugins.Entry, input []byte) {
	p := load(b)
	ctx := context.Background()
	var ds []time.Duration
	for b.Loop() {
		res, err := p.Call(ctx, e, input)
		if err != nil || res.Status != 0 {
			b.Fatalf("%v %d %s", err, res.Status, res.Output)
		}
		ds = append(ds, res.Elapsed)
	}
	reportPercentiles(b, ds)
}

func BenchmarkWasmValidate(b *testing.B) {
	benchCall(b, plugins.EntryValidate, []byte(`{"manifest":`+maptld.Example+`,"context":{"tld":"map","payload_size":5242880}}`))
}

func BenchmarkWasmSplit(b *testing.B) {
	p := load(b)
	m := normalizedExample(b, p, 5242880)
	in, _ := json.Marshal(map[string]any{"manifest": m, "epoch": "e", "amount": 1000003, "usage": map[string]any{
		"requests": 60, "bytes": 1 << 20, "servers": []map[string]any{
			{"node": "node-a", "payout": "op-a", "requests": 10, "bytes": 1000},
			{"node": "node-b", "payout": "op-b", "requests": 30, "bytes": 777777},
			{"node": "node-c", "payout": "op-a", "requests": 5, "bytes": 3},
			{"node": "node-d", "payout": "op-d", "requests": 15, "bytes": 270796},
		}}})
	benchCall(b, plugins.EntrySplit, in)
}

func BenchmarkWasmResolve(b *testing.B) {
	p := load(b)
	arc, _ := testArchive(b)
	m := normalizedExample(b, p, uint64(len(arc)))
	ctx := context.Background()
	in := plugins.ResolveInput{Manifest: m, Path: "/6/40/21", PayloadSize: uint64(len(arc))}
	obj := bytes.NewReader(arc)
	for b.Loop() {
		r, err := p.Resolve(ctx, in, obj)
		if err != nil || r.Status != 200 {
			b.Fatalf("%+v %v", r, err)
		}
	}
}
