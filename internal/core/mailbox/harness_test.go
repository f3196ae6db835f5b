package mailbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ronhost/ronhost/internal/pebbledb"
	"github.com/ronhost/ronhost/internal/poll"
)

var bg = context.Background()

// memNet is an in-memory transport: listeners by "host:port", dials
// connected with net.Pipe. fail[addr] makes the next dials to addr fail.
type memNet struct {
	mu    sync.Mutex
	ls    map[string]*memListener
	fail  map[string]int
	dials atomic.Int64
}

func newMemNet() *memNet {
	return &memNet{ls: map[string]*memListener{}, fail: map[string]int{}}
}

var errRefused = errors.New("memnet: connection refused")

func (n *memNet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	n.dials.Add(1)
	n.mu.Lock()
	if n.fail[addr] > 0 {
		n.fail[addr]--
		n.mu.Unlock()
		return nil, fmt.Errorf("%w: %s (down)", errRefused, addr)
	}
	l := n.ls[addr]
	n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("%w: %s", errRefused, addr)
	}
	c1, c2 := net.Pipe()
	select {
	case l.ch <- c2:
		return c1, nil
	case <-l.done:
		return nil, fmt.Errorf("%w: %s", errRefused, addr)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (n *memNet) setFail(addr string, k int) {
	n.mu.Lock()
	n.fail[addr] = k
	n.mu.Unlock()
}

func (n *memNet) failLeft(addr string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fail[addr]
}

func (n *memNet) listen(addr string) *memListener {
	l := &memListener{n: n, addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
	n.mu.Lock()
	n.ls[addr] = l
	n.mu.Unlock()
	return l
}

type memListener struct {
	n    *memNet
	addr string
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.n.mu.Lock()
		if l.n.ls[l.addr] == l {
			delete(l.n.ls, l.addr)
		}
		l.n.mu.Unlock()
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr(l.addr) }

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

// clock is a settable clock for Options.Now.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// events records OnEvent calls.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) on(kind string, v any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, kind+" "+v.(Event).ID)
}

func (e *events) has(kind, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.list {
		if s == kind+" "+id {
			return true
		}
	}
	return false
}

// box is a mailbox in a test, served on the memNet at host.
type box struct {
	m    *Mailbox
	addr Address
	ev   *events
	srv  *http.Server
}

// testOptions are fast retries over the memNet.
func testOptions(n *memNet, host string) Options {
	id, err := GenerateIdentity()
	if err != nil {
		panic(err)
	}
	return Options{
		FS: vfs.NewMem(), Identity: id, Host: host, Dialer: n,
		RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond,
	}
}

// newBox opens a mailbox with o in dir, serves it on n at o.Host and starts
// its worker; cleanup closes both.
func newBox(t *testing.T, n *memNet, dir string, o Options) *box {
	t.Helper()
	ev := &events{}
	if o.OnEvent == nil {
		o.OnEvent = ev.on
	}
	m, err := Open(bg, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	b := &box{m: m, addr: m.Address(), ev: ev, srv: &http.Server{Handler: m.Handler()}}
	l := n.listen(o.Host)
	go b.srv.Serve(l)
	if err := m.Start(bg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.srv.Close()
		if err := m.Close(); err != nil && !errors.Is(err, pebbledb.ErrFailed) { // a test that failed Pebble on purpose
			t.Error(err)
		}
	})
	return b
}

// waitFor polls cond until it holds or 20 s pass.

func outboxEntry(t *testing.T, m *Mailbox, id string) OutboxEntry {
	t.Helper()
	es, err := m.Outbox(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("no outbox entry %s", id)
	return OutboxEntry{}
}

func waitStatus(t *testing.T, m *Mailbox, id, status string) OutboxEntry {
	t.Helper()
	var e OutboxEntry
	poll.Until(t, "outbox entry "+id+" "+status, func() bool {
		e = outboxEntry(t, m, id)
		return e.Status == status
	})
	return e
}

func inbox(t *testing.T, m *Mailbox) []Message {
	t.Helper()
	msgs, err := m.Inbox(bg)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}
