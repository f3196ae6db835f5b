package pebbledb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrClosed is returned by operations on a closed DB.
var ErrClosed = errors.New("pebbledb: closed")

// Options configure a DB.
type Options struct {
	// FS is the filesystem; nil means the real disk.
	FS vfs.FS
	// Logger receives Pebble's log; nil discards it.
	Logger *slog.Logger
	// MinFree is the free space, in bytes, that writes leave on the
	// database's filesystem: a write that would leave less is refused with
	// ErrDiskFull before Pebble sees it (writes that free space may use all
	// but a quarter of it). It keeps room for Pebble's own log, flushes and
	// compactions, whose write errors Pebble treats as fatal. 0 means no
	// check.
	MinFree int64
}

// DB is a Pebble database that treats a full disk as an ordinary condition.
//
// Writes are checked against the free space first (Options.MinFree) and
// refused with ErrDiskFull without touching Pebble. A database whose disk is
// full when it opens is opened read-only: reads work, writes are refused,
// and the first write (or Recover) after space returns reopens it for
// writing. Should Pebble still meet a write error it treats as fatal (the
// disk filled between the check and the write), the write returns an error
// wrapping ErrFailed (and ErrDiskFull when it was ENOSPC) instead of
// panicking, every later write fails at once the same way instead of
// hanging in Pebble's wedged commit pipeline, reads go on, and Close
// returns without waiting for Pebble.
//
// Its methods mirror *pebble.DB's, and are safe for concurrent use.
type DB struct {
	dir   string
	fs    vfs.FS
	log   *slog.Logger
	space *Space
	lock  *pebble.Lock // held from Open to Close, across reopens

	// serial is held by each commit while the disk has less than twice
	// the reserve free: a log write that meets ENOSPC then fails one
	// commit, not the others racing it into Pebble's wedged pipeline (where
	// a log rotation can crash the process).
	serial sync.Mutex

	mu     sync.Mutex
	cur    *instance
	refs   int // operations and open iterators, snapshots and values on cur
	closed bool
}

// instance is one open *pebble.DB.
type instance struct {
	db       *pebble.DB
	readOnly bool

	fatal chan struct{} // closed by the first fatal error
	once  sync.Once
	err   error // set before fatal is closed
}

func (in *instance) fail(err error) {
	in.once.Do(func() {
		in.err = err
		close(in.fatal)
	})
}

// failure returns the instance's fatal error, or nil.
func (in *instance) failure() error {
	select {
	case <-in.fatal:
		return in.err
	default:
		return nil
	}
}

// Open creates dir durably if needed and opens the database in it. On a
// disk with less than o.MinFree free (or one that answers ENOSPC to the
// writes Pebble makes when it opens), an existing database opens
// read-only; a new one cannot be created and Open fails with ErrDiskFull.
func Open(dir string, o Options) (*DB, error) {
	fs := o.FS
	if fs == nil {
		fs = vfs.Default
	}
	if err := MakeDir(fs, dir); err != nil {
		return nil, NoSpace(err)
	}
	d := &DB{dir: dir, fs: fs, log: o.Logger, space: NewSpace(fs, dir, o.MinFree)}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	lock, err := pebble.LockDirectory(dir, fs)
	if err != nil {
		return nil, err
	}
	d.lock = lock
	full := d.space.Check(0)
	var in *instance
	if full == nil {
		if in, err = d.open(false); err != nil && errors.Is(NoSpace(err), ErrDiskFull) {
			full = NoSpace(err)
		}
	}
	if full != nil {
		if in, err = d.open(true); err != nil {
			err = fmt.Errorf("%w: %s cannot be opened (%v), nor created while the disk is full", ErrDiskFull, dir, err)
		} else {
			d.log.Warn("disk full: the database is open read-only; writes are refused until space is freed", "dir", dir, "why", full)
		}
	}
	if err != nil {
		lock.Close()
		return nil, err
	}
	d.cur = in
	return d, nil
}

// open opens one instance of the database, read-only or not.
func (d *DB) open(readOnly bool) (in *instance, err error) {
	in = &instance{readOnly: readOnly, fatal: make(chan struct{})}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pebbledb: opening %s: %v", d.dir, r)
		}
		if err == nil {
			err = in.failure()
		}
		if err != nil && in.db != nil && in.failure() == nil {
			in.db.Close()
		}
	}()
	in.db, err = pebble.Open(d.dir, &pebble.Options{FS: d.fs, Logger: instanceLogger(d.log, in), Lock: d.lock, ReadOnly: readOnly})
	return in, err
}

// acquire returns the current instance with a reference that keeps it from
// being reopened until release.
func (d *DB) acquire() (*instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	d.refs++
	return d.cur, nil
}

func (d *DB) release() {
	d.mu.Lock()
	d.refs--
	d.mu.Unlock()
}

// releaser calls release once.
type releaser struct {
	once sync.Once
	d    *DB
}

func (r *releaser) done() { r.once.Do(r.d.release) }

// writable says whether a write of need bytes may go to Pebble now (floor:
// a write that frees space), reopening a read-only database for writing
// when space has returned.
func (d *DB) writable(need int64, floor bool) error {
	_, err := d.writableFree(need, floor)
	return err
}

// writableFree is writable, returning the free space it measured (-1:
// none).
func (d *DB) writableFree(need int64, floor bool) (int64, error) {
	keep := d.space.MinFree()
	if floor {
		keep /= 4
	}
	d.mu.Lock()
	in, closed := d.cur, d.closed
	d.mu.Unlock()
	if closed {
		return -1, ErrClosed
	}
	if err := in.failure(); err != nil {
		return -1, d.failed(err)
	}
	free, err := d.space.measure(need, keep)
	if err != nil {
		return free, err
	}
	if in.readOnly {
		return free, d.reopen()
	}
	return free, nil
}

// Recover reopens a database opened read-only for writing if the disk has
// room again (and no operation holds it); the node calls it now and then
// so that it recovers without waiting for a write. It returns nil when the
// database is writable.
func (d *DB) Recover() error { return d.writable(0, false) }

// reopen turns a read-only instance into a writable one.
func (d *DB) reopen() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if !d.cur.readOnly {
		return nil
	}
	if d.refs > 0 {
		return fmt.Errorf("%w: %s was opened read-only on a full disk and reopens for writing once the reads in progress end; try again", ErrDiskFull, d.dir)
	}
	old := d.cur
	if err := old.db.Close(); err != nil {
		d.log.Warn("closing the read-only database", "dir", d.dir, "err", err)
	}
	in, err := d.open(false)
	if err == nil {
		d.cur = in
		d.log.Info("disk space is back: the database accepts writes again", "dir", d.dir)
		return nil
	}
	ro, rerr := d.open(true)
	if rerr != nil {
		// Neither way: keep an instance that fails every operation's writes
		// and says why (reads fail too: nothing is open).
		bad := &instance{readOnly: true, fatal: make(chan struct{})}
		bad.fail(fmt.Errorf("reopening %s: %v; read-only: %v", d.dir, err, rerr))
		d.cur = bad
		return d.failed(bad.err)
	}
	d.cur = ro
	return fmt.Errorf("%w: %s stays read-only: %v", ErrDiskFull, d.dir, NoSpace(err))
}

// failed wraps a fatal error for a write that is refused because of it.
func (d *DB) failed(err error) error {
	if err = NoSpace(err); errors.Is(err, ErrDiskFull) {
		return fmt.Errorf("%w: %w", ErrFailed, err)
	}
	return fmt.Errorf("%w: %v", ErrFailed, err)
}

// State is what the node reports about a database's ability to write.
type State struct {
	Dir      string
	ReadOnly bool  // opened read-only on a full disk, until space returns
	Failed   error // a fatal write error: writes are refused until a restart
	Free     int64 // bytes free on its filesystem (-1: unknown)
	MinFree  int64
}

// State returns the database's current state.
func (d *DB) State() State {
	d.mu.Lock()
	in := d.cur
	d.mu.Unlock()
	st := State{Dir: d.dir, ReadOnly: in.readOnly, Failed: in.failure(), Free: -1, MinFree: d.space.MinFree()}
	if free, ok := d.space.Free(); ok {
		st.Free = free
	}
	return st
}

// apply commits b through Pebble after the space check. Near the reserve it
// commits one batch at a time, on a goroutine of its own, so that a commit
// stuck behind a fatal error (Pebble's pipeline then never moves again)
// does not hold its caller: it returns ErrFailed as soon as the instance
// has failed.
func (d *DB) apply(b *Batch, o *pebble.WriteOptions, floor bool) error {
	if b.Empty() {
		return nil // as Pebble: nothing to write
	}
	return d.write(int64(b.Len()), floor, b, func(db *pebble.DB) error { return db.Apply(b.Batch, o) })
}

// write runs fn, a write of about need bytes, on the current instance
// after the checks (b: the caller's batch fn commits, if any).
func (d *DB) write(need int64, floor bool, b *Batch, fn func(*pebble.DB) error) error {
	free, err := d.writableFree(need, floor)
	if err != nil {
		return err
	}
	in, err := d.acquire()
	if err != nil {
		return err
	}
	if free < 0 || free >= 2*d.space.MinFree() {
		// Plenty of room (or no reserve): commit here, as Pebble would.
		err = fn(in.db)
		d.release()
		if ferr := in.failure(); ferr != nil {
			return d.failed(ferr)
		}
		return NoSpace(err)
	}
	// Near the reserve: one commit at a time, each on a goroutine of its
	// own that may be left behind.
	d.serial.Lock()
	defer d.serial.Unlock()
	if ferr := in.failure(); ferr != nil { // failed meanwhile
		d.release()
		return d.failed(ferr)
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				err := fmt.Errorf("pebble: %v", r)
				if e, ok := r.(error); ok {
					err = fmt.Errorf("pebble: %w", e)
				}
				in.fail(err)
				d.log.Error("pebble: fatal write error: the database refuses writes until the node restarts", "dir", d.dir, "err", err)
				done <- err
			}
		}()
		done <- fn(in.db)
	}()
	select {
	case err = <-done:
		d.release()
	case <-in.fatal:
		// Our commit may never return: leave it (its batch and its
		// reference) behind.
		if b != nil {
			b.abandoned = true
		}
		return d.failed(in.err)
	}
	if ferr := in.failure(); ferr != nil {
		return d.failed(ferr) // Pebble's Fatalf returned into a nil error
	}
	return NoSpace(err)
}

// Batch is a batch of writes for a DB, committed through its checks.
type Batch struct {
	*pebble.Batch
	db        *DB
	abandoned bool // left to a commit stuck in a failed Pebble
}

// NewBatch returns an empty batch; Commit (or CommitFreeing) applies it.
func (d *DB) NewBatch() *Batch { return &Batch{Batch: new(pebble.Batch), db: d} }

// Commit applies the batch atomically.
func (b *Batch) Commit(o *pebble.WriteOptions) error { return b.db.apply(b, o, false) }

// CommitFreeing applies a batch that frees space (deletions): it is
// accepted down to a quarter of the reserve, so that a node whose disk is
// full can still unpin and collect garbage.
func (b *Batch) CommitFreeing(o *pebble.WriteOptions) error { return b.db.apply(b, o, true) }

// Close releases the batch (not one left to a stuck commit).
func (b *Batch) Close() error {
	if b.abandoned {
		return nil
	}
	return b.Batch.Close()
}

// Set writes one key (through Pebble's own pooled batch).
func (d *DB) Set(key, value []byte, o *pebble.WriteOptions) error {
	return d.write(int64(len(key)+len(value)+32), false, nil, func(db *pebble.DB) error { return db.Set(key, value, o) })
}

// Delete removes one key (a write that frees space).
func (d *DB) Delete(key []byte, o *pebble.WriteOptions) error {
	return d.write(int64(len(key)+32), true, nil, func(db *pebble.DB) error { return db.Delete(key, o) })
}

// LogData writes data to the log only (with pebble.Sync and nil data: a
// sync of what was written without sync, which needs next to no space and
// is accepted down to the floor, like a delete).
func (d *DB) LogData(data []byte, o *pebble.WriteOptions) error {
	b := d.NewBatch()
	defer b.Close()
	_ = b.LogData(data, nil)
	if len(data) == 0 {
		return b.CommitFreeing(o)
	}
	return b.Commit(o)
}

// Get returns the value of key and a closer that must be closed when the
// value is no longer used (pebble.ErrNotFound if there is none).
func (d *DB) Get(key []byte) ([]byte, io.Closer, error) {
	in, err := d.acquire()
	if err != nil {
		return nil, nil, err
	}
	if in.db == nil {
		d.release()
		return nil, nil, d.failed(in.err)
	}
	v, closer, err := in.db.Get(key)
	if err != nil {
		d.release()
		return nil, nil, err
	}
	return v, &valueCloser{c: closer, r: releaser{d: d}}, nil
}

type valueCloser struct {
	c io.Closer
	r releaser
}

func (v *valueCloser) Close() error {
	err := v.c.Close()
	v.r.done()
	return err
}

// Reader is what reads need of a DB or a Snapshot.
type Reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*Iter, error)
	NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*Iter, error)
}

// Iter is a *pebble.Iterator whose Close also lets the database reopen.
type Iter struct {
	*pebble.Iterator
	r *releaser // nil for a snapshot's iterators
}

// Close closes the iterator.
func (it *Iter) Close() error {
	err := it.Iterator.Close()
	if it.r != nil {
		it.r.done()
	}
	return err
}

// NewIter returns an iterator; it must be closed.
func (d *DB) NewIter(o *pebble.IterOptions) (*Iter, error) {
	return d.NewIterWithContext(context.Background(), o)
}

// NewIterWithContext returns an iterator that carries ctx for tracing; it
// must be closed.
func (d *DB) NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*Iter, error) {
	in, err := d.acquire()
	if err != nil {
		return nil, err
	}
	if in.db == nil {
		d.release()
		return nil, d.failed(in.err)
	}
	it, err := in.db.NewIterWithContext(ctx, o)
	if err != nil {
		d.release()
		return nil, err
	}
	return &Iter{Iterator: it, r: &releaser{d: d}}, nil
}

// Snapshot is a consistent view of the database; it must be closed.
type Snapshot struct {
	*pebble.Snapshot
	r releaser
}

// NewSnapshot returns a snapshot of the database.
func (d *DB) NewSnapshot() (*Snapshot, error) {
	in, err := d.acquire()
	if err != nil {
		return nil, err
	}
	if in.db == nil {
		d.release()
		return nil, d.failed(in.err)
	}
	return &Snapshot{Snapshot: in.db.NewSnapshot(), r: releaser{d: d}}, nil
}

// NewIter returns an iterator over the snapshot.
func (s *Snapshot) NewIter(o *pebble.IterOptions) (*Iter, error) {
	return s.NewIterWithContext(context.Background(), o)
}

// NewIterWithContext returns an iterator over the snapshot.
func (s *Snapshot) NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*Iter, error) {
	it, err := s.Snapshot.NewIterWithContext(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Iter{Iterator: it}, nil
}

// Close releases the snapshot.
func (s *Snapshot) Close() error {
	err := s.Snapshot.Close()
	s.r.done()
	return err
}

// Metrics returns Pebble's metrics of the current instance (nil if none is
// open).
func (d *DB) Metrics() *pebble.Metrics {
	in, err := d.acquire()
	if err != nil {
		return nil
	}
	defer d.release()
	if in.db == nil {
		return nil
	}
	return in.db.Metrics()
}

// Close closes the database. A database that failed is not closed (Pebble
// would wait forever on its wedged commit pipeline): Close returns the
// failure, and the process's exit releases it.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	in := d.cur
	d.mu.Unlock()
	d.space.Close()
	if err := in.failure(); err != nil {
		return fmt.Errorf("pebbledb: %s left open after its failure: %w", d.dir, d.failed(err))
	}
	err := in.db.Close()
	if err != nil && isNoSpace(err) {
		// Closing writes the log's last block and trailer; on a full disk
		// that fails and the next open replays the log as after a crash
		// (synced writes are all there; unsynced ones may not be).
		d.log.Warn("closed on a full disk: the log was not finished; the next open replays it", "dir", d.dir, "err", err)
		err = nil
	}
	if lerr := d.lock.Close(); err == nil {
		err = lerr
	}
	return err
}
