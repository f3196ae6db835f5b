package store

import (
	"bytes"
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// Object describes a stored object.
type Object struct {
	CID    cid.CID
	Size   int64
	Inline bool
	Pinned bool
}

// Info returns what the index knows of c, or ErrNotFound.
func (s *Store) Info(ctx context.Context, c cid.CID) (Object, error) {
	done, err := s.enter()
	if err != nil {
		return Object{}, err
	}
	defer done()
	r, err := s.record(c)
	if err != nil {
		return Object{}, err
	}
	pinned, err := s.has(pinKey(c))
	if err != nil {
		return Object{}, err
	}
	return Object{CID: c, Size: r.size, Inline: r.kind == kindInline, Pinned: pinned}, nil
}

// Get returns a reader of the whole object, verified as it is read.
func (s *Store) Get(ctx context.Context, c cid.CID) (io.ReadCloser, error) {
	return s.ReadRange(ctx, c, 0, -1)
}

// ReadRange returns a reader of length bytes of c from off (length < 0: to
// the end). Every chunk group it touches is verified against the outboard and
// the CID before any of its bytes are returned; a mismatch makes Read fail
// with an error wrapping ErrCorrupt that names the bad byte range.
func (s *Store) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	done, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	r, err := s.record(c)
	if err != nil {
		return nil, err
	}
	if length < 0 {
		length = r.size - off
	}
	if off < 0 || length < 0 || off > r.size || length > r.size-off {
		return nil, fmt.Errorf("%w: %d bytes at %d of %s, which has %d", ErrRange, length, off, c, r.size)
	}
	if r.kind == kindInline {
		if cid.Sum(r.inline) != c {
			return nil, fmt.Errorf("%w: inline object %s", ErrCorrupt, c)
		}
		return io.NopCloser(bytes.NewReader(r.inline[off : off+length])), nil
	}
	ob, err := s.outboard(c, r.size)
	if err != nil {
		return nil, err
	}
	f, err := s.fs.Open(s.objectPath(c))
	if err != nil {
		if _, rerr := s.record(c); errors.Is(rerr, ErrNotFound) {
			return nil, rerr // collected meanwhile
		}
		return nil, fmt.Errorf("%w: object %s: its file is missing: %v", ErrCorrupt, c, err)
	}
	return &rangeReader{s: s, ctx: ctx, f: f, ob: ob, cid: c, size: r.size, pos: off, end: off + length}, nil
}

// outboard returns the full Bao outboard of a file object (with its 8-byte
// length header), from the cache or the index.
func (s *Store) outboard(c cid.CID, size int64) ([]byte, error) {
	if size <= GroupSize {
		return lengthHeader(size), nil
	}
	if ob := s.cache.get(c); ob != nil {
		return ob, nil
	}
	ob, err := s.getValue(outboardKey(c))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w: object %s has no outboard", ErrCorrupt, c)
	}
	if err != nil {
		return nil, fmt.Errorf("store: index: %w", err)
	}
	if int64(len(ob)) != outboardSize(size) || int64(binary.LittleEndian.Uint64(ob)) != size {
		return nil, fmt.Errorf("%w: object %s: the outboard does not fit its size", ErrCorrupt, c)
	}
	s.cache.put(c, ob)
	return ob, nil
}

func lengthHeader(size int64) []byte {
	return binary.LittleEndian.AppendUint64(nil, uint64(size))
}

// readBatch is how much a rangeReader reads and verifies in one step;
// readAhead steps run at once, on as many cores.
const (
	readBatch = 16 * GroupSize
	readAhead = 3
)

type batchResult struct {
	buf  []byte // the whole buffer, to recycle
	data []byte // the verified span
	err  error
}

// rangeReader returns verified bytes of [pos, end). It verifies up to
// readAhead batches in parallel, delivered in order.
type rangeReader struct {
	s    *Store // its batches pool
	ctx  context.Context
	f    vfs.File
	ob   []byte
	cid  cid.CID
	size int64
	pos  int64 // next byte to deliver
	end  int64
	next int64 // start of the next batch to schedule (group-aligned)

	inflight []chan batchResult
	wg       sync.WaitGroup
	free     [][]byte
	curBuf   []byte
	pending  []byte
	err      error
	closed   bool
}

// batchBuf returns a buffer of readBatch bytes, recycled when possible.
func (s *Store) batchBuf() []byte {
	if bp, ok := s.batches.Get().(*[]byte); ok {
		return *bp
	}
	return make([]byte, readBatch)
}

// recycle gives buffers from batchBuf back.
func (s *Store) recycle(bufs ...[]byte) {
	for _, b := range bufs {
		if cap(b) == readBatch {
			b = b[:readBatch]
			s.batches.Put(&b)
		}
	}
}

func (r *rangeReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.pos >= r.end {
			return 0, io.EOF
		}
		if r.err = r.ctx.Err(); r.err != nil {
			return 0, r.err
		}
		r.pending, r.err = r.fill()
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// WriteTo writes the rest of the range to w straight from the verified
// batches, without first copying them into a caller's buffer (io.Copy uses
// it).
func (r *rangeReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.pending) > 0 {
			n, err := w.Write(r.pending)
			total += int64(n)
			r.pending = r.pending[n:]
			if err != nil {
				return total, err
			}
			continue
		}
		if r.err != nil {
			return total, r.err
		}
		if r.pos >= r.end {
			return total, nil
		}
		if r.err = r.ctx.Err(); r.err != nil {
			return total, r.err
		}
		r.pending, r.err = r.fill()
	}
}

// fill schedules batches up to readAhead and returns the next one's bytes
// within the range.
func (r *rangeReader) fill() ([]byte, error) {
	if r.curBuf != nil {
		r.free = append(r.free, r.curBuf)
		r.curBuf = nil
	}
	if len(r.inflight) == 0 {
		r.next = r.pos &^ (GroupSize - 1)
	}
	limit := min((r.end+GroupSize-1)&^(GroupSize-1), r.size)
	for len(r.inflight) < readAhead && r.next < limit {
		gstart, gend := r.next, min(r.next+readBatch, limit)
		r.next = gend
		var buf []byte
		if n := len(r.free); n > 0 {
			buf, r.free = r.free[n-1], r.free[:n-1]
		} else {
			buf = r.s.batchBuf()
		}
		ch := make(chan batchResult, 1)
		r.inflight = append(r.inflight, ch)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			span, err := verifiedSpan(r.f, r.ob, r.cid, buf, gstart, gend)
			ch <- batchResult{buf, span, err}
		}()
	}
	res := <-r.inflight[0]
	r.inflight = r.inflight[1:]
	r.curBuf = res.buf
	if res.err != nil {
		return nil, res.err
	}
	gstart := r.pos &^ (GroupSize - 1)
	gend := gstart + int64(len(res.data))
	from, to := r.pos-gstart, min(r.end, gend)-gstart
	r.pos = min(r.end, gend)
	return res.data[from:to], nil
}

// Close waits for the batches in flight and recycles every buffer: the
// bytes Read returned before stay the caller's (Read copies), nothing after.
func (r *rangeReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.wg.Wait()
	for _, ch := range r.inflight {
		r.free = append(r.free, (<-ch).buf)
	}
	if r.curBuf != nil {
		r.free = append(r.free, r.curBuf)
	}
	r.s.recycle(r.free...)
	r.inflight, r.free, r.curBuf, r.pending = nil, nil, nil, nil
	r.err = errReaderClosed
	return r.f.Close()
}

// verifiedSpan reads the groups [gstart, gend) of a file object into buf and
// verifies them.
func verifiedSpan(f io.ReaderAt, ob []byte, c cid.CID, buf []byte, gstart, gend int64) ([]byte, error) {
	span := buf[:gend-gstart]
	if n, err := f.ReadAt(span, gstart); n < len(span) {
		return nil, fmt.Errorf("%w: object %s: reading bytes %d-%d: %v", ErrCorrupt, c, gstart, gend-1, err)
	}
	if !bao.VerifyChunk(span, ob, Group, uint64(gstart), c) {
		return nil, fmt.Errorf("%w: object %s: bytes %d-%d fail verification", ErrCorrupt, c, gstart, gend-1)
	}
	return span, nil
}

// MaxSlice is the longest range Slice proves in one call.
const MaxSlice = 64 << 20

// Slice writes to w the Bao slice encoding of length bytes of c from off: the
// bytes with the tree nodes that prove them against the CID alone (check it
// with bao.VerifySlice(data, Group, off, length, root)). The range is
// verified before it is written.
func (s *Store) Slice(ctx context.Context, c cid.CID, off, length int64, w io.Writer) error {
	done, err := s.enter()
	if err != nil {
		return err
	}
	defer done()
	r, err := s.record(c)
	if err != nil {
		return err
	}
	if off < 0 || length < 0 || off > r.size || length > r.size-off || length > MaxSlice {
		return fmt.Errorf("%w: slice of %d bytes at %d of %s, which has %d (at most %d per slice)", ErrRange, length, off, c, r.size, MaxSlice)
	}
	var span, ob []byte
	gstart := off &^ (GroupSize - 1)
	if r.kind == kindInline {
		if cid.Sum(r.inline) != c {
			return fmt.Errorf("%w: inline object %s", ErrCorrupt, c)
		}
		ob, _ = bao.EncodeBuf(r.inline, Group, true)
		gend := min((off+length+GroupSize-1)&^(GroupSize-1), r.size)
		span = r.inline[gstart:gend]
	} else {
		if ob, err = s.outboard(c, r.size); err != nil {
			return err
		}
		f, err := s.fs.Open(s.objectPath(c))
		if err != nil {
			return fmt.Errorf("%w: object %s: its file is missing: %v", ErrCorrupt, c, err)
		}
		defer f.Close()
		gend := min((off+length+GroupSize-1)&^(GroupSize-1), r.size)
		if length == 0 {
			gend = gstart
		}
		if span, err = verifiedSpan(f, ob, c, make([]byte, gend-gstart), gstart, gend); err != nil {
			return err
		}
	}
	if err := bao.ExtractSlice(w, bytes.NewReader(span), bytes.NewReader(ob), Group, uint64(off), uint64(length)); err != nil {
		return fmt.Errorf("store: writing a slice of %s: %w", c, err)
	}
	return nil
}

// outboardCache keeps recently used outboards, bounded in bytes.
type outboardCache struct {
	mu    sync.Mutex
	max   int
	bytes int
	ll    *list.List
	m     map[cid.CID]*list.Element
}

type cacheEntry struct {
	c  cid.CID
	ob []byte
}

func newOutboardCache(max int) *outboardCache {
	return &outboardCache{max: max, ll: list.New(), m: map[cid.CID]*list.Element{}}
}

func (oc *outboardCache) get(c cid.CID) []byte {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if e, ok := oc.m[c]; ok {
		oc.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).ob
	}
	return nil
}

func (oc *outboardCache) put(c cid.CID, ob []byte) {
	if len(ob) > oc.max {
		return
	}
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if _, ok := oc.m[c]; ok {
		return
	}
	oc.m[c] = oc.ll.PushFront(&cacheEntry{c, ob})
	oc.bytes += len(ob)
	for oc.bytes > oc.max {
		e := oc.ll.Back()
		ce := e.Value.(*cacheEntry)
		oc.ll.Remove(e)
		delete(oc.m, ce.c)
		oc.bytes -= len(ce.ob)
	}
}

func (oc *outboardCache) drop(c cid.CID) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if e, ok := oc.m[c]; ok {
		oc.ll.Remove(e)
		delete(oc.m, c)
		oc.bytes -= len(e.Value.(*cacheEntry).ob)
	}
}
