package plugins

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRouterInstallChecksTheTLD(t *testing.T) {
	v1, _ := chaos(t)
	r := NewRouter(newHost(t, Config{}))
	ctx := context.Background()
	t.Cleanup(func() { _ = r.Close(ctx) })
	if _, err := r.Install(ctx, "other", v1); !errors.Is(err, ErrTLDMismatch) {
		t.Fatalf("want ErrTLDMismatch, got %v", err)
	}
	if _, err := r.Install(ctx, "Bad TLD", v1); err == nil {
		t.Fatal("an invalid TLD was accepted")
	}
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); !errors.Is(err, ErrUnknownTLD) {
		t.Fatalf("want ErrUnknownTLD, got %v", err)
	}
	if _, err := r.Install(ctx, "chaos", v1); err != nil {
		t.Fatal(err)
	}
	if got := r.TLDs(); len(got) != 1 || got[0] != "chaos" {
		t.Fatalf("TLDs = %v", got)
	}
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(ctx, "chaos"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); !errors.Is(err, ErrUnknownTLD) {
		t.Fatalf("after remove: %v", err)
	}
}

// Hot reload under load: calls run in a bounded loop while the plugin is
// swapped between two versions; not one call fails.
func TestRouterHotReloadDropsNoCall(t *testing.T) {
	v1, v2 := chaos(t)
	r := NewRouter(newHost(t, Config{PoolSize: 2}))
	ctx := context.Background()
	t.Cleanup(func() { _ = r.Close(ctx) })
	if _, err := r.Install(ctx, "chaos", v1); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	stop := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); err != nil {
					errs <- err
					return
				}
				calls.Add(1)
			}
		}()
	}
	versions := [][]byte{v2, v1}
	for i := range 10 {
		p, err := r.Install(ctx, "chaos", versions[i%2])
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"2", "1"}[i%2]; p.Info().Version != want {
			t.Fatalf("installed version %s, want %s", p.Info().Version, want)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a call failed during reload: %v", err)
	}
	if calls.Load() == 0 {
		t.Fatal("no call ran during the reloads")
	}
	p, _ := r.Plugin("chaos")
	if p.Info().Version != "1" {
		t.Fatalf("final version %s", p.Info().Version)
	}
}

// A failed upgrade leaves the old plugin serving.
func TestRouterFailedUpgradeKeepsTheOld(t *testing.T) {
	v1, _ := chaos(t)
	r := NewRouter(newHost(t, Config{}))
	ctx := context.Background()
	t.Cleanup(func() { _ = r.Close(ctx) })
	old, err := r.Install(ctx, "chaos", v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Install(ctx, "chaos", []byte("garbage")); err == nil {
		t.Fatal("garbage installed")
	}
	if p, _ := r.Plugin("chaos"); p != old {
		t.Fatal("the old plugin was replaced by a failed upgrade")
	}
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); err != nil {
		t.Fatal(err)
	}
}

// InstallAll loads in parallel: the same bytes asked for twice at once
// compile once and are shared; a module that describes another TLD is
// refused and the rest still install.
func TestRouterInstallAll(t *testing.T) {
	v1, v2 := chaos(t)
	h := newHost(t, Config{})
	r := NewRouter(h)
	ctx := context.Background()
	t.Cleanup(func() { _ = r.Close(ctx) })
	errs := r.InstallAll(ctx, map[string][]byte{"chaos": v1, "other": v1, "wrong": v2})
	if errs["chaos"] != nil {
		t.Fatal(errs["chaos"])
	}
	for _, tld := range []string{"other", "wrong"} {
		if !errors.Is(errs[tld], ErrTLDMismatch) {
			t.Fatalf(".%s: want ErrTLDMismatch, got %v", tld, errs[tld])
		}
	}
	if got := r.TLDs(); len(got) != 1 || got[0] != "chaos" {
		t.Fatalf("TLDs = %v", got)
	}
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	compiled, compiling := len(h.compiled), len(h.compiling)
	h.mu.Unlock()
	if compiled != 1 || compiling != 0 {
		t.Fatalf("%d modules compiled and %d compiling after the loads, want the installed one only", compiled, compiling)
	}
}
