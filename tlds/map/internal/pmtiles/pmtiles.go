package pmtiles

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"
)

// Errors for errors.Is.
var (
	// ErrFormat reports bytes that are not a well-formed PMTiles v3 archive.
	ErrFormat = errors.New("pmtiles: malformed archive")
	// ErrUnsupported reports a well-formed archive this package cannot read
	// (directories compressed with brotli or zstd, or an unknown compression).
	ErrUnsupported = errors.New("pmtiles: unsupported archive")
)

// Format constants.
const (
	HeaderBytes = 127   // the fixed header
	Version     = 3     // the spec version this package reads
	RootWindow  = 16384 // the root directory must end within these first bytes
	MaxZoom     = 31    // the deepest zoom whose tile IDs fit in a uint64
	MaxDepth    = 3     // leaf directory levels a lookup follows below the root, as the reference readers do
	magic       = "PMTiles"
)

// MaxDirectoryBytes bounds a directory, compressed and decompressed: a
// lookup never holds more than this much of one directory in memory.
const MaxDirectoryBytes = 2 << 20

// Compression is the header's compression enum.
type Compression uint8

// The compressions the spec defines.
const (
	CompressionUnknown Compression = 0
	CompressionNone    Compression = 1
	CompressionGzip    Compression = 2
	CompressionBrotli  Compression = 3
	CompressionZstd    Compression = 4
)

func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionBrotli:
		return "br"
	case CompressionZstd:
		return "zstd"
	}
	return "unknown"
}

// TileType is the header's tile type enum.
type TileType uint8

// The tile types the spec defines.
const (
	TileUnknown TileType = 0
	TileMVT     TileType = 1
	TilePNG     TileType = 2
	TileJPEG    TileType = 3
	TileWebP    TileType = 4
	TileAVIF    TileType = 5
)

// Header is the 127-byte archive header. Offsets and lengths are in bytes
// from the start of the archive; coordinates are degrees times 10^7.
type Header struct {
	RootOffset, RootLength         uint64
	MetadataOffset, MetadataLength uint64
	LeafOffset, LeafLength         uint64
	DataOffset, DataLength         uint64
	AddressedTiles                 uint64 // 0 if unknown
	TileEntries                    uint64 // 0 if unknown
	TileContents                   uint64 // 0 if unknown
	Clustered                      bool
	InternalCompression            Compression
	TileCompression                Compression
	TileType                       TileType
	MinZoom, MaxZoom               uint8
	MinLonE7, MinLatE7             int32
	MaxLonE7, MaxLatE7             int32
	CenterZoom                     uint8
	CenterLonE7, CenterLatE7       int32
}

// ParseHeader decodes the header at the start of b.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderBytes {
		return h, fmt.Errorf("%w: %d bytes, a header has %d", ErrFormat, len(b), HeaderBytes)
	}
	if string(b[:7]) != magic {
		return h, fmt.Errorf("%w: no PMTiles magic number", ErrFormat)
	}
	if b[7] != Version {
		return h, fmt.Errorf("%w: spec version %d, want %d", ErrUnsupported, b[7], Version)
	}
	u := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	i := func(off int) int32 { return int32(binary.LittleEndian.Uint32(b[off:])) }
	h = Header{
		RootOffset: u(8), RootLength: u(16),
		MetadataOffset: u(24), MetadataLength: u(32),
		LeafOffset: u(40), LeafLength: u(48),
		DataOffset: u(56), DataLength: u(64),
		AddressedTiles: u(72), TileEntries: u(80), TileContents: u(88),
		Clustered:           b[96] == 1,
		InternalCompression: Compression(b[97]),
		TileCompression:     Compression(b[98]),
		TileType:            TileType(b[99]),
		MinZoom:             b[100], MaxZoom: b[101],
		MinLonE7: i(102), MinLatE7: i(106), MaxLonE7: i(110), MaxLatE7: i(114),
		CenterZoom:  b[118],
		CenterLonE7: i(119), CenterLatE7: i(123),
	}
	return h, nil
}

// Bytes encodes the header.
func (h Header) Bytes() []byte {
	b := make([]byte, HeaderBytes)
	copy(b, magic)
	b[7] = Version
	for _, f := range []struct {
		off int
		v   uint64
	}{
		{8, h.RootOffset}, {16, h.RootLength}, {24, h.MetadataOffset}, {32, h.MetadataLength},
		{40, h.LeafOffset}, {48, h.LeafLength}, {56, h.DataOffset}, {64, h.DataLength},
		{72, h.AddressedTiles}, {80, h.TileEntries}, {88, h.TileContents},
	} {
		binary.LittleEndian.PutUint64(b[f.off:], f.v)
	}
	if h.Clustered {
		b[96] = 1
	}
	b[97], b[98], b[99] = byte(h.InternalCompression), byte(h.TileCompression), byte(h.TileType)
	b[100], b[101] = h.MinZoom, h.MaxZoom
	for _, f := range []struct {
		off int
		v   int32
	}{{102, h.MinLonE7}, {106, h.MinLatE7}, {110, h.MaxLonE7}, {114, h.MaxLatE7}, {119, h.CenterLonE7}, {123, h.CenterLatE7}} {
		binary.LittleEndian.PutUint32(b[f.off:], uint32(f.v))
	}
	b[118] = h.CenterZoom
	return b
}

// Entry is one directory entry. RunLength 0 makes it a pointer to a leaf
// directory (Offset from the start of the leaf section); otherwise it is
// the tile TileID, repeated for the next RunLength-1 IDs (Offset from the
// start of the tile data section).
type Entry struct {
	TileID    uint64
	Offset    uint64
	Length    uint32
	RunLength uint32
}

// ZXYToID returns the tile ID of tile (z, x, y), XYZ scheme (y grows
// southwards). It fails for z > MaxZoom or x, y outside 0..2^z-1.
func ZXYToID(z uint8, x, y uint32) (uint64, error) {
	if z > MaxZoom {
		return 0, fmt.Errorf("pmtiles: zoom %d is more than %d", z, MaxZoom)
	}
	n := uint64(1) << z
	tx, ty := uint64(x), uint64(y)
	if tx >= n || ty >= n {
		return 0, fmt.Errorf("pmtiles: tile %d/%d/%d is outside the %dx%d grid of zoom %d", z, x, y, n, n, z)
	}
	var d uint64
	for s := n >> 1; s > 0; s >>= 1 {
		var rx, ry uint64
		if tx&s != 0 {
			rx = 1
		}
		if ty&s != 0 {
			ry = 1
		}
		d += s * s * ((3 * rx) ^ ry)
		if ry == 0 { // rotate the quadrant
			if rx == 1 {
				tx, ty = n-1-tx, n-1-ty
			}
			tx, ty = ty, tx
		}
	}
	return levelStart(z) + d, nil
}

// levelStart is the ID of the first tile of zoom z: (4^z - 1) / 3.
func levelStart(z uint8) uint64 { return ((uint64(1) << (2 * uint(z))) - 1) / 3 }

// IDToZXY is the inverse of ZXYToID.
func IDToZXY(id uint64) (z uint8, x, y uint32, err error) {
	for z = 0; z <= MaxZoom; z++ {
		if z == MaxZoom || id < levelStart(z+1) {
			break
		}
	}
	d := id - levelStart(z)
	if d >= uint64(1)<<(2*uint(z)) {
		return 0, 0, 0, fmt.Errorf("pmtiles: tile ID %d is past zoom %d", id, MaxZoom)
	}
	var tx, ty uint64
	for s := uint64(1); s < uint64(1)<<z; s <<= 1 {
		rx := 1 & (d >> 1)
		ry := 1 & (d ^ rx)
		if ry == 0 {
			if rx == 1 {
				tx, ty = s-1-tx, s-1-ty
			}
			tx, ty = ty, tx
		}
		tx += s * rx
		ty += s * ry
		d >>= 2
	}
	return z, uint32(tx), uint32(ty), nil
}

// DecodeDirectory decodes an uncompressed directory. Entries must be in
// strictly ascending TileID order with non-zero lengths; a directory must
// not be empty.
func DecodeDirectory(b []byte) ([]Entry, error) {
	pos := 0
	next := func(what string, i uint64) (uint64, error) {
		v, n := binary.Uvarint(b[pos:])
		if n <= 0 {
			return 0, fmt.Errorf("%w: directory: bad varint for the %s of entry %d at byte %d", ErrFormat, what, i, pos)
		}
		pos += n
		return v, nil
	}
	count, err := next("count", 0)
	if err != nil {
		return nil, err
	}
	if count == 0 {
		return nil, fmt.Errorf("%w: empty directory", ErrFormat)
	}
	// Each entry takes at least four bytes (one varint per column).
	if count > uint64(len(b)-pos)/4 {
		return nil, fmt.Errorf("%w: directory claims %d entries in %d bytes", ErrFormat, count, len(b))
	}
	es := make([]Entry, count)
	var id uint64
	for i := range es {
		delta, err := next("tile ID", uint64(i))
		if err != nil {
			return nil, err
		}
		if i > 0 && delta == 0 {
			return nil, fmt.Errorf("%w: directory: entry %d repeats tile ID %d", ErrFormat, i, id)
		}
		var carry uint64
		id, carry = bits.Add64(id, delta, 0)
		if carry != 0 {
			return nil, fmt.Errorf("%w: directory: tile ID overflows at entry %d", ErrFormat, i)
		}
		es[i].TileID = id
	}
	for i := range es {
		v, err := next("run length", uint64(i))
		if err != nil {
			return nil, err
		}
		if v > 1<<32-1 {
			return nil, fmt.Errorf("%w: directory: run length %d of entry %d is over 32 bits", ErrFormat, v, i)
		}
		es[i].RunLength = uint32(v)
	}
	for i := range es {
		v, err := next("length", uint64(i))
		if err != nil {
			return nil, err
		}
		if v == 0 || v > 1<<32-1 {
			return nil, fmt.Errorf("%w: directory: length %d of entry %d is not 1..2^32-1", ErrFormat, v, i)
		}
		es[i].Length = uint32(v)
	}
	for i := range es {
		v, err := next("offset", uint64(i))
		if err != nil {
			return nil, err
		}
		switch {
		case v > 0:
			es[i].Offset = v - 1
		case i == 0:
			return nil, fmt.Errorf("%w: directory: the first entry's offset is written as 0 (contiguous with nothing)", ErrFormat)
		default:
			var carry uint64
			es[i].Offset, carry = bits.Add64(es[i-1].Offset, uint64(es[i-1].Length), 0)
			if carry != 0 {
				return nil, fmt.Errorf("%w: directory: offset overflows at entry %d", ErrFormat, i)
			}
		}
	}
	if pos != len(b) {
		return nil, fmt.Errorf("%w: directory: %d bytes after the last entry", ErrFormat, len(b)-pos)
	}
	return es, nil
}

// EncodeDirectory is the inverse of DecodeDirectory (uncompressed).
func EncodeDirectory(es []Entry) []byte {
	b := binary.AppendUvarint(nil, uint64(len(es)))
	var last uint64
	for _, e := range es {
		b = binary.AppendUvarint(b, e.TileID-last)
		last = e.TileID
	}
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(e.RunLength))
	}
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(e.Length))
	}
	for i, e := range es {
		if i > 0 && e.Offset == es[i-1].Offset+uint64(es[i-1].Length) {
			b = binary.AppendUvarint(b, 0)
		} else {
			b = binary.AppendUvarint(b, e.Offset+1)
		}
	}
	return b
}

// FindEntry returns the entry of es (sorted by TileID) that holds id: the
// last entry whose TileID is at most id, if it is a leaf pointer or its run
// covers id.
func FindEntry(es []Entry, id uint64) (Entry, bool) {
	i := sort.Search(len(es), func(i int) bool { return es[i].TileID > id }) - 1
	if i < 0 {
		return Entry{}, false
	}
	e := es[i]
	if e.RunLength == 0 || id-e.TileID < uint64(e.RunLength) {
		return e, true
	}
	return Entry{}, false
}

// Reader looks tiles up in one archive.
type Reader struct {
	r      io.ReaderAt
	size   uint64
	Header Header
}

// Open reads and checks the header of the archive of size bytes in r.
func Open(r io.ReaderAt, size uint64) (*Reader, error) {
	if size < HeaderBytes {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrFormat, size, HeaderBytes)
	}
	buf := make([]byte, HeaderBytes)
	if err := readFull(r, buf, 0); err != nil {
		return nil, err
	}
	h, err := ParseHeader(buf)
	if err != nil {
		return nil, err
	}
	for _, s := range []struct {
		name     string
		off, len uint64
	}{
		{"root directory", h.RootOffset, h.RootLength},
		{"leaf directories", h.LeafOffset, h.LeafLength},
		{"tile data", h.DataOffset, h.DataLength},
	} {
		if end, carry := bits.Add64(s.off, s.len, 0); carry != 0 || end > size {
			return nil, fmt.Errorf("%w: the %s (%d+%d) run past the archive's %d bytes", ErrFormat, s.name, s.off, s.len, size)
		}
	}
	if h.RootLength == 0 {
		return nil, fmt.Errorf("%w: no root directory", ErrFormat)
	}
	switch h.InternalCompression {
	case CompressionNone, CompressionGzip:
	default:
		return nil, fmt.Errorf("%w: directories compressed with %s", ErrUnsupported, h.InternalCompression)
	}
	return &Reader{r: r, size: size, Header: h}, nil
}

// Range is a byte range of the archive.
type Range struct{ Offset, Length uint64 }

// Find returns the byte range of tile id, or false when the archive does
// not hold it.
func (rd *Reader) Find(id uint64) (Range, bool, error) {
	h := rd.Header
	off, n := h.RootOffset, h.RootLength
	// Every directory of one lookup is a distinct range: a leaf pointing at
	// itself or at a directory above it is a cycle, refused before it is
	// read again.
	var seen [MaxDepth + 1]Range
	for depth := 0; depth <= MaxDepth; depth++ {
		for _, r := range seen[:depth] {
			if r.Offset == off && r.Length == n {
				return Range{}, false, fmt.Errorf("%w: the leaf directory at %d+%d points back at a directory already read (a cycle)", ErrFormat, off, n)
			}
		}
		seen[depth] = Range{Offset: off, Length: n}
		raw, err := rd.directoryBytes(off, n)
		if err != nil {
			return Range{}, false, err
		}
		e, ok, err := LookupDirectory(raw, id)
		if err != nil {
			return Range{}, false, fmt.Errorf("directory at %d: %w", off, err)
		}
		if !ok {
			return Range{}, false, nil
		}
		if e.RunLength > 0 {
			if end, carry := bits.Add64(e.Offset, uint64(e.Length), 0); carry != 0 || end > h.DataLength {
				return Range{}, false, fmt.Errorf("%w: tile %d at %d+%d is outside the %d bytes of tile data", ErrFormat, id, e.Offset, e.Length, h.DataLength)
			}
			return Range{Offset: h.DataOffset + e.Offset, Length: uint64(e.Length)}, true, nil
		}
		if end, carry := bits.Add64(e.Offset, uint64(e.Length), 0); carry != 0 || end > h.LeafLength {
			return Range{}, false, fmt.Errorf("%w: leaf directory at %d+%d is outside the %d bytes of leaf directories", ErrFormat, e.Offset, e.Length, h.LeafLength)
		}
		off, n = h.LeafOffset+e.Offset, uint64(e.Length)
	}
	return Range{}, false, fmt.Errorf("%w: leaf directories nested more than %d deep", ErrFormat, MaxDepth)
}

// directoryBytes reads and decompresses the directory at off.
func (rd *Reader) directoryBytes(off, n uint64) ([]byte, error) {
	if n > MaxDirectoryBytes {
		return nil, fmt.Errorf("%w: a directory of %d bytes (at most %d)", ErrUnsupported, n, MaxDirectoryBytes)
	}
	raw := make([]byte, n)
	if err := readFull(rd.r, raw, off); err != nil {
		return nil, err
	}
	if rd.Header.InternalCompression == CompressionGzip {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%w: directory at %d: %v", ErrFormat, off, err)
		}
		raw, err = io.ReadAll(io.LimitReader(zr, MaxDirectoryBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%w: directory at %d: %v", ErrFormat, off, err)
		}
		if len(raw) > MaxDirectoryBytes {
			return nil, fmt.Errorf("%w: directory at %d decompresses to more than %d bytes", ErrUnsupported, off, MaxDirectoryBytes)
		}
	}
	return raw, nil
}

// LookupDirectory finds the entry of tile id in an uncompressed directory
// without decoding it into entries: it holds nothing but the bytes, so a
// directory of MaxDirectoryBytes costs one pass over them and no
// allocation. It reports the same entry as FindEntry on DecodeDirectory's
// result, and refuses what DecodeDirectory refuses.
func LookupDirectory(b []byte, id uint64) (Entry, bool, error) {
	pos := 0
	next := func(what string, i uint64) (uint64, error) {
		v, n := binary.Uvarint(b[pos:])
		if n <= 0 {
			return 0, fmt.Errorf("%w: directory: bad varint for the %s of entry %d at byte %d", ErrFormat, what, i, pos)
		}
		pos += n
		return v, nil
	}
	count, err := next("count", 0)
	if err != nil {
		return Entry{}, false, err
	}
	if count == 0 {
		return Entry{}, false, fmt.Errorf("%w: empty directory", ErrFormat)
	}
	if count > uint64(len(b)-pos)/4 {
		return Entry{}, false, fmt.Errorf("%w: directory claims %d entries in %d bytes", ErrFormat, count, len(b))
	}
	// Tile IDs: the entry is the last one whose ID is at most id.
	var cur, hitID uint64
	hit := -1
	for i := uint64(0); i < count; i++ {
		delta, err := next("tile ID", i)
		if err != nil {
			return Entry{}, false, err
		}
		if i > 0 && delta == 0 {
			return Entry{}, false, fmt.Errorf("%w: directory: entry %d repeats tile ID %d", ErrFormat, i, cur)
		}
		var carry uint64
		cur, carry = bits.Add64(cur, delta, 0)
		if carry != 0 {
			return Entry{}, false, fmt.Errorf("%w: directory: tile ID overflows at entry %d", ErrFormat, i)
		}
		if cur <= id {
			hit, hitID = int(i), cur
		}
	}
	var e Entry
	e.TileID = hitID
	for i := uint64(0); i < count; i++ {
		v, err := next("run length", i)
		if err != nil {
			return Entry{}, false, err
		}
		if v > 1<<32-1 {
			return Entry{}, false, fmt.Errorf("%w: directory: run length %d of entry %d is over 32 bits", ErrFormat, v, i)
		}
		if int(i) == hit {
			e.RunLength = uint32(v)
		}
	}
	// Lengths, then offsets: an offset written as 0 continues the previous
	// entry, so both are followed up to the hit.
	lengths := pos
	var prevLen, hitLen uint64
	for i := uint64(0); i < count; i++ {
		v, err := next("length", i)
		if err != nil {
			return Entry{}, false, err
		}
		if v == 0 || v > 1<<32-1 {
			return Entry{}, false, fmt.Errorf("%w: directory: length %d of entry %d is not 1..2^32-1", ErrFormat, v, i)
		}
		if int(i) == hit {
			hitLen = v
		}
	}
	var off uint64
	lp := lengths
	for i := uint64(0); i < count; i++ {
		v, err := next("offset", i)
		if err != nil {
			return Entry{}, false, err
		}
		l, n := binary.Uvarint(b[lp:]) // checked above
		lp += n
		switch {
		case v > 0:
			off = v - 1
		case i == 0:
			return Entry{}, false, fmt.Errorf("%w: directory: the first entry's offset is written as 0 (contiguous with nothing)", ErrFormat)
		default:
			var carry uint64
			off, carry = bits.Add64(off, prevLen, 0)
			if carry != 0 {
				return Entry{}, false, fmt.Errorf("%w: directory: offset overflows at entry %d", ErrFormat, i)
			}
		}
		prevLen = l
		if int(i) == hit {
			e.Offset = off
		}
	}
	if pos != len(b) {
		return Entry{}, false, fmt.Errorf("%w: directory: %d bytes after the last entry", ErrFormat, len(b)-pos)
	}
	if hit < 0 {
		return Entry{}, false, nil
	}
	e.Length = uint32(hitLen)
	if e.RunLength == 0 || id-e.TileID < uint64(e.RunLength) {
		return e, true, nil
	}
	return Entry{}, false, nil
}

// readFull reads len(p) bytes at off; a short archive is ErrFormat.
func readFull(r io.ReaderAt, p []byte, off uint64) error {
	if off > 1<<63-1 {
		return fmt.Errorf("%w: offset %d", ErrFormat, off)
	}
	n, err := r.ReadAt(p, int64(off))
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %d bytes at %d run past the end", ErrFormat, len(p), off)
	}
	return fmt.Errorf("pmtiles: reading %d bytes at %d: %w", len(p), off, err)
}
