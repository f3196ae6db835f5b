package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// dialFrom returns an HTTP client whose connections come from the loopback
// address ip (any of 127.0.0.0/8 works on Linux).
func dialFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableCompression: true}}
}

// TestSlowReadersDoNotStarveOthers: 64 clients from one address ask for a
// large object and never read. They hold at most their address's share of
// the 64 slots (the others get 429 at once), so a 65th client from another
// address is served while they are still stuck. (Before, the 64 held every
// slot and everyone else got 429 until the writes timed out.) The verdict
// does not depend on speed: the stuck streams are still in flight when the
// other client is answered.
func TestSlowReadersDoNotStarveOthers(t *testing.T) {
	const slots = 64
	e := newEnv(t, Config{MaxConcurrent: slots})
	share := e.gw.cfg.MaxPerClient
	if share < 1 || share >= slots {
		t.Fatalf("the default share per client is %d of %d slots", share, slots)
	}
	big := e.put(t, bytes.Repeat([]byte("slow reader "), 48<<20/12)) // more than loopback's socket buffers
	small := data(1000, 65)
	smallCID := e.put(t, small)
	addr := strings.TrimPrefix(e.srv.URL, "http://")

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	for range slots {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := fmt.Fprintf(c, "GET /o/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", big); err != nil {
			t.Fatal(err)
		}
	}
	// Read only each status line: the bodies stay unread.
	counts := map[string]int{}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		line := make([]byte, len("HTTP/1.1 200"))
		if _, err := io.ReadFull(c, line); err != nil {
			t.Fatal(err)
		}
		counts[string(line[9:])]++
	}
	if counts["200"] != share || counts["429"] != slots-share {
		t.Fatalf("64 requests from one address: %v, want %d streams and %d refusals", counts, share, slots-share)
	}

	// Another address is served, while the slow streams still hold their slots.
	resp, err := dialFrom("127.0.0.3").Get(e.srv.URL + "/o/" + smallCID.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, small) {
		t.Fatalf("the 65th client: %d, %d bytes", resp.StatusCode, len(body))
	}
	// The 65th request leaves the gauge once its handler has returned,
	// which may be just after its client has the whole answer.
	for deadline := time.Now().Add(time.Minute); ; runtime.Gosched() {
		n := e.metric(t, "ron_gateway_in_flight", nil)
		if int(n) == share {
			break
		}
		if int(n) != share+1 || time.Now().After(deadline) {
			t.Fatalf("%v requests in flight after the 65th client was served, want the %d stuck streams", n, share)
		}
	}
}

func TestClientKey(t *testing.T) {
	same := [][2]string{
		{"10.0.0.1:1", "10.0.0.1:2"},
		{"[2001:db8:1:2::1]:80", "[2001:db8:1:2:ffff::9]:81"}, // one /64
		{"[::ffff:10.0.0.1]:5", "10.0.0.1:6"},
	}
	for _, p := range same {
		if clientKey(p[0]) != clientKey(p[1]) {
			t.Errorf("%s and %s are counted apart", p[0], p[1])
		}
	}
	apart := [][2]string{{"10.0.0.1:1", "10.0.0.2:1"}, {"[2001:db8:1:2::1]:80", "[2001:db8:1:3::1]:80"}}
	for _, p := range apart {
		if clientKey(p[0]) == clientKey(p[1]) {
			t.Errorf("%s and %s share a slot count", p[0], p[1])
		}
	}
	s := newSlots(3, 2)
	r1, _ := s.acquire("10.0.0.1:1")
	r2, _ := s.acquire("10.0.0.1:2")
	if r, why := s.acquire("10.0.0.1:3"); r != nil || why != noSlotClient {
		t.Fatalf("a third slot for one client: %v", why)
	}
	r3, _ := s.acquire("10.0.0.2:1")
	if r, why := s.acquire("10.0.0.3:1"); r != nil || why != noSlotTotal {
		t.Fatalf("a slot past the total: %v", why)
	}
	r1()
	r1() // releasing twice frees one slot
	if r, _ := s.acquire("10.0.0.1:4"); r == nil {
		t.Fatal("a released slot was not reusable")
	}
	r2()
	r3()
	if s.inUse != 1 || len(s.byClient) != 1 {
		t.Fatalf("after releases: %d in use, %v", s.inUse, s.byClient)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// slowConn is a response writer whose client reads rate bytes per second
// of the fake clock (and has no buffer): a write takes len/rate, and one
// that would end past the write deadline writes what fits and fails.
type slowConn struct {
	clock    *fakeClock
	rate     float64 // bytes per second; 0: the client reads nothing
	deadline time.Time
	got      int64
	hdr      http.Header
}

func (w *slowConn) Header() http.Header {
	if w.hdr == nil {
		w.hdr = http.Header{}
	}
	return w.hdr
}
func (w *slowConn) WriteHeader(int)                    {}
func (w *slowConn) SetWriteDeadline(t time.Time) error { w.deadline = t; return nil }

func (w *slowConn) Write(p []byte) (int, error) {
	now := w.clock.Now()
	left := w.deadline.Sub(now)
	need := time.Duration(float64(len(p)) / w.rate * float64(time.Second))
	if w.rate > 0 && need <= left {
		w.clock.advance(need)
		w.got += int64(len(p))
		return len(p), nil
	}
	n := 0
	if w.rate > 0 && left > 0 {
		n = int(w.rate * left.Seconds())
	}
	w.clock.advance(max(left, 0))
	w.got += int64(n)
	return n, os.ErrDeadlineExceeded
}

// TestMinReadRate runs the response streamer against clients reading at
// various speeds on a fake clock: a client slower than the minimum is cut
// within about one window; faster ones get everything; one that stops is
// cut at the end of its window; without a minimum only the idle limit
// applies.
func TestMinReadRate(t *testing.T) {
	const rate, window, idle = 16 << 10, 10 * time.Second, 60 * time.Second
	run := func(minRate int64, readRate float64, total int) (sent int64, elapsed time.Duration, err error) {
		clock := &fakeClock{t: time.Unix(1_000_000, 0)}
		w := &slowConn{clock: clock, rate: readRate}
		g := &Gateway{cfg: Config{WriteIdle: idle}}
		s := &streamer{g: g, ctx: context.Background(), w: w, rc: http.NewResponseController(w), status: 200,
			rate: newRateWindow(minRate, window, idle, clock.Now)}
		start := clock.Now()
		chunk := make([]byte, 256<<10)
		for int(sent) < total {
			n, werr := s.Write(chunk[:min(len(chunk), total-int(sent))])
			sent += int64(n)
			if werr != nil {
				return sent, clock.Now().Sub(start), werr
			}
		}
		if w.got != sent {
			t.Fatalf("the client got %d bytes, the streamer says %d", w.got, sent)
		}
		return sent, clock.Now().Sub(start), nil
	}
	const total = 4 << 20
	if sent, el, err := run(rate, 2*rate, total); err != nil || sent != total {
		t.Fatalf("a client at twice the minimum: %d bytes in %v: %v", sent, el, err)
	}
	sent, el, err := run(rate, rate/2, total)
	if !errors.Is(err, os.ErrDeadlineExceeded) || el > window {
		t.Fatalf("a client at half the minimum: %d bytes in %v: %v; want cut within %v", sent, el, err, window)
	}
	if sent > rate*int64(window/time.Second) {
		t.Fatalf("a client at half the minimum got %d bytes before the cut", sent)
	}
	// Stops reading after a while: cut once the window it stopped in ends.
	if _, el, err := run(rate, 0, total); !errors.Is(err, os.ErrDeadlineExceeded) || el != window {
		t.Fatalf("a client that reads nothing: cut after %v (%v), want %v", el, err, window)
	}
	// No minimum rate: only idle applies to a stalled client, and a slow
	// one is served.
	if _, el, err := run(-1, 0, total); !errors.Is(err, os.ErrDeadlineExceeded) || el != idle {
		t.Fatalf("without a minimum, a stalled client: cut after %v (%v), want %v", el, err, idle)
	}
	if sent, _, err := run(-1, 1<<20, total); err != nil || sent != total {
		t.Fatalf("without a minimum: %d bytes: %v", sent, err)
	}
}

// countingObjects counts the chunk groups each ReadRange verifies.
type countingObjects struct {
	Objects
	mu     sync.Mutex
	groups map[int64]int
}

func (o *countingObjects) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	o.mu.Lock()
	if length > 0 {
		for g := off / store.GroupSize; g <= (off+length-1)/store.GroupSize; g++ {
			o.groups[g]++
		}
	}
	o.mu.Unlock()
	return o.Objects.ReadRange(ctx, c, off, length)
}

// TestOneVerificationPerGroup: 64 one-byte ranges spread over three chunk
// groups, asked in a shuffled order, verify each group once (before, each
// part re-read and re-verified its group), and the parts come back right,
// in ascending order.
func TestOneVerificationPerGroup(t *testing.T) {
	e := newEnv(t, Config{})
	b := data(3*store.GroupSize-100, 64)
	c := e.put(t, b)
	objs := &countingObjects{Objects: e.st, groups: map[int64]int{}}
	srv := httptest.NewServer(New(Config{}, objs, e.be, testAuth{}, nil).Handler())
	defer srv.Close()

	var offs []int
	for i := range 64 {
		offs = append(offs, i*(len(b)/64)+i%7)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
	var specs []string
	for _, o := range offs {
		specs = append(specs, fmt.Sprintf("%d-%d", o, o))
	}
	req, _ := http.NewRequest("GET", srv.URL+"/o/"+c.String(), nil)
	req.Header.Set("Range", "bytes="+strings.Join(specs, ","))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || params["boundary"] == "" {
		t.Fatalf("64 ranges: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	last := -1
	for i := range 64 {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		var lo, hi, size int
		if _, err := fmt.Sscanf(p.Header.Get("Content-Range"), "bytes %d-%d/%d", &lo, &hi, &size); err != nil || lo != hi || size != len(b) {
			t.Fatalf("part %d: Content-Range %q", i, p.Header.Get("Content-Range"))
		}
		got, _ := io.ReadAll(p)
		if !bytes.Equal(got, b[lo:lo+1]) || lo <= last {
			t.Fatalf("part %d at %d: %x, want %x (previous part at %d)", i, lo, got, b[lo:lo+1], last)
		}
		last = lo
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("after 64 parts: %v", err)
	}
	for g, n := range objs.groups {
		if n != 1 {
			t.Errorf("group %d verified %d times", g, n)
		}
	}
	if len(objs.groups) != 3 {
		t.Fatalf("groups read: %v, want the 3 of the object", objs.groups)
	}
}
