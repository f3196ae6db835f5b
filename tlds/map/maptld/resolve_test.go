package maptld_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
	"github.com/ronhost/ronhost/tlds/map/internal/pmtiles"
	"github.com/ronhost/ronhost/tlds/map/maptld"
)

// fataler is what testing.TB and *rapid.T share.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func mustJSON(t fataler, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeAllocs(t fataler, out []byte) []ron.Allocation {
	t.Helper()
	var res ron.SplitOutput
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res.Allocations
}

// tileData is the content of tile z/x/y in the test archives.
func tileData(z uint8, x, y uint32) []byte {
	return []byte(fmt.Sprintf("tile %d/%d/%d %s", z, x, y, strings.Repeat("#", int(x+y)%7)))
}

// archive builds a PMTiles archive of every tile of zooms 0..maxZ whose x
// is even, plus a blank ocean tile shared by all tiles of row 0 at zoom
// maxZ (deduplicated into runs).
func archive(t testing.TB, maxZ uint8, opts pmtiles.WriteOptions) []byte {
	t.Helper()
	var tiles []pmtiles.Tile
	for z := uint8(0); z <= maxZ; z++ {
		for x := uint32(0); x < 1<<z; x++ {
			for y := uint32(0); y < 1<<z; y++ {
				switch {
				case z == maxZ && y == 0:
					tiles = append(tiles, pmtiles.Tile{Z: z, X: x, Y: y, Data: []byte("ocean")})
				case x%2 == 0:
					tiles = append(tiles, pmtiles.Tile{Z: z, X: x, Y: y, Data: tileData(z, x, y)})
				}
			}
		}
	}
	b, err := pmtiles.Write(tiles, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tileManifest is a normalized .map manifest for a PMTiles payload.
func tileManifest(t testing.TB, extra string) *ron.Manifest {
	return normalized(t, `{"meta":{"tld":"map"},"payload":{"cid":"b3:00","size":1000,"media_type":"application/vnd.pmtiles"},`+
		`"map":{"format":"pmtiles","license":"CC0-1.0","creators":[{"name":"A","payout":"ron1a"}]`+extra+`}}`)
}

func resolve(t testing.TB, m *ron.Manifest, path string, arc []byte) (ron.ResolveOutput, error) {
	t.Helper()
	return rontest.New(maptld.New()).Resolve(ctx, ron.ResolveInput{Manifest: m, Path: path, PayloadSize: uint64(len(arc))}, bytes.NewReader(arc))
}

func TestResolveTiles(t *testing.T) {
	const maxZ = 5
	m := tileManifest(t, `,"maxzoom":5`)
	for _, opts := range []pmtiles.WriteOptions{
		{TileType: pmtiles.TileMVT},
		{TileType: pmtiles.TileMVT, Compression: pmtiles.CompressionGzip},
		{TileType: pmtiles.TileMVT, Compression: pmtiles.CompressionGzip, DirEntries: 64},
		{TileType: pmtiles.TileMVT, DirEntries: 16},
	} {
		arc := archive(t, maxZ, opts)
		for z := uint8(0); z <= maxZ; z++ {
			for x := uint32(0); x < 1<<z; x++ {
				for y := uint32(0); y < 1<<z; y++ {
					path := fmt.Sprintf("/%d/%d/%d", z, x, y)
					got, err := resolve(t, m, path, arc)
					if err != nil {
						t.Fatalf("%+v %s: %v", opts, path, err)
					}
					var want []byte
					switch {
					case z == maxZ && y == 0:
						want = []byte("ocean")
					case x%2 == 0:
						want = tileData(z, x, y)
					}
					if want == nil {
						if got.Status != 404 {
							t.Fatalf("%+v %s: %+v, want 404", opts, path, got)
						}
						continue
					}
					if got.Status != 200 || got.ContentType != maptld.ContentTypeMVT {
						t.Fatalf("%+v %s: %+v", opts, path, got)
					}
					if b := arc[got.Offset : got.Offset+got.Length]; !bytes.Equal(b, want) {
						t.Fatalf("%+v %s: serves %q, want %q", opts, path, b, want)
					}
				}
			}
		}
	}
}

func TestResolvePaths(t *testing.T) {
	arc := archive(t, 3, pmtiles.WriteOptions{TileType: pmtiles.TilePNG, Compression: pmtiles.CompressionGzip})
	m := tileManifest(t, `,"minzoom":1,"maxzoom":3`)
	tms := tileManifest(t, `,"minzoom":1,"maxzoom":3,"scheme":"tms"`)
	serves := func(m *ron.Manifest, path string) string {
		got, err := resolve(t, m, path, arc)
		if err != nil {
			return "error " + err.Error()
		}
		if got.Status != 200 {
			return fmt.Sprint(got.Status)
		}
		if got.Offset == 0 && got.Length == uint64(len(arc)) {
			return "whole " + got.ContentType
		}
		return string(arc[got.Offset:got.Offset+got.Length]) + " " + got.ContentType
	}
	for _, c := range []struct {
		m          *ron.Manifest
		path, want string
	}{
		{m, "/", "whole application/vnd.pmtiles"},
		{m, "", "whole application/vnd.pmtiles"},
		{m, "/2/2/1", string(tileData(2, 2, 1)) + " image/png"},
		{m, "/2/2/1.png", string(tileData(2, 2, 1)) + " image/png"},
		{m, "/2/2/1.mvt", "404"}, // the archive holds PNG tiles
		{m, "/2/2/1.", "404"},    // empty extension
		{m, "/2/2/1.PNG", "404"}, // extensions are lowercase
		{m, "/0/0/0", "404"},     // below the manifest's minzoom (the archive has it)
		{m, "/4/0/0", "404"},     // above maxzoom
		{m, "/2/4/0", "404"},     // outside the 4x4 grid
		{m, "/2/1/1", "404"},     // odd x: not in the archive
		{m, "/02/2/1", "404"},    // leading zero
		{m, "/2/+2/1", "404"},    // sign
		{m, "/2/2/1/", "404"},    // trailing slash
		{m, "/2/2", "404"},       // too short
		{m, "//2/2/1", "404"},    // empty segment
		{m, "/metadata", "404"},  // nothing else
		{m, "/99999999999/0/0", "404"},
		// TMS counts rows from the south: row 2 of 4 is XYZ row 1.
		{tms, "/2/2/2", string(tileData(2, 2, 1)) + " image/png"},
		{tms, "/3/6/7", "ocean image/png"}, // TMS row 7 of 8 = XYZ row 0
	} {
		if got := serves(c.m, c.path); got != c.want {
			t.Errorf("%q: got %q, want %q", c.path, got, c.want)
		}
	}
	// A format other than pmtiles serves the whole payload at / only.
	raster := normalized(t, maptld.ExampleRaster)
	if got := serves(raster, "/"); got != "whole image/png" {
		t.Errorf("raster /: %s", got)
	}
	if got := serves(raster, "/0/0/0"); got != "404" {
		t.Errorf("raster /0/0/0: %s", got)
	}
}

func TestResolveCorruptArchive(t *testing.T) {
	m := tileManifest(t, `,"maxzoom":3`)
	arc := archive(t, 3, pmtiles.WriteOptions{TileType: pmtiles.TileMVT, DirEntries: 8})
	for name, b := range map[string][]byte{
		"not an archive": bytes.Repeat([]byte("ron\n"), 100),
		"truncated":      arc[:len(arc)/2],
		"header only":    arc[:127],
	} {
		_, err := resolve(t, m, "/1/0/1", b)
		r, ok := ron.AsRejection(err)
		if !ok || r.Errors[0].Path != "payload" || r.Errors[0].Code != maptld.CodePMTiles {
			t.Errorf("%s: %v, want a payload:pmtiles rejection", name, err)
		}
	}
	// Random damage never faults: the answer is a tile range inside the
	// payload, a 404 or a rejection.
	h := rontest.New(maptld.New())
	rapid.Check(t, func(t *rapid.T) {
		b := append([]byte(nil), arc...)
		for range rapid.IntRange(1, 8).Draw(t, "flips") {
			b[rapid.IntRange(0, len(b)-1).Draw(t, "at")] = byte(rapid.IntRange(0, 255).Draw(t, "byte"))
		}
		z := rapid.Uint8Range(0, 3).Draw(t, "z")
		path := fmt.Sprintf("/%d/%d/%d", z, rapid.Uint32Range(0, 1<<z-1).Draw(t, "x"), rapid.Uint32Range(0, 1<<z-1).Draw(t, "y"))
		in := mustJSON(t, ron.ResolveInput{Manifest: m, Path: path, PayloadSize: uint64(len(b))})
		status, out, err := h.Call(ctx, ron.EntryResolve, in, bytes.NewReader(b))
		if err != nil || (status != ron.StatusOK && status != ron.StatusRejected) {
			t.Fatalf("%s: status %d %v: %s", path, status, err, out)
		}
	})
}

func BenchmarkResolveNative(b *testing.B) {
	m := tileManifest(b, `,"maxzoom":8`)
	arc := archive(b, 8, pmtiles.WriteOptions{TileType: pmtiles.TileMVT, Compression: pmtiles.CompressionGzip, DirEntries: 4096})
	in := mustJSON(b, ron.ResolveInput{Manifest: m, Path: "/8/100/77", PayloadSize: uint64(len(arc))})
	p := maptld.New()
	r := bytes.NewReader(arc)
	for b.Loop() {
		if status, out := ron.Dispatch(p, ron.EntryResolve, in, r); status != 0 {
			b.Fatalf("%d %s", status, out)
		}
	}
}
