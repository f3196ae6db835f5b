package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
)

// Holds across processes. A publish holds its payload against GC from its
// store until the manifest's reference is durable (store.PutOptions.Hold).
// In a macronode the payload's lasting copy is the store role's, in another
// process: the gateway asks for the hold with store.replicate (or
// store.put) and ends it with store.release. The store role keeps such
// holds here, by id, in memory: they end with a release, with the store
// process, or at their expiry (at most maxRemoteHold), so a gateway that
// dies mid-publish leaves nothing held for long.

// maxRemoteHold caps a hold taken for another process.
const maxRemoteHold = time.Hour

// maxRemoteHolds caps how many such holds one store process keeps.
const maxRemoteHolds = 100_000

// remoteHolds are the holds this store role keeps for other processes.
type remoteHolds struct {
	mu sync.Mutex
	m  map[string]remoteHold
}

type remoteHold struct {
	release func()
	expires time.Time
}

// add keeps release under a new id until expires; it forgets the expired
// ones first. It fails when too many are kept.
func (h *remoteHolds) add(release func(), expires, now time.Time) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]remoteHold{}
	}
	for id, x := range h.m {
		if now.After(x.expires) {
			x.release() // the store's hold has expired too: this frees its entry
			delete(h.m, id)
		}
	}
	if len(h.m) >= maxRemoteHolds {
		return "", bus.Errorf(codes.Overloaded, "node: %d holds for other processes already", len(h.m))
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	h.m[id] = remoteHold{release: release, expires: expires}
	return id, nil
}

// end releases the hold id; an unknown id (released, expired, or held by
// another instance of the store role) is not an error.
func (h *remoteHolds) end(id string) {
	h.mu.Lock()
	x, ok := h.m[id]
	delete(h.m, id)
	h.mu.Unlock()
	if ok {
		x.release()
	}
}

// keepRemote keeps release for another process, for d capped at
// maxRemoteHold, and returns its id.
func (n *Node) keepRemote(release func(), d time.Duration) (string, error) {
	now := time.Now()
	id, err := n.remoteHolds.add(release, now.Add(min(d, maxRemoteHold)), now)
	if err != nil {
		release()
	}
	return id, err
}

// holdSeconds is a hold's duration as the bus carries it: whole seconds,
// at least one.
func holdSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(1, int64((d+time.Second-1)/time.Second))
}

// remoteRelease returns the release of a hold the store role keeps as id:
// it asks the store role to end it (best effort: it expires anyway).
func (n *Node) remoteRelease(id string) func() {
	return sync.OnceFunc(func() {
		if id == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(n.runCtx), 5*time.Second)
		defer cancel()
		if _, err := bus.Call(ctx, n.bus, contract.StoreRelease, contract.ReleaseReq{Lease: id}); err != nil {
			n.log.Info("ending a hold on the store role (it expires anyway)", "lease", id, "err", err)
		}
	})
}
