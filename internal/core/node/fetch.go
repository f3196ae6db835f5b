package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// Fetching objects this node lacks: a request for an object the store does
// not hold asks the connected peers and the providers the DHT lookup finds,
// as it finds them, and starts on the first that proves it has the object
// (a verified outboard); it starts one fetch per CID (every
// request for it shares that fetch), and reads the bytes from the ingest as
// they are verified. The fetched object is kept unpinned, as a cache that GC
// may collect; the node does not provide it. A caller that needs the object
// to stay (a replication pins it) joins the fetch as a keeper
// (holdOrFetch): the fetch commits the object held, and the hold lasts
// until the fetch ended and every keeper took its own hold, so no GC runs
// in between.

// errNoProviders says no peer of the overlay has the object.
// It wraps store.ErrNotFound, so the gateway answers 404.
var errNoProviders = fmt.Errorf("%w here, and no provider was found in the overlay", store.ErrNotFound)

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

	// Guarded by fetches.mu.
	keepers int    // callers that take their own hold of the object once done closes
	ended   bool   // the job is out of jobs
	release func() // ends the hold of the commit
}

// fetchHold bounds the hold of a fetch's commit (it is released as soon as
// its keepers took theirs).
const fetchHold = 10 * time.Minute

// fetches tracks the fetches in progress, one per CID.
type fetches struct {
	mu   sync.Mutex
	jobs map[cid.CID]*fetchJob
	wg   sync.WaitGroup
}

// fetchOn says whether this node fetches missing objects from peers.
func (n *Node) fetchOn() bool { return n.blob != nil && n.opts.Config.Overlay.Fetch }

// fetch returns the fetch of c, starting it if none runs, once it has an
// ingest to read from (or failed).
func (n *Node) fetch(ctx context.Context, c cid.CID, from []peer.AddrInfo) (*fetchJob, error) {
	j, err := n.startFetch(c, from, false)
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
		return nil, bus.Errorf(codes.Timeout, "node: fetching %s: %v", c, ctx.Err())
	}
}

// startFetch returns the fetch of c, starting it if none runs. With keep,
// the caller is one of its keepers and must call j.unkeep.
func (n *Node) startFetch(c cid.CID, from []peer.AddrInfo, keep bool) (*fetchJob, error) {
	n.fetches.mu.Lock()
	defer n.fetches.mu.Unlock()
	j := n.fetches.jobs[c]
	if j == nil {
		if n.runCtx == nil || n.runCtx.Err() != nil {
			return nil, bus.Errorf(codes.Unavailable, "node: shutting down")
		}
		j = &fetchJob{c: c, ready: make(chan struct{}), done: make(chan struct{})}
		n.fetches.jobs[c] = j
		n.fetches.wg.Add(1)
		go func() {
			defer n.fetches.wg.Done()
			n.runFetch(j, from)
		}()
	}
	if keep {
		j.keepers++
	}
	return j, nil
}

// unkeep ends a keeper's claim; the last one, once the job ended, releases
// the commit's hold.
func (n *Node) unkeep(j *fetchJob) {
	n.fetches.mu.Lock()
	defer n.fetches.mu.Unlock()
	j.keepers--
	if j.keepers == 0 && j.ended && j.release != nil {
		j.release()
		j.release = nil
	}
}

// holdOrFetch holds c in the store for d, fetching it first (from from,
// else from the DHT's providers) when the store lacks it. The object is
// held from the instant the fetch commits it: no GC can take it before the
// caller pins or references it. Call release when done.
func (n *Node) holdOrFetch(ctx context.Context, c cid.CID, from []peer.AddrInfo, d time.Duration) (release func(), err error) {
	for range 3 {
		release, err := n.store.Hold(ctx, c, d)
		if !errors.Is(err, store.ErrNotFound) {
			return release, err
		}
		j, err := n.startFetch(c, from, true)
		if err != nil {
			return nil, err
		}
		select {
		case <-j.done:
		case <-ctx.Done():
			n.unkeep(j)
			return nil, ctx.Err()
		}
		if j.err != nil {
			n.unkeep(j)
			if errors.Is(j.err, store.ErrExists) {
				continue // stored meanwhile, by another: hold that
			}
			return nil, j.err
		}
		release, err = n.store.Hold(ctx, c, d) // the fetch's hold keeps it until unkeep
		n.unkeep(j)
		return release, err
	}
	return nil, fmt.Errorf("node: %s kept disappearing while it was being held: %w", c, store.ErrNotFound)
}

// runFetch finds providers, takes the outboard from one, and fills an
// ingest from several; it commits the object unpinned.
func (n *Node) runFetch(j *fetchJob, from []peer.AddrInfo) {
	ctx := n.runCtx
	cfg := n.opts.Config.Overlay
	readyOnce := sync.OnceFunc(func() { close(j.ready) })
	defer func() {
		readyOnce()
		n.fetches.mu.Lock()
		delete(n.fetches.jobs, j.c)
		j.ended = true
		if j.keepers == 0 && j.release != nil {
			j.release()
			j.release = nil
		}
		n.fetches.mu.Unlock()
		close(j.done)
	}()
	fail := func(err error) {
		j.err = err
		n.log.Info("fetch failed", "cid", j.c, "err", err)
	}

	findCtx, cancel := context.WithTimeout(ctx, cfg.FetchTimeout.D())
	defer cancel()
	loc, err := n.locate(findCtx, j.c, from)
	if err != nil {
		fail(err)
		return
	}
	size, ob, provs := loc.Size, loc.Outboard, loc.Providers
	ing, err := n.store.NewIngest(ctx, j.c, size, ob)
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
			n.log.Warn("fetch: the located last group was refused; fetching it again", "cid", j.c, "err", err)
		}
	}
	j.ing, j.size, j.ob = ing, size, ob
	readyOnce()
	start := time.Now()

	// Fetch until nothing is missing; a fetch that ran out of providers asks
	// the DHT again (providers found later, or ones that came back).
	for attempt := 0; ; attempt++ {
		stats, ferr := n.blob.Fetch(ctx, j.c, ing, provs)
		for p := range stats.PerPeer {
			j.from = append(j.from, p)
		}
		if ferr == nil {
			break
		}
		if attempt >= 2 || ctx.Err() != nil {
			ing.Abort()
			fail(fmt.Errorf("node: fetching %s: %w", j.c, ferr))
			return
		}
		n.log.Warn("fetch stalled, looking for other providers", "cid", j.c, "err", ferr, "missing", ing.Missing())
		fctx, fcancel := context.WithTimeout(ctx, cfg.FetchTimeout.D())
		more, err := n.providers(fctx, j.c, nil)
		fcancel()
		if err != nil {
			ing.Abort()
			fail(fmt.Errorf("node: fetching %s: %w (then: %v)", j.c, ferr, err))
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
	n.fetches.mu.Lock()
	j.release = res.Release
	n.fetches.mu.Unlock()
	n.log.Info("fetched", "cid", j.c, "bytes", res.Size, "from", len(j.from), "elapsed", time.Since(start).Round(time.Millisecond))
	n.emit(bus.KindObjectStored, bus.ObjectStored{CID: res.CID.String(), Size: res.Size, Inline: res.Inline})
}

// locate finds c's size, verified outboard (with the last group, when
// located) and providers. Given from, it asks those. Otherwise it asks, all at once, the store role's instance
// holding c (in a process without that role), the peers this node is
// connected to, and each provider the DHT lookup finds as it finds it, and
// starts on the first that answers with a verified outboard, without
// waiting for the rest of the lookup.
func (n *Node) locate(ctx context.Context, c cid.CID, from []peer.AddrInfo) (blob.Located, error) {
	if len(from) > 0 {
		size, ob, err := n.blob.Outboard(ctx, c, from)
		if err != nil {
			return blob.Located{}, fmt.Errorf("%w: %s: no provider gave a valid outboard: %v", errNoProviders, c, err)
		}
		return blob.Located{Size: size, Outboard: ob, Providers: from}, nil
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the lookup once an answer is in
	more := make(chan peer.AddrInfo)
	// The lookup unwinds on its own once cancelled; Close waits for it (the
	// fetch does not: it has what it needs).
	n.fetches.wg.Add(1)
	go func() {
		defer n.fetches.wg.Done()
		defer close(more)
		send := func(ai peer.AddrInfo) bool {
			select {
			case more <- ai:
				return true
			case <-lctx.Done():
				return false
			}
		}
		for _, ai := range n.storeProviders(lctx, c) {
			if !send(ai) {
				return
			}
		}
		for ai := range n.overlay.FindProvidersAsync(lctx, c, 16) {
			if !send(ai) {
				return
			}
		}
	}()
	loc, err := n.blob.Locate(lctx, c, more)
	if err != nil {
		if ctx.Err() != nil {
			return blob.Located{}, fmt.Errorf("%w: %s: %v", errNoProviders, c, err)
		}
		return blob.Located{}, fmt.Errorf("%w: %s: no provider gave a valid outboard: %v", errNoProviders, c, err)
	}
	return loc, nil
}

// providers returns from, or the store role's instance holding c (in a
// process without that role) and the providers the DHT knows for c.
func (n *Node) providers(ctx context.Context, c cid.CID, from []peer.AddrInfo) ([]peer.AddrInfo, error) {
	if len(from) > 0 {
		return from, nil
	}
	local := n.storeProviders(ctx, c)
	provs, err := n.overlay.FindProviders(ctx, c, 16)
	provs = append(local, provs...)
	if err != nil && len(provs) == 0 {
		return nil, fmt.Errorf("%w: %s: %v", errNoProviders, c, err)
	}
	var ok []peer.AddrInfo
	for _, p := range provs {
		if !n.blob.Banned(p.ID) {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return nil, fmt.Errorf("%w: %s", errNoProviders, c)
	}
	return ok, nil
}

// remoteInfo is Info for an object the store lacks: it starts (or joins) its
// fetch and answers once the fetch knows the object's size.
func (n *Node) remoteInfo(ctx context.Context, c cid.CID) (store.Object, error) {
	j, err := n.fetch(ctx, c, nil)
	if errors.Is(err, store.ErrExists) {
		return n.store.Info(ctx, c)
	}
	if err != nil {
		return store.Object{}, err
	}
	return store.Object{CID: c, Size: j.size}, nil
}

// remoteOutboard is Outboard for an object the store lacks: the outboard
// its fetch was started with (verified against the CID by the ingest).
func (n *Node) remoteOutboard(ctx context.Context, c cid.CID) (int64, []byte, error) {
	j, err := n.fetch(ctx, c, nil)
	if errors.Is(err, store.ErrExists) {
		return n.store.Outboard(ctx, c)
	}
	if err != nil {
		return 0, nil, err
	}
	return j.size, append([]byte(nil), j.ob...), nil
}

// remoteRange reads from c's fetch in progress, or from the store once the
// fetch has committed it.
func (n *Node) remoteRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	for range 2 {
		rc, err := n.store.ReadRange(ctx, c, off, length)
		if !errors.Is(err, store.ErrNotFound) {
			return rc, err
		}
		j, err := n.fetch(ctx, c, nil)
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
	return n.store.ReadRange(ctx, c, off, length)
}
