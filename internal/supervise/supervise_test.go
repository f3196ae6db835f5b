package supervise

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/poll"
)

// settings: distinct durations, so a test can tell the timers apart.
func settings() Settings {
	return Settings{
		ReadyTimeout:  Duration(7 * time.Second),
		StopTimeout:   Duration(3 * time.Second),
		BackoffMin:    Duration(time.Second),
		BackoffMax:    Duration(8 * time.Second),
		RestartCap:    -1,
		RestartWindow: Duration(time.Minute),
	}
}

func TestBackoff(t *testing.T) {
	min, max := 500*time.Millisecond, 30*time.Second
	prevCeil := time.Duration(0)
	for n := 1; n <= 64; n++ {
		lo, hi := backoff(n, min, max, 0), backoff(n, min, max, 0.999999)
		if lo != min {
			t.Fatalf("n=%d r=0: %v, want backoff_min %v", n, lo, min)
		}
		ceil := min << n
		if n >= 6 { // 500ms·2^6 = 32s > 30s
			ceil = max
		}
		if hi > ceil || hi < ceil-ceil/1000 {
			t.Fatalf("n=%d: r→1 gives %v, want just under %v", n, hi, ceil)
		}
		if hi < prevCeil-prevCeil/1000 {
			t.Fatalf("n=%d: ceiling went down: %v after %v", n, hi, prevCeil)
		}
		prevCeil = hi
		for _, r := range []float64{0.1, 0.5, 0.9} {
			d := backoff(n, min, max, r)
			if want := min + time.Duration(r*float64(ceil-min)); d != want {
				t.Fatalf("n=%d r=%v: %v, want %v", n, r, d, want)
			}
		}
	}
	if d := backoff(3, time.Second, time.Second, 0.7); d != time.Second {
		t.Fatalf("min = max: %v", d)
	}
	if d := backoff(1000, time.Hour, 1<<62, 0.999); d > 1<<62 || d < time.Hour {
		t.Fatalf("huge max: %v", d)
	}
}

// Processes start once their `after` list is ready, and stop in reverse.
func TestOrderAndReadiness(t *testing.T) {
	cfg := Config{Supervise: settings(), Process: []Process{
		{Name: "web", Args: []string{"serve"}, After: []string{"api"}},
		{Name: "db", Args: []string{"serve"}, Ready: "http://db/readyz"},
		{Name: "api", Args: []string{"serve"}, After: []string{"db", "bus"}, Ready: "http://api/readyz"},
		{Name: "bus", Args: []string{"serve"}},
	}}
	// Kahn's sort, taking the first process in file order whose
	// dependencies are sorted.
	if got, want := cfg.Order(), []string{"db", "bus", "api", "web"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	h := newHarness(t, cfg, 0.5, nil)
	first := []string{h.next().spec.Name, h.next().spec.Name}
	slices.Sort(first)
	if !slices.Equal(first, []string{"bus", "db"}) {
		t.Fatalf("first starts %v", first)
	}
	h.waitState("bus", StateReady) // no ready URL: ready when started
	poll.Until(t, "db starting with a pid", func() bool { st := h.status("db"); return st.State == StateStarting && st.PID != 0 })
	// db is polled and says no: api and web wait.
	// (Each probe is followed by the next poll's timer: waiting for that
	// timer is waiting for the probe.)
	h.clk.fire(t, pollInterval)
	h.clk.fire(t, pollInterval)
	h.clk.waitTimer(t, pollInterval)
	h.noStart()
	if st := h.status("api"); st.State != StateWaiting || st.PID != 0 {
		t.Fatalf("api %+v before db is ready", st)
	}
	h.setReady("http://db/readyz", true)
	h.clk.advance(pollInterval)
	h.waitState("db", StateReady)
	h.started("api")
	h.clk.fire(t, pollInterval) // api is polled
	h.clk.waitTimer(t, pollInterval)
	h.noStart()
	h.setReady("http://api/readyz", true)
	h.clk.advance(pollInterval)
	h.started("web")
	h.waitState("web", StateReady)
	for _, st := range h.s.Status() {
		if st.State != StateReady || st.PID == 0 || st.Restarts != 0 || st.LastExit != "" {
			t.Fatalf("%+v", st)
		}
	}

	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	var terms []string
	for _, e := range h.sys.log() {
		if name, ok := strings.CutPrefix(e, "TERM "); ok {
			terms = append(terms, name)
		}
	}
	order := cfg.Order()
	slices.Reverse(order)
	if !slices.Equal(terms, order) {
		t.Fatalf("stopped in order %v, want %v", terms, order)
	}
	for _, st := range h.s.Status() {
		if st.State != StateStopped || st.PID != 0 || st.LastExit != "signal: terminated" {
			t.Fatalf("after stop: %+v", st)
		}
	}
}

func TestRestartBackoff(t *testing.T) {
	cfg := Config{Supervise: settings(), Process: []Process{{Name: "a", Args: []string{"serve"}}}}
	h := newHarness(t, cfg, 0.5, nil)
	p := h.started("a")
	// With r = 0.5 the n-th wait is 1s + (min(8s, 1s·2^n) - 1s)/2.
	for i, want := range []time.Duration{1500 * time.Millisecond, 2500 * time.Millisecond, 4500 * time.Millisecond, 4500 * time.Millisecond} {
		p.exit(errors.New("exit status 3"))
		st := h.waitState("a", StateBackoff)
		if st.LastExit != "exit status 3" || st.PID != 0 || st.Restarts != i {
			t.Fatalf("in backoff: %+v", st)
		}
		h.clk.waitTimer(t, want)
		h.clk.advance(want - time.Millisecond)
		h.noStart()
		h.clk.advance(time.Millisecond)
		p = h.started("a")
		if st := h.waitState("a", StateReady); st.Restarts != i+1 || st.PID != p.pid {
			t.Fatalf("restarted: %+v", st)
		}
	}
	// Up for backoff_max: the backoff starts over.
	h.clk.advance(8 * time.Second)
	p.exit(errors.New("exit status 1"))
	h.clk.fire(t, 1500*time.Millisecond)
	h.started("a")
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRestartCapGivesUpOnRequired(t *testing.T) {
	set := settings()
	set.RestartCap = 2
	cfg := Config{Supervise: set, Process: []Process{
		{Name: "a", Args: []string{"serve"}},
		{Name: "b", Args: []string{"serve"}, After: []string{"a"}},
	}}
	h := newHarness(t, cfg, 0, nil) // r = 0: every wait is backoff_min
	a := h.started("a")
	h.started("b")
	h.waitState("b", StateReady)
	for i := range 2 {
		a.exit(errors.New("exit status 1"))
		h.clk.fire(t, time.Second)
		a = h.started("a")
		h.waitState("a", StateReady)
		if st := h.status("b"); st.State != StateReady || st.Restarts != 0 {
			t.Fatalf("restart %d of a: b is %+v", i+1, st)
		}
	}
	a.exit(errors.New("exit status 1")) // the third exit within the window
	err := h.wait()
	if !errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "required process a: exit status 1 (restart_cap 2 reached within 1m0s)") {
		t.Fatalf("Run: %v", err)
	}
	h.noStart()
	if st := h.status("a"); st.State != StateFailed || st.Restarts != 2 || st.PID != 0 {
		t.Fatalf("a: %+v", st)
	}
	if st := h.status("b"); st.State != StateStopped || st.LastExit != "signal: terminated" {
		t.Fatalf("b: %+v", st)
	}
	if ev := h.sys.log(); ev[len(ev)-1] != "TERM b" {
		t.Fatalf("events %v", ev)
	}
}

// Restarts older than restart_window do not count toward the cap.
func TestRestartWindow(t *testing.T) {
	set := settings()
	set.RestartCap = 1
	set.RestartWindow = Duration(10 * time.Second)
	set.BackoffMax = set.BackoffMin // every wait is 1s
	cfg := Config{Supervise: set, Process: []Process{{Name: "a", Args: []string{"serve"}}}}
	h := newHarness(t, cfg, 0.3, nil)
	a := h.started("a")
	a.exit(errors.New("exit status 1"))
	h.clk.fire(t, time.Second)
	a = h.started("a")
	h.clk.advance(10 * time.Second) // the restart leaves the window
	a.exit(errors.New("exit status 1"))
	h.clk.fire(t, time.Second)
	a = h.started("a")
	a.exit(errors.New("exit status 1")) // 1 restart within 10s: the cap
	if err := h.wait(); !errors.Is(err, ErrGaveUp) {
		t.Fatalf("Run: %v", err)
	}
	if st := h.status("a"); st.Restarts != 2 || st.State != StateFailed {
		t.Fatalf("%+v", st)
	}
}

// An optional process that never gets ready is stopped (SIGKILL when it
// ignores SIGTERM), given up on with restart_cap 0, and takes what waits
// for it along; the others keep running.
func TestOptionalNeverReady(t *testing.T) {
	set := settings()
	set.RestartCap = 0
	cfg := Config{Supervise: set, Process: []Process{
		{Name: "solo", Args: []string{"serve"}},
		{Name: "opt", Args: []string{"serve"}, Ready: "http://opt/readyz", Optional: true},
		{Name: "dep", Args: []string{"serve"}, After: []string{"opt"}, Optional: true},
	}}
	h := newHarness(t, cfg, 0, func(f *fakeSys) { f.stubborn["opt"] = true })
	names := []string{h.next().spec.Name, h.next().spec.Name}
	slices.Sort(names)
	if !slices.Equal(names, []string{"opt", "solo"}) {
		t.Fatalf("started %v", names)
	}
	h.clk.waitTimer(t, pollInterval)
	h.clk.advance(7 * time.Second) // ready_timeout
	h.clk.fire(t, 3*time.Second)   // stop_timeout: SIGKILL
	if st := h.waitState("opt", StateFailed); !strings.HasPrefix(st.LastExit, "not ready after 7s") {
		t.Fatalf("opt: %+v", st)
	}
	if st := h.waitState("dep", StateFailed); st.LastExit != "not started: opt failed" {
		t.Fatalf("dep: %+v", st)
	}
	if ev := h.sys.log(); !slices.Contains(ev, "TERM opt") || !slices.Contains(ev, "KILL opt") || slices.Contains(ev, "start dep") {
		t.Fatalf("events %v", ev)
	}
	select {
	case err := <-h.result:
		t.Fatalf("Run returned %v after giving up on optional processes", err)
	default:
	}
	h.waitState("solo", StateReady)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if st := h.status("opt"); st.State != StateFailed {
		t.Fatalf("opt after stop: %+v", st)
	}
}

// A required process waiting for one that was given up on fails Run.
func TestRequiredDependentOfFailed(t *testing.T) {
	set := settings()
	set.RestartCap = 0
	cfg := Config{Supervise: set, Process: []Process{
		{Name: "opt", Args: []string{"serve"}, Ready: "http://opt/readyz", Optional: true},
		{Name: "need", Args: []string{"serve"}, After: []string{"opt"}},
	}}
	h := newHarness(t, cfg, 0, nil)
	opt := h.started("opt")
	h.clk.waitTimer(t, pollInterval)
	opt.exit(errors.New("exit status 2"))
	err := h.wait()
	if !errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "required process need: not started: opt failed") {
		t.Fatalf("Run: %v", err)
	}
}

// A stubborn process gets SIGKILL after stop_timeout; Run waits for it.
func TestStopKillsAfterTimeout(t *testing.T) {
	cfg := Config{Supervise: settings(), Process: []Process{{Name: "a", Args: []string{"serve"}}}}
	h := newHarness(t, cfg, 0, func(f *fakeSys) { f.stubborn["a"] = true })
	h.started("a")
	h.waitState("a", StateReady)
	h.cancel()
	h.clk.waitTimer(t, 3*time.Second)
	select {
	case err := <-h.result:
		t.Fatalf("Run returned %v before the process exited", err)
	default:
	}
	h.clk.advance(3 * time.Second)
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if ev := h.sys.log(); !slices.Equal(ev, []string{"start a", "TERM a", "KILL a"}) {
		t.Fatalf("events %v", ev)
	}
	if st := h.status("a"); st.State != StateStopped || st.LastExit != "signal: killed" {
		t.Fatalf("%+v", st)
	}
}

// A process that cannot start is retried like one that exited.
func TestStartErrorIsRetried(t *testing.T) {
	cfg := Config{Supervise: settings(), Process: []Process{{Name: "a", Command: "/nowhere/x"}}}
	h := newHarness(t, cfg, 0, func(f *fakeSys) { f.startErr["a"] = errors.New("fork/exec /nowhere/x: no such file or directory") })
	if st := h.waitState("a", StateBackoff); st.LastExit != "start: fork/exec /nowhere/x: no such file or directory" {
		t.Fatalf("%+v", st)
	}
	h.sys.mu.Lock()
	delete(h.sys.startErr, "a")
	h.sys.mu.Unlock()
	h.clk.fire(t, time.Second)
	h.started("a")
	if st := h.waitState("a", StateReady); st.Restarts != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestSignalReachesRunningProcesses(t *testing.T) {
	cfg := Config{Supervise: settings(), Process: []Process{
		{Name: "a", Args: []string{"serve"}},
		{Name: "b", Args: []string{"serve"}, After: []string{"a"}, Ready: "http://b/"},
		{Name: "c", Args: []string{"serve"}, After: []string{"b"}},
	}}
	h := newHarness(t, cfg, 0, nil)
	h.started("a")
	h.started("b")
	poll.Until(t, "b running", func() bool { return h.status("b").PID != 0 })
	h.s.Signal(syscall.SIGHUP)
	ev := h.sys.log()
	if !slices.Contains(ev, "HUP a") || !slices.Contains(ev, "HUP b") || slices.Contains(ev, "HUP c") {
		t.Fatalf("events %v", ev)
	}
}

func TestSpecAndOutput(t *testing.T) {
	var out, errs syncBuffer
	cfg := Config{Supervise: settings(), Process: []Process{
		{Name: "a", Args: []string{"serve", "--roles", "store"}, Env: map[string]string{"RON_X": "1", "HOME": "/srv"}, Dir: "/tmp"},
		{Name: "longer", Command: "/usr/bin/env", Args: []string{"x"}},
	}}
	sys := newFakeSys()
	s := New(cfg, Options{Binary: "/bin/ronhost", Start: sys.start, Stdout: &out, Stderr: &errs,
		Environ: []string{"HOME=/root", "PATH=/bin"}})
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	got := map[string]*fakeProc{}
	for range 2 {
		select {
		case p := <-sys.started:
			got[p.spec.Name] = p
		case <-time.After(poll.Deadline):
			t.Fatal("no start")
		}
	}
	a, l := got["a"].spec, got["longer"].spec
	if a.Path != "/bin/ronhost" || !slices.Equal(a.Args, []string{"serve", "--roles", "store"}) || a.Dir != "/tmp" ||
		!slices.Equal(a.Env, []string{"PATH=/bin", "HOME=/srv", "RON_X=1"}) {
		t.Fatalf("spec of a: %+v", a)
	}
	if l.Path != "/usr/bin/env" || !slices.Equal(l.Args, []string{"x"}) || !slices.Equal(l.Env, []string{"HOME=/root", "PATH=/bin"}) {
		t.Fatalf("spec of longer: %+v", l)
	}
	a.Stdout.Write([]byte("one\ntw"))
	a.Stdout.Write([]byte("o\nthree"))
	l.Stderr.Write([]byte("oops\n"))
	got["a"].exit(nil) // closes the writers: "three" is flushed
	poll.Until(t, "output", func() bool { return strings.Contains(out.String(), "three") })
	if want := "a      | one\na      | two\na      | three\n"; out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
	if want := "longer | oops\n"; errs.String() != want {
		t.Fatalf("stderr %q, want %q", errs.String(), want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); !errors.Is(err, ErrRunTwice) {
		t.Fatalf("second Run: %v", err)
	}
}

func TestNoBinary(t *testing.T) {
	cfg := Config{Supervise: settings(), Process: []Process{{Name: "a", Args: []string{"serve"}}}}
	if err := New(cfg, Options{}).Run(t.Context()); !errors.Is(err, ErrNoBinary) {
		t.Fatalf("Run: %v", err)
	}
	if err := New(Config{Supervise: settings()}, Options{Binary: "x"}).Run(t.Context()); !errors.Is(err, ErrConfig) {
		t.Fatalf("Run of an empty config: %v", err)
	}
}

func TestRunCancelledStartsNothing(t *testing.T) {
	cfg := Config{Supervise: settings(), Process: []Process{{Name: "a", Args: []string{"serve"}}}}
	sys := newFakeSys()
	s := New(cfg, Options{Binary: "x", Start: sys.start})
	ctx, cancel := contextWithCancel()
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := sys.log(); len(ev) != 0 {
		t.Fatalf("events %v", ev)
	}
	if st := s.Status()[0]; st.State != StateWaiting {
		t.Fatalf("%+v", st)
	}
}
