package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/pebbledb"
)

// Group states of an Ingest.
const (
	groupAbsent  = 0
	groupWriting = 1 // claimed by one WriteGroups call, being written
	groupPresent = 2 // verified and written
)

type ingestState int

const (
	ingestOpen ingestState = iota
	ingestCommitted
	ingestAborted
)

// Ingest receives an object whose CID and outboard are known from elsewhere
// (a peer), chunk group by chunk group, in any order, from several writers
// at once. Every group is verified against the outboard and the CID before a
// byte of it is written, so the temporary file only ever holds verified
// bytes; Commit makes the object durable exactly as Put does. An Ingest
// starts no goroutines. Its methods are safe for concurrent use.
type Ingest struct {
	s    *Store
	c    cid.CID
	size int64
	ob   []byte // verified outboard, with its header
	cost int64  // quota reserved
	tmp  string // the temporary file ("" when inline)
	f    vfs.File
	buf  []byte // the bytes of an inline-size object

	// commitMu serializes Commit and Abort.
	commitMu sync.Mutex

	mu      sync.Mutex
	groups  []uint8 // per-group state
	present int64
	state   ingestState
	changed chan struct{} // closed (and replaced) on every change readers wait for
	refs    int           // holders of f: the Ingest until it ends, readers, writes in progress
	waiting int           // readers blocked on a group (for tests)
	prefix  int64         // groups present from the start on
	synced  int64         // bytes whose write-back was started (SyncTo)
	syncing bool          // a writer is in SyncTo
}

// ingestSyncEvery is how far the written prefix runs ahead of the started
// write-back before a writer starts more (as Put's writer does), so that
// Commit's fsync has little left to do and dirty pages stay bounded.
const ingestSyncEvery = teeSyncTo

// NewIngest prepares to receive c, size bytes long, whose Bao outboard (with
// its length header, group 6, as Outboard returns it) is ob. It checks ob
// with VerifyOutboard, reserves the object's quota (ErrQuotaExceeded) and,
// for an object larger than the inline limit, creates its file in tmp/;
// inline-size objects are gathered in memory. If c is already stored it
// fails with ErrExists. Every NewIngest must end in Commit or Abort (Close
// of the Store aborts those left open).
func (s *Store) NewIngest(ctx context.Context, c cid.CID, size int64, ob []byte) (*Ingest, error) {
	done, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := VerifyOutboard(c, size, ob); err != nil {
		return nil, err
	}
	exists, err := s.has(objectKey(c))
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, fmt.Errorf("%w: %s", ErrExists, c)
	}
	cost := size + outboardSize(size)
	if err := s.space.Check(cost); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := s.reserve(cost); err != nil {
		return nil, err
	}
	in := &Ingest{
		s: s, c: c, size: size, ob: append([]byte(nil), ob...), cost: cost,
		groups:  make([]uint8, (size+GroupSize-1)/GroupSize),
		changed: make(chan struct{}),
		refs:    1,
	}
	if size <= int64(s.inline) {
		in.buf = make([]byte, size)
	} else {
		in.tmp = s.tempName()
		f, err := s.fs.OpenReadWrite(in.tmp, vfs.WriteCategoryUnspecified)
		if err != nil {
			s.release(cost)
			return nil, pebbledb.NoSpace(fmt.Errorf("store: creating a temporary file: %w", err))
		}
		// The space up front (fewer extents); a full disk fails here rather
		// than halfway through the fetch. Other errors (no fallocate) are
		// ignored: it is only an optimization.
		if err := pebbledb.NoSpace(f.Preallocate(0, size)); errors.Is(err, ErrDiskFull) {
			f.Close()
			s.fs.Remove(in.tmp)
			s.release(cost)
			return nil, fmt.Errorf("store: reserving %d bytes for %s: %w", size, c, err)
		}
		in.f = f
	}
	s.ingMu.Lock()
	s.ingests[in] = struct{}{}
	s.ingMu.Unlock()
	return in, nil
}

// CID returns the CID being received.
func (in *Ingest) CID() cid.CID { return in.c }

// Size returns the object's size.
func (in *Ingest) Size() int64 { return in.size }

// WriteGroups writes p at off. off must be a multiple of GroupSize, and
// len(p) too unless p ends the object (off+len(p) == Size()); otherwise it
// fails with ErrRange. All of p is verified against the outboard and the
// CID first: if any group fails, the error wraps ErrCorrupt, names the first
// bad group, and nothing of p is written. Groups already present are
// accepted (after verification) and not rewritten; a group another call is
// writing at the same moment is waited for. After Abort (or Close of the
// Store) it fails with ErrAborted.
func (in *Ingest) WriteGroups(off int64, p []byte) error {
	n := int64(len(p))
	if off < 0 || off%GroupSize != 0 || off > in.size || n > in.size-off || (n%GroupSize != 0 && off+n != in.size) {
		return fmt.Errorf("%w: a write of %d bytes at %d into %s, which has %d (writes are whole %d-byte groups)", ErrRange, n, off, in.c, in.size, GroupSize)
	}
	in.mu.Lock()
	aborted := in.state == ingestAborted
	in.mu.Unlock()
	if aborted {
		return in.abortedErr()
	}
	if n == 0 {
		return nil
	}
	if !bao.VerifyChunk(p, in.ob, Group, uint64(off), in.c) {
		return in.corrupt(off, p)
	}
	first, end := off/GroupSize, (off+n+GroupSize-1)/GroupSize
	for {
		in.mu.Lock()
		if in.state == ingestAborted {
			in.mu.Unlock()
			return in.abortedErr()
		}
		var runs [][2]int64 // claimed [from, to) group runs
		wait := false
		for g := first; g < end; g++ {
			switch in.groups[g] {
			case groupAbsent:
				in.groups[g] = groupWriting
				if k := len(runs); k > 0 && runs[k-1][1] == g {
					runs[k-1][1] = g + 1
				} else {
					runs = append(runs, [2]int64{g, g + 1})
				}
			case groupWriting:
				wait = true
			}
		}
		if len(runs) > 0 {
			in.refs++
		}
		ch := in.changed
		in.mu.Unlock()

		var werr error
		for _, r := range runs {
			from, to := (r[0]-first)*GroupSize, min((r[1]-first)*GroupSize, n)
			if werr = in.put(p[from:to], off+from); werr != nil {
				werr = fmt.Errorf("store: writing bytes %d-%d of %s: %w", off+from, off+to-1, in.c, werr)
				break
			}
		}
		if len(runs) > 0 {
			in.mu.Lock()
			for _, r := range runs {
				for g := r[0]; g < r[1]; g++ {
					if werr == nil {
						in.groups[g] = groupPresent
						in.present++
					} else {
						in.groups[g] = groupAbsent
					}
				}
			}
			for in.prefix < int64(len(in.groups)) && in.groups[in.prefix] == groupPresent {
				in.prefix++
			}
			syncTo := min(in.prefix*GroupSize, in.size)
			doSync := werr == nil && in.f != nil && !in.syncing && in.state == ingestOpen && syncTo-in.synced >= ingestSyncEvery
			if doSync {
				in.syncing = true // keeps our reference on f until it is done
			} else {
				in.unrefLocked()
			}
			in.broadcastLocked()
			aborted = in.state == ingestAborted
			in.mu.Unlock()
			if doSync {
				// Start write-back of the written prefix; it may wait for
				// the previous one, which paces writers to the disk.
				_, serr := in.f.SyncTo(syncTo)
				in.mu.Lock()
				in.syncing = false
				if serr == nil {
					in.synced = syncTo
				}
				in.unrefLocked()
				in.mu.Unlock()
			}
			if werr != nil {
				return werr
			}
			if aborted {
				return in.abortedErr()
			}
		}
		if !wait {
			return nil
		}
		<-ch // a change (maybe our own): look again
	}
}

// ingestWrite is the most put hands the file in one write. On the
// project's machine (ext4 in a VM) the kernel's copy of a 1 MiB buffered
// write into the page cache often cost several times the CPU per byte of
// a 256 KiB one (larger writes get larger folios, presumably fresh memory
// of the host's): core/blob's Fetch1GiB/tcp-tls took 4.2-5.0 s of CPU per
// GiB with 1 MiB writes, 2.7-3.3 s with 256 KiB (64 to 512 KiB alike).
const ingestWrite = 256 << 10

// put writes verified bytes at off, in writes of at most ingestWrite.
func (in *Ingest) put(p []byte, off int64) error {
	if in.f == nil {
		copy(in.buf[off:], p)
		return nil
	}
	for len(p) > 0 {
		n := min(len(p), ingestWrite)
		if _, err := in.f.WriteAt(p[:n], off); err != nil {
			return pebbledb.NoSpace(err)
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// corrupt names the first group of p (at off) that fails verification.
func (in *Ingest) corrupt(off int64, p []byte) error {
	for i := int64(0); i < int64(len(p)); i += GroupSize {
		g := p[i:min(i+GroupSize, int64(len(p)))]
		if !bao.VerifyChunk(g, in.ob, Group, uint64(off+i), in.c) {
			return fmt.Errorf("%w: %s: received bytes %d-%d fail verification (nothing of the %d bytes at %d written)", ErrCorrupt, in.c, off+i, off+i+int64(len(g))-1, len(p), off)
		}
	}
	return fmt.Errorf("%w: %s: received bytes %d-%d fail verification", ErrCorrupt, in.c, off, off+int64(len(p))-1)
}

func (in *Ingest) abortedErr() error { return fmt.Errorf("%w: %s", ErrAborted, in.c) }

// broadcastLocked wakes everyone waiting for a change. in.mu is held.
func (in *Ingest) broadcastLocked() {
	close(in.changed)
	in.changed = make(chan struct{})
}

// unrefLocked drops one holder of the file and closes it after the last.
// in.mu is held.
func (in *Ingest) unrefLocked() {
	if in.refs--; in.refs == 0 && in.f != nil {
		in.f.Close()
	}
}

// Missing returns the byte spans [start, end) not yet written, merged and in
// order (nil when Done).
func (in *Ingest) Missing() [][2]int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out [][2]int64
	for g, st := range in.groups {
		if st == groupPresent {
			continue
		}
		start, end := int64(g)*GroupSize, min(int64(g+1)*GroupSize, in.size)
		if k := len(out); k > 0 && out[k-1][1] == start {
			out[k-1][1] = end
		} else {
			out = append(out, [2]int64{start, end})
		}
	}
	return out
}

// Done reports whether every group has been verified and written.
func (in *Ingest) Done() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.present == int64(len(in.groups))
}

// ReadRange returns a reader of length bytes from off (length < 0: to the
// end) that blocks until each group it needs has been verified and written,
// and then returns its bytes, so an HTTP response can stream while a fetch
// fills the object. They are not hashed a second time: the file holds only
// groups this Ingest verified in memory (WriteGroups) just before it wrote
// them, read back while the fetch runs; the object once committed is read
// as every stored object is, verified on every read (Store.ReadRange). The
// reader writes itself (io.WriterTo) from its buffer. Read fails with an error wrapping ErrAborted once
// the Ingest is aborted, and with ctx.Err() when ctx ends while it waits.
// A reader opened before Commit keeps working after it; after Commit,
// ReadRange reads the stored object (Store.ReadRange).
func (in *Ingest) ReadRange(ctx context.Context, off, length int64) (io.ReadCloser, error) {
	if length < 0 {
		length = in.size - off
	}
	if off < 0 || length < 0 || off > in.size || length > in.size-off {
		return nil, fmt.Errorf("%w: %d bytes at %d of %s, which has %d", ErrRange, length, off, in.c, in.size)
	}
	in.mu.Lock()
	switch in.state {
	case ingestAborted:
		in.mu.Unlock()
		return nil, in.abortedErr()
	case ingestCommitted:
		in.mu.Unlock()
		return in.s.ReadRange(ctx, in.c, off, length)
	}
	in.refs++
	in.mu.Unlock()
	return &ingestReader{in: in, ctx: ctx, pos: off, end: off + length}, nil
}

// await blocks until group g is present and returns how many groups from g
// on (at most max) are.
func (in *Ingest) await(ctx context.Context, g, max int64) (int64, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for {
		if in.state == ingestAborted {
			return 0, in.abortedErr()
		}
		if in.groups[g] == groupPresent {
			n := int64(1)
			for n < max && in.groups[g+n] == groupPresent {
				n++
			}
			return n, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		ch := in.changed
		in.waiting++
		in.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		in.mu.Lock()
		in.waiting--
	}
}

// ingestReader returns [pos, end) of an Ingest as its groups arrive.
type ingestReader struct {
	in       *Ingest
	ctx      context.Context
	pos, end int64
	buf      []byte
	pending  []byte
	err      error
	closed   bool
	file     *os.File // the reader's own descriptor of the file (WriteTo)
	noFile   bool     // none could be opened
}

var errReaderClosed = errors.New("store: read after Close")

func (r *ingestReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.pos >= r.end {
			return 0, io.EOF
		}
		r.pending, r.err = r.next()
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// WriteTo writes the rest of the range to w as its groups arrive (io.Copy
// uses it): to a w that reads from a reader (io.ReaderFrom, as an HTTP
// response on a TCP connection does, with sendfile), each run of groups
// present goes as a section of the file, read through a descriptor of the
// reader's own, so the bytes go from the page cache to the socket without
// passing through memory here; to any other w, straight from the reader's
// buffer.
func (r *ingestReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	rf, _ := w.(io.ReaderFrom)
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
		if rf != nil && r.openFile() {
			n, err := r.sendRun(rf)
			total += n
			if err != nil {
				return total, err
			}
			continue
		}
		r.pending, r.err = r.next()
	}
}

// openFile opens the reader's own descriptor of the Ingest's file, once;
// false when there is none to open (an inline-size object, a file system
// other than the OS's, the file already renamed by Commit).
func (r *ingestReader) openFile() bool {
	if r.file != nil || r.noFile {
		return r.file != nil
	}
	r.noFile = true
	if r.in.f == nil || r.in.f.Fd() == vfs.InvalidFd {
		return false
	}
	f, err := os.Open(r.in.tmp)
	if err != nil {
		return false
	}
	r.file, r.noFile = f, false
	return true
}

// sendRun waits for the group at pos and hands rf the bytes from pos to the
// end of the run of present groups that follows (within the range), as a
// section of the reader's own descriptor (*io.LimitedReader of an
// *os.File: what net's sendfile takes).
func (r *ingestReader) sendRun(rf io.ReaderFrom) (int64, error) {
	in := r.in
	g := r.pos / GroupSize
	endG := (r.end + GroupSize - 1) / GroupSize
	n, err := in.await(r.ctx, g, endG-g)
	if err != nil {
		r.err = err
		return 0, err
	}
	want := min((g+n)*GroupSize, r.end) - r.pos
	if _, err := r.file.Seek(r.pos, io.SeekStart); err != nil {
		r.err = fmt.Errorf("store: reading %s being received: %w", in.c, err)
		return 0, r.err
	}
	lr := &io.LimitedReader{R: r.file, N: want}
	k, err := rf.ReadFrom(lr)
	r.pos += k
	if err == nil && k < want {
		err = fmt.Errorf("store: reading bytes %d-%d of %s being received: %w", r.pos, r.pos+want-k-1, in.c, io.ErrUnexpectedEOF)
	}
	if err != nil {
		r.err = err
	}
	return k, err
}

// next waits for the group at pos and returns the verified bytes from pos
// to the end of the run of present groups that follows (at most readBatch).
func (r *ingestReader) next() ([]byte, error) {
	in := r.in
	g := r.pos / GroupSize
	endG := (r.end + GroupSize - 1) / GroupSize
	n, err := in.await(r.ctx, g, min(endG-g, readBatch/GroupSize))
	if err != nil {
		return nil, err
	}
	gstart, gend := g*GroupSize, min((g+n)*GroupSize, in.size)
	// Verified when written (WriteGroups), never written again.
	var span []byte
	if in.f == nil {
		span = in.buf[gstart:gend]
	} else {
		if r.buf == nil {
			r.buf = in.s.batchBuf()
		}
		span = r.buf[:gend-gstart]
		if n, err := in.f.ReadAt(span, gstart); n < len(span) {
			return nil, fmt.Errorf("store: reading bytes %d-%d of %s being received: %w", gstart, gend-1, in.c, err)
		}
	}
	from, to := r.pos-gstart, min(r.end, gend)-gstart
	r.pos = gstart + to
	return span[from:to], nil
}

func (r *ingestReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.err, r.pending = errReaderClosed, nil
	if r.buf != nil {
		r.in.s.recycle(r.buf)
		r.buf = nil
	}
	if r.file != nil {
		r.file.Close()
		r.file = nil
	}
	r.in.mu.Lock()
	r.in.unrefLocked()
	r.in.mu.Unlock()
	return nil
}

// Commit stores the received object once every group is present (else
// ErrIncomplete): it syncs the file and then commits it through the same
// step as Put (intent, rename into objects/, one synced index batch with the
// object record, outboard, pins and references of o, and usage), with the
// same guarantee: a crash at any point leaves all of it or nothing, and no
// leaked space. If the object was stored meanwhile the result says
// Deduplicated. Readers opened before keep working. After Abort, or a
// Commit that failed, it fails with ErrAborted.
func (in *Ingest) Commit(ctx context.Context, o PutOptions) (PutResult, error) {
	s := in.s
	done, err := s.enter()
	if err != nil {
		return PutResult{}, err
	}
	defer done()
	in.commitMu.Lock()
	defer in.commitMu.Unlock()
	in.mu.Lock()
	state, missing := in.state, int64(len(in.groups))-in.present
	in.mu.Unlock()
	switch {
	case state == ingestAborted:
		return PutResult{}, in.abortedErr()
	case state == ingestCommitted:
		return PutResult{}, fmt.Errorf("store: ingest of %s already committed", in.c)
	case missing > 0:
		return PutResult{}, fmt.Errorf("%w: %s: %d of %d groups missing", ErrIncomplete, in.c, missing, len(in.groups))
	}
	if err := ctx.Err(); err != nil {
		return PutResult{}, err
	}
	var res PutResult
	if in.f == nil {
		res, err = s.commitInline(in.buf, o)
	} else if err = in.f.Sync(); err != nil {
		s.fs.Remove(in.tmp)
		err = pebbledb.NoSpace(fmt.Errorf("store: syncing: %w", err))
	} else {
		ob := in.ob
		if in.size <= GroupSize {
			ob = nil // the store keeps no outboard for one group
		}
		// commitFile owns the temporary file now: it places or removes it.
		res, err = s.commitFile(in.tmp, in.c, in.size, ob, o)
	}
	in.mu.Lock()
	if err != nil {
		in.state = ingestAborted
	} else {
		in.state = ingestCommitted
	}
	in.broadcastLocked()
	in.unrefLocked()
	in.mu.Unlock()
	in.end()
	if err != nil {
		return PutResult{}, err
	}
	return res, nil
}

// Abort gives the ingest up: it removes the temporary file, releases the
// quota and makes waiting readers and writers fail with ErrAborted. It is
// idempotent, and does nothing after a successful Commit.
func (in *Ingest) Abort() {
	in.commitMu.Lock()
	defer in.commitMu.Unlock()
	in.mu.Lock()
	if in.state != ingestOpen {
		in.mu.Unlock()
		return
	}
	in.state = ingestAborted
	in.broadcastLocked()
	in.unrefLocked()
	in.mu.Unlock()
	if in.tmp != "" {
		in.s.fs.Remove(in.tmp) // an open reader keeps its handle; the space goes with it
	}
	in.end()
}

// end releases the quota and forgets the ingest (once, under commitMu).
func (in *Ingest) end() {
	in.s.release(in.cost)
	in.s.ingMu.Lock()
	delete(in.s.ingests, in)
	in.s.ingMu.Unlock()
}
