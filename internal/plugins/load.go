package plugins

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Loading a plugin: its module is compiled (or read from the compilation
// cache), one instance warmed and ron_describe checked, at its first call
// (Router.Register) or at once (Host.Load, Router.Install). One load runs at
// a time per plugin, whoever asked for it: calls that arrive meanwhile wait
// for it (within their context), and a caller that gives up does not stop
// it for the others. A load that failed is not tried again for
// Config.QuarantineFor: calls fail at once with its error (ErrLoad), so a
// module that does not compile costs one compile, not one per request. An
// idle plugin gives its compiled code back (ReleaseIdle); the next call loads
// it again, without describing it again.

// loadRun is one load in progress.
type loadRun struct {
	done chan struct{} // closed when the load has ended
	err  error         // set before done is closed
}

// Load loads the plugin now if it is not loaded: its compiled code, and at
// the first load its describe answer. It waits for a load in progress.
func (p *Plugin) Load(ctx context.Context) error {
	if err := p.load(ctx); err != nil {
		return loadError(p, err)
	}
	return nil
}

// ensure returns once the plugin was described (its Info is known), loading
// it first if it never was. The compiled code may be given back later:
// instantiate loads it again.
func (p *Plugin) ensure(ctx context.Context) error {
	if p.described.Load() {
		return nil
	}
	if err := p.load(ctx); err != nil {
		return loadError(p, err)
	}
	return nil
}

// loadError is a failed load as callers see it: ErrLoad and its cause;
// a closed plugin, or the caller's context, as they are.
func loadError(p *Plugin, err error) error {
	if errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: the .%s plugin %s: %w", ErrLoad, p.Info().TLD, shortHash(p.hash), err)
}

// load runs the plugin's load, or joins the one in progress, and waits for
// it until ctx ends.
func (p *Plugin) load(ctx context.Context) error {
	p.lmu.Lock()
	if p.life.Err() != nil {
		p.lmu.Unlock()
		return ErrClosed
	}
	if p.isLoaded() && p.described.Load() {
		p.lmu.Unlock()
		return nil
	}
	if p.loadErr != nil && p.host.cfg.now().Sub(p.loadErrAt) < p.host.cfg.QuarantineFor {
		err := p.loadErr
		p.lmu.Unlock()
		return err
	}
	run := p.loading
	if run == nil {
		run = &loadRun{done: make(chan struct{})}
		p.loading, p.loadErr = run, nil
		go p.runLoad(run)
	}
	p.lmu.Unlock()
	select {
	case <-run.done:
		return run.err
	case <-ctx.Done():
		return ctx.Err()
	case <-p.life.Done():
		return ErrClosed
	}
}

// runLoad is one load, under the plugin's life (not a caller's context).
func (p *Plugin) runLoad(run *loadRun) {
	err := p.doLoad(p.life)
	if err != nil && p.life.Err() != nil {
		err = ErrClosed
	}
	p.lmu.Lock()
	p.loading = nil
	if err != nil && !errors.Is(err, ErrClosed) {
		p.loadErr, p.loadErrAt = err, p.host.cfg.now()
		p.logger().Warn("plugin load failed: its calls fail until it is reloaded or the wait ends", "err", err, "for", p.host.cfg.QuarantineFor)
	}
	run.err = err
	p.lmu.Unlock()
	close(run.done)
}

// doLoad compiles the module unless its code is loaded and, the first time,
// warms an instance and checks ron_describe. A slot of the host's bounds
// how many loads run at once.
func (p *Plugin) doLoad(ctx context.Context) error {
	h := p.host
	select {
	case h.loadSlots <- struct{}{}:
	case <-ctx.Done():
		return ErrClosed
	}
	defer func() { <-h.loadSlots }()
	if !p.isLoaded() {
		wasm, err := p.source()
		if err != nil {
			return fmt.Errorf("plugins: reading the module: %w", err)
		}
		if len(wasm) > h.cfg.Limits.ModuleBytes {
			return fmt.Errorf("%w: %d bytes, the limit is %d", ErrModuleTooLarge, len(wasm), h.cfg.Limits.ModuleBytes)
		}
		if p.verify {
			if got := HashBytes(wasm); got != p.hash {
				return fmt.Errorf("%w: the module's bytes hash to %s, not %s", ErrInvalidModule, got, p.hash)
			}
		}
		cm, err := h.acquireCompiled(ctx, p.hash, wasm)
		if err != nil {
			return err
		}
		p.cmu.Lock()
		p.compiled = cm
		p.cmu.Unlock()
		if !p.described.Load() {
			_, p.hasResolve = cm.ExportedFunctions()[string(EntryResolve)]
		}
	}
	if !p.described.Load() {
		if err := p.warm(ctx); err != nil {
			p.releaseIdle(ctx, 0, false)
			p.dropCompiled(ctx)
			return err
		}
		p.described.Store(true)
	}
	p.lastUsed.Store(h.cfg.now().UnixNano())
	return nil
}

// isLoaded says whether the compiled code is in memory.
func (p *Plugin) isLoaded() bool {
	p.cmu.RLock()
	defer p.cmu.RUnlock()
	return p.compiled != nil
}

// dropCompiled gives the compiled code back to the host.
func (p *Plugin) dropCompiled(ctx context.Context) {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	if p.compiled != nil {
		p.compiled = nil
		p.host.releaseCompiled(ctx, p.hash)
	}
}

// unloadIdle gives the compiled code back when the plugin has no instance
// left and no call ended within timeout (now on the host's clock), and no
// load runs.
func (p *Plugin) unloadIdle(ctx context.Context, now time.Time, timeout time.Duration) bool {
	if timeout < 0 || !p.described.Load() {
		return false
	}
	p.lmu.Lock()
	defer p.lmu.Unlock()
	if p.loading != nil || now.Sub(time.Unix(0, p.lastUsed.Load())) < timeout {
		return false
	}
	p.cmu.Lock()
	defer p.cmu.Unlock()
	// Instances are made under the read lock: none can appear meanwhile.
	if p.compiled == nil || p.instances.Load() > 0 {
		return false
	}
	p.compiled = nil
	p.host.releaseCompiled(ctx, p.hash)
	p.logger().Debug("idle plugin gave its compiled code back")
	return true
}

// Described says whether the plugin was ever loaded: its describe answer
// (Info) is known, so it has served or can serve.
func (p *Plugin) Described() bool { return p.described.Load() }
