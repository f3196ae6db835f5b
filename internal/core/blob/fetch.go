package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// batch is how many bytes a fetch hands to its Sink in one WriteGroups call
// (16 chunk groups): it reads that much from the stream, then the Sink
// verifies and writes it while the transport keeps receiving into the
// stream's window.
const batch = 16 * store.GroupSize

// pipeline is how many requests a fetch keeps outstanding on one stream, so
// that the provider starts on the next range without waiting a round trip.
const pipeline = 2

// FetchStats says what a Fetch did.
type FetchStats struct {
	Bytes   int64             // verified bytes written to the sink
	PerPeer map[peer.ID]int64 // of which, per provider
	Liars   []peer.ID         // providers caught sending bad bytes (now banned)
	Retries int               // ranges asked again of another provider after a failure
}

// span is a byte range [off, end) of the object.
type span struct{ off, end int64 }

// fetch is the state one Fetch shares among its providers' workers.
type fetch struct {
	s    *Service
	c    cid.CID
	sink Sink
	size int64

	mu       sync.Mutex
	cond     *sync.Cond
	pending  []span // ranges to ask for, in order of offset
	inflight int    // ranges taken and not yet finished or given back
	stopped  bool   // ctx ended or a fatal sink error
	fatal    error
	stats    FetchStats
}

// Fetch fills what sink is missing of c from providers: up to MaxProviders
// at once, each on one stream pulling Span-sized ranges from a shared
// queue (lowest offsets first, so that readers of the sink get bytes in
// order). A range whose provider dies, stalls, breaks the protocol or
// answers an error is asked of another provider (the failing one is used no
// more in this fetch); a range that fails verification gets the provider
// punished (scored down, banned, disconnected) and is asked again. It
// returns nil once the sink misses nothing, ErrNoProviders (with what each
// provider did) when the providers run out first, ErrClosed, ctx.Err(), or
// a sink error other than corruption.
func (s *Service) Fetch(ctx context.Context, c cid.CID, sink Sink, providers []peer.AddrInfo) (FetchStats, error) {
	f := &fetch{s: s, c: c, sink: sink, size: sink.Size(), stats: FetchStats{PerPeer: map[peer.ID]int64{}}}
	f.cond = sync.NewCond(&f.mu)
	if err := s.checkOpen(); err != nil {
		return f.stats, err
	}
	for _, m := range sink.Missing() {
		// Whole groups, in units of Span.
		start := m[0] / store.GroupSize * store.GroupSize
		end := min((m[1]+store.GroupSize-1)/store.GroupSize*store.GroupSize, f.size)
		for off := start; off < end; off += s.cfg.Span {
			f.pending = append(f.pending, span{off, min(off+s.cfg.Span, end)})
		}
	}
	if len(f.pending) == 0 {
		return f.stats, nil
	}
	stop := context.AfterFunc(ctx, f.stop)
	defer stop()

	order := s.order(providers)
	results := make(chan error)
	var failures []error
	next, active := 0, 0
	for {
		for active < s.cfg.MaxProviders && next < len(order) && f.remaining() {
			ai := order[next]
			next++
			active++
			go func() { results <- f.provider(ctx, ai) }()
		}
		if active == 0 {
			break
		}
		err := <-results
		active--
		if err != nil {
			failures = append(failures, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.fatal != nil:
		return f.stats, f.fatal
	case ctx.Err() != nil:
		return f.stats, ctx.Err()
	case s.checkOpen() != nil:
		return f.stats, ErrClosed
	}
	if len(f.pending) > 0 {
		var left int64
		for _, sp := range f.pending {
			left += sp.end - sp.off
		}
		if len(failures) == 0 {
			return f.stats, fmt.Errorf("%w: %s: %d bytes still missing: no provider to ask", ErrNoProviders, c, left)
		}
		return f.stats, fmt.Errorf("%w: %s: %d bytes still missing: %w", ErrNoProviders, c, left, errors.Join(failures...))
	}
	if m := sink.Missing(); len(m) > 0 {
		return f.stats, fmt.Errorf("blob: %s: every range was written but the sink still misses %d spans from %d", c, len(m), m[0][0])
	}
	return f.stats, nil
}

// stop wakes every worker to give up.
func (f *fetch) stop() {
	f.mu.Lock()
	f.stopped = true
	f.cond.Broadcast()
	f.mu.Unlock()
}

// remaining reports whether anything is still to be asked for or on its way.
func (f *fetch) remaining() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.stopped && (len(f.pending) > 0 || f.inflight > 0)
}

// take returns the next range to ask for. With wait it waits while other
// workers still have ranges on their way (one may come back); ok is false
// when there is nothing left to take (or the fetch stopped).
func (f *fetch) take(wait bool) (span, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for wait && len(f.pending) == 0 && f.inflight > 0 && !f.stopped {
		f.cond.Wait()
	}
	if f.stopped || len(f.pending) == 0 {
		return span{}, false
	}
	sp := f.pending[0]
	f.pending = f.pending[1:]
	f.inflight++
	return sp, true
}

// untake puts a range taken but never asked for back.
func (f *fetch) untake(sp span) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight--
	i := sort.Search(len(f.pending), func(i int) bool { return f.pending[i].off >= sp.off })
	f.pending = slices.Insert(f.pending, i, sp)
	f.cond.Broadcast()
}

// wake wakes the workers waiting in take.
func (f *fetch) wake() {
	f.mu.Lock()
	f.cond.Broadcast()
	f.mu.Unlock()
}

// giveBack ends taken ranges: what is left of each (if anything) goes back
// to the queue.
func (f *fetch) giveBack(sps ...span) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, sp := range sps {
		f.inflight--
		if sp.off < sp.end {
			i := sort.Search(len(f.pending), func(i int) bool { return f.pending[i].off >= sp.off })
			f.pending = slices.Insert(f.pending, i, sp)
			f.stats.Retries++
		}
	}
	f.cond.Broadcast()
}

// wrote accounts n verified bytes from p.
func (f *fetch) wrote(p peer.ID, n int64) {
	f.mu.Lock()
	f.stats.Bytes += n
	f.stats.PerPeer[p] += n
	f.mu.Unlock()
}

// fail stops the whole fetch with a local error.
func (f *fetch) fail(err error) {
	f.mu.Lock()
	if f.fatal == nil {
		f.fatal = err
	}
	f.stopped = true
	f.cond.Broadcast()
	f.mu.Unlock()
}

// provider runs StreamsPerProvider workers on ai and returns the first
// error of theirs. Once one of them fails, the others finish the ranges
// they have asked for and take no more: the provider is out of this fetch.
func (f *fetch) provider(ctx context.Context, ai peer.AddrInfo) error {
	n := f.s.cfg.StreamsPerProvider
	errs := make(chan error, n)
	var down atomic.Bool // a stream failed: the others take no more ranges
	for range n {
		go func() {
			err := f.work(ctx, ai, &down)
			if err != nil {
				down.Store(true)
				f.wake()
			}
			errs <- err
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// work runs one provider's stream until the queue is done or the provider
// fails; it returns why it stopped early (nil when the queue is done).
func (f *fetch) work(ctx context.Context, ai peer.AddrInfo, down *atomic.Bool) (err error) {
	s := f.s
	take := func(wait bool) (span, bool) {
		if down.Load() {
			return span{}, false
		}
		sp, ok := f.take(wait)
		if ok && down.Load() {
			f.untake(sp)
			return span{}, false
		}
		return sp, ok
	}
	first, ok := take(true)
	if !ok {
		return nil
	}
	cn, err := s.dial(ctx, ai, ProtocolBlob)
	if err != nil {
		f.giveBack(first)
		s.adjust(ai.ID, scoreFailed, false)
		return err
	}
	queue := []span{first} // asked for, in order; queue[0] is being received
	graceful := false
	defer func() {
		cn.close(graceful)
		if len(queue) > 0 {
			f.giveBack(queue...)
		}
	}()
	ask := func(sp span) error {
		return cn.send(request{Op: opRead, CID: f.c.String(), Off: sp.off, Len: sp.end - sp.off})
	}
	// failed ends this provider's part: punished when it lied, scored down
	// when it failed otherwise (not for its answers, not when we stopped).
	failed := func(err error) error {
		var re *RemoteError
		switch {
		case errors.Is(err, ErrLied):
			f.mu.Lock()
			first := !slices.Contains(f.stats.Liars, ai.ID)
			if first {
				f.stats.Liars = append(f.stats.Liars, ai.ID)
			}
			f.mu.Unlock()
			if first {
				s.punish(ai.ID, f.c, err)
			}
		case errors.As(err, &re), errors.Is(err, ErrClosed), ctx.Err() != nil:
		default:
			s.adjust(ai.ID, scoreFailed, false)
		}
		return err
	}
	if err := ask(first); err != nil {
		return failed(err)
	}
	buf := make([]byte, batch)
	for len(queue) > 0 {
		want := queue[0].end - queue[0].off
		r, err := cn.recv()
		if err != nil {
			return failed(err)
		}
		if r.Size != f.size || r.Len != want {
			return failed(fmt.Errorf("%w: peer %s: %d bytes of an object of %d for a read of %d of %d", ErrProtocol, ai.ID, r.Len, r.Size, want, f.size))
		}
		// Ask for the next range before receiving this one.
		if len(queue) < pipeline {
			if nx, ok := take(false); ok {
				queue = append(queue, nx)
				if err := ask(nx); err != nil {
					return failed(err)
				}
			}
		}
		// The read's bytes must arrive at MinRate on average, after
		// RequestTimeout's grace: a provider trickling them (each byte in
		// time) would otherwise hold the range, and the fetch, forever.
		cn.rd.until = time.Now().Add(s.cfg.RequestTimeout + time.Duration(want)*time.Second/time.Duration(s.cfg.MinRate))
		// queue[0].off advances as bytes are written: what is left of it
		// goes back to the queue if this provider fails.
		for queue[0].off < queue[0].end {
			off := queue[0].off
			n := min(int64(len(buf)), queue[0].end-off)
			if _, err := io.ReadFull(cn.br, buf[:n]); err != nil {
				return failed(cn.streamErr("receiving bytes", err))
			}
			if err := f.sink.WriteGroups(off, buf[:n]); err != nil {
				if errors.Is(err, store.ErrCorrupt) {
					return failed(fmt.Errorf("%w: peer %s: %w", ErrLied, ai.ID, err))
				}
				err = fmt.Errorf("blob: writing %s: %w", f.c, err)
				f.fail(err)
				return err
			}
			queue[0].off += n
			f.wrote(ai.ID, n)
		}
		cn.rd.until = time.Time{}
		s.adjust(ai.ID, scoreServed, false)
		f.giveBack(queue[0]) // empty: done
		queue = queue[1:]
		if len(queue) == 0 {
			if nx, ok := take(true); ok {
				queue = append(queue, nx)
				if err := ask(nx); err != nil {
					return failed(err)
				}
			}
		}
	}
	graceful = true
	return nil
}
