package tor

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cretz/bine/control"
)

// Sentinel errors.
var (
	// ErrNotReady: tor is starting, bootstrapping or restarting. The wrapping
	// error says which ("tor: restarting: ...").
	ErrNotReady = errors.New("tor: not ready")
	// ErrNoTor: the tor binary is missing.
	ErrNoTor = errors.New("tor: tor binary not found (install Debian's tor package: apt-get install tor)")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("tor: closed")
)

// Options configures a Tor. The zero value runs "tor" from PATH in managed
// mode, which needs DataDir.
type Options struct {
	// Binary is the tor executable; default "tor" from PATH.
	Binary string
	// DataDir is ronhost's own tor data directory (e.g. DATA/tor), created
	// 0700. Its path must be short enough for unix sockets (about 90 bytes).
	DataDir string
	// ControlAddr selects attach mode: an operator's tor control port
	// ("127.0.0.1:9051" or "unix:/run/tor/control"). Empty means managed.
	ControlAddr string
	// CookieFile is the operator tor's control cookie (attach mode). Empty:
	// the cookie file tor names in PROTOCOLINFO (SAFECOOKIE), or no auth.
	CookieFile string
	// ExtraTorrc lines are appended to the generated torrc (managed mode),
	// e.g. a private test network's DirAuthority lines. Each is checked by the
	// relay guard.
	ExtraTorrc []string
	// Logger receives tor's own log lines and the supervisor's; default discards.
	Logger *slog.Logger
	// RestartMin and RestartMax bound the restart backoff (default 1s, 30s).
	RestartMin, RestartMax time.Duration
	// StartTimeout bounds how long one launch waits for tor's control port
	// (default 60s).
	StartTimeout time.Duration
}

func (o *Options) defaults() {
	if o.Binary == "" {
		o.Binary = "tor"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RestartMin <= 0 {
		o.RestartMin = time.Second
	}
	if o.RestartMax <= 0 {
		o.RestartMax = 30 * time.Second
	}
	if o.RestartMax < o.RestartMin {
		o.RestartMax = o.RestartMin
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = time.Minute
	}
}

// Status is a snapshot of the supervisor's view.
type Status struct {
	Managed   bool
	PID       int    // the tor process (managed mode), 0 while restarting
	Bootstrap int    // tor's bootstrap progress, 0..100
	Summary   string // tor's bootstrap summary
	Restarts  int    // how many times tor was restarted (or reconnected)
	Err       error  // nil when Ready
	// State is "ready", "bootstrapping" (starting, or bootstrapping),
	// "restarting" (after a failure, with backoff) or "stopped".
	State string
}

// service is an onion service to keep published.
type service struct {
	key      ed25519.PrivateKey
	onion    string
	virtPort int
	target   string
}

// Tor supervises one tor (managed) or one control connection (attach).
type Tor struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	started   bool
	closed    bool
	cur       *instance // nil while starting or restarting
	notReady  error     // why not ready (wraps ErrNotReady); nil when ready
	phase     string    // Status.State while not ready
	bootstrap int
	summary   string
	restarts  int
	services  []service

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Tor; it does no I/O.
func New(opts Options) *Tor {
	opts.defaults()
	t := &Tor{opts: opts, log: opts.Logger.With("component", "tor")}
	t.notReady = fmt.Errorf("%w: not started", ErrNotReady)
	t.phase = "bootstrapping"
	return t
}

func (t *Tor) managed() bool { return t.opts.ControlAddr == "" }

// Start checks the configuration, starts tor (managed) or connects to it
// (attach), runs the relay guard on the live configuration and starts the
// supervisor. It returns once the control connection is up; Ready reports
// bootstrap. Errors: ErrNoTor, ErrRelay, or the launch failure.
func (t *Tor) Start(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	if t.started {
		t.mu.Unlock()
		return errors.New("tor: already started")
	}
	t.started = true
	t.mu.Unlock()

	if t.managed() {
		if t.opts.DataDir == "" {
			return errors.New("tor: Options.DataDir is required in managed mode")
		}
		if err := CheckTorrc(t.opts.ExtraTorrc); err != nil {
			return err
		}
		if _, err := exec.LookPath(t.opts.Binary); err != nil {
			return fmt.Errorf("%w: %q: %v", ErrNoTor, t.opts.Binary, err)
		}
		dir, err := filepath.Abs(t.opts.DataDir)
		if err != nil {
			return fmt.Errorf("tor: data dir: %w", err)
		}
		t.opts.DataDir = dir
		if p := filepath.Join(dir, controlName); len(p) > maxUnixPath-2 {
			return fmt.Errorf("tor: data dir %s is too long for a unix socket path (%d bytes, max %d)", dir, len(p), maxUnixPath-2)
		}
	}
	sctx, cancel := context.WithCancel(context.Background())
	inst, err := t.launch(ctx)
	if err != nil {
		cancel()
		return err
	}
	t.mu.Lock()
	t.cancel = cancel
	t.cur = inst
	t.notReady = fmt.Errorf("%w: bootstrapping", ErrNotReady)
	t.phase = "bootstrapping"
	t.mu.Unlock()
	t.wg.Add(1)
	go t.supervise(sctx, inst)
	return nil
}

// Close stops the supervisor and tor (managed) and waits for every goroutine.
func (t *Tor) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.notReady = ErrClosed
	t.phase = "stopped"
	cancel := t.cancel
	t.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	t.wg.Wait()
	return nil
}

// Ready returns nil when tor is running, controllable and bootstrapped to
// 100%; otherwise an error wrapping ErrNotReady that says why, or ErrClosed.
func (t *Tor) Ready() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.notReady
}

// Status returns the supervisor's view.
func (t *Tor) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Status{Managed: t.managed(), Bootstrap: t.bootstrap, Summary: t.summary,
		Restarts: t.restarts, Err: t.notReady, State: t.phase}
	if t.notReady == nil {
		s.State = "ready"
	}
	if t.cur != nil && t.cur.cmd != nil {
		s.PID = t.cur.cmd.Process.Pid
	}
	return s
}

// WaitReady polls Ready until it returns nil or ctx ends.
func (t *Tor) WaitReady(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := t.Ready()
		if err == nil || errors.Is(err, ErrClosed) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%v)", err, ctx.Err())
		case <-tick.C:
		}
	}
}

// Publish publishes a v3 onion service for key whose virtual port virtPort
// forwards to target ("127.0.0.1:port" or "unix:/path") and returns its
// service ID (without ".onion"). The service is kept: it is published again
// after every restart or reconnection. While tor is restarting it is recorded
// and published when tor is back. Publishing the same key again replaces it.
func (t *Tor) Publish(ctx context.Context, key ed25519.PrivateKey, virtPort int, target string) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", errors.New("tor: publish: not an ed25519 private key")
	}
	if virtPort < 1 || virtPort > 65535 {
		return "", fmt.Errorf("tor: publish: virtual port %d out of range", virtPort)
	}
	if target == "" || strings.ContainsAny(target, " \r\n") {
		return "", fmt.Errorf("tor: publish: bad target %q", target)
	}
	svc := service{key: key, onion: OnionAddress(key.Public().(ed25519.PublicKey)), virtPort: virtPort, target: target}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return "", ErrClosed
	}
	replaced := false
	for i := range t.services {
		if t.services[i].onion == svc.onion {
			t.services[i] = svc
			replaced = true
		}
	}
	if !replaced {
		t.services = append(t.services, svc)
	}
	inst := t.cur
	t.mu.Unlock()
	if inst == nil {
		return svc.onion, nil
	}
	if replaced {
		inst.request(ctx, func(c *control.Conn) error { return c.DelOnion(svc.onion) }) // absent is fine
	}
	if err := inst.addOnion(ctx, svc); err != nil {
		return "", err
	}
	t.log.Info("onion service published", "onion", svc.onion+".onion", "port", virtPort, "target", target)
	return svc.onion, nil
}

// Unpublish removes an onion service published before.
func (t *Tor) Unpublish(ctx context.Context, onion string) error {
	onion = strings.TrimSuffix(onion, ".onion")
	t.mu.Lock()
	kept := t.services[:0]
	for _, s := range t.services {
		if s.onion != onion {
			kept = append(kept, s)
		}
	}
	t.services = kept
	inst := t.cur
	t.mu.Unlock()
	if inst == nil {
		return nil
	}
	return inst.request(ctx, func(c *control.Conn) error { return c.DelOnion(onion) })
}

// GetConf returns tor's values for the given options (for diagnostics and
// tests); an option set several times has several values.
func (t *Tor) GetConf(ctx context.Context, keys ...string) (map[string][]string, error) {
	inst, err := t.current()
	if err != nil {
		return nil, err
	}
	var kvs []*control.KeyVal
	err = inst.request(ctx, func(c *control.Conn) (err error) {
		kvs, err = c.GetConf(keys...)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, kv := range kvs {
		out[kv.Key] = append(out[kv.Key], kv.Val)
	}
	return out, nil
}

func (t *Tor) current() (*instance, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	if t.cur == nil {
		return nil, t.notReady
	}
	return t.cur, nil
}

// supervise watches inst until it fails, then relaunches with backoff.
func (t *Tor) supervise(ctx context.Context, inst *instance) {
	defer t.wg.Done()
	attempt := 0
	for {
		began := time.Now()
		err := t.monitor(ctx, inst)
		inst.stop()
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > t.opts.RestartMax {
			attempt = 0
		}
		for {
			d := backoff(attempt, t.opts.RestartMin, t.opts.RestartMax, rand.Float64())
			attempt++
			t.mu.Lock()
			t.cur = nil
			t.bootstrap = 0
			t.notReady = fmt.Errorf("%w: restarting: %s", ErrNotReady, strings.TrimPrefix(err.Error(), "tor: "))
			t.phase = "restarting"
			t.mu.Unlock()
			t.log.Warn("tor failed; restarting", "err", err, "in", d.Round(time.Millisecond), "attempt", attempt)
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			inst, err = t.launch(ctx)
			if ctx.Err() != nil {
				if inst != nil {
					inst.stop()
				}
				return
			}
			if err == nil {
				break
			}
			if errors.Is(err, ErrRelay) || errors.Is(err, ErrNoTor) {
				t.mu.Lock()
				t.notReady = fmt.Errorf("%w: stopped: %v", ErrNotReady, err)
				t.phase = "stopped"
				t.mu.Unlock()
				t.log.Error("tor supervisor stopped", "err", err)
				return
			}
		}
		t.mu.Lock()
		t.cur = inst
		t.restarts++
		t.notReady = fmt.Errorf("%w: bootstrapping", ErrNotReady)
		t.phase = "bootstrapping"
		t.mu.Unlock()
		t.log.Info("tor restarted")
	}
}

// monitor polls the bootstrap phase and watches the process until either
// fails or ctx ends.
func (t *Tor) monitor(ctx context.Context, inst *instance) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := -1
	for {
		var kvs []*control.KeyVal
		err := inst.request(ctx, func(c *control.Conn) (err error) {
			kvs, err = c.GetInfo("status/bootstrap-phase")
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The connection usually breaks because tor died: say so if it did.
			select {
			case <-inst.exited:
				return inst.exitErr()
			case <-time.After(time.Second):
			}
			return fmt.Errorf("tor: control connection: %w", err)
		}
		if len(kvs) == 1 {
			progress, summary := parseBootstrap(kvs[0].Val)
			t.mu.Lock()
			t.bootstrap, t.summary = progress, summary
			if progress == 100 {
				t.notReady = nil
			} else {
				t.notReady = fmt.Errorf("%w: bootstrapping %d%%: %s", ErrNotReady, progress, summary)
				t.phase = "bootstrapping"
			}
			t.mu.Unlock()
			// One line per 10 % of progress (tor's own bootstrap lines go
			// to debug, logWriter), and one when done.
			if d := progress / 10; d != last {
				if progress == 100 {
					t.log.Info("tor bootstrapped", "progress", progress)
				} else {
					t.log.Info("tor bootstrap", "progress", progress, "summary", summary)
				}
				last = d
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-inst.exited:
			return inst.exitErr()
		case <-tick.C:
		}
	}
}

// parseBootstrap reads `NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"`.
func parseBootstrap(s string) (int, string) {
	progress, summary := 0, ""
	for _, f := range strings.Fields(s) {
		if v, ok := strings.CutPrefix(f, "PROGRESS="); ok {
			progress, _ = strconv.Atoi(v)
		}
	}
	if _, v, ok := strings.Cut(s, `SUMMARY="`); ok {
		summary, _, _ = strings.Cut(v, `"`)
	}
	return progress, summary
}

// backoff is the delay before restart number attempt (0-based): min*2^attempt
// capped at max, with "equal jitter": half fixed, half scaled by r in [0,1).
func backoff(attempt int, min, max time.Duration, r float64) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + time.Duration(float64(d/2)*r)
}

// instance is one running tor process (managed) and its control connection.
type instance struct {
	log    *slog.Logger
	cmd    *exec.Cmd     // nil in attach mode
	exited chan struct{} // closed when the process exits (never, in attach mode)
	logs   *logWriter
	werr   error // set before exited is closed
	wg     sync.WaitGroup

	raw  net.Conn
	conn *control.Conn
	mu   sync.Mutex // one control request at a time

	socksNet, socksAddr string
}

func (i *instance) exitErr() error {
	msg := fmt.Sprintf("tor exited: %v", i.werr)
	if i.logs != nil {
		if l := i.logs.last(); l != "" {
			msg += " (last log: " + l + ")"
		}
	}
	return errors.New("tor: " + strings.TrimPrefix(msg, "tor: "))
}

// request runs f on the control connection with a deadline.
func (i *instance) request(ctx context.Context, f func(*control.Conn) error) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	dl := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	i.raw.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { i.raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	return f(i.conn)
}

func (i *instance) addOnion(ctx context.Context, s service) error {
	var resp *control.AddOnionResponse
	err := i.request(ctx, func(c *control.Conn) (err error) {
		resp, err = c.AddOnion(&control.AddOnionRequest{
			Key:   onionKey{s.key},
			Flags: []string{"DiscardPK"},
			Ports: []*control.KeyVal{{Key: strconv.Itoa(s.virtPort), Val: s.target}},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("tor: publish %s.onion: %w", s.onion, err)
	}
	if resp.ServiceID != s.onion {
		return fmt.Errorf("tor: publish: tor derived %s.onion from the key, expected %s.onion", resp.ServiceID, s.onion)
	}
	return nil
}

// stop closes the control connection and, in managed mode, kills tor's
// process group and waits for it.
func (i *instance) stop() {
	if i.raw != nil {
		i.raw.Close()
	}
	if i.cmd != nil {
		pgid := i.cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-i.exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-i.exited
		}
	}
	i.wg.Wait()
}

// launch starts tor (managed) or connects (attach), authenticates, checks the
// live configuration and republishes the services. lctx bounds the launch;
// life is the supervisor's lifetime.
func (t *Tor) launch(lctx context.Context) (*instance, error) {
	inst := &instance{log: t.log, exited: make(chan struct{})}
	ctx, cancel := context.WithTimeout(lctx, t.opts.StartTimeout)
	defer cancel()
	var err error
	if t.managed() {
		err = t.startProcess(inst)
		if err == nil {
			err = t.connectManaged(ctx, inst)
		}
	} else {
		err = t.connectAttached(ctx, inst)
	}
	if err == nil {
		err = t.guardLive(ctx, inst)
	}
	if err == nil {
		t.mu.Lock()
		svcs := append([]service(nil), t.services...)
		t.mu.Unlock()
		for _, s := range svcs {
			if err = inst.addOnion(ctx, s); err != nil {
				break
			}
			t.log.Info("onion service published", "onion", s.onion+".onion", "port", s.virtPort, "target", s.target)
		}
	}
	if err != nil {
		inst.stop()
		return nil, err
	}
	return inst, nil
}

func (t *Tor) startProcess(inst *instance) error {
	dir := t.opts.DataDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tor: data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("tor: data dir: %w", err)
	}
	lines := generateTorrc(dir, os.Getpid(), t.opts.ExtraTorrc)
	if err := checkTorrc(lines, true); err != nil {
		return err
	}
	torrc := filepath.Join(dir, torrcName)
	if err := os.WriteFile(torrc, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("tor: torrc: %w", err)
	}
	defaults := filepath.Join(dir, defaultsName)
	if err := os.WriteFile(defaults, nil, 0o600); err != nil {
		return fmt.Errorf("tor: torrc: %w", err)
	}
	for _, s := range []string{socksName, controlName} {
		os.Remove(filepath.Join(dir, s))
	}
	bin, err := exec.LookPath(t.opts.Binary)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrNoTor, t.opts.Binary, err)
	}
	cmd := exec.Command(bin, "-f", torrc, "--defaults-torrc", defaults)
	inst.logs = &logWriter{log: t.log, warned: -1}
	cmd.Stdout, cmd.Stderr = inst.logs, inst.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("tor: start %s: %w", bin, err)
	}
	inst.cmd = cmd
	t.log.Info("tor started", "pid", cmd.Process.Pid, "torrc", torrc)
	inst.wg.Add(1)
	go func() {
		defer inst.wg.Done()
		inst.werr = cmd.Wait()
		inst.logs.flush()
		close(inst.exited)
	}()
	inst.socksNet, inst.socksAddr = "unix", filepath.Join(dir, socksName)
	return nil
}

// connectManaged dials the control socket as soon as tor creates it.
func (t *Tor) connectManaged(ctx context.Context, inst *instance) error {
	path := filepath.Join(t.opts.DataDir, controlName)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			inst.raw = c
			break
		}
		select {
		case <-inst.exited:
			return inst.exitErr()
		case <-ctx.Done():
			return fmt.Errorf("tor: control port %s: %w", path, ctx.Err())
		case <-tick.C:
		}
	}
	inst.conn = control.NewConn(textproto.NewConn(inst.raw))
	return inst.request(ctx, func(c *control.Conn) error {
		if err := c.Authenticate(""); err != nil {
			return fmt.Errorf("tor: control authentication: %w", err)
		}
		// tor exits when this connection closes: no orphan if we die.
		if err := c.TakeOwnership(); err != nil {
			return fmt.Errorf("tor: take ownership: %w", err)
		}
		return nil
	})
}

func (t *Tor) connectAttached(ctx context.Context, inst *instance) error {
	network, addr := "tcp", t.opts.ControlAddr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return fmt.Errorf("tor: control port %s: %w", t.opts.ControlAddr, err)
	}
	inst.raw = c
	inst.conn = control.NewConn(textproto.NewConn(c))
	err = inst.request(ctx, func(c *control.Conn) error {
		if t.opts.CookieFile != "" {
			cookie, err := os.ReadFile(t.opts.CookieFile)
			if err != nil {
				return fmt.Errorf("tor: control cookie: %w", err)
			}
			if _, err := c.SendRequest("AUTHENTICATE %s", hex.EncodeToString(cookie)); err != nil {
				return fmt.Errorf("tor: control authentication: %w", err)
			}
			c.Authenticated = true
		} else if err := c.Authenticate(""); err != nil {
			return fmt.Errorf("tor: control authentication: %w", err)
		}
		kvs, err := c.GetInfo("net/listeners/socks")
		if err != nil {
			return fmt.Errorf("tor: socks listeners: %w", err)
		}
		// The first listener of the first line that has one.
		for _, kv := range kvs {
			f := strings.Fields(kv.Val)
			if len(f) == 0 {
				continue
			}
			l := strings.Trim(f[0], "\"")
			if p, ok := strings.CutPrefix(l, "unix:"); ok {
				inst.socksNet, inst.socksAddr = "unix", p
			} else {
				inst.socksNet, inst.socksAddr = "tcp", l
			}
			return nil
		}
		return errors.New("tor: the operator's tor has no SocksPort")
	})
	return err
}

// guardLive is the live half of the relay guard: the running tor's effective
// configuration must be a client's.
func (t *Tor) guardLive(ctx context.Context, inst *instance) error {
	var conf, info []*control.KeyVal
	err := inst.request(ctx, func(c *control.Conn) (err error) {
		if conf, err = c.GetConf("ORPort", "DirPort", "ExitRelay", "BridgeRelay", "ClientOnly"); err != nil {
			return err
		}
		info, err = c.GetInfo("net/listeners/or")
		return err
	})
	if err != nil {
		return fmt.Errorf("tor: relay guard: %w", err)
	}
	return checkLiveConf(conf, info, t.managed())
}

func checkLiveConf(conf, info []*control.KeyVal, requireClientOnly bool) error {
	for _, kv := range conf {
		v := strings.TrimSpace(kv.Val)
		bad := false
		switch strings.ToLower(kv.Key) {
		case "orport", "dirport":
			bad = v != "" && v != "0"
		case "exitrelay":
			bad = v == "1"
		case "bridgerelay":
			bad = v == "1"
		case "clientonly":
			bad = requireClientOnly && v != "1"
		}
		if bad {
			return fmt.Errorf("%w: the running tor has %s=%s", ErrRelay, kv.Key, v)
		}
	}
	for _, kv := range info {
		if strings.TrimSpace(kv.Val) != "" {
			return fmt.Errorf("%w: the running tor listens for relay connections on %s", ErrRelay, kv.Val)
		}
	}
	return nil
}

// logWriter forwards tor's stdout lines to slog and keeps the last one.
// Tor's bootstrap chatter (a "Bootstrapped N%" notice per step, a "Problem
// bootstrapping" warning per failed attempt, the failed-connection
// summaries) goes to debug: the supervisor logs progress once per 10 %
// (monitor), and the first problem at each 10 % step stays a warning, so
// the log says why tor is stuck once, not once a second.
type logWriter struct {
	log  *slog.Logger
	mu   sync.Mutex
	buf  []byte
	tail string
	// warned is the 10 % step of the last "Problem bootstrapping" warning
	// logged as a warning; -1 before the first.
	warned int
}

// bootstrapChatter says whether a tor log line is routine bootstrap
// progress or a repeated bootstrap problem, and for a problem, the 10 %
// step it is stuck at.
func bootstrapChatter(line string) (chatter bool, problemStep int) {
	switch {
	case strings.Contains(line, "Problem bootstrapping. Stuck at "):
		_, rest, _ := strings.Cut(line, "Stuck at ")
		pct, _, _ := strings.Cut(rest, "%")
		n, err := strconv.Atoi(pct)
		if err != nil {
			return true, -2
		}
		return true, n / 10
	case strings.Contains(line, "] Bootstrapped "),
		strings.Contains(line, "connections have failed"),
		strings.Contains(line, "connections died in state"),
		strings.Contains(line, "Delaying directory fetches"):
		return true, -1
	}
	return false, -1
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 {
		w.emit(string(w.buf))
		w.buf = nil
	}
	return len(p), nil
}

func (w *logWriter) emit(line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	w.tail = line
	level := slog.LevelInfo
	switch {
	case strings.Contains(line, "[err]"):
		level = slog.LevelError
	case strings.Contains(line, "[warn]"):
		level = slog.LevelWarn
	}
	if chatter, step := bootstrapChatter(line); chatter && level != slog.LevelError {
		if step >= 0 && step != w.warned {
			w.warned = step // the first problem at this step: say it once
		} else {
			level = slog.LevelDebug
		}
	}
	w.log.Log(context.Background(), level, "tor: "+line)
}

func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

func (w *logWriter) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tail
}

var _ io.Writer = (*logWriter)(nil)
