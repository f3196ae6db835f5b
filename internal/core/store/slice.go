package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// Verifiable streams. A slice is Bao's slice encoding (group 6): the 8-byte
// little-endian length header, then the tree in pre-order, keeping only the
// parent nodes (64 bytes: left and right chaining values) and the 64 KiB
// groups whose bytes meet the range. The slice of the whole object is Bao's
// combined encoding. A receiver checks every parent node against the one
// above it, from the CID down, and every group against its parent, before
// it uses a byte (DecodeSlice); bao.VerifySlice and any Bao implementation
// with 64 KiB groups read it too.

// SliceError says which group of a slice failed verification: its bytes, or
// a tree node above them, are not what hashes up to the CID.
type SliceError struct {
	CID   cid.CID
	Group int64 // index of the 64 KiB group
	Off   int64 // its first byte
	End   int64 // one past its last byte
}

func (e *SliceError) Error() string {
	return fmt.Sprintf("store: group %d (bytes %d-%d) of %s does not verify: its bytes or the tree nodes above them were changed",
		e.Group, e.Off, e.End-1, e.CID)
}

// Unwrap makes a SliceError an ErrCorrupt.
func (e *SliceError) Unwrap() error { return ErrCorrupt }

// SliceLen is the length of the slice of length bytes from off of an object
// of size bytes.
func SliceLen(size, off, length int64) int64 {
	n := int64(8)
	var walk func(pos, l int64)
	walk = func(pos, l int64) {
		if !(pos < off+length && off < pos+l) {
			return
		}
		if l <= GroupSize {
			n += l
			return
		}
		n += 64
		mid := int64(1) << (bits.Len64(uint64(l-1)) - 1)
		walk(pos, mid)
		walk(pos+mid, l-mid)
	}
	walk(0, size)
	return n
}

// SliceGroups returns the group-aligned span [start, end) whose bytes the
// slice of length bytes from off carries: what WriteSlice reads from groups.
func SliceGroups(size, off, length int64) (start, end int64) {
	if length <= 0 {
		return off &^ (GroupSize - 1), off &^ (GroupSize - 1)
	}
	return off &^ (GroupSize - 1), min((off+length+GroupSize-1)&^(GroupSize-1), size)
}

// WriteSlice writes to w the slice of length bytes from off of the object
// whose full outboard (Store.Outboard: header and parent nodes) is ob;
// groups yields the bytes of SliceGroups, in order (read them verified, as
// Store.ReadRange does). It streams: memory stays at one group.
func WriteSlice(w io.Writer, ob []byte, groups io.Reader, off, length int64) error {
	if len(ob) < 8 {
		return fmt.Errorf("store: an outboard has at least its 8-byte header")
	}
	size := int64(binary.LittleEndian.Uint64(ob))
	if off < 0 || length < 0 || off > size || length > size-off {
		return fmt.Errorf("%w: slice of %d bytes at %d of an object of %d", ErrRange, length, off, size)
	}
	if err := bao.ExtractSlice(w, groups, bytes.NewReader(ob), Group, uint64(off), uint64(length)); err != nil {
		return fmt.Errorf("store: writing a slice: %w", err)
	}
	return nil
}

// DecodeSlice reads a slice of c from src, checks it against c alone, and
// writes the verified bytes of [off, off+length) to dst; length < 0 means
// to the end of the object, whose size the slice's header gives (and, for
// a slice that reaches the end, proves). It returns that size. It writes a
// group's bytes only once the group has verified, so what reached dst is
// always true; a group that fails ends the read with a *SliceError naming
// it. A slice cut short fails with io.ErrUnexpectedEOF, one with bytes after
// its end with ErrCorrupt.
//
// The size of a slice that stops short of the object's end is the sender's
// claim: BLAKE3 binds the length only through the last group.
func DecodeSlice(dst io.Writer, src io.Reader, c cid.CID, off, length int64) (int64, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil {
		return 0, fmt.Errorf("store: the slice of %s ends before its length header: %w", c, io.ErrUnexpectedEOF)
	}
	u := binary.LittleEndian.Uint64(hdr[:])
	if u > 1<<62 {
		return 0, fmt.Errorf("%w: the slice of %s claims %d bytes", ErrCorrupt, c, u)
	}
	size := int64(u)
	if length < 0 && off <= size {
		length = size - off
	}
	if off < 0 || length < 0 || off > size || length > size-off {
		return size, fmt.Errorf("%w: %d bytes at %d of %s, which has %d (says the slice)", ErrRange, length, off, c, size)
	}
	if size == 0 && c != cid.Sum(nil) {
		return size, &SliceError{CID: c}
	}
	cw := &sliceWriter{w: dst}
	ok, err := bao.DecodeSlice(cw, io.MultiReader(bytes.NewReader(hdr[:]), src), Group, uint64(off), uint64(length), c)
	switch {
	case cw.err != nil:
		return size, cw.err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return size, fmt.Errorf("store: the slice of %s ends early, after %d verified bytes: %w", c, cw.n, io.ErrUnexpectedEOF)
	case err != nil:
		return size, fmt.Errorf("store: reading the slice of %s: %w", c, err)
	case !ok:
		pos := off + cw.n
		g := pos / GroupSize
		return size, &SliceError{CID: c, Group: g, Off: g * GroupSize, End: min((g+1)*GroupSize, size)}
	}
	var one [1]byte
	if n, _ := io.ReadFull(src, one[:]); n > 0 {
		return size, fmt.Errorf("%w: the slice of %s has bytes after its end", ErrCorrupt, c)
	}
	return size, nil
}

// sliceWriter counts the verified bytes written and keeps the writer's own
// error apart from the decoder's.
type sliceWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (s *sliceWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.n += int64(n)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}
