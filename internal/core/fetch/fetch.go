package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// ErrNoProviders says no peer of the overlay has the object.
// It wraps store.ErrNotFound, so the gateway answers 404.
var ErrNoProviders = fmt.Errorf("%w here, and no provider was found in the overlay", store.ErrNotFound)

// fetchJob is one fetch in progress.
type fetchJob struct {
	c     cid.CID
	ready chan struct{} // closed once ing is set, or err
	done  chan struct{} // closed when the fetch ended (err says how)
	ing   *store.Ingest
	size  int64
	ob    []byte // the verified outboard the ingest was made with
	err   error
	from  []peer.ID

	// Guarded by Fetcher.mu.
	keepers int    // callers that take their own hold of the object once done closes
	ended   bool   // the job is out of jobs
	release func() // ends the hold of the commit
}

// fetchHold bounds the hold of a fetch's commit (it is released as soon as
// its keepers took theirs).
const fetchHold = 10 * time.Minute

// Store is the local store the fetches fill and read (a *store.Store).
type Store interface {
	Hold(ctx context.Context, c cid.CID, d time.Duration) (release func(), err error)
	NewIngest(ctx context.Context, c cid.CID, size int64, ob []byte) (*store.Ingest, error)
	Info(ctx context.Context, c cid.CID) (store.Object, error)
	Outboard(ctx context.Context, c cid.CID) (size int64, ob []byte, err error)
	ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error)
}

// Blob is the blob protocol's client (a *blob.Service).
type Blob interface {
	Fetch(ctx context.Context, c cid.CID, sink blob.Sink, providers []peer.AddrInfo) (blob.FetchStats, error)
	Outboard(ctx context.Context, c cid.CID, providers []peer.AddrInfo) (size int64, ob []byte, err error)
	Locate(ctx context.Context, c cid.CID, more <-chan peer.AddrInfo) (blob.Located, error)
	Banned(p peer.ID) bool
}

// Overlay is the DHT's provider lookups (a *overlay.Overlay).
type Overlay interface {
	FindProvidersAsync(ctx context.Context, c cid.CID, max int) <-chan peer.AddrInfo
	FindProviders(ctx context.Context, c cid.CID, max int) ([]peer.AddrInfo, error)
}

// Config is what a Fetcher uses; every field but StoreProviders, Emit and
// Logger is required.
type Config struct {
	Store   Store
	Blob    Blob
	Overlay Overlay
	// StoreProviders returns the store role's instance holding c, asked
	// over the bus (in a process without that role), or none.
	StoreProviders func(ctx context.Context, c cid.CID) []peer.AddrInfo
	// Emit reports an event on the bus (object.stored for each fetched
	// object).
	Emit func(kind string, v any)
	// Timeout bounds each search for providers ([overlay] fetch_timeout).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Fetcher runs the fetches of one node, one per CID.
type Fetcher struct {
	cfg    Config
	ctx    context.Context // the fetches run under it; Close ends it
	cancel context.CancelFunc
	log    *slog.Logger

	mu   sync.Mutex
	jobs map[cid.CID]*fetchJob
	wg   sync.WaitGroup
}

// New returns a Fetcher whose fetches run under ctx (until it ends or
// Close). It starts nothing.
func New(ctx context.Context, cfg Config) *Fetcher {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Emit == nil {
		cfg.Emit = func(string, any) {}
	}
	if cfg.StoreProviders == nil {
		cfg.StoreProviders = func(context.Context, cid.CID) []peer.AddrInfo { return nil }
	}
	ctx, cancel := context.WithCancel(ctx)
	return &Fetcher{cfg: cfg, ctx: ctx, cancel: cancel, log: cfg.Logger, jobs: map[cid.CID]*fetchJob{}}
}

// Close ends the fetches in flight and waits for them and their lookups.
// A fetch asked for afterwards fails (codes.Unavailable).
func (f *Fetcher) Close() error {
	f.cancel()
	f.wg.Wait()
	return nil
}

// fetch returns the fetch of c, starting it if none runs, once it has an
// ingest to read from (or failed).
func (f *Fetcher) fetch(ctx context.Context, c cid.CID, from []peer.AddrInfo) (*fetchJob, error) {
	j, err := f.startFetch(c, from, false)
	if err != nil {
		return nil, err
	}
	select {
	case <-j.ready:
		if j.ing == nil {
			return nil, j.err
		}
		return j, nil
	case <-ctx.Done():
		return nil, bus.Errorf(codes.Timeout, "fetch: fetching %s: %v", c, ctx.Err())
	}
}

// startFetch returns the fetch of c, starting it if none runs. With keep,
// the caller is one of its keepers and must call j.unkeep.
func (f *Fetcher) startFetch(c cid.CID, from []peer.AddrInfo, keep bool) (*fetchJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[c]
	if j == nil {
		if f.ctx.Err() != nil {
			return nil, bus.Errorf(codes.Unavailable, "fetch: shutting down")
		}
		j = &fetchJob{c: c, ready: make(chan struct{}), done: make(chan struct{})}
		f.jobs[c] = j
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.runFetch(j, from)
		}()
	}
	if keep {
		j.keepers++
	}
	return j, nil
}

// unkeep ends a keeper's claim; the last one, once the job ended, releases
// the commit's hold.
func (f *Fetcher) unkeep(j *fetchJob) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j.keepers--
	if j.keepers == 0 && j.ended && j.release != nil {
		j.release()
		j.release = nil
	}
}

// HoldOrFetch holds c in the store for d, fetching it first (from from,
// else from the DHT's providers) when the store lacks it. The object is
// held from the instant the fetch commits it: no GC can take it before the
// caller pins or references it. Call release when done.
func (f *Fetcher) HoldOrFetch(ctx context.Context, c cid.CID, from []peer.AddrInfo, d time.Duration) (release func(), err error) {
	for range 3 {
		release, err := f.cfg.Store.Hold(ctx, c, d)
		if !errors.Is(err, store.ErrNotFound) {
			return release, err
		}
		j, err := f.startFetch(c, from, true)
		if err != nil {
			return nil, err
		}
		select {
		case <-j.done:
		case <-ctx.Done():
			f.unkeep(j)
			return nil, ctx.Err()
		}
		if j.err != nil {
			f.unkeep(j)
			if errors.Is(j.err, store.ErrExists) {
				continue // stored meanwhile, by another: hold that
			}
			return nil, j.err
		}
		release, err = f.cfg.Store.Hold(ctx, c, d) // the fetch's hold keeps it until unkeep
		f.unkeep(j)
		return release, err
	}
	return nil, fmt.Errorf("fetch: %s kept disappearing while it was being held: %w", c, store.ErrNotFound)
}

// runFetch finds providers, takes the outboard from one, and fills an
// ingest from several; it commits the object unpinned.
func (f *Fetcher) runFetch(j *fetchJob, from []peer.AddrInfo) {
	ctx := f.ctx
	readyOnce := sync.OnceFunc(func() { close(j.ready) })
	defer func() {
		readyOnce()
		f.mu.Lock()
		delete(f.jobs, j.c)
		j.ended = true
		if j.keepers == 0 && j.release != nil {
			j.release()
			j.release = nil
		}
		f.mu.Unlock()
		close(j.done)
	}()
	fail := func(err error) {
		j.err = err
		f.log.Info("fetch failed", "cid", j.c, "err", err)
	}

	findCtx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	loc, err := f.locate(findCtx, j.c, from)
	if err != nil {
		fail(err)
		return
	}
	size, ob, provs := loc.Size, loc.Outboard, loc.Providers
	ing, err := f.cfg.Store.NewIngest(ctx, j.c, size, ob)
	if errors.Is(err, store.ErrExists) {
		j.err = err // stored meanwhile: readers go to the store
		return
	}
	if err != nil {
		fail(err)
		return
	}
	// The last group came with the outboard (it proved the size): written
	// now, it is not asked for again, and an object of one group is done.
	if len(loc.Last) > 0 {
		if err := ing.WriteGroups(loc.LastOffset(), loc.Last); err != nil {
			f.log.Warn("fetch: the located last group was refused; fetching it again", "cid", j.c, "err", err)
		}
	}
	j.ing, j.size, j.ob = ing, size, ob
	readyOnce()
	start := time.Now()

	// Fetch until nothing is missing; a fetch that ran out of providers asks
	// the DHT again (providers found later, or ones that came back).
	for attempt := 0; ; attempt++ {
		stats, ferr := f.cfg.Blob.Fetch(ctx, j.c, ing, provs)
		for p := range stats.PerPeer {
			j.from = append(j.from, p)
		}
		if ferr == nil {
			break
		}
		if attempt >= 2 || ctx.Err() != nil {
			ing.Abort()
			fail(fmt.Errorf("fetch: fetching %s: %w", j.c, ferr))
			return
		}
		f.log.Warn("fetch stalled, looking for other providers", "cid", j.c, "err", ferr, "missing", ing.Missing())
		fctx, fcancel := context.WithTimeout(ctx, f.cfg.Timeout)
		more, err := f.providers(fctx, j.c, nil)
		fcancel()
		if err != nil {
			ing.Abort()
			fail(fmt.Errorf("fetch: fetching %s: %w (then: %v)", j.c, ferr, err))
			return
		}
		provs = more
	}
	res, err := ing.Commit(ctx, store.PutOptions{Hold: fetchHold})
	if err != nil {
		ing.Abort()
		fail(err)
		return
	}
	f.mu.Lock()
	j.release = res.Release
	f.mu.Unlock()
	f.log.Info("fetched", "cid", j.c, "bytes", res.Size, "from", len(j.from), "elapsed", time.Since(start).Round(time.Millisecond))
	f.cfg.Emit(bus.KindObjectStored, bus.ObjectStored{CID: res.CID.String(), Size: res.Size, Inline: res.Inline})
}

// locate finds c's size, verified outboard (with the last group, when
// located) and providers. Given from, it asks those. Otherwise it asks, all at once, the store role's instance
// holding c (in a process without that role), the peers this node is
// connected to, and each provider the DHT lookup finds as it finds it, and
// starts on the first that answers with a verified outboard, without
// waiting for the rest of the lookup.
func (f *Fetcher) locate(ctx context.Context, c cid.CID, from []peer.AddrInfo) (blob.Located, error) {
	if len(from) > 0 {
		size, ob, err := f.cfg.Blob.Outboard(ctx, c, from)
		if err != nil {
			return blob.Located{}, fmt.Errorf("%w: %s: no provider gave a valid outboard: %v", ErrNoProviders, c, err)
		}
		return blob.Located{Size: size, Outboard: ob, Providers: from}, nil
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the lookup once an answer is in
	more := make(chan peer.AddrInfo)
	// The lookup unwinds on its own once cancelled; Close waits for it (the
	// fetch does not: it has what it needs).
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(more)
		send := func(ai peer.AddrInfo) bool {
			select {
			case more <- ai:
				return true
			case <-lctx.Done():
				return false
			}
		}
		for _, ai := range f.cfg.StoreProviders(lctx, c) {
			if !send(ai) {
				return
			}
		}
		for ai := range f.cfg.Overlay.FindProvidersAsync(lctx, c, 16) {
			if !send(ai) {
				return
			}
		}
	}()
	loc, err := f.cfg.Blob.Locate(lctx, c, more)
	if err != nil {
		if ctx.Err() != nil {
			return blob.Located{}, fmt.Errorf("%w: %s: %v", ErrNoProviders, c, err)
		}
		return blob.Located{}, fmt.Errorf("%w: %s: no provider gave a valid outboard: %v", ErrNoProviders, c, err)
	}
	return loc, nil
}

// providers returns from, or the store role's instance holding c (in a
// process without that role) and the providers the DHT knows for c.
func (f *Fetcher) providers(ctx context.Context, c cid.CID, from []peer.AddrInfo) ([]peer.AddrInfo, error) {
	if len(from) > 0 {
		return from, nil
	}
	local := f.cfg.StoreProviders(ctx, c)
	provs, err := f.cfg.Overlay.FindProviders(ctx, c, 16)
	provs = append(local, provs...)
	if err != nil && len(provs) == 0 {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoProviders, c, err)
	}
	var ok []peer.AddrInfo
	for _, p := range provs {
		if !f.cfg.Blob.Banned(p.ID) {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoProviders, c)
	}
	return ok, nil
}

// Info is the store's Info for an object the store lacks: it starts (or joins) its
// fetch and answers once the fetch knows the object's size.
func (f *Fetcher) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	j, err := f.fetch(ctx, c, nil)
	if errors.Is(err, store.ErrExists) {
		return f.cfg.Store.Info(ctx, c)
	}
	if err != nil {
		return store.Object{}, err
	}
	return store.Object{CID: c, Size: j.size}, nil
}

// Outboard is the store's Outboard for an object the store lacks: the outboard
// its fetch was started with (verified against the CID by the ingest).
func (f *Fetcher) Outboard(ctx context.Context, c cid.CID) (int64, []byte, error) {
	j, err := f.fetch(ctx, c, nil)
	if errors.Is(err, store.ErrExists) {
		return f.cfg.Store.Outboard(ctx, c)
	}
	if err != nil {
		return 0, nil, err
	}
	return j.size, append([]byte(nil), j.ob...), nil
}

// ReadRange reads from c's fetch in progress, or from the store once the
// fetch has committed it.
func (f *Fetcher) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	for range 2 {
		rc, err := f.cfg.Store.ReadRange(ctx, c, off, length)
		if !errors.Is(err, store.ErrNotFound) {
			return rc, err
		}
		j, err := f.fetch(ctx, c, nil)
		if errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if length < 0 {
			length = j.size - off
		}
		if off < 0 || length < 0 || off+length > j.size {
			return nil, fmt.Errorf("%w: %d bytes at %d of %s, which has %d", store.ErrRange, length, off, c, j.size)
		}
		return j.ing.ReadRange(ctx, off, length)
	}
	return f.cfg.Store.ReadRange(ctx, c, off, length)
}
