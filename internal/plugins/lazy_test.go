package plugins

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/poll"
)

// source returns a module source that counts its reads and, when gate is
// not nil, waits for it to close first.
func source(wasm []byte, reads *atomic.Int64, gate chan struct{}) func() ([]byte, error) {
	return func() ([]byte, error) {
		reads.Add(1)
		if gate != nil {
			<-gate
		}
		return wasm, nil
	}
}

// A registered plugin does nothing until its first call: no read of the
// module, no compile, no instance; the first call loads it and answers.
func TestRegisterLoadsAtTheFirstCall(t *testing.T) {
	v1, _ := chaos(t)
	ctx := context.Background()
	h := newHost(t, Config{})
	r := NewRouter(h)
	t.Cleanup(func() { _ = r.Close(ctx) })
	var reads atomic.Int64
	p, err := r.Register(ctx, "chaos", HashBytes(v1), source(v1, &reads, nil))
	if err != nil {
		t.Fatal(err)
	}
	if reads.Load() != 0 || h.compiles.Load() != 0 || p.Stats().Loaded || p.Stats().Instances != 0 || p.Described() {
		t.Fatalf("registered: %d reads, %d compiles, %+v", reads.Load(), h.compiles.Load(), p.Stats())
	}
	if got := p.Info(); got.TLD != "chaos" || got.Name != "" {
		t.Fatalf("Info before the load: %+v, want the TLD alone", got)
	}
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); err != nil {
		t.Fatal(err)
	}
	if reads.Load() != 1 || h.compiles.Load() != 1 || !p.Stats().Loaded || !p.Described() || p.Info().Name == "" {
		t.Fatalf("after the first call: %d reads, %d compiles, %+v, %+v", reads.Load(), h.compiles.Load(), p.Stats(), p.Info())
	}
	if _, err := r.Register(ctx, "Not A TLD", HashBytes(v1), source(v1, &reads, nil)); err == nil {
		t.Fatal("Register took an invalid TLD")
	}
}

// Many first calls at once load the plugin once; they wait for that load
// (the module's read is held until all of them are in), and one whose
// context ends meanwhile gives up alone without stopping the load for the
// others.
func TestConcurrentFirstCallsLoadOnce(t *testing.T) {
	v1, _ := chaos(t)
	ctx := context.Background()
	h := newHost(t, Config{PoolSize: 4})
	r := NewRouter(h)
	t.Cleanup(func() { _ = r.Close(ctx) })
	var reads atomic.Int64
	gate := make(chan struct{})
	if _, err := r.Register(ctx, "chaos", HashBytes(v1), source(v1, &reads, gate)); err != nil {
		t.Fatal(err)
	}
	const n = 64
	var entered atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entered.Add(1)
			_, err := r.Validate(ctx, "chaos", mode("ok"), 0)
			errs <- err
		}()
	}
	impatient, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() {
		_, err := r.Validate(impatient, "chaos", mode("ok"), 0)
		gaveUp <- err
	}()
	poll.Until(t, "every first call to start and the load to read the module", func() bool {
		return entered.Load() == n && reads.Load() == 1
	})
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller that gave up while the plugin loads: %v, want context.Canceled", err)
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a first call: %v", err)
		}
	}
	if reads.Load() != 1 || h.compiles.Load() != 1 {
		t.Fatalf("%d first calls: %d reads of the module, %d compiles, want 1 each", n, reads.Load(), h.compiles.Load())
	}
}

// Hostile: modules that do not load (not WebAssembly, bytes that are not
// the registered hash, a describe naming another TLD) fail their own TLD's
// calls with ErrLoad and their cause, at once after the first failure (no
// load per call) until QuarantineFor passes; the good plugin beside them
// answers throughout.
func TestBrokenPluginsFailTheirTLDOnly(t *testing.T) {
	v1, v2 := chaos(t)
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	h := newHost(t, Config{QuarantineFor: time.Minute, now: clock.now})
	r := NewRouter(h)
	t.Cleanup(func() { _ = r.Close(ctx) })
	garbage := []byte("\x00asm\x01\x00\x00\x00 this is not a module")
	var badReads, liarReads, otherReads, goodReads atomic.Int64
	for _, c := range []struct {
		tld, hash string
		wasm      []byte
		reads     *atomic.Int64
	}{
		{"bad", HashBytes(garbage), garbage, &badReads},
		{"liar", HashBytes(v1), v2, &liarReads},   // the bytes are not the hash's
		{"other", HashBytes(v1), v1, &otherReads}, // describes itself as .chaos
		{"chaos", HashBytes(v1), v1, &goodReads},
	} {
		if _, err := r.Register(ctx, c.tld, c.hash, source(c.wasm, c.reads, nil)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]error{"bad": ErrInvalidModule, "liar": ErrInvalidModule, "other": ErrTLDMismatch}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 40 {
		for _, tld := range []string{"bad", "liar", "other", "chaos"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := r.Validate(ctx, tld, modeN("ok", i), 0)
				switch {
				case tld == "chaos" && err != nil:
					errs <- err
				case tld != "chaos" && (!errors.Is(err, ErrLoad) || !errors.Is(err, want[tld])):
					errs <- errors.New(tld + ": " + errString(err))
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for tld, n := range map[string]*atomic.Int64{"bad": &badReads, "liar": &liarReads, "other": &otherReads, "chaos": &goodReads} {
		if n.Load() != 1 {
			t.Errorf(".%s: its module was read %d times for 40 calls, want once", tld, n.Load())
		}
	}
	// After the wait, one more load is tried (and fails again).
	clock.advance(time.Minute)
	if _, err := r.Validate(ctx, "bad", mode("ok"), 0); !errors.Is(err, ErrLoad) || badReads.Load() != 2 {
		t.Fatalf("after QuarantineFor: %v, %d reads, want a second failed load", err, badReads.Load())
	}
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); err != nil {
		t.Fatal(err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// An idle plugin gives its instances and then its compiled code back
// (ReleaseIdle on the host's clock, faked here); the next call loads the
// code again without describing the plugin again, and answers as before.
func TestIdlePluginGivesItsCodeBack(t *testing.T) {
	v1, _ := chaos(t)
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	h := newHost(t, Config{IdleTimeout: time.Minute, now: clock.now})
	r := NewRouter(h)
	t.Cleanup(func() { _ = r.Close(ctx) })
	var reads atomic.Int64
	p, err := r.Register(ctx, "chaos", HashBytes(v1), source(v1, &reads, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); err != nil {
		t.Fatal(err)
	}
	runs := p.Stats().Runs // describe and validate
	clock.advance(59 * time.Second)
	if r.ReleaseIdle(ctx); !p.Stats().Loaded || p.Stats().Instances == 0 {
		t.Fatalf("before the idle timeout: %+v", p.Stats())
	}
	clock.advance(time.Second)
	if n := r.ReleaseIdle(ctx); n == 0 || p.Stats().Loaded || p.Stats().Instances != 0 || r.Loaded() != 0 {
		t.Fatalf("at the idle timeout: released %d, %+v, want no instance and no code", n, p.Stats())
	}
	if _, err := r.Validate(ctx, "chaos", modeN("ok", 2), 0); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); !s.Loaded || s.Runs != runs+1 || reads.Load() != 2 || r.Loaded() != 1 {
		t.Fatalf("the call after: %+v, %d reads; want the code loaded again and one run (no describe)", s, reads.Load())
	}
}

// Close while a plugin loads: the callers waiting for the load get
// ErrClosed, and Close returns once the load has stopped.
func TestCloseWhileLoading(t *testing.T) {
	v1, _ := chaos(t)
	ctx := context.Background()
	h := newHost(t, Config{})
	r := NewRouter(h)
	var reads atomic.Int64
	gate := make(chan struct{})
	p, err := r.Register(ctx, "chaos", HashBytes(v1), source(v1, &reads, gate))
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := p.Validate(ctx, mode("ok"), ValidateContext{TLD: "chaos"})
		waited <- err
	}()
	poll.Until(t, "the load to start", func() bool { return reads.Load() == 1 })
	closed := make(chan struct{})
	go func() {
		_ = p.Close(ctx)
		close(closed)
	}()
	if err := <-waited; !errors.Is(err, ErrClosed) {
		t.Fatalf("a call waiting for the load of a closed plugin: %v, want ErrClosed", err)
	}
	close(gate) // the module's read returns; the load sees the plugin closed
	<-closed
	if p.Stats().Loaded || p.Stats().Instances != 0 {
		t.Fatalf("after Close: %+v", p.Stats())
	}
}
