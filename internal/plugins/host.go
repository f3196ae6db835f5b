package plugins

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ronhost/ronhost/internal/plugins/internal/meter"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"lukechampine.com/blake3"
)

// Host runs plugins: one wazero runtime with its compilation cache, the ron
// host module, a sandboxed WASI, and a memo of pure results. Plugins loaded
// from the same bytes share one compiled module.
type Host struct {
	cfg  Config
	memo *memo
	// hashers holds *blake3.Hasher for the content keys of calls (3 KiB
	// each, which blake3.New puts on the heap).
	hashers sync.Pool

	mu        sync.Mutex
	started   bool
	closed    bool
	runtime   wazero.Runtime
	cache     wazero.CompilationCache
	compiled  map[string]*compiledRef  // by plugin hash
	compiling map[string]chan struct{} // by plugin hash: closed when its compile ends

	loadSlots chan struct{} // one per load running: GOMAXPROCS loads at once
	compiles  atomic.Uint64 // modules compiled (or read from the cache): for tests
}

type compiledRef struct {
	mod  wazero.CompiledModule
	refs int
}

// New returns a Host. It does no I/O: the runtime starts at the first Load.
func New(cfg Config) *Host {
	cfg = cfg.withDefaults()
	h := &Host{cfg: cfg, compiled: map[string]*compiledRef{}, compiling: map[string]chan struct{}{},
		loadSlots: make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))}
	if cfg.MemoEntries > 0 {
		h.memo = newMemo(cfg.MemoEntries, 64<<20)
	}
	return h
}

// Config returns the host's effective configuration, defaults filled in.
func (h *Host) Config() Config { return h.cfg }

// start creates the runtime, the compilation cache and the host modules once.
func (h *Host) start(ctx context.Context) error {
	if h.closed {
		return ErrClosed
	}
	if h.started {
		return nil
	}
	// Deadlines are enforced by the fuel meter's refill import (see
	// meter.go), not by wazero's CloseOnContextDone, which costs Go plugins
	// 4-5x (BenchmarkValidate/no-deadlines shows the unmetered speed).
	// Tail calls (return_call, return_call_indirect) are part of ABI v1 on
	// top of WebAssembly 2.0; the meter charges them at function entry like
	// any call.
	rc := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall).
		WithMemoryLimitPages(h.cfg.Limits.MemoryBytes / 65536)
	var cache wazero.CompilationCache
	if h.cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(h.cfg.CacheDir)
		if err != nil {
			return fmt.Errorf("plugins: compilation cache %s: %w", h.cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	rc = rc.WithCompilationCache(cache)
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	// WASI's functions charge fuel through a function listener (meter.go).
	if _, err := wasi_snapshot_preview1.Instantiate(experimental.WithFunctionListenerFactory(ctx, wasiMeter{}), r); err != nil {
		_ = r.Close(ctx)
		_ = cache.Close(ctx)
		return fmt.Errorf("plugins: instantiating WASI: %w", err)
	}
	if err := instantiateRonModule(ctx, r); err != nil {
		_ = r.Close(ctx)
		_ = cache.Close(ctx)
		return err
	}
	if err := instantiateMeterModule(ctx, r); err != nil {
		_ = r.Close(ctx)
		_ = cache.Close(ctx)
		return err
	}
	h.runtime, h.cache, h.started = r, cache, true
	return nil
}

// HashBytes returns the plugin hash of a module: "b3:" and the BLAKE3 of its bytes in hex.
func HashBytes(wasm []byte) string {
	sum := blake3.Sum256(wasm)
	return "b3:" + hex.EncodeToString(sum[:])
}

// Load checks and compiles a module, warms one instance, calls ron_describe
// and checks its answer. A module that fails any check is refused with an
// error that names what to fix.
func (h *Host) Load(ctx context.Context, wasm []byte) (*Plugin, error) {
	return h.loadNow(ctx, "", wasm)
}

// loadNow is Load for tld ("": any).
func (h *Host) loadNow(ctx context.Context, tld string, wasm []byte) (*Plugin, error) {
	if len(wasm) > h.cfg.Limits.ModuleBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrModuleTooLarge, len(wasm), h.cfg.Limits.ModuleBytes)
	}
	p := newPlugin(h, HashBytes(wasm), tld, func() ([]byte, error) { return wasm, nil }, false)
	if err := p.load(ctx); err != nil {
		_ = p.Close(ctx)
		return nil, err
	}
	return p, nil
}

// Prepare returns the plugin of module hash for tld without loading it:
// its first call (or Load) reads the module from source, checks that it
// hashes to hash, compiles, warms and describes it, and refuses a describe
// that names another TLD. Until then Info holds only the TLD.
func (h *Host) Prepare(tld, hash string, source func() ([]byte, error)) (*Plugin, error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !ValidTLD(tld) {
		return nil, fmt.Errorf("plugins: %q is not a valid TLD (lowercase [a-z0-9-]{1,32})", tld)
	}
	return newPlugin(h, hash, tld, source, true), nil
}

func (h *Host) acquireCompiled(ctx context.Context, hash string, wasm []byte) (wazero.CompiledModule, error) {
	for {
		h.mu.Lock()
		if err := h.start(ctx); err != nil {
			h.mu.Unlock()
			return nil, err
		}
		if ref, ok := h.compiled[hash]; ok {
			ref.refs++
			h.mu.Unlock()
			return ref.mod, nil
		}
		wait, busy := h.compiling[hash]
		if !busy {
			wait = make(chan struct{})
			h.compiling[hash] = wait
			runtime := h.runtime
			h.mu.Unlock()
			// Compiling runs outside the lock, so plugins load in parallel
			// (a cold start compiles the built-ins on every core); a second
			// Load of the same bytes waits for this one.
			h.compiles.Add(1)
			cm, err := h.compile(ctx, runtime, wasm)
			h.mu.Lock()
			delete(h.compiling, hash)
			close(wait)
			if h.closed { // Close ran meanwhile: the runtime is gone
				if err == nil {
					_ = cm.Close(ctx)
				}
				cm, err = nil, ErrClosed
			}
			if err == nil {
				h.compiled[hash] = &compiledRef{mod: cm, refs: 1}
			}
			h.mu.Unlock()
			return cm, err
		}
		h.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// compile instruments (unless deadlines are off), compiles and checks wasm.
func (h *Host) compile(ctx context.Context, runtime wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	code := wasm
	if !h.cfg.noDeadlines {
		// The meter also refuses modules whose declared counts would make
		// wazero allocate without bound while compiling (a 15-byte module can
		// ask for hundreds of GB): nothing reaches CompileModule unchecked.
		m, err := meter.Instrument(wasm)
		if errors.Is(err, meter.ErrLimit) {
			return nil, fmt.Errorf("%w: %w: %v", ErrInvalidModule, ErrModuleLimit, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidModule, err)
		}
		code = m
	}
	cm, err := runtime.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidModule, err)
	}
	if err := checkModule(cm); err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	return cm, nil
}

func (h *Host) releaseCompiled(ctx context.Context, hash string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ref, ok := h.compiled[hash]
	if !ok {
		return
	}
	ref.refs--
	if ref.refs == 0 {
		delete(h.compiled, hash)
		_ = ref.mod.Close(ctx)
	}
}

// Close closes the runtime and every module in it. Close plugins first to
// let their calls finish; calls still running when Close is called fail.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	if !h.started {
		return nil
	}
	err := h.runtime.Close(ctx)
	if cerr := h.cache.Close(ctx); err == nil {
		err = cerr
	}
	h.compiled = nil
	if err != nil {
		return fmt.Errorf("plugins: closing host: %w", err)
	}
	return nil
}

// Compiles returns how many modules the host compiled (or read from its
// compilation cache) since it started: one per load of a plugin's code.
func (h *Host) Compiles() uint64 { return h.compiles.Load() }
