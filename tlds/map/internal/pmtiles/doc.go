// Package pmtiles reads PMTiles version 3 archives through an io.ReaderAt,
// the way the .map plugin finds a tile's byte range inside a payload it can
// only see through the host's object_read, and writes small archives for
// tests.
//
// The format (https://github.com/protomaps/PMTiles, spec/v3): a 127-byte
// little-endian header; a root directory that must end within the first
// 16384 bytes; JSON metadata; optional leaf directories; tile data. A
// directory is a varint count, then the columns of its entries (tile IDs
// delta-encoded, run lengths, lengths, offsets written as 0 when contiguous
// with the previous entry and offset+1 otherwise), optionally gzip
// compressed. An entry with run length 0 points at a leaf directory. Tile
// IDs number the tiles of every zoom level in turn, each level along a
// Hilbert curve: ID(z, x, y) = (4^z - 1) / 3 + hilbert_z(x, y).
//
// The reader reads only what a lookup needs (header, root, at most
// [MaxDepth] leaves, each directory at most once: a leaf that points back
// at a directory already read is a cycle, refused), bounds every length it is given by the archive's size
// and by [MaxDirectoryBytes], and reports a malformed archive with
// [ErrFormat] and an archive it cannot read (brotli or zstd directories)
// with [ErrUnsupported]. It never panics on any input.
//
// It imports only the standard library (it runs inside a wasip1 plugin).
package pmtiles
