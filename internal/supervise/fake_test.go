package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/poll"
)

// fakeClock only moves when a test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	d  time.Duration
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, &fakeTimer{at: c.now.Add(d), d: d, ch: ch})
	return ch
}

// advance moves the clock by d and fires every timer that is due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- c.now
	}
	c.timers = kept
}

// waitTimer waits until a timer of d is pending (set since the clock last
// moved, so one left over by an earlier wait does not count).
func (c *fakeClock) waitTimer(t *testing.T, d time.Duration) {
	t.Helper()
	poll.Until(t, fmt.Sprintf("a %v timer", d), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, tm := range c.timers {
			if tm.d == d && tm.at.Equal(c.now.Add(d)) {
				return true
			}
		}
		return false
	})
}

// fire waits for a timer of d and moves the clock by d.
func (c *fakeClock) fire(t *testing.T, d time.Duration) {
	t.Helper()
	c.waitTimer(t, d)
	c.advance(d)
}

// fakeSys starts fakeProcs and records what happens to them.
type fakeSys struct {
	mu       sync.Mutex
	events   []string
	pid      int
	started  chan *fakeProc
	startErr map[string]error
	stubborn map[string]bool // ignore SIGTERM
}

func newFakeSys() *fakeSys {
	return &fakeSys{started: make(chan *fakeProc, 100), startErr: map[string]error{}, stubborn: map[string]bool{}}
}

func (f *fakeSys) event(format string, args ...any) {
	f.mu.Lock()
	f.events = append(f.events, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeSys) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

func (f *fakeSys) start(spec Spec) (Proc, error) {
	f.mu.Lock()
	err := f.startErr[spec.Name]
	f.pid++
	p := &fakeProc{sys: f, spec: spec, pid: 1000 + f.pid, done: make(chan struct{})}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	f.event("start %s", spec.Name)
	f.started <- p
	return p, nil
}

type fakeProc struct {
	sys  *fakeSys
	spec Spec
	pid  int
	once sync.Once
	done chan struct{}
	err  error
}

// exit ends the process as if it exited with err.
func (p *fakeProc) exit(err error) {
	p.once.Do(func() {
		p.err = err
		p.spec.Stdout.Close()
		p.spec.Stderr.Close()
		close(p.done)
	})
}

func (p *fakeProc) PID() int              { return p.pid }
func (p *fakeProc) Done() <-chan struct{} { return p.done }
func (p *fakeProc) Err() error            { return p.err }

func (p *fakeProc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return errors.New("process done")
	default:
	}
	name := map[syscall.Signal]string{syscall.SIGTERM: "TERM", syscall.SIGKILL: "KILL", syscall.SIGHUP: "HUP"}[sig]
	p.sys.event("%s %s", name, p.spec.Name)
	p.sys.mu.Lock()
	stubborn := p.sys.stubborn[p.spec.Name]
	p.sys.mu.Unlock()
	switch {
	case sig == syscall.SIGKILL:
		p.exit(errors.New("signal: killed"))
	case sig == syscall.SIGTERM && !stubborn:
		p.exit(errors.New("signal: terminated"))
	}
	return nil
}

// harness runs a Supervisor on a fake clock and fake processes.
type harness struct {
	t      *testing.T
	s      *Supervisor
	clk    *fakeClock
	sys    *fakeSys
	cancel context.CancelFunc
	result chan error

	mu    sync.Mutex
	ready map[string]bool // what the fake probe answers, by URL
}

func newHarness(t *testing.T, cfg Config, r float64, prepare func(*fakeSys)) *harness {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clk: newFakeClock(), sys: newFakeSys(), result: make(chan error, 1), ready: map[string]bool{}}
	if prepare != nil {
		prepare(h.sys)
	}
	h.s = New(cfg, Options{
		Binary:  "/bin/ronhost",
		Clock:   h.clk,
		Rand:    func() float64 { return r },
		Start:   h.sys.start,
		Environ: []string{},
		Probe: func(ctx context.Context, url string) bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.ready[url]
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.result <- h.s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		// Stubborn processes would wait for the stop timeout forever.
		for {
			select {
			case <-h.result:
				return
			case <-time.After(10 * time.Millisecond):
				h.clk.advance(time.Hour)
			}
		}
	})
	return h
}

func (h *harness) setReady(url string, ok bool) {
	h.mu.Lock()
	h.ready[url] = ok
	h.mu.Unlock()
}

// started waits for the next process start, which must be name's.
func (h *harness) started(name string) *fakeProc {
	h.t.Helper()
	select {
	case p := <-h.sys.started:
		if p.spec.Name != name {
			h.t.Fatalf("started %s, want %s; events %v", p.spec.Name, name, h.sys.log())
		}
		return p
	case <-time.After(poll.Deadline):
		h.t.Fatalf("%s did not start; events %v; status %+v", name, h.sys.log(), h.s.Status())
		return nil
	}
}

// noStart checks that no process start is pending.
func (h *harness) noStart() {
	h.t.Helper()
	select {
	case p := <-h.sys.started:
		h.t.Fatalf("%s started; events %v", p.spec.Name, h.sys.log())
	default:
	}
}

func (h *harness) status(name string) ProcStatus {
	for _, st := range h.s.Status() {
		if st.Name == name {
			return st
		}
	}
	h.t.Fatalf("no process %s", name)
	return ProcStatus{}
}

func (h *harness) waitState(name string, want State) ProcStatus {
	h.t.Helper()
	var st ProcStatus
	poll.Until(h.t, name+" "+string(want), func() bool {
		st = h.status(name)
		return st.State == want
	})
	return st
}

// stop cancels Run and returns its error.
func (h *harness) stop() error {
	h.t.Helper()
	h.cancel()
	return h.wait()
}

func (h *harness) wait() error {
	h.t.Helper()
	select {
	case err := <-h.result:
		h.result <- err // for Cleanup
		return err
	case <-time.After(poll.Deadline):
		h.t.Fatalf("Run did not return; status %+v; events %v", h.s.Status(), h.sys.log())
		return nil
	}
}

// next waits for the next process start, whichever it is.
func (h *harness) next() *fakeProc {
	h.t.Helper()
	select {
	case p := <-h.sys.started:
		return p
	case <-time.After(poll.Deadline):
		h.t.Fatalf("nothing started; events %v", h.sys.log())
		return nil
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
