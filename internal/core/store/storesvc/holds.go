package storesvc

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
)

// Holds across processes. A publish holds its payload against GC from its
// store until the manifest's reference is durable (store.PutOptions.Hold).
// In a macronode the payload's lasting copy is the store role's, in another
// process: the gateway asks for the hold with store.replicate (or
// store.put) and ends it with store.release. The store role keeps such
// holds here, by lease, in memory: they end with a release, with the store
// process, or at their expiry (at most MaxHold), so a gateway that dies
// mid-publish leaves nothing held for long.

// MaxHold caps a hold taken for another process.
const MaxHold = time.Hour

// MaxHolds caps how many such holds one store process keeps.
const MaxHolds = 100_000

// holds are the holds this store role keeps for other processes.
type holds struct {
	mu  sync.Mutex
	m   map[string]held
	now func() time.Time // nil: time.Now
}

type held struct {
	release func()
	expires time.Time
}

// keep keeps release for another process for d (capped at MaxHold) under a
// new lease; it forgets the expired ones first. When too many are kept it
// releases at once and fails (overloaded).
func (h *holds) keep(release func(), d time.Duration) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if h.now != nil {
		now = h.now()
	}
	if h.m == nil {
		h.m = map[string]held{}
	}
	for id, x := range h.m {
		if now.After(x.expires) {
			x.release() // the store's hold has expired too: this frees its entry
			delete(h.m, id)
		}
	}
	if len(h.m) >= MaxHolds {
		release()
		return "", bus.Errorf(codes.Overloaded, "storesvc: %d holds for other processes already", len(h.m))
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	h.m[id] = held{release: release, expires: now.Add(min(d, MaxHold))}
	return id, nil
}

// end releases the hold of lease id; an unknown id (released, expired, or
// held by another instance of the store role) is not an error.
func (h *holds) end(id string) {
	h.mu.Lock()
	x, ok := h.m[id]
	delete(h.m, id)
	h.mu.Unlock()
	if ok {
		x.release()
	}
}
