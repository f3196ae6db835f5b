package pmtiles

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"sort"
)

// Tile is one tile to write.
type Tile struct {
	Z    uint8
	X, Y uint32
	Data []byte
}

// WriteOptions shape an archive written by Write.
type WriteOptions struct {
	// Compression of the directories and metadata: CompressionNone (the
	// zero value means none) or CompressionGzip.
	Compression Compression
	// TileType and TileCompression are copied into the header.
	TileType        TileType
	TileCompression Compression
	// DirEntries is the most entries a directory holds; when the archive
	// has more, they go into leaf directories, as many levels as needed.
	// 0 puts every entry in the root.
	DirEntries int
	// Metadata is the JSON metadata (default "{}").
	Metadata []byte
	// Bounds and center, degrees times 10^7, copied into the header.
	MinLonE7, MinLatE7, MaxLonE7, MaxLatE7 int32
	CenterZoom                             uint8
	CenterLonE7, CenterLatE7               int32
}

// Write builds an archive holding tiles, laid out as the spec recommends:
// header, root directory, metadata, leaf directories, tile data. Tile
// contents are deduplicated and runs of one content on consecutive IDs
// become one entry, so the data section is clustered. It is meant for
// tests and small archives: it holds everything in memory.
func Write(tiles []Tile, opts WriteOptions) ([]byte, error) {
	if len(tiles) == 0 {
		return nil, fmt.Errorf("pmtiles: no tiles to write")
	}
	if opts.Compression == CompressionUnknown {
		opts.Compression = CompressionNone
	}
	if opts.Compression != CompressionNone && opts.Compression != CompressionGzip {
		return nil, fmt.Errorf("%w: writing directories with %s", ErrUnsupported, opts.Compression)
	}
	type idTile struct {
		id   uint64
		data []byte
	}
	its := make([]idTile, len(tiles))
	minZ, maxZ := uint8(MaxZoom), uint8(0)
	for i, t := range tiles {
		id, err := ZXYToID(t.Z, t.X, t.Y)
		if err != nil {
			return nil, err
		}
		if len(t.Data) == 0 {
			return nil, fmt.Errorf("pmtiles: tile %d/%d/%d is empty", t.Z, t.X, t.Y)
		}
		its[i] = idTile{id, t.Data}
		minZ, maxZ = min(minZ, t.Z), max(maxZ, t.Z)
	}
	sort.Slice(its, func(i, j int) bool { return its[i].id < its[j].id })

	var data bytes.Buffer
	offsets := map[string]uint64{}
	var entries []Entry
	for i, t := range its {
		if i > 0 && t.id == its[i-1].id {
			return nil, fmt.Errorf("pmtiles: tile ID %d written twice", t.id)
		}
		off, seen := offsets[string(t.data)]
		if !seen {
			off = uint64(data.Len())
			offsets[string(t.data)] = off
			data.Write(t.data)
		}
		if n := len(entries); n > 0 {
			last := &entries[n-1]
			if last.Offset == off && last.TileID+uint64(last.RunLength) == t.id {
				last.RunLength++
				continue
			}
		}
		entries = append(entries, Entry{TileID: t.id, Offset: off, Length: uint32(len(t.data)), RunLength: 1})
	}
	tileEntries := uint64(len(entries))

	// Directories: while a level has too many entries, cut it into leaves
	// and point at them from the level above.
	var leaves bytes.Buffer
	level := entries
	for opts.DirEntries > 0 && len(level) > opts.DirEntries {
		var up []Entry
		for start := 0; start < len(level); start += opts.DirEntries {
			chunk := level[start:min(start+opts.DirEntries, len(level))]
			b, err := compress(EncodeDirectory(chunk), opts.Compression)
			if err != nil {
				return nil, err
			}
			up = append(up, Entry{TileID: chunk[0].TileID, Offset: uint64(leaves.Len()), Length: uint32(len(b))})
			leaves.Write(b)
		}
		level = up
	}
	root, err := compress(EncodeDirectory(level), opts.Compression)
	if err != nil {
		return nil, err
	}
	meta := opts.Metadata
	if meta == nil {
		meta = []byte("{}")
	}
	if meta, err = compress(meta, opts.Compression); err != nil {
		return nil, err
	}

	h := Header{
		RootOffset: HeaderBytes, RootLength: uint64(len(root)),
		AddressedTiles: uint64(len(its)), TileEntries: tileEntries, TileContents: uint64(len(offsets)),
		Clustered:           true,
		InternalCompression: opts.Compression, TileCompression: opts.TileCompression, TileType: opts.TileType,
		MinZoom: minZ, MaxZoom: maxZ,
		MinLonE7: opts.MinLonE7, MinLatE7: opts.MinLatE7, MaxLonE7: opts.MaxLonE7, MaxLatE7: opts.MaxLatE7,
		CenterZoom: opts.CenterZoom, CenterLonE7: opts.CenterLonE7, CenterLatE7: opts.CenterLatE7,
	}
	if h.TileCompression == CompressionUnknown {
		h.TileCompression = CompressionNone
	}
	h.MetadataOffset = h.RootOffset + h.RootLength
	h.MetadataLength = uint64(len(meta))
	h.LeafOffset = h.MetadataOffset + h.MetadataLength
	h.LeafLength = uint64(leaves.Len())
	h.DataOffset = h.LeafOffset + h.LeafLength
	h.DataLength = uint64(data.Len())

	out := make([]byte, 0, h.DataOffset+h.DataLength)
	out = append(out, h.Bytes()...)
	out = append(out, root...)
	out = append(out, meta...)
	out = append(out, leaves.Bytes()...)
	out = append(out, data.Bytes()...)
	return out, nil
}

func compress(b []byte, c Compression) ([]byte, error) {
	if c == CompressionNone {
		return b, nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
