package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/bus"
	"github.com/ronhost/ronhost/core/cid"
	"github.com/ronhost/ronhost/core/store"
)

// Fetching objects this node lacks: a request for an object the store does
// not hold finds providers through the DHT, starts one fetch per CID (every
// request for it shares that fetch), and reads the bytes from the ingest as
// they are verified. The fetched object is kept unpinned, as a cache that GC
// may collect; the node does not provide it.

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
}

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
	n.fetches.mu.Lock()
	j := n.fetches.jobs[c]
	if j == nil {
		if n.runCtx == nil || n.runCtx.Err() != nil {
			n.fetches.mu.Unlock()
			return nil, bus.Errorf(bus.CodeUnavailable, "node: shutting down")
		}
		j = &fetchJob{c: c, ready: make(chan struct{}), done: make(chan struct{})}
		n.fetches.jobs[c] = j
		n.fetches.wg.Add(1)
		go func() {
			defer n.fetches.wg.Done()
			n.runFetch(j, from)
		}()
	}
	n.fetches.mu.Unlock()
	select {
	case <-j.ready:
		if j.ing == nil {
			return nil, j.err
		}
		return j, nil
	case <-ctx.Done():
		return nil, bus.Errorf(bus.CodeTimeout, "node: fetching %s: %v", c, ctx.Err())
	}
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
		n.fetches.mu.Unlock()
		close(j.done)
	}()
	fail := func(err error) {
		j.err = err
		n.log.Info("fetch failed", "cid", j.c, "err", err)
	}

	findCtx, cancel := context.WithTimeout(ctx, cfg.FetchTimeout.D())
	defer cancel()
	provs, err := n.providers(findCtx, j.c, from)
	if err != nil {
		fail(err)
		return
	}
	size, ob, err := n.blob.Outboard(findCtx, j.c, provs)
	if err != nil {
		fail(fmt.Errorf("%w: %s: no provider gave a valid outboard: %v", errNoProviders, j.c, err))
		return
	}
	ing, err := n.store.NewIngest(ctx, j.c, size, ob)
	if errors.Is(err, store.ErrExists) {
		j.err = err // stored meanwhile: readers go to the store
		return
	}
	if err != nil {
		fail(err)
		return
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
	res, err := ing.Commit(ctx, store.PutOptions{})
	if err != nil {
		ing.Abort()
		fail(err)
		return
	}
	n.log.Info("fetched", "cid", j.c, "bytes", res.Size, "from", len(j.from), "elapsed", time.Since(start).Round(time.Millisecond))
	n.emit(bus.KindObjectStored, bus.ObjectStored{CID: res.CID.String(), Size: res.Size, Inline: res.Inline})
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
