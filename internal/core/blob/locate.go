package blob

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// DefaultAskConnected is how many connected peers Locate asks when
// Config.AskConnected is 0.
const DefaultAskConnected = 8

// Located is what Locate found: the object's size and verified outboard,
// the object's last chunk group (verified: it proved the size), the
// provider that gave them, and the other providers known by then (those
// that also answered, then those that arrived and were not asked yet).
type Located struct {
	Size     int64
	Outboard []byte
	// Last is the object's last chunk group, the bytes from LastOffset to
	// Size, already verified against Outboard and the CID: a fetch writes it
	// to its sink instead of asking for it again (for an object of one group,
	// that is the whole object). Empty for the empty object.
	Last      []byte
	From      peer.ID
	Providers []peer.AddrInfo // From first
}

// LastOffset is where Last starts: the offset of the object's last chunk
// group.
func (l Located) LastOffset() int64 { return lastOffset(l.Size) }

// lastOffset is the offset of the last chunk group of an object of size
// bytes (0 for the empty object).
func lastOffset(size int64) int64 {
	if size == 0 {
		return 0
	}
	return (size - 1) / store.GroupSize * store.GroupSize
}

// Locate finds c without waiting for a whole provider lookup: it asks, all
// at once, the peers this node is already connected to that speak the blob
// protocol (up to Config.AskConnected, the best scores first) and every
// provider that arrives on more (a DHT lookup streaming its results), each
// for c's outboard, and returns as soon as one answers with an outboard
// that verifies (see Outboard), cancelling the other questions. A peer
// that does not have c answers not_found and costs nothing; a liar is
// punished as by Outboard. It returns ErrNoProviders once more is closed
// and every peer asked failed, ctx.Err() when ctx ends first, ErrClosed
// after Close. The caller must close more or end ctx. Locate returns only
// once every question it started has ended (the others are cancelled):
// nothing of it runs on after it.
func (s *Service) Locate(ctx context.Context, c cid.CID, more <-chan peer.AddrInfo) (Located, error) {
	if err := s.checkOpen(); err != nil {
		return Located{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel() // the questions still out end (their streams are reset)
		wg.Wait()
	}()

	type answer struct {
		ai   peer.AddrInfo
		size int64
		ob   []byte
		last []byte
		err  error
	}
	answers := make(chan answer)
	asked := map[peer.ID]bool{}
	var known []peer.AddrInfo // every peer asked or offered, in order
	pending := 0
	ask := func(ai peer.AddrInfo) {
		if asked[ai.ID] || ai.ID == s.h.ID() || ai.ID == "" || s.Banned(ai.ID) {
			return
		}
		asked[ai.ID] = true
		known = append(known, ai)
		pending++
		wg.Go(func() {
			size, ob, last, err := s.outboardFrom(ctx, c, ai)
			select {
			case answers <- answer{ai, size, ob, last, err}:
			case <-ctx.Done():
			}
		})
	}
	for _, ai := range s.order(s.connected()) {
		ask(ai)
	}
	var errs []error
	for more != nil || pending > 0 {
		select {
		case ai, ok := <-more:
			if !ok {
				more = nil
				continue
			}
			ask(ai)
		case a := <-answers:
			pending--
			if a.err == nil {
				provs := []peer.AddrInfo{a.ai}
				for _, ai := range known {
					if ai.ID != a.ai.ID && !s.Banned(ai.ID) {
						provs = append(provs, ai)
					}
				}
				return Located{Size: a.size, Outboard: a.ob, Last: a.last, From: a.ai.ID, Providers: provs}, nil
			}
			if errors.Is(a.err, ErrClosed) {
				return Located{}, a.err
			}
			errs = append(errs, a.err)
		case <-ctx.Done():
			return Located{}, ctx.Err()
		}
	}
	if len(errs) == 0 {
		return Located{}, fmt.Errorf("%w: %s: no provider to ask", ErrNoProviders, c)
	}
	return Located{}, fmt.Errorf("%w: %s: %w", ErrNoProviders, c, errors.Join(errs...))
}

// connected lists the peers with a live connection that are known (from
// the identify exchange) to speak the blob protocol, up to AskConnected.
func (s *Service) connected() []peer.AddrInfo {
	if s.cfg.AskConnected < 0 {
		return nil
	}
	var out []peer.AddrInfo
	for _, p := range s.h.Network().Peers() {
		if p == s.h.ID() || s.Banned(p) {
			continue
		}
		if ps, err := s.h.Peerstore().SupportsProtocols(p, ProtocolBlob); err != nil || !slices.Contains(ps, ProtocolBlob) {
			continue
		}
		out = append(out, peer.AddrInfo{ID: p})
	}
	scores := make(map[peer.ID]int, len(out))
	for _, ai := range out {
		scores[ai.ID] = s.Score(ai.ID)
	}
	slices.SortStableFunc(out, func(a, b peer.AddrInfo) int { return scores[b.ID] - scores[a.ID] })
	return out[:min(len(out), s.cfg.AskConnected)]
}
