package pmtiles

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Tile IDs published with the format: the spec's table (z 0 to 2 and the
// z12 row) and the Rust reference implementation's tests.
func TestZXYToIDSpecVectors(t *testing.T) {
	for _, v := range []struct {
		z    uint8
		x, y uint32
		id   uint64
	}{
		{0, 0, 0, 0}, {1, 0, 0, 1}, {1, 0, 1, 2}, {1, 1, 1, 3}, {1, 1, 0, 4}, {2, 0, 0, 5},
		{2, 1, 3, 11}, {3, 3, 0, 26}, {12, 3423, 1763, 19078479},
	} {
		id, err := ZXYToID(v.z, v.x, v.y)
		if err != nil || id != v.id {
			t.Errorf("ZXYToID(%d,%d,%d) = %d, %v; want %d", v.z, v.x, v.y, id, err, v.id)
		}
		z, x, y, err := IDToZXY(v.id)
		if err != nil || z != v.z || x != v.x || y != v.y {
			t.Errorf("IDToZXY(%d) = %d/%d/%d, %v; want %d/%d/%d", v.id, z, x, y, err, v.z, v.x, v.y)
		}
	}
}

// TestHilbertCurve checks every tile of zooms 0 to 7: each zoom's IDs are
// exactly the next 4^z integers, and consecutive IDs are neighbouring tiles
// (the curve never jumps), which three plausible wrong orders (row-major,
// Z-order, an unrotated curve) all break.
func TestHilbertCurve(t *testing.T) {
	for z := uint8(0); z <= 7; z++ {
		n := uint32(1) << z
		byID := make(map[uint64][2]uint32, n*n)
		for x := range n {
			for y := range n {
				id, err := ZXYToID(z, x, y)
				if err != nil {
					t.Fatal(err)
				}
				if _, dup := byID[id]; dup {
					t.Fatalf("z%d: ID %d twice", z, id)
				}
				byID[id] = [2]uint32{x, y}
			}
		}
		start := levelStart(z)
		for i := range uint64(n) * uint64(n) {
			p, ok := byID[start+i]
			if !ok {
				t.Fatalf("z%d: ID %d missing", z, start+i)
			}
			if i > 0 {
				q := byID[start+i-1]
				dx, dy := int64(p[0])-int64(q[0]), int64(p[1])-int64(q[1])
				if dx*dx+dy*dy != 1 {
					t.Fatalf("z%d: IDs %d and %d are tiles %v and %v, not neighbours", z, start+i-1, start+i, q, p)
				}
			}
		}
	}
}

func TestTileIDRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		z := rapid.Uint8Range(0, MaxZoom).Draw(t, "z")
		max := uint32(1<<z - 1)
		x := rapid.Uint32Range(0, max).Draw(t, "x")
		y := rapid.Uint32Range(0, max).Draw(t, "y")
		id, err := ZXYToID(z, x, y)
		if err != nil {
			t.Fatal(err)
		}
		if id < levelStart(z) || (z < MaxZoom && id >= levelStart(z+1)) {
			t.Fatalf("ID %d outside zoom %d", id, z)
		}
		z2, x2, y2, err := IDToZXY(id)
		if err != nil || z2 != z || x2 != x || y2 != y {
			t.Fatalf("%d/%d/%d -> %d -> %d/%d/%d %v", z, x, y, id, z2, x2, y2, err)
		}
	})
	for _, c := range []struct {
		z    uint8
		x, y uint32
	}{{1, 2, 0}, {1, 0, 2}, {MaxZoom + 1, 0, 0}, {5, 32, 0}} {
		if _, err := ZXYToID(c.z, c.x, c.y); err == nil {
			t.Errorf("ZXYToID(%d,%d,%d) accepted", c.z, c.x, c.y)
		}
	}
	if _, _, _, err := IDToZXY(^uint64(0)); err == nil {
		t.Error("IDToZXY(2^64-1) accepted")
	}
}

// handArchive is a three-tile archive assembled byte by byte from the spec,
// independently of Write: 0/0/0 = "A", 1/0/0 = "BC", 1/1/0 = "A" (the same
// bytes as 0/0/0, so the same offset).
func handArchive() []byte {
	root := []byte{
		3,       // three entries
		0, 1, 3, // tile IDs 0, 1, 4 as deltas
		1, 1, 1, // run lengths
		1, 2, 1, // lengths
		1, 0, 1, // offsets: 0 (written +1), contiguous, 0 (written +1)
	}
	h := make([]byte, 127)
	copy(h, "PMTiles")
	h[7] = 3
	put := func(off int, v uint64) { binary.LittleEndian.PutUint64(h[off:], v) }
	put(8, 127)           // root offset
	put(16, 13)           // root length
	put(24, 140)          // metadata offset
	put(32, 2)            // metadata length
	put(40, 142)          // leaf directories offset
	put(48, 0)            // leaf directories length
	put(56, 142)          // tile data offset
	put(64, 3)            // tile data length
	put(72, 3)            // addressed tiles
	put(80, 3)            // tile entries
	put(88, 2)            // tile contents
	h[96] = 1             // clustered
	h[97], h[98] = 1, 1   // internal and tile compression: none
	h[99] = 2             // PNG
	h[100], h[101] = 0, 1 // zooms
	out := append(h, root...)
	out = append(out, "{}"...)
	return append(out, "ABC"...)
}

func TestHandAssembledArchive(t *testing.T) {
	arc := handArchive()
	rd, err := Open(bytes.NewReader(arc), uint64(len(arc)))
	if err != nil {
		t.Fatal(err)
	}
	if rd.Header.TileType != TilePNG || rd.Header.MaxZoom != 1 || !rd.Header.Clustered || rd.Header.DataOffset != 142 {
		t.Fatalf("header %+v", rd.Header)
	}
	want := map[uint64]Range{0: {142, 1}, 1: {143, 2}, 4: {142, 1}}
	for id := uint64(0); id < 30; id++ {
		r, ok, err := rd.Find(id)
		if err != nil {
			t.Fatal(err)
		}
		w, exp := want[id]
		if ok != exp || r != w {
			t.Errorf("Find(%d) = %v %v, want %v %v", id, r, ok, w, exp)
		}
	}
	// Write produces exactly these bytes for these tiles.
	got, err := Write([]Tile{{1, 1, 0, []byte("A")}, {0, 0, 0, []byte("A")}, {1, 0, 0, []byte("BC")}},
		WriteOptions{TileType: TilePNG})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, arc) {
		t.Fatalf("Write:\n got %x\nwant %x", got, arc)
	}
}

// TestWriteRead writes random tile sets in every layout (root only, one or
// more leaf levels, gzip or not) and finds every tile, and no other.
func TestWriteRead(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		maxZ := rapid.Uint8Range(0, 5).Draw(t, "maxz")
		n := rapid.IntRange(1, 300).Draw(t, "n")
		contents := rapid.IntRange(1, 5).Draw(t, "contents")
		tiles := map[uint64][]byte{}
		var list []Tile
		for range n {
			z := rapid.Uint8Range(0, maxZ).Draw(t, "z")
			x := rapid.Uint32Range(0, 1<<z-1).Draw(t, "x")
			y := rapid.Uint32Range(0, 1<<z-1).Draw(t, "y")
			id, _ := ZXYToID(z, x, y)
			if _, dup := tiles[id]; dup {
				continue
			}
			data := []byte(fmt.Sprintf("tile-%d", rapid.IntRange(0, contents-1).Draw(t, "content")))
			tiles[id] = data
			list = append(list, Tile{z, x, y, data})
		}
		opts := WriteOptions{
			Compression: rapid.SampledFrom([]Compression{CompressionNone, CompressionGzip}).Draw(t, "compression"),
			DirEntries:  rapid.SampledFrom([]int{0, 2, 3, 7, 64}).Draw(t, "dir"),
			TileType:    TileMVT,
		}
		arc, err := Write(list, opts)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := Open(bytes.NewReader(arc), uint64(len(arc)))
		if err != nil {
			t.Fatal(err)
		}
		if rd.Header.AddressedTiles != uint64(len(tiles)) {
			t.Fatalf("addressed tiles %d, want %d", rd.Header.AddressedTiles, len(tiles))
		}
		levels, m := 0, rd.Header.TileEntries
		for opts.DirEntries > 0 && m > uint64(opts.DirEntries) {
			m = (m + uint64(opts.DirEntries) - 1) / uint64(opts.DirEntries)
			levels++
		}
		for id := uint64(0); id < levelStart(maxZ+1); id++ {
			r, ok, err := rd.Find(id)
			if levels > MaxDepth {
				// More leaf levels than a lookup follows: refused, never misread.
				if _, present := tiles[id]; present && !errors.Is(err, ErrFormat) {
					t.Fatalf("Find(%d) through %d leaf levels: %v %v, want ErrFormat", id, levels, ok, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Find(%d): %v", id, err)
			}
			want, exp := tiles[id]
			if ok != exp {
				t.Fatalf("Find(%d) found=%v, want %v", id, ok, exp)
			}
			if ok && !bytes.Equal(arc[r.Offset:r.Offset+r.Length], want) {
				t.Fatalf("Find(%d) = %q, want %q", id, arc[r.Offset:r.Offset+r.Length], want)
			}
		}
	})
}

func TestDepthLimit(t *testing.T) {
	var list []Tile
	for x := range uint32(8) {
		for y := range uint32(8) {
			list = append(list, Tile{3, x, y, []byte{byte(x), byte(y)}})
		}
	}
	// 64 entries, two per directory: leaves five levels deep.
	arc, err := Write(list, WriteOptions{DirEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := Open(bytes.NewReader(arc), uint64(len(arc)))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ZXYToID(3, 1, 1)
	if _, _, err := rd.Find(id); !errors.Is(err, ErrFormat) {
		t.Fatalf("Find through 5 leaf levels: %v, want ErrFormat", err)
	}
	// Four per directory: 16, 4, root — two leaf levels, fine.
	arc, _ = Write(list, WriteOptions{DirEntries: 4, Compression: CompressionGzip})
	rd, _ = Open(bytes.NewReader(arc), uint64(len(arc)))
	r, ok, err := rd.Find(id)
	if err != nil || !ok || !bytes.Equal(arc[r.Offset:r.Offset+r.Length], []byte{1, 1}) {
		t.Fatalf("Find: %v %v %v", r, ok, err)
	}
}

func TestDecodeDirectoryRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty input":        {},
		"zero entries":       {0},
		"count too large":    {200, 1, 0, 1, 1, 1},
		"truncated":          {2, 0, 1, 1, 1, 1, 1},
		"repeated tile ID":   {2, 5, 0, 1, 1, 1, 1, 1, 0},
		"zero length":        {1, 0, 1, 0, 1},
		"first offset zero":  {1, 0, 1, 1, 0},
		"trailing bytes":     {1, 0, 1, 1, 1, 9},
		"overlong varint":    {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 1, 1},
		"length over 32 bit": {1, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 1},
	} {
		if es, err := DecodeDirectory(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v %v, want ErrFormat", name, es, err)
		}
	}
	es := []Entry{{0, 0, 1, 1}, {1, 1, 2, 1}, {4, 0, 1, 1}, {9, 77, 5, 0}}
	got, err := DecodeDirectory(EncodeDirectory(es))
	if err != nil || fmt.Sprint(got) != fmt.Sprint(es) {
		t.Fatalf("round trip: %v %v", got, err)
	}
}

func TestOpenRejects(t *testing.T) {
	good := handArchive()
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"short":            {good[:100], ErrFormat},
		"bad magic":        {mut(func(b []byte) []byte { b[0] = 'X'; return b }), ErrFormat},
		"version 2":        {mut(func(b []byte) []byte { b[7] = 2; return b }), ErrUnsupported},
		"root past end":    {mut(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 1000); return b }), ErrFormat},
		"offset overflows": {mut(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[56:], ^uint64(0)); return b }), ErrFormat},
		"brotli":           {mut(func(b []byte) []byte { b[97] = 3; return b }), ErrUnsupported},
		"no root":          {mut(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 0); return b }), ErrFormat},
	}
	for name, c := range cases {
		if _, err := Open(bytes.NewReader(c.b), uint64(len(c.b))); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// A tile entry pointing past the tile data.
	b := mut(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[64:], 2); return b })
	rd, err := Open(bytes.NewReader(b), uint64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := rd.Find(1); !errors.Is(err, ErrFormat) {
		t.Fatalf("tile past data: %v", err)
	}
}

// FuzzFind feeds arbitrary archives to Open and Find: they may fail, but
// only with ErrFormat or ErrUnsupported, never a panic, and a found range
// lies inside the archive.
func FuzzFind(f *testing.F) {
	f.Add(handArchive(), uint64(4))
	var list []Tile
	for x := range uint32(4) {
		list = append(list, Tile{2, x, 1, []byte{byte(x)}})
	}
	for _, o := range []WriteOptions{{DirEntries: 2}, {Compression: CompressionGzip, DirEntries: 3}} {
		arc, _ := Write(list, o)
		f.Add(arc, uint64(7))
	}
	f.Fuzz(func(t *testing.T, arc []byte, id uint64) {
		rd, err := Open(bytes.NewReader(arc), uint64(len(arc)))
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Open: %v", err)
			}
			return
		}
		r, ok, err := rd.Find(id)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Find: %v", err)
			}
			return
		}
		if ok && (r.Offset > uint64(len(arc)) || r.Length > uint64(len(arc))-r.Offset) {
			t.Fatalf("range %v outside %d bytes", r, len(arc))
		}
	})
}

// TestCorruptArchives flips and truncates bytes of real archives: every
// lookup answers or fails with ErrFormat/ErrUnsupported.
func TestCorruptArchives(t *testing.T) {
	var list []Tile
	for x := range uint32(8) {
		list = append(list, Tile{3, x, x, bytes.Repeat([]byte{byte(x)}, int(x)+1)})
	}
	arc, err := Write(list, WriteOptions{DirEntries: 3, Compression: CompressionGzip})
	if err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		b := append([]byte(nil), arc...)
		for range rapid.IntRange(1, 4).Draw(t, "flips") {
			i := rapid.IntRange(0, len(b)-1).Draw(t, "at")
			b[i] ^= byte(rapid.IntRange(1, 255).Draw(t, "xor"))
		}
		b = b[:rapid.IntRange(0, len(b)).Draw(t, "len")]
		rd, err := Open(bytes.NewReader(b), uint64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Fatal(err)
			}
			return
		}
		for id := uint64(0); id < 90; id++ {
			r, ok, err := rd.Find(id)
			if err != nil && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Fatal(err)
			}
			if ok && r.Offset+r.Length > uint64(len(b)) {
				t.Fatalf("range %v outside %d bytes", r, len(b))
			}
		}
	})
}

// LookupDirectory answers as FindEntry on DecodeDirectory's entries, for
// well-formed directories and arbitrary bytes alike.
func TestLookupDirectoryMatchesDecode(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var b []byte
		if rapid.Bool().Draw(t, "well-formed") {
			n := rapid.IntRange(1, 40).Draw(t, "entries")
			es := make([]Entry, n)
			var id, off uint64
			for i := range es {
				id += uint64(rapid.IntRange(1, 5).Draw(t, "gap"))
				if rapid.Bool().Draw(t, "contiguous") && i > 0 {
					off = es[i-1].Offset + uint64(es[i-1].Length)
				} else {
					off = uint64(rapid.IntRange(0, 1000).Draw(t, "offset"))
				}
				es[i] = Entry{TileID: id, Offset: off, Length: uint32(rapid.IntRange(1, 50).Draw(t, "length")),
					RunLength: uint32(rapid.IntRange(0, 3).Draw(t, "run"))}
			}
			b = EncodeDirectory(es)
		} else {
			b = rapid.SliceOfN(rapid.Byte(), 0, 24).Draw(t, "bytes")
		}
		for id := uint64(0); id < 260; id++ {
			got, ok, err := LookupDirectory(b, id)
			es, derr := DecodeDirectory(b)
			if (err != nil) != (derr != nil) {
				t.Fatalf("%x: LookupDirectory error %v, DecodeDirectory error %v", b, err, derr)
			}
			if derr != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("%x: %v, want ErrFormat", b, err)
				}
				return
			}
			want, wok := FindEntry(es, id)
			if ok != wok || got != want {
				t.Fatalf("%x: LookupDirectory(%d) = %+v %v, FindEntry = %+v %v", b, id, got, ok, want, wok)
			}
		}
	})
}

// selfLeaf is an archive whose root points at a leaf directory that points
// at itself; the leaf has pad entries before its pointer, to make it as
// large as wanted.
func selfLeaf(pad int) []byte {
	leafEntries := make([]Entry, 0, pad+1)
	for i := range pad {
		leafEntries = append(leafEntries, Entry{TileID: uint64(i), Offset: 0, Length: 1, RunLength: 1})
	}
	// The pointer covers every tile ID from pad on; its range is filled in
	// once the leaf's length is known (it names its own bytes).
	leafEntries = append(leafEntries, Entry{TileID: uint64(pad), Offset: 0, RunLength: 0})
	var leaf []byte
	for l := uint32(1); ; {
		leafEntries[pad].Length = l
		leaf = EncodeDirectory(leafEntries)
		if uint32(len(leaf)) == l {
			break
		}
		l = uint32(len(leaf))
	}
	root := EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: uint32(len(leaf)), RunLength: 0}})
	h := Header{RootOffset: HeaderBytes, RootLength: uint64(len(root)),
		MetadataOffset: HeaderBytes + uint64(len(root)), MetadataLength: 2,
		LeafOffset: HeaderBytes + uint64(len(root)) + 2, LeafLength: uint64(len(leaf)),
		DataOffset: HeaderBytes + uint64(len(root)+2+len(leaf)), DataLength: 1,
		InternalCompression: CompressionNone, TileCompression: CompressionNone, TileType: TilePNG, MaxZoom: 10}
	out := append(h.Bytes(), root...)
	out = append(out, "{}"...)
	out = append(out, leaf...)
	return append(out, 0)
}

// countingReader counts the bytes read.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.n += len(p)
	return c.r.ReadAt(p, off)
}

// A leaf directory pointing at itself is a cycle: refused with ErrFormat
// once the leaf was read once, not read again down to the depth limit.
func TestSelfReferencingLeaf(t *testing.T) {
	arc := selfLeaf(50000)
	cr := &countingReader{r: bytes.NewReader(arc)}
	rd, err := Open(cr, uint64(len(arc)))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ZXYToID(9, 3, 3)
	_, _, err = rd.Find(id)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("Find through a self-referencing leaf: %v, want a cycle refused", err)
	}
	leaf := int(rd.Header.LeafLength)
	if cr.n > HeaderBytes+int(rd.Header.RootLength)+leaf {
		t.Fatalf("read %d bytes: the %d-byte leaf was read more than once", cr.n, leaf)
	}
}
