package plugins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ronhost/ronhost/internal/plugins/internal/meter"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/time/rate"
)

// fixedWalltime is the wall clock every plugin sees: 2024-01-01T00:00:00Z.
// Plugins are pure functions of their input, so the clock never moves.
const fixedWalltime = 1704067200

// randSeed seeds each instance's WASI random source. Every instance sees the
// same stream, so a plugin that uses randomness is caught as nondeterministic
// by comparing a fresh instance with a reused one.
var randSeed = [32]byte{'r', 'o', 'n', 'h', 'o', 's', 't', '-', 'a', 'b', 'i', '-', 'v', '1'}

// Result is the raw answer of one call.
type Result struct {
	Status      int32         // 0 ok, 1 rejected
	Output      []byte        // what the plugin handed to output_set; callers must not modify it
	Elapsed     time.Duration // time in the entry point (0 when memoized)
	MemoryBytes uint32        // the instance's linear memory after the call
	Memoized    bool          // the result came from the memo, not from a call
	Fuel        uint64        // fuel the call burnt (deterministic; 0 when memoized)

	objectFailed bool // a payload read failed during the call
}

// Stats counts a plugin's calls.
type Stats struct {
	Calls       uint64 `json:"calls"` // calls answered, memo hits included
	MemoHits    uint64 `json:"memo_hits"`
	Rejected    uint64 `json:"rejected"` // status 1 answers
	Faults      uint64 `json:"faults"`
	Marked      uint64 `json:"marked"`    // calls refused at once: their content had faulted
	Instances   int64  `json:"instances"` // live instances
	Quarantined bool   `json:"quarantined"`
	// Loaded: the compiled code is in memory (a plugin loads at its first
	// call and gives its code back when idle).
	Loaded    bool   `json:"loaded"`
	LastFault string `json:"last_fault,omitempty"`
	// Runs counts the entry-point calls that ran in an instance (not memo
	// hits, not _initialize); BusyNanos is their total time, so
	// BusyNanos/Runs is the mean latency of a call.
	Runs      uint64 `json:"runs"`
	BusyNanos uint64 `json:"busy_ns"`
}

// Plugin is a loaded plugin: its compiled module, its describe answer and a
// pool of warm instances. It is safe for concurrent use; each instance serves
// one call at a time.
type Plugin struct {
	host     *Host
	hash     string
	tld      string                 // the TLD it is loaded for; "" takes describe's
	source   func() ([]byte, error) // the module's bytes, read at each load
	verify   bool                   // source's bytes must hash to hash
	desc     atomic.Pointer[Description]
	log      atomic.Pointer[slog.Logger]
	logLimit *rate.Limiter

	// Loading (load.go): the describe answer and hasResolve are set once, by
	// the first load; the compiled code comes and goes (an idle plugin
	// gives it back, the next call loads it again).
	described  atomic.Bool
	hasResolve bool
	cmu        sync.RWMutex          // guards compiled: instantiate reads, load and unload write
	compiled   wazero.CompiledModule // nil while not loaded
	lmu        sync.Mutex            // guards loading, loadErr, loadErrAt
	loading    *loadRun              // the load in progress
	loadErr    error                 // the last load's failure, returned until loadErrAt+QuarantineFor
	loadErrAt  time.Time
	life       context.Context // ends when Close begins: a load in progress stops
	stop       context.CancelFunc
	lastUsed   atomic.Int64 // host clock, UnixNano: when a call last ended

	sem  chan struct{}  // one token per call in flight, PoolSize in all
	idle chan *instance // warm instances

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup

	calls, memoHits, rejected, faults atomic.Uint64
	runs, busyNanos                   atomic.Uint64
	instances                         atomic.Int64
	markedHits                        atomic.Uint64
	book                              *faultBook
	quarantined                       atomic.Bool
	lastFault                         atomic.Pointer[string]
}

type instance struct {
	mod         api.Module
	fns         map[Entry]api.Function
	stack       []uint64
	stderr      *lineLogger
	used, limit api.MutableGlobal // the fuel meter's globals; nil when unmetered
	idleSince   time.Time         // when it went back to the pool
}

// newPlugin returns a plugin that loads (compiles, warms, describes) at
// its first call, or at Load.
func newPlugin(h *Host, hash, tld string, source func() ([]byte, error), verify bool) *Plugin {
	n := h.cfg.PoolSize
	p := &Plugin{
		host:     h,
		hash:     hash,
		tld:      tld,
		source:   source,
		verify:   verify,
		sem:      make(chan struct{}, n),
		idle:     make(chan *instance, n),
		logLimit: rate.NewLimiter(rate.Limit(h.cfg.LogLinesPerSecond), 100),
		book:     newFaultBook(h.cfg),
	}
	p.life, p.stop = context.WithCancel(context.Background())
	l := h.cfg.Logger.With("plugin", shortHash(hash))
	if tld != "" {
		l = h.cfg.Logger.With("tld", tld, "plugin", shortHash(hash))
	}
	p.log.Store(l)
	return p
}

// logger is the plugin's logger (with its TLD once known).
func (p *Plugin) logger() *slog.Logger { return p.log.Load() }

// warm runs describe on a fresh pooled instance and checks the answer.
func (p *Plugin) warm(ctx context.Context) error {
	in := fmt.Appendf(nil, `{"abi":1,"host":{"name":"ronhost","version":%q}}`, p.host.cfg.HostVersion)
	res, err := p.call(ctx, EntryDescribe, in, callOpts{own: true})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadDescribe, err)
	}
	if res.Status != 0 {
		return fmt.Errorf("%w: status %d: %s", ErrBadDescribe, res.Status, trim(res.Output))
	}
	d, err := parseDescription(res.Output, p.hasResolve)
	if err != nil {
		return err
	}
	if p.tld != "" && d.TLD != p.tld {
		return fmt.Errorf("%w: the plugin describes itself as .%s, not .%s", ErrTLDMismatch, d.TLD, p.tld)
	}
	p.desc.Store(&d)
	p.log.Store(p.host.cfg.Logger.With("tld", d.TLD, "plugin", shortHash(p.hash)))
	return nil
}

// Hash returns the plugin's identity: "b3:" and the BLAKE3 of its module in hex.
func (p *Plugin) Hash() string { return p.hash }

// Info returns the plugin's answer to ron_describe, checked at load; before
// the first load, only the TLD it was registered for.
func (p *Plugin) Info() Description {
	if d := p.desc.Load(); d != nil {
		return *d
	}
	return Description{TLD: p.tld}
}

// Stats returns the plugin's counters.
func (p *Plugin) Stats() Stats {
	s := Stats{
		Calls:       p.calls.Load(),
		MemoHits:    p.memoHits.Load(),
		Rejected:    p.rejected.Load(),
		Faults:      p.faults.Load(),
		Marked:      p.markedHits.Load(),
		Instances:   p.instances.Load(),
		Quarantined: p.quarantined.Load(),
		Runs:        p.runs.Load(),
		BusyNanos:   p.busyNanos.Load(),
		Loaded:      p.isLoaded(),
	}
	if lf := p.lastFault.Load(); lf != nil {
		s.LastFault = *lf
	}
	return s
}

// Call runs entry point e on input in a pooled instance. Describe, validate
// and split results are memoized by (plugin hash, entry, input). The error is
// non-nil only for a fault (*FaultError), a quarantined or closed plugin, an
// input over the limit, or the caller's context ending; a rejection (status 1)
// is a Result, not an error.
func (p *Plugin) Call(ctx context.Context, e Entry, input []byte) (Result, error) {
	if err := p.ensure(ctx); err != nil {
		return Result{}, err
	}
	return p.call(ctx, e, input, callOpts{memoize: true})
}

// CallFresh runs e in a brand-new instance that is discarded afterwards, with
// no memo. It is for diagnostics such as the conformance suite's determinism
// checks; its faults do not count towards quarantine.
func (p *Plugin) CallFresh(ctx context.Context, e Entry, input []byte) (Result, error) {
	return p.Invoke(ctx, e, input, CallOptions{Fresh: true})
}

// CallOptions refine a raw call.
type CallOptions struct {
	// Object is the payload object_read reads during ron_resolve; nil means none.
	Object io.ReaderAt
	// Fresh runs the call in a brand-new instance, discarded afterwards; its
	// faults do not count towards quarantine.
	Fresh bool
}

// Invoke is the general raw call: Call with a payload object, or in a fresh
// instance. Calls with an object are never memoized.
func (p *Plugin) Invoke(ctx context.Context, e Entry, input []byte, o CallOptions) (Result, error) {
	if err := p.ensure(ctx); err != nil {
		return Result{}, err
	}
	if !o.Fresh {
		return p.call(ctx, e, input, callOpts{obj: o.Object, memoize: o.Object == nil})
	}
	if err := p.enter(); err != nil {
		return Result{}, err
	}
	defer p.inflight.Done()
	if len(input) > p.host.cfg.Limits.InputBytes {
		return Result{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrInputTooLarge, len(input), p.host.cfg.Limits.InputBytes)
	}
	inst, err := p.instantiate(ctx)
	if err != nil {
		return Result{}, err
	}
	res, err := p.run(ctx, inst, e, input, o.Object)
	p.discard(ctx, inst)
	return res, err
}

func (p *Plugin) enter() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.inflight.Add(1)
	return nil
}

// callOpts say what one pooled call is about and how its answer is checked.
type callOpts struct {
	obj     io.ReaderAt
	memoize bool
	// content is what faults are attributed to (the manifest for typed
	// calls, as the input holds it); nil means the whole input.
	content []byte
	// own: the input is the host's own, the same for every node and never
	// anyone's content (describe's): a fault marks nothing and counts
	// towards quarantine.
	own bool
	// check refuses an answer that breaks the ABI (its shape, money, the
	// host's tables); a refused answer is a bad-output fault. Every answer is
	// also checked to be UTF-8.
	check func(Result) error
}

func (p *Plugin) call(ctx context.Context, e Entry, input []byte, o callOpts) (Result, error) {
	if err := p.enter(); err != nil {
		return Result{}, err
	}
	defer p.inflight.Done()
	if p.quarantined.Load() && p.book.quarantineOver() && p.quarantined.CompareAndSwap(true, false) {
		p.logger().Warn("plugin quarantine over: calls run again")
	}
	if p.quarantined.Load() {
		return Result{}, fmt.Errorf("%w: %s plugin %s after %d faults over distinct inputs (last: %s); it runs again within %s, or reload it",
			ErrQuarantined, p.Info().TLD, shortHash(p.hash), p.book.inRow(), p.Stats().LastFault, p.host.cfg.QuarantineFor)
	}
	if len(input) > p.host.cfg.Limits.InputBytes {
		return Result{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrInputTooLarge, len(input), p.host.cfg.Limits.InputBytes)
	}
	// ck names the content faults are attributed to (nil for the host's own
	// input), ik the whole input (what the plugin answered well). Each is
	// one hash of its bytes, and the whole input is hashed once: the memo's
	// key is made from ik.
	ik := p.host.contentKey(e, input)
	var ck *contentKey
	if !o.own {
		k := ik
		if o.content != nil {
			k = p.host.contentKey(e, o.content)
		}
		ck = &k
		if fe, at, ok := p.book.marked(k); ok {
			p.calls.Add(1)
			p.markedHits.Add(1)
			cp := *fe
			cp.Since = at
			return Result{}, &cp
		}
	}
	memo := p.host.memo
	memoize := o.memoize && memo != nil && e != EntryResolve
	var key memoKey
	if memoize {
		key = newMemoKey(p.hash, ik)
		if r, ok := memo.get(key); ok {
			p.calls.Add(1)
			p.memoHits.Add(1)
			if r.Status == 1 {
				p.rejected.Add(1)
			}
			if o.check != nil {
				_ = o.check(r) // memoized answers passed it; this fills the caller's decoded values
			}
			return r, nil
		}
	}
	inst, err := p.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	res, err := p.run(ctx, inst, e, input, o.obj)
	if err != nil {
		p.discard(ctx, inst)
		<-p.sem
		return res, p.noteFault(err, ck, ik)
	}
	now := p.host.cfg.now()
	p.lastUsed.Store(now.UnixNano())
	if res.MemoryBytes > p.host.cfg.RecycleBytes {
		p.discard(ctx, inst)
	} else {
		inst.idleSince = now
		p.idle <- inst
	}
	<-p.sem
	// The answer is checked before the call counts as a success: a refused
	// answer is a fault like any other.
	if err := checkOutput(res, o.check); err != nil {
		fe := &FaultError{Plugin: p.hash, TLD: p.Info().TLD, Entry: e, Kind: FaultBadOutput, Err: err, objectFailed: res.objectFailed}
		return res, p.noteFault(fe, ck, ik)
	}
	// An answer given after a payload read failed says nothing about the
	// input: it is not remembered as answered well.
	p.book.success(ck, ik, ck != nil && !res.objectFailed)
	p.calls.Add(1)
	if res.Status == 1 {
		p.rejected.Add(1)
	}
	if memoize {
		memo.put(key, Result{Status: res.Status, Output: res.Output})
	}
	return res, nil
}

// checkOutput applies the checks every answer passes, then the caller's.
func checkOutput(res Result, check func(Result) error) error {
	if !utf8.Valid(res.Output) {
		i := 0
		for i < len(res.Output) {
			r, n := utf8.DecodeRune(res.Output[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return fmt.Errorf("the output is not UTF-8 (byte %d)", i)
	}
	if check != nil {
		return check(res)
	}
	return nil
}

// noteFault counts a fault, marks the content it was about (k; nil when no
// content caused it; in names the call's whole input) and quarantines the
// plugin when faults that say it is broken span many inputs (faultBook).
func (p *Plugin) noteFault(err error, k *contentKey, in contentKey) error {
	var fe *FaultError
	if !errors.As(err, &fe) {
		return err // the caller's context ended: not the plugin's fault
	}
	v := p.book.fault(k, in, fe)
	p.faults.Add(1)
	msg := fe.Error()
	p.lastFault.Store(&msg)
	p.logger().Warn("plugin fault", "entry", fe.Entry, "kind", fe.Kind, "err", fe.Err, "content_marked", v.marked, "counts_towards_quarantine", v.counted)
	if v.quarantine && !p.quarantined.Swap(true) {
		p.logger().Error("plugin quarantined: calls fail fast until it is reloaded or the quarantine ends", "faults", v.faults, "distinct_inputs", v.distinct,
			"for", p.host.cfg.QuarantineFor)
	}
	return fe
}

// acquire takes a call slot and a warm instance, instantiating one if none is idle.
func (p *Plugin) acquire(ctx context.Context) (*instance, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	inst, err := p.instantiate(ctx)
	if err != nil {
		<-p.sem
		return nil, p.noteFault(err, nil, contentKey{})
	}
	return inst, nil
}

// instantiate creates an instance in the sandbox and runs _initialize under
// the describe deadline.
func (p *Plugin) instantiate(ctx context.Context) (*instance, error) {
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	seed := rand.NewChaCha8(randSeed)
	stderr := &lineLogger{p: p, stream: "stderr"}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // _initialize runs below, with fuel
		WithStdout(&lineLogger{p: p, stream: "stdout"}).
		WithStderr(stderr).
		WithWalltime(func() (int64, int32) { return fixedWalltime, 0 }, sys.ClockResolution(1)).
		WithRandSource(seed)
	var mod api.Module
	var err error
	for {
		// The compiled code may have been given back while idle: load it
		// again (from the compilation cache) and instantiate under the read
		// lock, so that unload never closes code an instance is made from.
		p.cmu.RLock()
		if cm := p.compiled; cm != nil {
			mod, err = p.host.runtime.InstantiateModule(ctx, cm, cfg)
			if err == nil {
				p.instances.Add(1)
			}
			p.cmu.RUnlock()
			break
		}
		p.cmu.RUnlock()
		if err := p.load(ctx); err != nil {
			return nil, loadError(p, err)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &FaultError{Plugin: p.hash, TLD: p.Info().TLD, Entry: "instantiate", Kind: classify(err, nil, 0, p.host.cfg.Limits.MemoryBytes, stderr.oom), Err: err}
	}
	inst := &instance{mod: mod, fns: map[Entry]api.Function{}, stack: make([]uint64, 1), stderr: stderr}
	for _, e := range []Entry{EntryDescribe, EntryValidate, EntrySplit, EntryResolve, entryInitialize} {
		if fn := mod.ExportedFunction(string(e)); fn != nil {
			inst.fns[e] = fn
		}
	}
	if g, ok := mod.ExportedGlobal(meter.UsedGlobal).(api.MutableGlobal); ok {
		inst.used = g
		inst.limit, _ = mod.ExportedGlobal(meter.LimitGlobal).(api.MutableGlobal)
	}
	if inst.fns[entryInitialize] != nil {
		if _, err := p.run(ctx, inst, entryInitialize, nil, nil); err != nil {
			p.discard(ctx, inst)
			return nil, err
		}
	}
	return inst, nil
}

// entryInitialize is the reactor's initializer, run once per instance under
// the describe deadline; it returns nothing, so run's status is 0.
const entryInitialize Entry = "_initialize"

func (p *Plugin) discard(ctx context.Context, inst *instance) {
	_ = inst.mod.Close(context.WithoutCancel(ctx))
	p.instances.Add(-1)
}

// run calls one entry point on inst under its deadline and classifies failures.
func (p *Plugin) run(ctx context.Context, inst *instance, e Entry, input []byte, obj io.ReaderAt) (Result, error) {
	fn := inst.fns[e]
	if fn == nil {
		return Result{}, fmt.Errorf("%w: %s plugin has no %s", ErrNotSupported, p.Info().TLD, e)
	}
	st := &callState{input: input, outMax: p.host.cfg.Limits.OutputBytes, object: obj, logf: p.logf}
	inst.stderr.oom = false
	limits, le := p.host.cfg.Limits, e
	if e == entryInitialize {
		le = EntryDescribe // _initialize runs under describe's limits
	}
	if inst.used != nil {
		st.fuel = &budget{cap: limits.Fuel(le), timeout: limits.Deadline(le), used: inst.used, limit: inst.limit, ctx: ctx, entry: e}
		st.fuel.start()
	}
	inst.stack[0] = 0
	start := time.Now()
	err := fn.CallWithStack(context.WithValue(ctx, callKey{}, st), inst.stack)
	elapsed := time.Since(start)
	if e != entryInitialize {
		p.runs.Add(1)
		p.busyNanos.Add(uint64(elapsed))
	}
	mem := inst.mod.Memory().Size()
	res := Result{Output: st.output, Elapsed: elapsed, MemoryBytes: mem}
	if st.fuel != nil {
		res.Fuel = st.fuel.burnt()
	}
	if err != nil {
		if st.fault == nil && ctx.Err() != nil {
			return res, fmt.Errorf("plugins: %s call abandoned: %w", e, ctx.Err())
		}
		kind := classify(err, st.fault, mem, p.host.cfg.Limits.MemoryBytes, inst.stderr.oom)
		cause := err
		if st.fault != nil {
			cause = st.fault.err
		}
		return res, &FaultError{Plugin: p.hash, TLD: p.Info().TLD, Entry: e, Kind: kind, Err: cause, objectFailed: st.objectFailed}
	}
	res.Status = int32(uint32(inst.stack[0]))
	res.objectFailed = st.objectFailed
	if res.Status != 0 && res.Status != 1 {
		return res, &FaultError{Plugin: p.hash, TLD: p.Info().TLD, Entry: e, Kind: FaultStatus, Err: fmt.Errorf("status %d (0 ok and 1 rejected are the only statuses)", res.Status), objectFailed: st.objectFailed}
	}
	return res, nil
}

// classify names the kind of a failed call. A memory fault is recognized by
// the instance's memory being near the cap, or by the guest's runtime saying
// so on stderr (a Go runtime that cannot grow its heap by a large block dies
// well below the cap, with "out of memory").
func classify(err error, hf *hostFault, mem, limit uint32, oomSaid bool) FaultKind {
	if hf != nil {
		return hf.kind
	}
	if oomSaid {
		return FaultMemory
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		switch ee.ExitCode() {
		case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
			return FaultTimeout
		}
		if nearLimit(mem, limit) {
			return FaultMemory
		}
		return FaultExit
	}
	if nearLimit(mem, limit) {
		return FaultMemory
	}
	return FaultTrap
}

// nearLimit: a runtime that failed to grow memory dies within a few MiB of the cap.
func nearLimit(mem, limit uint32) bool {
	margin := limit / 8
	if margin > 8<<20 {
		margin = 8 << 20
	}
	return mem+margin >= limit
}

func (p *Plugin) logf(level int32, msg []byte) {
	if !p.logLimit.Allow() {
		return
	}
	lvl := slog.LevelInfo
	switch level {
	case 0:
		lvl = slog.LevelDebug
	case 2:
		lvl = slog.LevelWarn
	case 3:
		lvl = slog.LevelError
	}
	p.logger().Log(context.Background(), lvl, string(bytes.ToValidUTF8(msg, []byte("?"))), "source", "ron.log")
}

// lineLogger turns a plugin's stdout or stderr into log lines, and notes
// when the guest's runtime reports running out of memory.
type lineLogger struct {
	p      *Plugin
	stream string
	buf    []byte
	oom    bool
}

// oomMessages are what language runtimes print when an allocation fails.
var oomMessages = [][]byte{
	[]byte("out of memory"),         // Go, C (many libcs)
	[]byte("memory allocation of"),  // Rust's alloc error handler
	[]byte("Cannot enlarge memory"), // Emscripten
}

func (w *lineLogger) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			room := logLineMax - len(w.buf)
			if room > 0 {
				w.buf = append(w.buf, b[:min(room, len(b))]...)
			}
			break
		}
		w.buf = append(w.buf, b[:min(i, max(0, logLineMax-len(w.buf)))]...)
		for _, m := range oomMessages {
			w.oom = w.oom || bytes.Contains(w.buf, m)
		}
		if w.p.logLimit.Allow() {
			w.p.logger().Info(string(bytes.ToValidUTF8(w.buf, []byte("?"))), "source", w.stream)
		}
		w.buf = w.buf[:0]
		b = b[i+1:]
	}
	return n, nil
}

// Close stops new calls, waits for the calls in flight and frees the
// instances and, when no other plugin shares it, the compiled module.
func (p *Plugin) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.stop()
	p.inflight.Wait()
	p.lmu.Lock()
	run := p.loading
	p.lmu.Unlock()
	if run != nil {
		<-run.done // the load sees p.life end and stops
	}
	for {
		select {
		case inst := <-p.idle:
			p.discard(ctx, inst)
			continue
		default:
		}
		break
	}
	p.cmu.Lock()
	if p.compiled != nil {
		p.compiled = nil
		p.host.releaseCompiled(ctx, p.hash)
	}
	p.cmu.Unlock()
	return nil
}

// ReleaseIdle closes the pooled instances unused for Config.IdleTimeout
// and returns how many it closed; a plugin left with no instance and no call
// for as long also gives its compiled code back. The next call instantiates
// one again (on demand), loading the code first if it was given back (from
// the compilation cache: no compile). A node calls it periodically.
func (p *Plugin) ReleaseIdle(ctx context.Context) int {
	return p.releaseIdle(ctx, p.host.cfg.IdleTimeout, true)
}

// ReleaseAll closes every pooled instance not in a call now (unless
// Config.IdleTimeout is negative: instances are kept) and returns how many
// it closed: a node releases the instances its start warmed, so an idle
// node holds none.
func (p *Plugin) ReleaseAll(ctx context.Context) int {
	if p.host.cfg.IdleTimeout < 0 {
		return 0
	}
	return p.releaseIdle(ctx, 0, false)
}

func (p *Plugin) releaseIdle(ctx context.Context, timeout time.Duration, unload bool) int {
	if timeout < 0 || p.enter() != nil {
		return 0
	}
	defer p.inflight.Done()
	now := p.host.cfg.now()
	var keep []*instance
	released := 0
	for n := len(p.idle); n > 0; n-- {
		var inst *instance
		select {
		case inst = <-p.idle:
		default:
		}
		if inst == nil {
			break
		}
		if now.Sub(inst.idleSince) >= timeout {
			p.discard(ctx, inst)
			released++
		} else {
			keep = append(keep, inst)
		}
	}
	// Instances never outnumber the pool's slots, so this does not block.
	for _, inst := range keep {
		p.idle <- inst
	}
	if unload {
		p.unloadIdle(ctx, now, timeout)
	}
	return released
}

func trim(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(bytes.ToValidUTF8(b[:n], []byte("?"))) + "…"
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}
