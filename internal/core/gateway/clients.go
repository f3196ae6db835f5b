package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
)

// Protections against slow and greedy clients: the request slots are shared
// out per client address, and a response stream must keep moving at a
// minimum rate.

// slots bounds the requests served at once: total in all, and perClient
// for the requests of one client address (an IPv4 address, or an IPv6 /64,
// the block one subscriber usually has), so that one address cannot take
// every slot. Acquire never queues.
type slots struct {
	total, perClient int

	mu       sync.Mutex
	inUse    int
	byClient map[netip.Prefix]int
}

func newSlots(total, perClient int) *slots {
	return &slots{total: total, perClient: perClient, byClient: map[netip.Prefix]int{}}
}

// Why a request got no slot.
const (
	noSlotTotal  = 1 // every slot is taken
	noSlotClient = 2 // this client's share is taken
)

// acquire takes a slot for a request from remoteAddr (http.Request's
// RemoteAddr). It returns the release function, or 0 and why not.
func (s *slots) acquire(remoteAddr string) (func(), int) {
	key := clientKey(remoteAddr)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.inUse >= s.total:
		return nil, noSlotTotal
	case s.byClient[key] >= s.perClient:
		return nil, noSlotClient
	}
	s.inUse++
	s.byClient[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.inUse--
			if s.byClient[key]--; s.byClient[key] <= 0 {
				delete(s.byClient, key)
			}
		})
	}, 0
}

// overloaded answers a request that got no slot: 429, Retry-After: 1.
func (g *Gateway) overloaded(w http.ResponseWriter, why int) {
	g.metrics.overloaded.Inc()
	w.Header().Set("Retry-After", "1")
	if why == noSlotClient {
		WriteError(w, bus.Errorf(codes.Overloaded, "too many requests in flight from your address (%d); retry shortly", g.cfg.MaxPerClient))
		return
	}
	WriteError(w, bus.Errorf(codes.Overloaded, "too many requests in flight (%d); retry shortly", g.cfg.MaxConcurrent))
}

// clientKey is the address block a request's slots are counted under. A
// RemoteAddr that does not parse (not a TCP connection: a test, a unix
// socket) is one client.
func clientKey(remoteAddr string) netip.Prefix {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// rateWindow enforces the minimum read rate of a response stream: every
// window must see at least rate × window bytes written, or the write in
// progress fails (its deadline passes) and the response is cut. Writes are
// split so that no single write carries more than one window's quota, and
// the deadline of each is the end of the current window (or idle from now,
// if sooner). With rate 0 only idle applies: a write may take up to idle.
type rateWindow struct {
	rate   int64         // bytes per second; 0: no minimum rate
	window time.Duration // the span over which the rate is judged
	idle   time.Duration // no write may stall longer than this
	now    func() time.Time

	start time.Time // of the current window
	owed  int64     // bytes still due in the current window
}

func newRateWindow(rate int64, window, idle time.Duration, now func() time.Time) *rateWindow {
	return &rateWindow{rate: rate, window: window, idle: idle, now: now}
}

// quota is the bytes a window must see.
func (w *rateWindow) quota() int64 {
	return max(1, w.rate*int64(w.window)/int64(time.Second))
}

// next returns how many of n bytes to write next and the deadline of that
// write.
func (w *rateWindow) next(n int) (int, time.Time) {
	now := w.now()
	idle := now.Add(w.idle)
	if w.rate <= 0 {
		return n, idle
	}
	if w.start.IsZero() || w.owed <= 0 {
		w.start, w.owed = now, w.quota()
	}
	if int64(n) > w.owed {
		n = int(w.owed)
	}
	dl := w.start.Add(w.window)
	if idle.Before(dl) {
		dl = idle
	}
	return n, dl
}

// wrote records n bytes written.
func (w *rateWindow) wrote(n int) { w.owed -= int64(n) }
