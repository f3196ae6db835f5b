package gateway

import (
	"fmt"
	"io"

	"github.com/ronhost/ronhost/internal/core/store"
)

// A multipart/byteranges response reads each 64 KiB chunk group it touches
// once: every store read verifies whole groups, so 64 one-byte parts in one
// group would otherwise hash that group 64 times. The parts are sent in
// ascending order (parseRange sorts them for multipart), and the last
// verified group of each part is kept for the next.

// groupCache is the last verified chunk group of the object a response
// streams.
type groupCache struct {
	size  int64 // the object's size
	g     int64 // the group held, -1: none
	data  []byte
	reads int // store reads made (for tests)
}

func newGroupCache(size int64) *groupCache {
	return &groupCache{size: size, g: -1, data: make([]byte, 0, store.GroupSize)}
}

// copyGroups is copyRange for a multipart response: bytes of the cached
// group come from the cache; the rest is read from the store in whole
// groups, and the last of them is kept.
func (s *streamer) copyGroups(off, n int64, before func() error) error {
	gc := s.groups
	end := off + n
	write := func(p []byte) error {
		if before != nil {
			if err := before(); err != nil {
				return err
			}
			before = nil
		}
		nw, err := s.Write(p)
		s.sent += int64(nw)
		return err
	}
	pos := off
	for pos < end {
		g := pos / store.GroupSize
		gstart := g * store.GroupSize
		if gc.g == g {
			hi := min(end, gstart+int64(len(gc.data)))
			if err := write(gc.data[pos-gstart : hi-gstart]); err != nil {
				return err
			}
			pos = hi
			continue
		}
		rend := min(((end-1)/store.GroupSize+1)*store.GroupSize, gc.size)
		if err := s.readGroups(gstart, rend, pos, end, write); err != nil {
			return err
		}
		pos = end
	}
	if before != nil { // an empty range
		return before()
	}
	return nil
}

// readGroups reads the whole groups [rstart, rend) from the store (one
// verification each), writes the bytes of [pos, end) among them, and
// keeps the last group in the cache.
func (s *streamer) readGroups(rstart, rend, pos, end int64, write func([]byte) error) error {
	gc := s.groups
	gc.reads++
	src, err := s.g.objs.ReadRange(s.ctx, s.obj, rstart, rend-rstart)
	if err != nil {
		return err
	}
	defer src.Close()
	last := (rend - 1) / store.GroupSize * store.GroupSize
	// s.buf is a whole number of groups, so chunks stay group-aligned.
	for cs := rstart; cs < rend; {
		buf := s.buf[:min(int64(len(s.buf)), rend-cs)]
		if _, err := io.ReadFull(src, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fmt.Errorf("gateway: object %s ended early at %d: %w", s.obj, cs, io.ErrUnexpectedEOF)
			}
			return err
		}
		ce := cs + int64(len(buf))
		if lo, hi := max(cs, pos), min(ce, end); lo < hi {
			if err := write(buf[lo-cs : hi-cs]); err != nil {
				return err
			}
		}
		if cs <= last && last < ce {
			gc.g, gc.data = last/store.GroupSize, append(gc.data[:0], buf[last-cs:]...)
		}
		cs = ce
	}
	return nil
}
