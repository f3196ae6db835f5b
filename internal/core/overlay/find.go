package overlay

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// FindProvidersAsync streams up to max providers of c (max <= 0: 20) as
// the DHT lookup finds them, never this node, each once, with the
// addresses the DHT or the peerstore knows. The channel closes when max
// were sent, the lookup ends or ctx ends (a caller that stops reading must
// end ctx). Unlike FindProviders it does not wait for the lookup to end,
// so a fetch can start on the first provider found.
func (o *Overlay) FindProvidersAsync(ctx context.Context, c cid.CID, max int) <-chan peer.AddrInfo {
	out := make(chan peer.AddrInfo)
	h, d, err := o.running()
	if err != nil {
		close(out)
		return out
	}
	if max <= 0 {
		max = defaultMaxProviders
	}
	go func() {
		defer close(out)
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		seen := map[peer.ID]bool{h.ID(): true}
		// One more than max: the DHT may list this node among them.
		for ai := range d.FindProvidersAsync(fctx, Key(c), max+1) {
			if seen[ai.ID] || len(seen) > max {
				continue
			}
			seen[ai.ID] = true
			if len(ai.Addrs) == 0 {
				ai.Addrs = h.Peerstore().Addrs(ai.ID)
			}
			select {
			case out <- ai:
			case <-ctx.Done():
				return
			}
			if len(seen) > max {
				cancel() // the DHT's channel closes soon; drain it
			}
		}
	}()
	return out
}
