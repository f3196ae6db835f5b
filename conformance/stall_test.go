package conformance_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// A call stopped by the host's wall-clock safety net (a stalled machine)
// discards its instance, so the calls after it run in an instance with
// another history, with other fuel and memory figures: the flake of
// TestVerdictsIgnoreLoad (issue 17). Run redoes such a run, so its verdict,
// fuel figures included, is the same as a run that no stall touched. The
// stall is injected (the 40th call of the first run, a pooled one in .alg's
// validate.* checks), as the host makes it: the pooled instance discarded,
// a timeout fault wrapping plugins.ErrWallClock, then the suite's retry.
func TestStallIsRunAgain(t *testing.T) {
	wasm, err := buildOnce("tld-alg", func(out string) error {
		return wasmbuild.Build(context.Background(), filepath.Join("..", "tlds", "alg"), out)
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := conformance.Options{CacheDir: wazeroCache}
	plain, err := conformance.Run(t.Context(), wasm, opts)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Reruns != 0 {
		t.Fatalf("a run without stalls was redone %d times", plain.Reruns)
	}

	// One stall, in the first run only.
	stalled := 0
	rep, err := conformance.RunStalling(t.Context(), wasm, opts, func(calls int) bool {
		if calls == 40 && stalled == 0 {
			stalled++
			return true
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if stalled != 1 {
		t.Fatal("the suite made fewer than 40 calls: the stall was not injected")
	}
	if rep.Reruns != 1 {
		t.Errorf("after one stall, %d runs redone, want 1", rep.Reruns)
	}
	if got, want := verdict(rep), verdict(plain); got != want {
		t.Errorf("the verdict after a stall differs\nwithout:\n%s\nwith:\n%s", want, got)
	}

	// The hostile case: a machine that stalls in every run. The suite
	// stops after MaxRuns runs and says so; the stalled call, retried,
	// answered, so the plugin passes.
	rep, err = conformance.RunStalling(t.Context(), wasm, opts, func(calls int) bool { return calls == 40 })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reruns != conformance.MaxRuns-1 {
		t.Errorf("stalling in every run: %d runs redone, want %d", rep.Reruns, conformance.MaxRuns-1)
	}
	if rep.Failed() != 0 {
		t.Errorf("a retried stall fails the plugin:\n%s", text(rep))
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "run 3 times") || !strings.Contains(b.String(), "answered when retried") {
		t.Errorf("the report does not say the runs were redone and the call retried:\n%s", b.String())
	}
}
