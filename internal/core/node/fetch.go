package node

import (
	"github.com/ronhost/ronhost/internal/core/fetch"
)

// newFetcher makes the fetches of objects this node lacks (internal/core/fetch)
// over its store, blob client and overlay; they run under runCtx, and the
// fetches component's stop closes them before the overlay and the store
// close.
func (n *Node) newFetcher() *fetch.Fetcher {
	return fetch.New(n.runCtx, fetch.Config{
		Store:          n.store,
		Blob:           n.blob,
		Overlay:        n.overlay,
		StoreProviders: n.storeProviders,
		Emit:           n.emit,
		Timeout:        n.opts.Config.Overlay.FetchTimeout.D(),
		Logger:         n.log,
	})
}

// fetchOn says whether this node fetches missing objects from peers.
func (n *Node) fetchOn() bool { return n.fetcher != nil && n.opts.Config.Overlay.Fetch }
