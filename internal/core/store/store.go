package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/ronhost/ronhost/internal/pebbledb"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
)

// Group is the Bao group parameter: chunk groups of 1 KiB << 6 = 64 KiB.
const Group = 6

// GroupSize is the size in bytes of one chunk group, the unit of verification.
const GroupSize = 1024 << Group

// DefaultInlineMax is the default Options.InlineMax.
const DefaultInlineMax = 4096

// Sentinel errors callers test with errors.Is.
var (
	ErrNotFound      = codes.New(codes.NotFound, "store: object not found")
	ErrCorrupt       = errors.New("store: stored bytes do not match their CID")
	ErrQuotaExceeded = codes.New(codes.Quota, "store: quota exceeded")
	ErrLocked        = errors.New("store: data directory is in use by another process")
	ErrClosed        = codes.New(codes.Unavailable, "store: closed")
	ErrRange         = codes.New(codes.Range, "store: range outside the object")
	ErrSizeMismatch  = codes.New(codes.Invalid, "store: input size differs from the stated size")
	ErrNotPinned     = codes.New(codes.NotFound, "store: not pinned")
	ErrExists        = errors.New("store: object already stored")
	ErrAborted       = errors.New("store: ingest aborted")
	ErrIncomplete    = errors.New("store: ingest incomplete")
	// ErrMissingRef: a put names in Refs an object that is not stored (the
	// error wraps ErrNotFound too).
	ErrMissingRef = errors.New("store: a referenced object is not stored")
	// ErrDiskFull: the filesystem lacks the space for a write (with the
	// reserve Options.MinFree kept free); reads still work. It is the same
	// sentinel as the other roles' databases use.
	ErrDiskFull = pebbledb.ErrDiskFull
)

// Options configure a Store. The zero value is a store on the real disk with
// no quota.
type Options struct {
	// FS is the filesystem for the index and the payload files; nil means the
	// real disk (vfs.Default). Tests use Pebble's crash-testing vfs.NewCrashableMem.
	FS vfs.FS
	// QuotaBytes bounds the payload plus outboard bytes stored; 0 means none.
	QuotaBytes int64
	// InlineMax is the largest object kept inline in the index; 0 means
	// DefaultInlineMax, a negative value keeps only empty objects inline.
	InlineMax int
	// Logger receives Pebble's log and recovery notes; nil discards them.
	Logger *slog.Logger
	// Now is the clock holds expire by; nil means time.Now.
	Now func() time.Time
	// MinFree is the free space, in bytes, that puts leave on the store's
	// filesystem: a put that would leave less fails with ErrDiskFull before
	// writing (unless it is a duplicate). The index's own reserve is the
	// same (see internal/pebbledb). 0 means no check.
	MinFree int64
}

// Store is an open content store. Its methods are safe for concurrent use.
type Store struct {
	fs     vfs.FS
	dir    string
	opts   Options
	inline int
	log    *slog.Logger

	db    *pebbledb.DB
	space *pebbledb.Space
	lock  io.Closer

	// mu serializes commits (puts' renames and index batches), pins and GC,
	// so GC never removes a file a put is about to index.
	mu       sync.Mutex
	dirsMade map[string]bool
	// reserved counts bytes of puts in progress, for the quota.
	resMu    sync.Mutex
	reserved int64
	used     usage // committed counters (guarded by resMu, written under mu)

	cache *outboardCache

	// batches recycles the readBatch-sized buffers of range readers, so that
	// a read costs no new megabytes for the collector (*[]byte).
	batches sync.Pool

	// holds keep objects of operations in flight from GC (hold.go).
	holds holds

	// ingests are the open Ingests, aborted by Close.
	ingMu   sync.Mutex
	ingests map[*Ingest]struct{}

	closeMu sync.RWMutex
	closed  bool
}

// Open opens (creating if needed) the store in dir, takes its lock, removes
// what interrupted puts left behind, and returns the Store. It fails with
// ErrLocked if another process (a running node) has the store open.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	s := &Store{fs: fs, dir: dir, opts: opts, log: opts.Logger, dirsMade: map[string]bool{}, ingests: map[*Ingest]struct{}{}, cache: newOutboardCache(64 << 20)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.inline = opts.InlineMax
	if s.inline == 0 {
		s.inline = DefaultInlineMax
	}
	if s.inline < 0 {
		s.inline = 0
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: creating %s: %w", dir, err)
	}
	lock, err := fs.Lock(fs.PathJoin(dir, "LOCK"))
	if err != nil {
		// Held by another process: EAGAIN or EACCES (fcntl); by this one:
		// Pebble's own error, which has no errno. Any other errno (the
		// directory unwritable, an I/O error) is not a lock held.
		var errno syscall.Errno
		if !errors.As(err, &errno) || errno == syscall.EAGAIN || errno == syscall.EACCES {
			return nil, fmt.Errorf("%w: %s (is a node serving it? stop it or go through its API): %v", ErrLocked, dir, err)
		}
		return nil, fmt.Errorf("store: locking %s: %w", dir, err)
	}
	s.lock = lock
	ok := false
	defer func() {
		if !ok {
			s.lock.Close()
		}
	}()
	for _, d := range []string{"objects", "tmp", "index"} {
		if err := fs.MkdirAll(fs.PathJoin(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("store: creating %s: %w", d, err)
		}
	}
	// Make the directories themselves durable before anything relies on them.
	if err := s.syncDir(dir); err != nil {
		return nil, err
	}
	if parent := fs.PathDir(dir); parent != dir {
		if err := s.syncDir(parent); err != nil {
			return nil, err
		}
	}
	s.space = pebbledb.NewSpace(fs, dir, opts.MinFree)
	db, err := pebbledb.Open(fs.PathJoin(dir, "index"), pebbledb.Options{FS: fs, Logger: s.log, MinFree: opts.MinFree})
	if err != nil {
		return nil, fmt.Errorf("store: opening the index: %w", err)
	}
	s.db = db
	if err := s.recover(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.used, err = s.usage(); err != nil {
		db.Close()
		return nil, err
	}
	ok = true
	return s, nil
}

// recover empties tmp/ and settles the intents of interrupted puts and GCs.
func (s *Store) recover(ctx context.Context) error {
	tmp := s.fs.PathJoin(s.dir, "tmp")
	names, err := s.fs.List(tmp)
	if err != nil {
		return fmt.Errorf("store: listing tmp: %w", err)
	}
	for _, n := range names {
		if err := s.fs.RemoveAll(s.fs.PathJoin(tmp, n)); err != nil {
			return fmt.Errorf("store: removing leftover %s: %w", n, err)
		}
		s.log.Info("store: removed the leftover of an interrupted put", "file", n)
	}
	if len(names) > 0 {
		if err := s.syncDir(tmp); err != nil {
			return err
		}
	}
	var intents []cid.CID
	if err := s.scan(ctx, []byte{kIntent}, func(k, _ []byte) error {
		var c cid.CID
		copy(c[:], k[1:])
		intents = append(intents, c)
		return nil
	}); err != nil {
		return err
	}
	if len(intents) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, c := range intents {
		if _, err := s.record(c); errors.Is(err, ErrNotFound) {
			p := s.objectPath(c)
			if err := s.fs.Remove(p); err != nil && !isNotExist(err) {
				return fmt.Errorf("store: removing unindexed %s: %w", c, err)
			}
			s.syncDir(s.fs.PathDir(p))
			s.log.Info("store: reclaimed the file of an interrupted put or GC", "cid", c.String())
		} else if err != nil {
			return err
		}
		b.Delete(intentKey(c), nil)
	}
	if err := b.CommitFreeing(pebble.Sync); errors.Is(err, ErrDiskFull) {
		// A full disk: the intents stay for the next Open (their files are gone).
		s.log.Warn("store: intents left for the next start", "err", err)
	} else if err != nil {
		return fmt.Errorf("store: settling intents: %w", err)
	}
	return nil
}

// Disk reports the index database's state on its filesystem: read-only on
// a full disk, failed, free bytes.
func (s *Store) Disk() pebbledb.State { return s.db.State() }

// Recover makes the store writable again if it opened read-only on a full
// disk and space has returned (see pebbledb.DB.Recover).
func (s *Store) Recover() error {
	done, err := s.enter()
	if err != nil {
		return err
	}
	defer done()
	return s.db.Recover()
}

// Close closes the index and releases the lock. Operations after Close fail
// with ErrClosed; Close waits for operations in progress (a Commit among
// them) and aborts every open Ingest (its readers and writers then fail
// with ErrAborted).
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.ingMu.Lock()
	open := make([]*Ingest, 0, len(s.ingests))
	for in := range s.ingests {
		open = append(open, in)
	}
	s.ingMu.Unlock()
	for _, in := range open {
		in.Abort()
	}
	err := s.db.Close()
	s.space.Close()
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("store: closing: %w", err)
	}
	return nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// enter guards an operation against Close; the returned func ends it.
func (s *Store) enter() (func(), error) {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return nil, ErrClosed
	}
	return s.closeMu.RUnlock, nil
}

func (s *Store) objectPath(c cid.CID) string {
	h := c.Hex()
	return s.fs.PathJoin(s.dir, "objects", h[:2], h)
}

func (s *Store) syncDir(dir string) error {
	d, err := s.fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("store: opening dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: syncing dir %s: %w", dir, err)
	}
	return nil
}

func (s *Store) tempName() string {
	var b [12]byte
	rand.Read(b[:])
	return s.fs.PathJoin(s.dir, "tmp", "put-"+hex.EncodeToString(b[:]))
}

func isNotExist(err error) bool {
	return errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOENT)
}

// --- index encoding ---

// Key prefixes in the index.
const (
	kObject   = 'o' // o<cid> -> record
	kOutboard = 'b' // b<cid> -> Bao outboard (file objects larger than one group)
	kPin      = 'p' // p<cid> -> ""
	kRef      = 'r' // r<from><to> -> ""
	kIntent   = 'w' // w<cid> -> "": a file for cid may exist without an index record
	kUsage    = 'u' // u -> usage counters
)

func objectKey(c cid.CID) []byte   { return append([]byte{kObject}, c[:]...) }
func outboardKey(c cid.CID) []byte { return append([]byte{kOutboard}, c[:]...) }
func pinKey(c cid.CID) []byte      { return append([]byte{kPin}, c[:]...) }
func intentKey(c cid.CID) []byte   { return append([]byte{kIntent}, c[:]...) }
func refKey(from, to cid.CID) []byte {
	return append(append([]byte{kRef}, from[:]...), to[:]...)
}

const (
	kindInline = 1
	kindFile   = 2
)

// record is an object's index entry.
type record struct {
	kind   byte
	size   int64
	inline []byte // kindInline only
}

func (r record) encode() []byte {
	b := make([]byte, 0, 2+binary.MaxVarintLen64+len(r.inline))
	b = append(b, 1, r.kind) // version 1
	b = binary.AppendUvarint(b, uint64(r.size))
	return append(b, r.inline...)
}

func decodeRecord(b []byte) (record, error) {
	if len(b) < 3 || b[0] != 1 || (b[1] != kindInline && b[1] != kindFile) {
		return record{}, fmt.Errorf("%w: bad index record", ErrCorrupt)
	}
	n, k := binary.Uvarint(b[2:])
	if k <= 0 || n > 1<<62 {
		return record{}, fmt.Errorf("%w: bad index record size", ErrCorrupt)
	}
	r := record{kind: b[1], size: int64(n)}
	if r.kind == kindInline {
		r.inline = append([]byte(nil), b[2+k:]...)
		if int64(len(r.inline)) != r.size {
			return record{}, fmt.Errorf("%w: inline record of %d bytes says %d", ErrCorrupt, len(r.inline), r.size)
		}
	}
	return r, nil
}

func (s *Store) record(c cid.CID) (record, error) {
	v, closer, err := s.db.Get(objectKey(c))
	if errors.Is(err, pebble.ErrNotFound) {
		return record{}, fmt.Errorf("%w: %s", ErrNotFound, c)
	}
	if err != nil {
		return record{}, fmt.Errorf("store: index: %w", err)
	}
	defer closer.Close()
	r, err := decodeRecord(v)
	if err != nil {
		return record{}, fmt.Errorf("%w (object %s)", err, c)
	}
	return r, nil
}

func (s *Store) has(key []byte) (bool, error) {
	_, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: index: %w", err)
	}
	closer.Close()
	return true, nil
}

func (s *Store) getValue(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// scan calls fn for every key with prefix, in order.
func (s *Store) scan(ctx context.Context, prefix []byte, fn func(k, v []byte) error) error {
	upper := append([]byte(nil), prefix...)
	upper[len(upper)-1]++
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("store: index: %w", err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("store: index: %w", err)
	}
	return nil
}

// usage is the counters kept under the kUsage key.
type usage struct {
	Objects  int64 // objects indexed
	Bytes    int64 // payload bytes
	Outboard int64 // outboard bytes
}

func (u usage) encode() []byte {
	b := binary.AppendUvarint(nil, uint64(u.Objects))
	b = binary.AppendUvarint(b, uint64(u.Bytes))
	return binary.AppendUvarint(b, uint64(u.Outboard))
}

func (s *Store) usage() (usage, error) {
	v, err := s.getValue([]byte{kUsage})
	if errors.Is(err, pebble.ErrNotFound) {
		return usage{}, nil
	}
	if err != nil {
		return usage{}, fmt.Errorf("store: index: %w", err)
	}
	var u usage
	var vals [3]uint64
	for i := range vals {
		x, k := binary.Uvarint(v)
		if k <= 0 {
			return usage{}, fmt.Errorf("%w: bad usage record", ErrCorrupt)
		}
		vals[i], v = x, v[k:]
	}
	u.Objects, u.Bytes, u.Outboard = int64(vals[0]), int64(vals[1]), int64(vals[2])
	return u, nil
}

// outboardSize is the size of the stored outboard of a file object of size n
// (none for one group or less: its outboard is just the 8-byte length).
func outboardSize(n int64) int64 {
	if n <= GroupSize {
		return 0
	}
	groups := (n + GroupSize - 1) / GroupSize
	return 8 + (2*groups-2)*32
}
