package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ronhost/ronhost/internal/pebbledb"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
)

// MaxMoney is the largest amount of money the ledger holds anywhere (a
// price, a manifest's or an epoch's total, an allocation, a balance):
// 2^53-1 minor units, the largest integer a JSON number carries exactly.
const MaxMoney = 1<<53 - 1

// MaxNameBytes bounds a node id, a payout address and a payee.
const MaxNameBytes = 1024

// Sentinel errors callers test with errors.Is.
var (
	ErrOpenEpoch    = codes.New(codes.Conflict, "ledger: the epoch is still open (seal it first)")
	ErrNoEpoch      = codes.New(codes.NotFound, "ledger: no such epoch")
	ErrOverflow     = codes.New(codes.Conflict, "ledger: amount over the money limit (2^53-1 minor units)")
	ErrClosed       = codes.New(codes.Unavailable, "ledger: closed")
	ErrConservation = errors.New("ledger: money not conserved")
	ErrInvalid      = codes.New(codes.Invalid, "ledger: invalid access")
	ErrNotSettled   = codes.New(codes.NotFound, "ledger: manifest not settled in that epoch")
	ErrCorrupt      = errors.New("ledger: corrupt record")
	// ErrDiskFull: a write did not fit the disk (with the reserve
	// Options.MinFree kept free); reads still work. The same sentinel as
	// the store's.
	ErrDiskFull = pebbledb.ErrDiskFull
)

// Disk reports the database's state on its filesystem.
func (l *Ledger) Disk() pebbledb.State { return l.db.State() }

// Recover makes the ledger writable again if it opened read-only on a full
// disk and space has returned.
func (l *Ledger) Recover() error {
	done, err := l.enter()
	if err != nil {
		return err
	}
	defer done()
	return l.db.Recover()
}

// Options configure a Ledger. The zero value is a ledger on the real disk.
type Options struct {
	// FS is the filesystem of the database; nil means the real disk
	// (vfs.Default). Tests use Pebble's crash-testing vfs.NewCrashableMem.
	FS vfs.FS
	// Logger receives seals, settlements, failures and Pebble's log; nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock for the epochs' start and end times; nil means time.Now.
	Now func() time.Time
	// SyncEvery bounds how long a metered access stays unsynced: the
	// ledger syncs the log that often while accesses come in. 0 means
	// DefaultSyncEvery; a negative value leaves syncing to Seal, Settle and
	// Close.
	SyncEvery time.Duration
	// MinFree is the free space, in bytes, that writes leave on the
	// database's filesystem; a write that would leave less fails with an
	// error wrapping ErrDiskFull (see internal/pebbledb). 0 means no check.
	MinFree int64
}

// DefaultSyncEvery is the default Options.SyncEvery.
const DefaultSyncEvery = time.Second

// Access is one priced access to metered content.
type Access struct {
	Manifest cid.CID // the manifest whose payload was served
	TLD      string  // the manifest's TLD (its plugin splits the money)
	Price    uint64  // minor units per access, from the manifest; 0 is free
	Node     string  // the node that served the bytes
	Payout   string  // that node's payout address
	Bytes    uint64  // bytes served
}

// Usage is a manifest's usage in an epoch, as ron_split receives it.
type Usage struct {
	Requests uint64   `json:"requests"`
	Bytes    uint64   `json:"bytes"`
	Servers  []Server `json:"servers"`
}

// Server is one serving node's share of a manifest's usage.
type Server struct {
	Node     string `json:"node"`
	Payout   string `json:"payout"`
	Requests uint64 `json:"requests"`
	Bytes    uint64 `json:"bytes"`
}

// Allocation is one line of a split, as ron_split returns it.
type Allocation struct {
	Payee  string `json:"payee"`
	Role   string `json:"role"`
	Amount uint64 `json:"amount"`
}

// Splitter splits a manifest's amount for an epoch. The node adapts the
// plugin router (the TLD's ron_split) to it. epoch is the decimal number.
type Splitter interface {
	Split(ctx context.Context, manifest cid.CID, tld string, epoch string, amount uint64, usage Usage) ([]Allocation, error)
}

// SplitterFunc adapts a function to Splitter.
type SplitterFunc func(ctx context.Context, manifest cid.CID, tld string, epoch string, amount uint64, usage Usage) ([]Allocation, error)

// Split calls f.
func (f SplitterFunc) Split(ctx context.Context, manifest cid.CID, tld string, epoch string, amount uint64, usage Usage) ([]Allocation, error) {
	return f(ctx, manifest, tld, epoch, amount, usage)
}

// Settlement reports one Settle call.
type Settlement struct {
	Epoch          uint64    `json:"epoch"`
	Manifests      int       `json:"manifests"`       // manifests metered in the epoch
	Settled        int       `json:"settled"`         // settled by this call
	AlreadySettled int       `json:"already_settled"` // settled before this call
	Amount         uint64    `json:"amount"`          // credited by this call
	Failed         []Failure `json:"failed"`          // left unsettled, to retry
}

// Failure is a manifest a settlement could not pay.
type Failure struct {
	Manifest cid.CID `json:"manifest"`
	TLD      string  `json:"tld"`
	Error    string  `json:"error"`
}

// Balance is what the ledger owes a payee.
type Balance struct {
	Payee  string `json:"payee"`
	Amount uint64 `json:"amount"`
}

// EpochInfo summarizes an epoch.
type EpochInfo struct {
	Epoch     uint64    `json:"epoch"`
	Open      bool      `json:"open"`   // the current epoch, still metering
	Sealed    bool      `json:"sealed"` // closed: its usage never changes
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end,omitzero"` // when it was sealed
	Manifests int       `json:"manifests"`
	Settled   int       `json:"settled"`
	Requests  uint64    `json:"requests"`
	Bytes     uint64    `json:"bytes"`
	Amount    uint64    `json:"amount"` // priced total
	Paid      uint64    `json:"paid"`   // credited by settlements
}

// ManifestUsage is a manifest's metered usage in an epoch.
type ManifestUsage struct {
	Manifest cid.CID `json:"manifest"`
	TLD      string  `json:"tld"`
	Amount   uint64  `json:"amount"`
	Usage    Usage   `json:"usage"`
	Settled  bool    `json:"settled"`
}

// Ledger is an open payout ledger. Its methods are safe for concurrent use.
type Ledger struct {
	fs  vfs.FS
	dir string
	log *slog.Logger
	now func() time.Time
	db  *pebbledb.DB

	// mu serializes metering and sealing; it guards cur and open.
	mu   sync.Mutex
	cur  uint64    // the open epoch
	open openEpoch // its usage, mirrored from the database
	key  []byte    // scratch for Meter (Pebble copies keys and values)
	val  []byte

	dirty   atomic.Bool   // accesses metered since the last sync
	syncs   atomic.Uint64 // syncs done by syncLoop (for tests)
	stop    chan struct{}
	stopped chan struct{} // closed when syncLoop has returned

	// settleMu serializes settlements (the only writers of balances).
	settleMu sync.Mutex

	closeMu sync.RWMutex
	closed  bool
}

// Open opens (creating if needed) the ledger database in dir and starts the
// goroutine that syncs metered accesses (see Options.SyncEvery). A new
// ledger starts at epoch 1, open. Pebble's lock keeps a second Open of the
// same directory out.
func Open(ctx context.Context, dir string, o Options) (*Ledger, error) {
	fs := o.FS
	if fs == nil {
		fs = vfs.Default
	}
	l := &Ledger{fs: fs, dir: dir, log: o.Logger, now: o.Now}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	db, err := pebbledb.Open(dir, pebbledb.Options{FS: fs, Logger: l.log, MinFree: o.MinFree})
	if err != nil {
		return nil, fmt.Errorf("ledger: opening the database in %s: %w", dir, err)
	}
	l.db = db
	if err := l.load(ctx); err != nil {
		db.Close()
		return nil, err
	}
	every := o.SyncEvery
	if every == 0 {
		every = DefaultSyncEvery
	}
	l.stop, l.stopped = make(chan struct{}), make(chan struct{})
	if every > 0 {
		go l.syncLoop(every)
	} else {
		close(l.stopped)
	}
	return l, nil
}

// syncLoop syncs the log when accesses were metered since the last sync,
// every interval, until Close.
func (l *Ledger) syncLoop(every time.Duration) {
	defer close(l.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if !l.dirty.Swap(false) {
				continue
			}
			if err := l.db.LogData(nil, pebble.Sync); err != nil {
				l.dirty.Store(true)
				l.log.Error("ledger: syncing metered accesses", "err", err)
				continue
			}
			l.syncs.Add(1)
		}
	}
}

// load reads (or, for a new ledger, writes) the format and the current
// epoch, and mirrors the open epoch's usage in memory.
func (l *Ledger) load(ctx context.Context) error {
	v, err := l.get(keyVersion)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		b := l.db.NewBatch()
		defer b.Close()
		b.Set(keyVersion, []byte{formatVersion}, nil)
		b.Set(keyCurrent, encodeCurrent(1, l.now().UTC()), nil)
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("ledger: initializing: %w", err)
		}
	case err != nil:
		return err
	case len(v) != 1 || v[0] != formatVersion:
		return fmt.Errorf("%w: format %x, this build reads %d", ErrCorrupt, v, formatVersion)
	}
	v, err = l.get(keyCurrent)
	if err != nil {
		return fmt.Errorf("ledger: reading the current epoch: %w", err)
	}
	cur, start, err := decodeCurrent(v)
	if err != nil {
		return err
	}
	l.cur = cur
	l.open = newOpenEpoch(start)
	return scanUsage(ctx, l.db, cur, func(m cid.CID, sk serverKey, r usageRecord, key []byte) error {
		return l.open.add(m, sk, r, key)
	})
}

// Close syncs and closes the database. Operations after Close fail with
// ErrClosed; Close waits for operations in progress (a settlement runs to
// its end, so cancel its context first to stop it sooner) and for the
// goroutine that syncs metered accesses.
func (l *Ledger) Close() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.stop)
	<-l.stopped
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("ledger: closing: %w", err)
	}
	return nil
}

// enter guards an operation against Close; the returned func ends it.
func (l *Ledger) enter() (func(), error) {
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return nil, ErrClosed
	}
	return l.closeMu.RUnlock, nil
}

// get returns a copy of the value under key (pebble.ErrNotFound if none).
func (l *Ledger) get(key []byte) ([]byte, error) {
	return getFrom(l.db, key)
}

func getFrom(r pebbledb.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: database: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// scan calls fn for every key with prefix, in key order.
func scan(ctx context.Context, r pebbledb.Reader, prefix []byte, fn func(k, v []byte) error) error {
	upper := append([]byte(nil), prefix...)
	for i := len(upper) - 1; ; i-- {
		if upper[i] != 0xff {
			upper[i]++
			upper = upper[:i+1]
			break
		}
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("ledger: database: %w", err)
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
		return fmt.Errorf("ledger: database: %w", err)
	}
	return nil
}
