package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"

	"lukechampine.com/blake3/bao"
	"lukechampine.com/blake3/guts"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// Outboard returns c's size and its full Bao outboard (group 6) as the store
// keeps it: the 8-byte little-endian length header followed by the parent
// nodes in pre-order. For objects of one group or less it is the header
// alone; for inline objects it is computed from the bytes. The outboard is
// checked with VerifyOutboard before it is returned (a store never hands out
// a tree that does not hash up to the CID), and it is the caller's copy.
// It fails with ErrNotFound if c is not stored, ErrCorrupt if what is stored
// is damaged.
func (s *Store) Outboard(ctx context.Context, c cid.CID) (size int64, ob []byte, err error) {
	done, err := s.enter()
	if err != nil {
		return 0, nil, err
	}
	defer done()
	r, err := s.record(c)
	if err != nil {
		return 0, nil, err
	}
	if r.kind == kindInline {
		var root [32]byte
		ob, root = bao.EncodeBuf(r.inline, Group, true)
		if cid.CID(root) != c {
			return 0, nil, fmt.Errorf("%w: inline object %s", ErrCorrupt, c)
		}
		return r.size, ob, nil
	}
	stored, err := s.outboard(c, r.size)
	if err != nil {
		return 0, nil, err
	}
	if err := VerifyOutboard(c, r.size, stored); err != nil {
		s.cache.drop(c)
		return 0, nil, fmt.Errorf("%w (stored outboard of %s)", err, c)
	}
	return r.size, append([]byte(nil), stored...), nil
}

// outboardLen is the length of a full outboard (with its header) of size bytes.
func outboardLen(size int64) int64 {
	if size <= GroupSize {
		return 8
	}
	return outboardSize(size)
}

// VerifyOutboard checks that ob is a well-formed outboard of size bytes
// (its length header says size, its length is exactly that of such an
// outboard) and that every parent node in it hashes up to c: each node's two
// child chaining values compress (guts.ParentNode) to the chaining value its
// parent holds for it, and the root node, with the ROOT flag, to c itself.
// The leaves (the chunk groups' chaining values) cannot be checked without
// the bytes; Ingest.WriteGroups checks those. For an empty object c must be
// the hash of nothing.
//
// Note what this cannot prove: the size. BLAKE3 binds the length only
// through the last group's bytes, so an outboard whose header claims another
// size with the same tree above the last leaf (for example any size in
// (2, 3] groups for a 3-group object) passes. No bytes will ever verify
// against such a last group, so an Ingest made from it never completes: it
// stores nothing wrong, but a fetch driven by it fails on its last group
// whoever serves it. A fetcher should take the last group from the peer that
// gave it the outboard and blame that peer when it fails.
//
// Every error wraps ErrCorrupt.
func VerifyOutboard(c cid.CID, size int64, ob []byte) error {
	if size < 0 || size > 1<<62 {
		return fmt.Errorf("%w: outboard of %s: invalid size %d", ErrCorrupt, c, size)
	}
	if want := outboardLen(size); int64(len(ob)) != want {
		return fmt.Errorf("%w: outboard of %s: %d bytes, an outboard of %d bytes has %d", ErrCorrupt, c, len(ob), size, want)
	}
	if h := binary.LittleEndian.Uint64(ob); h != uint64(size) {
		return fmt.Errorf("%w: outboard of %s: its header says %d bytes, not %d", ErrCorrupt, c, h, size)
	}
	if size == 0 {
		if c != cid.Sum(nil) {
			return fmt.Errorf("%w: %s is not the hash of 0 bytes", ErrCorrupt, c)
		}
		return nil
	}
	v := outboardVerifier{nodes: ob[8:]}
	if !v.check(bytesToCV(c[:]), uint64(size), guts.FlagRoot) {
		return fmt.Errorf("%w: outboard of %s: the parent node at byte %d does not hash up to the CID", ErrCorrupt, c, 8+v.bad)
	}
	return nil
}

// outboardVerifier walks the pre-order parent nodes of an outboard.
type outboardVerifier struct {
	nodes []byte
	pos   int // next node
	bad   int // offset of the node that failed
}

// check verifies the subtree of bufLen bytes whose chaining value is cv.
func (v *outboardVerifier) check(cv [8]uint32, bufLen uint64, flags uint32) bool {
	if bufLen <= GroupSize {
		return true // a leaf: its bytes are needed to check it
	}
	at := v.pos
	l, r := bytesToCV(v.nodes[at:at+32]), bytesToCV(v.nodes[at+32:at+64])
	v.pos += 64
	if guts.ChainingValue(guts.ParentNode(l, r, &guts.IV, flags)) != cv {
		v.bad = at
		return false
	}
	mid := uint64(1) << (bits.Len64(bufLen-1) - 1)
	return v.check(l, mid, 0) && v.check(r, bufLen-mid, 0)
}

func bytesToCV(b []byte) (cv [8]uint32) {
	_ = b[31]
	for i := range cv {
		cv[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return cv
}
