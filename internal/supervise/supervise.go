package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	// ErrGaveUp is Run's error when it gave up on a required process (or
	// on a process waiting for one it gave up on) and stopped the others.
	ErrGaveUp = errors.New("supervise: gave up")
	// ErrNoBinary: a process has no command and Options.Binary is empty.
	ErrNoBinary = errors.New("supervise: no binary to run")
	// ErrRunTwice: Run was called a second time.
	ErrRunTwice = errors.New("supervise: Run called twice")
)

// pollInterval is the wait between two readiness probes of a starting
// process; probeTimeout bounds one probe.
const (
	pollInterval = 100 * time.Millisecond
	probeTimeout = 2 * time.Second
)

// State is where a process is in its life.
type State string

const (
	StateWaiting  State = "waiting"  // not started yet: a process in its `after` list is not ready
	StateStarting State = "starting" // running, not ready yet
	StateReady    State = "ready"    // running and ready (it was, at least once since it started)
	StateBackoff  State = "backoff"  // exited; waiting before the restart
	StateStopped  State = "stopped"  // stopped by the supervisor
	StateFailed   State = "failed"   // given up on (restart cap, or a dependency failed before it started)
)

// ProcStatus is one process as Status reports it.
type ProcStatus struct {
	Name     string `json:"name"`
	PID      int    `json:"pid,omitempty"` // 0 when not running
	State    State  `json:"state"`
	Restarts int    `json:"restarts"`            // restarts since the supervisor started
	LastExit string `json:"last_exit,omitempty"` // how the last run ended, e.g. "exit status 1", "signal: killed"
}

// Clock is the time the supervisor's policy runs on; tests pass a fake.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Spec is a process to start, as the supervisor hands it to Options.Start.
type Spec struct {
	Name string
	Path string   // the program
	Args []string // its arguments (without the program)
	Env  []string // its whole environment
	Dir  string
	// Stdout and Stderr prefix each line with the name; the starter closes
	// them once the process's output ended.
	Stdout, Stderr io.WriteCloser
}

// Proc is a started process.
type Proc interface {
	PID() int
	// Signal signals the process's group (the process and what it started).
	Signal(sig syscall.Signal) error
	// Done is closed once the process exited, what was left of its group
	// was killed and its output was copied.
	Done() <-chan struct{}
	// Err is how it ended (valid after Done): nil for exit status 0.
	Err() error
}

// Options are a Supervisor's collaborators; every field may be left zero.
type Options struct {
	// Binary runs the processes that have no command: the supervisor's own
	// executable (ronhost).
	Binary string
	Logger *slog.Logger
	// Stdout and Stderr receive the children's output, each line prefixed
	// with the process's name (nil: discarded).
	Stdout, Stderr io.Writer
	Clock          Clock
	// Rand returns a number in [0, 1) for the backoff's jitter.
	Rand func() float64
	// Probe reports whether url says ready (default: GET answers 200).
	Probe func(ctx context.Context, url string) bool
	// Start starts a process (default: os/exec in a new process group,
	// with SIGKILL on the supervisor's death on Linux).
	Start func(Spec) (Proc, error)
	// Environ is the environment processes inherit (nil: os.Environ()).
	Environ []string
}

// Supervisor runs the processes of one Config.
type Supervisor struct {
	cfg      Config
	opts     Options
	log      *slog.Logger
	width    int // longest name, for aligned prefixes
	outMu    sync.Mutex
	stopping chan struct{}
	client   *http.Client

	mu    sync.Mutex
	ran   bool
	procs []*proc
}

type proc struct {
	spec      Process
	ready     chan struct{} // closed when it is ready the first time
	readyOnce sync.Once
	failed    chan struct{} // closed when it is given up on

	// Guarded by Supervisor.mu.
	state    State
	pid      int
	cur      Proc
	restarts int
	lastExit string
}

// New returns a Supervisor of cfg (Parse's result). It does no I/O.
func New(cfg Config, opts Options) *Supervisor {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Start == nil {
		opts.Start = startExec
	}
	s := &Supervisor{cfg: cfg, opts: opts, log: opts.Logger, stopping: make(chan struct{})}
	if opts.Probe == nil {
		s.client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		s.opts.Probe = s.httpProbe
	}
	for _, p := range cfg.Process {
		s.procs = append(s.procs, &proc{spec: p, ready: make(chan struct{}), failed: make(chan struct{}), state: StateWaiting})
		s.width = max(s.width, len(p.Name))
	}
	return s
}

// Status returns every process's state, in the file's order.
func (s *Supervisor) Status() []ProcStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ProcStatus, len(s.procs))
	for i, p := range s.procs {
		out[i] = ProcStatus{Name: p.spec.Name, PID: p.pid, State: p.state, Restarts: p.restarts, LastExit: p.lastExit}
	}
	return out
}

// Signal sends sig to every running process's group (e.g. SIGHUP to make
// every ronhost reload its plugins).
func (s *Supervisor) Signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.cur != nil {
			if err := p.cur.Signal(sig); err != nil {
				s.log.Warn("signal", "process", p.spec.Name, "signal", sig.String(), "err", err)
			}
		}
	}
}

// Run starts the processes, each once its `after` list is ready, keeps them
// running until ctx ends, then stops them in reverse start order and returns
// nil once every process exited. When it gives up on a required process it
// stops the others the same way and returns an error wrapping ErrGaveUp.
func (s *Supervisor) Run(ctx context.Context) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	order, _ := s.cfg.order()
	for _, p := range s.cfg.Process {
		if p.Command == "" && s.opts.Binary == "" {
			return fmt.Errorf("%w: process %q has no command", ErrNoBinary, p.Name)
		}
	}
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return ErrRunTwice
	}
	s.ran = true
	s.mu.Unlock()
	if ctx.Err() != nil {
		return nil // stopped before it started
	}
	env := s.opts.Environ
	if env == nil {
		env = os.Environ()
	}

	failed := make(chan *proc, len(s.procs))
	cancels := make([]context.CancelFunc, len(s.procs))
	dones := make([]chan struct{}, len(s.procs))
	// Each process has its own context, so that shutdown can stop them one
	// by one in reverse order.
	base := context.WithoutCancel(ctx)
	for _, i := range order {
		pctx, cancel := context.WithCancel(base)
		cancels[i], dones[i] = cancel, make(chan struct{})
		go func() {
			defer close(dones[i])
			s.loop(pctx, s.procs[i], env, failed)
		}()
	}

	var err error
	select {
	case <-ctx.Done():
		s.log.Info("stopping every process")
	case p := <-failed:
		s.mu.Lock()
		why := p.lastExit
		s.mu.Unlock()
		err = fmt.Errorf("%w: required process %s: %s", ErrGaveUp, p.spec.Name, why)
		s.log.Error("gave up on a required process; stopping every process", "process", p.spec.Name, "why", why)
	}
	close(s.stopping)
	for k := len(order) - 1; k >= 0; k-- {
		cancels[order[k]]()
		<-dones[order[k]]
	}
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	return err
}

// loop runs one process until ctx ends or the supervisor gives up on it.
func (s *Supervisor) loop(ctx context.Context, p *proc, env []string, failed chan<- *proc) {
	defer s.update(p, func() {
		if p.state != StateFailed {
			p.state = StateStopped
		}
		p.pid, p.cur = 0, nil
	})
	if !s.waitAfter(ctx, p, failed) {
		return
	}
	set := s.cfg.Supervise
	var (
		failures int         // consecutive short runs: the backoff's exponent
		restarts []time.Time // restarts within the window: the cap
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stopping:
			return
		default:
		}
		began := s.opts.Clock.Now()
		why, stopped := s.runOnce(ctx, p, env)
		if stopped {
			return
		}
		select {
		case <-s.stopping: // it exited while the others were being stopped
			s.update(p, func() { p.lastExit, p.pid, p.cur = why, 0, nil })
			return
		default:
		}
		now := s.opts.Clock.Now()
		if now.Sub(began) >= set.BackoffMax.D() {
			failures = 0 // it stayed up a while: start the backoff over
		}
		kept := restarts[:0]
		for _, t := range restarts {
			if now.Sub(t) < set.RestartWindow.D() {
				kept = append(kept, t)
			}
		}
		restarts = kept
		if set.RestartCap == 0 || (set.RestartCap > 0 && len(restarts) >= set.RestartCap) {
			s.fail(p, fmt.Sprintf("%s (restart_cap %d reached within %v)", why, set.RestartCap, set.RestartWindow.D()), failed)
			return
		}
		failures++
		d := backoff(failures, set.BackoffMin.D(), set.BackoffMax.D(), s.opts.Rand())
		s.update(p, func() { p.state, p.lastExit, p.pid, p.cur = StateBackoff, why, 0, nil })
		s.log.Warn("process exited; restarting", "process", p.spec.Name, "exit", why, "in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-s.stopping:
			return
		case <-s.opts.Clock.After(d):
		}
		restarts = append(restarts, s.opts.Clock.Now())
		s.update(p, func() { p.restarts++ })
	}
}

// waitAfter waits until every process p is after has been ready. It
// returns false when p must not start: the supervisor is stopping, or one
// of them was given up on (then p is failed too).
func (s *Supervisor) waitAfter(ctx context.Context, p *proc, failed chan<- *proc) bool {
	for _, name := range p.spec.After {
		dep := s.byName(name)
		select {
		case <-dep.ready:
			continue
		default:
		}
		s.log.Info("waiting", "process", p.spec.Name, "for", name)
		select {
		case <-dep.ready:
		case <-dep.failed:
			s.fail(p, fmt.Sprintf("not started: %s failed", name), failed)
			return false
		case <-ctx.Done():
			return false
		case <-s.stopping:
			return false
		}
	}
	return true
}

// runOnce starts p and watches it until it exits (it returns how) or ctx
// ends (it stops it and returns stopped).
func (s *Supervisor) runOnce(ctx context.Context, p *proc, env []string) (why string, stopped bool) {
	s.update(p, func() { p.state = StateStarting })
	h, err := s.start(p, env)
	if err != nil {
		s.log.Error("process did not start", "process", p.spec.Name, "err", err)
		return "start: " + err.Error(), false
	}
	s.update(p, func() { p.pid, p.cur = h.PID(), h })
	s.log.Info("process started", "process", p.spec.Name, "pid", h.PID())
	began := s.opts.Clock.Now()
	ready := p.spec.Ready == ""
	var timeout <-chan time.Time
	if ready {
		s.markReady(p, 0)
	} else {
		timeout = s.opts.Clock.After(s.cfg.Supervise.ReadyTimeout.D())
	}
	for {
		var poll <-chan time.Time
		if !ready {
			if s.opts.Probe(ctx, p.spec.Ready) {
				ready, timeout = true, nil
				s.markReady(p, s.opts.Clock.Now().Sub(began))
			} else {
				poll = s.opts.Clock.After(pollInterval)
			}
		}
		select {
		case <-h.Done():
			return exitString(h.Err()), false
		case <-ctx.Done():
			s.stop(p, h)
			s.update(p, func() { p.lastExit = exitString(h.Err()) })
			return "", true
		case <-poll:
		case <-timeout:
			why = fmt.Sprintf("not ready after %v", s.cfg.Supervise.ReadyTimeout.D())
			s.log.Warn("process not ready in time; stopping it", "process", p.spec.Name, "ready", p.spec.Ready)
			s.stop(p, h)
			return why, false
		}
	}
}

func (s *Supervisor) start(p *proc, env []string) (Proc, error) {
	path := p.spec.Command
	if path == "" {
		path = s.opts.Binary
	}
	prefix := fmt.Sprintf("%-*s | ", s.width, p.spec.Name)
	return s.opts.Start(Spec{
		Name:   p.spec.Name,
		Path:   path,
		Args:   append([]string(nil), p.spec.Args...),
		Env:    mergeEnv(env, p.spec.Env),
		Dir:    p.spec.Dir,
		Stdout: &lineWriter{mu: &s.outMu, w: s.opts.Stdout, prefix: prefix},
		Stderr: &lineWriter{mu: &s.outMu, w: s.opts.Stderr, prefix: prefix},
	})
}

// stop sends SIGTERM to h's group, SIGKILL after stop_timeout, and waits
// until it is gone.
func (s *Supervisor) stop(p *proc, h Proc) {
	s.log.Info("stopping process", "process", p.spec.Name, "pid", h.PID())
	if err := h.Signal(syscall.SIGTERM); err != nil {
		s.log.Debug("SIGTERM", "process", p.spec.Name, "err", err)
	}
	select {
	case <-h.Done():
		return
	case <-s.opts.Clock.After(s.cfg.Supervise.StopTimeout.D()):
	}
	s.log.Warn("process did not stop in time; killing it", "process", p.spec.Name, "stop_timeout", s.cfg.Supervise.StopTimeout.D())
	if err := h.Signal(syscall.SIGKILL); err != nil {
		s.log.Debug("SIGKILL", "process", p.spec.Name, "err", err)
	}
	<-h.Done()
}

func (s *Supervisor) markReady(p *proc, after time.Duration) {
	s.update(p, func() { p.state = StateReady })
	p.readyOnce.Do(func() { close(p.ready) })
	s.log.Info("process ready", "process", p.spec.Name, "after", after.Round(time.Millisecond))
}

// fail gives up on p and tells Run when p was required.
func (s *Supervisor) fail(p *proc, why string, failed chan<- *proc) {
	s.update(p, func() { p.state, p.lastExit, p.pid, p.cur = StateFailed, why, 0, nil })
	close(p.failed)
	s.log.Error("gave up on process", "process", p.spec.Name, "why", why, "optional", p.spec.Optional)
	if !p.spec.Optional {
		failed <- p // buffered for every process
	}
}

func (s *Supervisor) update(p *proc, f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
}

func (s *Supervisor) byName(name string) *proc {
	for _, p := range s.procs {
		if p.spec.Name == name {
			return p
		}
	}
	panic("supervise: unknown process " + name) // Validate checked every name
}

func (s *Supervisor) httpProbe(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// backoff is the wait before a restart after n (≥ 1) consecutive short
// runs: uniform in [min, ceil) with ceil = min·2^n capped at max (full
// jitter above the floor), r in [0, 1).
func backoff(n int, min, max time.Duration, r float64) time.Duration {
	ceil := min
	for i := 0; i < n && ceil < max; i++ {
		if ceil > max/2 {
			ceil = max
		} else {
			ceil *= 2
		}
	}
	ceil = limit(ceil, max)
	return limit(min+time.Duration(r*float64(ceil-min)), max)
}

func limit(d, max time.Duration) time.Duration {
	if d > max {
		return max
	}
	return d
}

// mergeEnv returns base with over's variables replacing or added.
func mergeEnv(base []string, over map[string]string) []string {
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := over[k]; !ok {
			out = append(out, kv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(over)) {
		out = append(out, k+"="+over[k])
	}
	return out
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
