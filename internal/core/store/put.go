package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/pebbledb"
)

// PutOptions tune one Put.
type PutOptions struct {
	// Size is the input's length when > 0. When 0, Put takes it from the
	// reader if it can (a regular *os.File, or anything with Len() int such
	// as *bytes.Reader); otherwise (or when < 0) it streams the input and
	// hashes it in a second pass over the written file.
	Size int64
	// Pin pins the object in the same commit that stores it.
	Pin bool
	// Refs are objects the new one references (a manifest references its
	// payload): GC keeps them while the new object is reachable. Each must
	// be stored when the put commits (else ErrMissingRef, and nothing is
	// stored): a reference never names an object that is gone.
	Refs []cid.CID
	// Hold, when > 0, holds the object against GC from the instant of its
	// commit until PutResult.Release is called or Hold has passed: what a
	// publish stores and then references (from another put) stays in
	// between. Holds live in memory only (see Store.Hold).
	Hold time.Duration
	// Progress, if set, is called with the number of input bytes read so far.
	Progress func(read int64)
}

// PutResult describes a stored object.
type PutResult struct {
	CID  cid.CID
	Size int64
	// Deduplicated is true when the object was already stored: nothing new
	// was written (pins and references were still recorded).
	Deduplicated bool
	Inline       bool
	// Release ends the hold of PutOptions.Hold (idempotent). It is never nil
	// on success (a no-op without a hold).
	Release func() `json:"-"`
}

// Put stores everything r yields and returns its CID once it is durable.
func (s *Store) Put(ctx context.Context, r io.Reader, o PutOptions) (PutResult, error) {
	done, err := s.enter()
	if err != nil {
		return PutResult{}, err
	}
	defer done()
	size := o.Size
	if size == 0 {
		size = sizeOf(r)
	}
	in := &inputReader{ctx: ctx, r: r, progress: o.Progress}
	if size >= 0 {
		return s.putSized(ctx, in, size, o)
	}
	return s.putStream(ctx, in, o)
}

// sizeOf returns the bytes left in r if r can tell, or -1.
func sizeOf(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case *os.File:
		st, err := v.Stat()
		if err != nil || !st.Mode().IsRegular() {
			return -1
		}
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil || pos > st.Size() {
			return -1
		}
		return st.Size() - pos
	}
	return -1
}

func (s *Store) putSized(ctx context.Context, in *inputReader, size int64, o PutOptions) (PutResult, error) {
	cost := size + outboardSize(size)
	if err := s.space.Check(cost); err != nil {
		return s.putOverQuota(cid.NewHasher(), in, size, o, fmt.Errorf("store: %w", err))
	}
	if err := s.reserve(cost); err != nil {
		return s.putOverQuota(cid.NewHasher(), in, size, o, err)
	}
	defer s.release(cost)
	if size <= int64(s.inline) {
		buf := make([]byte, size)
		if _, err := io.ReadFull(in, buf); err != nil {
			return PutResult{}, s.inputErr(err, size)
		}
		if err := checkEOF(in); err != nil {
			return PutResult{}, err
		}
		return s.commitInline(buf, o)
	}
	tmp := s.tempName()
	f, err := s.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return PutResult{}, pebbledb.NoSpace(fmt.Errorf("store: creating a temporary file: %w", err))
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			s.fs.Remove(tmp)
		}
	}()
	// Hash on this goroutine while another writes the file (two cores).
	// The tee reads ahead in blocks, so it must not read past size: what
	// follows is checked below, and must not reach the file.
	tee := newTeeWriter(io.LimitReader(in, size), f)
	ob := make([]byte, bao.EncodedSize(int(size), Group, true))
	root, err := bao.Encode(&bufferAt{ob}, tee, size, Group, true)
	if werr := tee.finish(); werr != nil { // the file's error first: the tee stops reading on it
		return PutResult{}, werr
	}
	if err == nil && tee.n != size {
		return PutResult{}, fmt.Errorf("%w: hashed %d bytes but wrote %d", ErrSizeMismatch, size, tee.n)
	}
	if err != nil {
		return PutResult{}, s.inputErr(err, size)
	}
	if err := checkEOF(in); err != nil {
		return PutResult{}, err
	}
	if err := f.Sync(); err != nil {
		return PutResult{}, pebbledb.NoSpace(fmt.Errorf("store: syncing: %w", err))
	}
	if err := f.Close(); err != nil {
		return PutResult{}, pebbledb.NoSpace(fmt.Errorf("store: closing: %w", err))
	}
	committed = true // the file is now commitFile's to keep or remove
	if size <= GroupSize {
		ob = nil
	}
	return s.commitFile(tmp, cid.CID(root), size, ob, o)
}

// putStream handles input of unknown length: small input goes inline, larger
// input is written to a temporary file and then hashed from it.
func (s *Store) putStream(ctx context.Context, in *inputReader, o PutOptions) (PutResult, error) {
	head := make([]byte, s.inline+1)
	n, err := readHead(in, head)
	if err == io.EOF {
		return s.putSized(ctx, &inputReader{ctx: ctx, r: bytesReader(head[:n])}, int64(n), o)
	}
	if err != nil {
		return PutResult{}, s.inputErr(err, -1)
	}
	if err := s.space.Check(int64(len(head))); err != nil {
		return s.putOverQuota(hasherOf(head), in, -1, o, fmt.Errorf("store: %w", err))
	}
	tmp := s.tempName()
	f, err := s.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return PutResult{}, pebbledb.NoSpace(fmt.Errorf("store: creating a temporary file: %w", err))
	}
	committed := false
	var reserved, checked int64
	defer func() {
		s.release(reserved)
		if !committed {
			f.Close()
			s.fs.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	bw.Write(head)
	size := int64(len(head))
	buf := make([]byte, 1<<20)
	const step = 8 << 20
	for {
		k, rerr := in.Read(buf)
		if k > 0 {
			size += int64(k)
			for size+outboardSize(size) > max(reserved, checked) {
				err := s.space.Check(step)
				if err != nil {
					err = fmt.Errorf("store: %w", err)
				} else if s.opts.QuotaBytes > 0 {
					err = s.reserve(step)
				}
				if err != nil {
					// Hash what was written and the rest: a duplicate still succeeds.
					h := cid.NewHasher()
					if ferr := bw.Flush(); ferr != nil {
						return PutResult{}, fmt.Errorf("store: writing: %w", ferr)
					}
					if _, ferr := io.Copy(h, io.NewSectionReader(f, 0, size-int64(k))); ferr != nil {
						return PutResult{}, fmt.Errorf("store: reading back: %w", ferr)
					}
					h.Write(buf[:k])
					return s.putOverQuota(h, in, -1, o, err)
				}
				checked += step
				if s.opts.QuotaBytes > 0 {
					reserved += step
				}
			}
			if _, err := bw.Write(buf[:k]); err != nil {
				return PutResult{}, pebbledb.NoSpace(fmt.Errorf("store: writing: %w", err))
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return PutResult{}, s.inputErr(rerr, -1)
		}
	}
	if err := bw.Flush(); err != nil {
		return PutResult{}, pebbledb.NoSpace(fmt.Errorf("store: writing: %w", err))
	}
	if err := f.Sync(); err != nil {
		return PutResult{}, pebbledb.NoSpace(fmt.Errorf("store: syncing: %w", err))
	}
	ob := make([]byte, bao.EncodedSize(int(size), Group, true))
	root, err := bao.Encode(&bufferAt{ob}, &ctxReader{ctx: ctx, r: io.NewSectionReader(f, 0, size)}, size, Group, true)
	if err != nil {
		return PutResult{}, fmt.Errorf("store: hashing the written file: %w", err)
	}
	if err := f.Close(); err != nil {
		return PutResult{}, fmt.Errorf("store: closing: %w", err)
	}
	committed = true
	if size <= GroupSize {
		ob = nil
	}
	return s.commitFile(tmp, cid.CID(root), size, ob, o)
}

// putOverQuota finishes a put that does not fit the quota: it hashes the
// rest of the input without storing it and succeeds only if the object is
// already stored (a duplicate costs nothing); otherwise it returns quotaErr.
func (s *Store) putOverQuota(h *cid.Hasher, in *inputReader, size int64, o PutOptions, quotaErr error) (PutResult, error) {
	n, err := io.Copy(h, in)
	if err != nil {
		return PutResult{}, s.inputErr(err, size)
	}
	if size >= 0 && n != size {
		return PutResult{}, fmt.Errorf("%w: the input had %d bytes, not its stated %d", ErrSizeMismatch, n, size)
	}
	c := h.CID()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.record(c)
	if errors.Is(err, ErrNotFound) {
		return PutResult{}, quotaErr
	}
	if err != nil {
		return PutResult{}, err
	}
	if err := s.checkRefsLocked(c, o.Refs); err != nil {
		return PutResult{}, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := s.commitBatch(b, c, o, usage{}); err != nil {
		return PutResult{}, err
	}
	return PutResult{CID: c, Size: r.size, Deduplicated: true, Inline: r.kind == kindInline, Release: s.holdPut(c, o)}, nil
}

func (s *Store) commitInline(data []byte, o PutOptions) (PutResult, error) {
	c := cid.Sum(data)
	res := PutResult{CID: c, Size: int64(len(data)), Inline: true}
	s.mu.Lock()
	defer s.mu.Unlock()
	exists, err := s.has(objectKey(c))
	if err != nil {
		return PutResult{}, err
	}
	if err := s.checkRefsLocked(c, o.Refs); err != nil {
		return PutResult{}, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	var add usage
	if exists {
		res.Deduplicated = true
	} else {
		b.Set(objectKey(c), record{kind: kindInline, size: int64(len(data)), inline: data}.encode(), nil)
		add = usage{Objects: 1, Bytes: int64(len(data))}
	}
	if err := s.commitBatch(b, c, o, add); err != nil {
		return PutResult{}, err
	}
	res.Release = s.holdPut(c, o)
	return res, nil
}

func (s *Store) commitFile(tmp string, c cid.CID, size int64, ob []byte, o PutOptions) (PutResult, error) {
	res := PutResult{CID: c, Size: size}
	s.mu.Lock()
	defer s.mu.Unlock()
	exists, err := s.has(objectKey(c))
	if err == nil {
		err = s.checkRefsLocked(c, o.Refs)
	}
	if err != nil {
		s.fs.Remove(tmp)
		return PutResult{}, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	var add usage
	if exists {
		res.Deduplicated = true
		if err := s.fs.Remove(tmp); err != nil {
			return PutResult{}, fmt.Errorf("store: removing a duplicate: %w", err)
		}
	} else {
		if err := s.db.Set(intentKey(c), nil, pebble.Sync); err != nil {
			s.fs.Remove(tmp)
			return PutResult{}, fmt.Errorf("store: index: %w", err)
		}
		final := s.objectPath(c)
		if err := s.placeFile(tmp, final); err != nil {
			s.fs.Remove(tmp)
			s.dropIntent(c)
			return PutResult{}, pebbledb.NoSpace(err)
		}
		b.Set(objectKey(c), record{kind: kindFile, size: size}.encode(), nil)
		if ob != nil {
			b.Set(outboardKey(c), ob, nil)
		}
		b.Delete(intentKey(c), nil)
		add = usage{Objects: 1, Bytes: size, Outboard: int64(len(ob))}
	}
	if err := s.commitBatch(b, c, o, add); err != nil {
		if !exists && errors.Is(err, ErrDiskFull) && !errors.Is(err, pebbledb.ErrFailed) {
			// Refused before Pebble saw it: nothing names the file, give the space back now.
			s.fs.Remove(s.objectPath(c))
			s.dropIntent(c)
		}
		return PutResult{}, err
	}
	res.Release = s.holdPut(c, o)
	return res, nil
}

// holdPut takes the hold a put asked for, right after its commit and under
// the same s.mu, so no GC runs between them; it returns the release.
func (s *Store) holdPut(c cid.CID, o PutOptions) func() {
	if o.Hold <= 0 {
		return func() {}
	}
	return s.holdLocked(c, o.Hold)
}

// dropIntent removes the intent of a put that placed nothing, or whose
// file is gone; if that fails the next Open settles it. s.mu is held.
func (s *Store) dropIntent(c cid.CID) {
	if err := s.db.Delete(intentKey(c), pebble.Sync); err != nil {
		s.log.Warn("store: an intent is left for the next start", "cid", c.String(), "err", err)
	}
}

// placeFile renames tmp to final and makes the rename durable.
func (s *Store) placeFile(tmp, final string) error {
	dir := s.fs.PathDir(final)
	if !s.dirsMade[dir] {
		if err := s.fs.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("store: creating %s: %w", dir, err)
		}
		if err := s.syncDir(s.fs.PathDir(dir)); err != nil {
			return err
		}
		s.dirsMade[dir] = true
	}
	if err := s.fs.Rename(tmp, final); err != nil {
		return fmt.Errorf("store: placing the object file: %w", err)
	}
	return s.syncDir(dir)
}

// commitBatch adds pins, references and the usage change to b and commits it
// durably. s.mu is held.
func (s *Store) commitBatch(b *pebbledb.Batch, c cid.CID, o PutOptions, add usage) error {
	if o.Pin {
		b.Set(pinKey(c), nil, nil)
	}
	for _, to := range o.Refs {
		b.Set(refKey(c, to), nil, nil)
	}
	s.resMu.Lock()
	next := s.used
	s.resMu.Unlock()
	next.Objects += add.Objects
	next.Bytes += add.Bytes
	next.Outboard += add.Outboard
	if add != (usage{}) {
		b.Set([]byte{kUsage}, next.encode(), nil)
	}
	commit := b.Commit
	if add.Objects < 0 { // GC: a batch that frees space
		commit = b.CommitFreeing
	}
	if err := commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: committing: %w", err)
	}
	s.resMu.Lock()
	s.used = next
	s.resMu.Unlock()
	return nil
}

// reserve claims n bytes of the quota for a put in progress.
func (s *Store) reserve(n int64) error {
	if s.opts.QuotaBytes <= 0 {
		return nil
	}
	s.resMu.Lock()
	defer s.resMu.Unlock()
	inUse := s.used.Bytes + s.used.Outboard + s.reserved
	if inUse+n > s.opts.QuotaBytes {
		return fmt.Errorf("%w: %d bytes in use or reserved, %d more would pass the quota of %d", ErrQuotaExceeded, inUse, n, s.opts.QuotaBytes)
	}
	s.reserved += n
	return nil
}

func (s *Store) release(n int64) {
	if s.opts.QuotaBytes <= 0 || n == 0 {
		return
	}
	s.resMu.Lock()
	s.reserved -= n
	s.resMu.Unlock()
}

// readHead fills p from in; it returns io.EOF if, and only if, in ended
// with io.EOF before p was full. Any other error of in (io.ErrUnexpectedEOF
// from a body cut short among them) is returned as is: only a clean end
// makes a short input.
func readHead(in io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := in.Read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *Store) inputErr(err error, size int64) error {
	if size < 0 {
		return fmt.Errorf("store: reading the input: %w", err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: the input ended before its stated %d bytes", ErrSizeMismatch, size)
	}
	return fmt.Errorf("store: reading the input: %w", err)
}

// checkEOF fails if in has more bytes.
func checkEOF(in io.Reader) error {
	var one [1]byte
	n, err := io.ReadFull(in, one[:])
	if n > 0 {
		return fmt.Errorf("%w: the input is longer than its stated size", ErrSizeMismatch)
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("store: reading the input: %w", err)
	}
	return nil
}

// inputReader counts, reports progress and stops on cancellation.
type inputReader struct {
	ctx      context.Context
	r        io.Reader
	n        int64
	progress func(int64)
}

func (r *inputReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(p)
	if n > 0 {
		r.n += int64(n)
		if r.progress != nil {
			r.progress(r.n)
		}
	}
	return n, err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

type bufferAt struct{ b []byte }

func (b *bufferAt) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(b.b)) {
		return 0, fmt.Errorf("store: outboard write out of bounds")
	}
	return copy(b.b[off:], p), nil
}

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b} }

// hasherOf returns a hasher that has read b.
func hasherOf(b []byte) *cid.Hasher {
	h := cid.NewHasher()
	h.Write(b)
	return h
}

// teeWriter is an io.Reader over in that hands everything it yields to a
// goroutine writing it to f, in blocks, starting write-back as it goes so the
// final fsync has little left to do.
type teeWriter struct {
	werr atomic.Pointer[error] // the writer's error, once it failed
	in   io.Reader
	cur  []byte
	off  int
	free chan []byte
	full chan []byte
	done chan error
	n    int64 // bytes handed to the writer
}

const (
	teeBlock  = 1 << 20
	teeBlocks = 8
	teeSyncTo = 16 << 20
)

func newTeeWriter(in io.Reader, f vfs.File) *teeWriter {
	t := &teeWriter{in: in, free: make(chan []byte, teeBlocks), full: make(chan []byte, teeBlocks), done: make(chan error, 1)}
	for i := 0; i < teeBlocks; i++ {
		t.free <- make([]byte, teeBlock)
	}
	go func() {
		var err error
		var written, synced int64
		for blk := range t.full {
			if err == nil {
				_, err = f.Write(blk)
				written += int64(len(blk))
				if err == nil && written-synced >= teeSyncTo {
					_, err = f.SyncTo(written)
					synced = written
				}
				if err != nil {
					err = pebbledb.NoSpace(fmt.Errorf("store: writing: %w", err))
					t.werr.Store(&err)
				}
			}
			t.free <- blk[:cap(blk)]
		}
		t.done <- err
	}()
	return t
}

func (t *teeWriter) Read(p []byte) (int, error) {
	if t.cur != nil && t.off < len(t.cur) {
		n := copy(p, t.cur[t.off:])
		t.off += n
		return n, nil
	}
	if t.cur != nil {
		t.n += int64(len(t.cur))
		t.full <- t.cur
		t.cur = nil
	}
	blk := <-t.free
	if werr := t.werr.Load(); werr != nil {
		t.free <- blk
		return 0, *werr // no use reading the rest
	}
	n, err := io.ReadFull(t.in, blk)
	if n == 0 {
		t.free <- blk
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return 0, err
	}
	t.cur, t.off = blk[:n], 0
	k := copy(p, t.cur)
	t.off = k
	return k, nil
}

// finish hands the last block to the writer and waits for it.
func (t *teeWriter) finish() error {
	if t.cur != nil {
		t.n += int64(len(t.cur))
		t.full <- t.cur
		t.cur = nil
	}
	close(t.full)
	return <-t.done
}
