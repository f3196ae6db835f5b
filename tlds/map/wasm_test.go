package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/tlds/map/internal/pmtiles"
	"github.com/ronhost/ronhost/tlds/map/maptld"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expectations of testdata/cases with what the plugin answers")

// plug is this package built as a module, with the native maptld beside it.
var plug = tldtest.New("map", maptld.New())

func TestMain(m *testing.M) { os.Exit(wasmbuild.RunWithCache(m, &plug.CacheDir)) }

// TestConformance runs the whole conformance suite, generic checks and this
// plugin's cases, on the module through the real host.
func TestConformance(t *testing.T) {
	plug.Conformance(t, 20, *rewrite)
}

// TestReadmeExample takes the Manifest.toml of README.md through the host's
// parser (core/manifest) and the module's validate, as a node would.
func TestReadmeExample(t *testing.T) {
	m := tldtest.ReadmeManifests(t)[0]
	p := plug.Load(t)
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
	p := plug.Load(t)
	arc, want := testArchive(t)
	m := normalizedExample(t, p, uint64(len(arc)))
	ctx := context.Background()
	checked := 0
	for z := uint32(0); z <= 6; z++ {
		for x := uint32(0); x < 1<<z; x += 3 {
			for y := uint32(0); y < 1<<z; y += 2 {
				in := plugins.ResolveInput{Manifest: m, Path: fmt.Sprintf("/%d/%d/%d.mvt", z, x, y), PayloadSize: uint64(len(arc))}
				r, err := p.Resolve(ctx, in, bytes.NewReader(arc))
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

// go test -run '^$' -bench . -benchtime 2000x ./tlds/map/
func BenchmarkValidate(b *testing.B) {
	plug.CompareNative(b, plugins.EntryValidate, []byte(`{"manifest":`+maptld.Example+`,"context":{"tld":"map","payload_size":5242880}}`), nil)
}

func BenchmarkSplit(b *testing.B) {
	m := normalizedExample(b, plug.Load(b), 5242880)
	in := tldtest.SplitInput(m)
	plug.CompareNative(b, plugins.EntrySplit, in, nil)
}

// BenchmarkResolve looks a tile up in a 5461-tile archive (gzip
// directories, a root and leaves of 256 entries): header, root and one leaf
// read through object_read and decoded per call.
func BenchmarkResolve(b *testing.B) {
	arc, _ := testArchive(b)
	m := normalizedExample(b, plug.Load(b), uint64(len(arc)))
	in, _ := json.Marshal(plugins.ResolveInput{Manifest: m, Path: "/6/40/21", PayloadSize: uint64(len(arc))})
	plug.CompareNative(b, plugins.EntryResolve, in, arc)
}
