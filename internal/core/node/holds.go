package node

import (
	"context"
	"sync"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
)

// Holds across processes: a publish holds its payload against GC until
// the manifest's reference is durable; in a macronode the store role, in
// another process, keeps that hold by lease (internal/core/store/storesvc)
// and the gateway ends it with store.release.

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
