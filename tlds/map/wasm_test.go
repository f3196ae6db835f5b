package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/core/manifest"
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

// TestReadmeExample takes the Manifest.toml of README.md through the host's
// parser (core/manifest) and the module's validate, as a node would.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "```toml\n")
	end := strings.Index(text[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("README.md has no toml block")
	}
	m, err := manifest.ParseTOML([]byte(text[start+8 : start+8+end]))
	if err != nil {
		t.Fatal(err)
	}
	p := load(t)
	v, err := p.Validate(context.Background(), m.Canonical(), plugins.ValidateContext{TLD: "map", PayloadSize: uint64(m.Payload.Size)})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Map maptld.Normalized }
	if err := json.Unmarshal(v.Manifest, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Map.Split.CreatorsBPS != 6900 || doc.Map.Center != [3]float64{4.835, 45.7578, 12} || len(doc.Map.Creators) != 2 {
		t.Fatalf("normalized %+v", doc.Map)
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

// bench times the same call natively (ron.Dispatch on maptld, the code the
// module runs) and through the host on the module, in the same run, and
// reports both, their ratio and the module's median and 99th percentile.
func bench(b *testing.B, e plugins.Entry, input []byte, obj []byte) {
	p := load(b)
	ctx := context.Background()
	call := func() (int32, []byte, error) {
		if e != plugins.EntryResolve {
			res, err := p.Call(ctx, e, input)
			return res.Status, res.Output, err
		}
		var in plugins.ResolveInput
		if err := json.Unmarshal(input, &in); err != nil {
			return 0, nil, err
		}
		r, err := p.Resolve(ctx, in, bytes.NewReader(obj))
		if err != nil {
			return 0, nil, err
		}
		out, err := json.Marshal(r)
		return 0, out, err
	}
	native := func() (int32, []byte) {
		var r io.ReaderAt
		if obj != nil {
			r = bytes.NewReader(obj)
		}
		return ron.Dispatch(maptld.New(), string(e), input, r)
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
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Microseconds()), "p99-µs")
}

// go test -run '^$' -bench . -benchtime 2000x ./tlds/map/
func BenchmarkValidate(b *testing.B) {
	bench(b, plugins.EntryValidate, []byte(`{"manifest":`+maptld.Example+`,"context":{"tld":"map","payload_size":5242880}}`), nil)
}

func BenchmarkSplit(b *testing.B) {
	m := normalizedExample(b, load(b), 5242880)
	in, _ := json.Marshal(map[string]any{"manifest": m, "epoch": "e", "amount": 1000003, "usage": map[string]any{
		"requests": 60, "bytes": 1 << 20, "servers": []map[string]any{
			{"node": "node-a", "payout": "op-a", "requests": 10, "bytes": 1000},
			{"node": "node-b", "payout": "op-b", "requests": 30, "bytes": 777777},
			{"node": "node-c", "payout": "op-a", "requests": 5, "bytes": 3},
			{"node": "node-d", "payout": "op-d", "requests": 15, "bytes": 270796},
		}}})
	bench(b, plugins.EntrySplit, in, nil)
}

// BenchmarkResolve looks a tile up in a 5461-tile archive (gzip
// directories, a root and leaves of 256 entries): header, root and one leaf
// read through object_read and decoded per call.
func BenchmarkResolve(b *testing.B) {
	arc, _ := testArchive(b)
	m := normalizedExample(b, load(b), uint64(len(arc)))
	in, _ := json.Marshal(plugins.ResolveInput{Manifest: m, Path: "/6/40/21", PayloadSize: uint64(len(arc))})
	bench(b, plugins.EntryResolve, in, arc)
}
