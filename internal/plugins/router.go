package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
)

// Router maps each TLD to the plugin that owns it. Installing over an
// installed TLD is a hot reload: the new plugin is compiled, checked and
// warmed first, then swapped in, then the old one drains its calls in flight
// and closes. A failed install leaves the old plugin serving.
type Router struct {
	host *Host

	mu   sync.RWMutex
	tlds map[string]*Plugin
}

// NewRouter returns an empty router over h.
func NewRouter(h *Host) *Router {
	return &Router{host: h, tlds: map[string]*Plugin{}}
}

// Install loads wasm as the plugin for tld, replacing the one installed. It
// refuses a plugin whose describe names another TLD. Trust is the caller's
// to check first (see TrustPolicy).
func (r *Router) Install(ctx context.Context, tld string, wasm []byte) (*Plugin, error) {
	if !ValidTLD(tld) {
		return nil, fmt.Errorf("plugins: %q is not a valid TLD (lowercase [a-z0-9-]{1,32})", tld)
	}
	p, err := r.host.loadNow(ctx, tld, wasm)
	if err != nil {
		return nil, err
	}
	r.swap(ctx, tld, p)
	return p, nil
}

// Register makes the module of hash, whose bytes source returns, the plugin
// for tld without loading it: the first call for tld loads it (compile or
// read the compilation cache, warm, describe; calls meanwhile wait for that
// one load), off the caller's start. A module that fails to load fails the
// calls for tld (ErrLoad) and nothing else. The plugin it replaces drains
// its calls in flight and closes.
func (r *Router) Register(ctx context.Context, tld, hash string, source func() ([]byte, error)) (*Plugin, error) {
	p, err := r.host.Prepare(tld, hash, source)
	if err != nil {
		return nil, err
	}
	r.swap(ctx, tld, p)
	return p, nil
}

// swap installs p for tld and closes the plugin it replaces.
func (r *Router) swap(ctx context.Context, tld string, p *Plugin) {
	r.mu.Lock()
	old := r.tlds[tld]
	r.tlds[tld] = p
	r.mu.Unlock()
	if old != nil {
		_ = old.Close(ctx) // waits for its calls in flight
	}
}

// InstallAll installs each module of wasms (by TLD) as Install does, the
// loads (compile, warm, describe) running in parallel, up to GOMAXPROCS at
// once: a node's start compiles its plugins on every core. It returns
// each TLD's error (nil: installed).
func (r *Router) InstallAll(ctx context.Context, wasms map[string][]byte) map[string]error {
	errs := make(map[string]error, len(wasms))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))
	for tld, wasm := range wasms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := r.Install(ctx, tld, wasm)
			mu.Lock()
			errs[tld] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errs
}

// ReleaseIdle closes every plugin's instances idle for Config.IdleTimeout,
// and gives back the compiled code of plugins idle as long (see
// Plugin.ReleaseIdle); it returns how many instances it closed.
func (r *Router) ReleaseIdle(ctx context.Context) int {
	return r.release(ctx, (*Plugin).ReleaseIdle)
}

// Loaded returns how many plugins hold their compiled code.
func (r *Router) Loaded() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, p := range r.tlds {
		if p.isLoaded() {
			n++
		}
	}
	return n
}

// ReleaseAll closes every plugin's pooled instances not in a call (see
// Plugin.ReleaseAll) and returns how many it closed.
func (r *Router) ReleaseAll(ctx context.Context) int {
	return r.release(ctx, (*Plugin).ReleaseAll)
}

func (r *Router) release(ctx context.Context, f func(*Plugin, context.Context) int) int {
	r.mu.RLock()
	ps := make([]*Plugin, 0, len(r.tlds))
	for _, p := range r.tlds {
		ps = append(ps, p)
	}
	r.mu.RUnlock()
	n := 0
	for _, p := range ps {
		n += f(p, ctx)
	}
	return n
}

// Remove uninstalls tld after its calls in flight finish.
func (r *Router) Remove(ctx context.Context, tld string) error {
	r.mu.Lock()
	p, ok := r.tlds[tld]
	delete(r.tlds, tld)
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: .%s", ErrUnknownTLD, tld)
	}
	return p.Close(ctx)
}

// Plugin returns the plugin installed for tld.
func (r *Router) Plugin(tld string) (*Plugin, error) {
	r.mu.RLock()
	p, ok := r.tlds[tld]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: no plugin owns .%s", ErrUnknownTLD, tld)
	}
	return p, nil
}

// TLDs lists the installed TLDs in order.
func (r *Router) TLDs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.tlds))
	for t := range r.tlds {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// with runs f on the plugin for tld, retrying on the new plugin when a hot
// reload closed the old one between lookup and call, so no call is dropped.
func with[T any](r *Router, tld string, f func(p *Plugin) (T, error)) (T, error) {
	for {
		p, err := r.Plugin(tld)
		if err != nil {
			var zero T
			return zero, err
		}
		v, err := f(p)
		if errors.Is(err, ErrClosed) {
			if cur, _ := r.Plugin(tld); cur != nil && cur != p {
				continue
			}
		}
		return v, err
	}
}

// Validate validates a manifest with the plugin that owns tld.
func (r *Router) Validate(ctx context.Context, tld string, manifest json.RawMessage, payloadSize uint64) (*Validated, error) {
	return with(r, tld, func(p *Plugin) (*Validated, error) {
		return p.Validate(ctx, manifest, ValidateContext{TLD: tld, PayloadSize: payloadSize})
	})
}

// Split splits an amount with the plugin that owns tld.
func (r *Router) Split(ctx context.Context, tld string, in SplitInput) ([]Allocation, error) {
	return with(r, tld, func(p *Plugin) ([]Allocation, error) { return p.Split(ctx, in) })
}

// Resolve resolves a path with the plugin that owns tld.
func (r *Router) Resolve(ctx context.Context, tld string, in ResolveInput, obj io.ReaderAt) (*Resolved, error) {
	return with(r, tld, func(p *Plugin) (*Resolved, error) { return p.Resolve(ctx, in, obj) })
}

// Close removes and closes every plugin.
func (r *Router) Close(ctx context.Context) error {
	r.mu.Lock()
	ps := r.tlds
	r.tlds = map[string]*Plugin{}
	r.mu.Unlock()
	for _, p := range ps {
		_ = p.Close(ctx)
	}
	return nil
}
