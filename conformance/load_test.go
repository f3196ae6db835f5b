package conformance_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// verdict is what must not depend on the machine: each check's outcome and,
// per entry point, the calls, faults and fuel figures (wall times, which do
// depend on it, are left out).
func verdict(r *conformance.Report) string {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%s %s\n", c.Status, c.ID)
	}
	for _, e := range r.Entries {
		fmt.Fprintf(&b, "%s: %d calls, %d faults, fuel max %d total %d of budget %d, memory %d, output %d\n",
			e.Entry, e.Calls, e.Faults, e.MaxFuel, e.TotalFuel, e.FuelBudget, e.PeakMemory, e.MaxOutput)
	}
	return b.String()
}

// burn keeps every CPU busy with spinning goroutines until the returned
// function is called, which stops them and waits for them.
func burn() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(1)
			for {
				for range 1 << 16 {
					x = x*6364136223846793005 + 1442695040888963407
				}
				select {
				case <-done:
					_ = x
					return
				default:
				}
			}
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// haveToolchain reports whether lang's toolchain is installed; in CI a
// missing one fails t.
func haveToolchain(t *testing.T, lang string) bool {
	if err := tldtest.Toolchain(t, lang); err != nil {
		t.Logf("without the %s modules: %v", lang, err)
		return false
	}
	return true
}

// The suite gives the same verdicts and the same fuel figures on an idle
// machine and with every CPU saturated by a burner (issue 17): time is
// judged by fuel alone, under the ABI's own limits. It runs on the four
// built-in plugins, the Go, Rust and C templates and the Rust example (the
// modules and their compiled code are built once and shared by both runs).
func TestVerdictsIgnoreLoad(t *testing.T) {
	type module struct {
		name string
		wasm []byte
	}
	var mods []module
	for _, tld := range []string{"ai", "alg", "map", "mod"} {
		wasm, err := buildOnce("tld-"+tld, func(out string) error {
			return wasmbuild.Build(context.Background(), filepath.Join("..", "tlds", tld), out)
		})
		if err != nil {
			t.Fatal(err)
		}
		mods = append(mods, module{"." + tld, wasm})
	}
	sdk, err := filepath.Abs("../sdk-wasm")
	if err != nil {
		t.Fatal(err)
	}
	_, tpl := tldtest.Template(t, "go", sdk)
	mods = append(mods, module{"the Go template", tpl})
	// The Rust and C templates and the Rust SDK's example: their loops pay
	// fuel per pass (meter.LoopPassUnits), so they too reach a budget by
	// fuel, not by the wall clock. Without a toolchain they are left out
	// (in CI, whose .ci/run installs both, that fails).
	for _, lang := range []string{"rust", "c"} {
		if !haveToolchain(t, lang) {
			continue
		}
		_, tpl := tldtest.Template(t, lang, sdk)
		mods = append(mods, module{"the " + lang + " template", tpl})
	}
	if haveToolchain(t, "rust") {
		wasm, err := buildOnce("rust-notes", func(out string) error {
			return wasmbuild.BuildRust(context.Background(), "../sdk-rust", "ron-notes", out)
		})
		if err != nil {
			t.Fatal(err)
		}
		mods = append(mods, module{"the Rust example (.notes)", wasm})
	}

	// A run in which the host's wall-clock safety net stopped a call is
	// redone by Run (TestStallIsRunAgain), so the figures differ only if
	// the machine stalled in MaxRuns runs in a row; the message says so.
	run := func(m module) string {
		rep, err := conformance.Run(t.Context(), m.wasm, conformance.Options{CacheDir: wazeroCache})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed() != 0 {
			t.Errorf("%s fails the suite:\n%s", m.name, text(rep))
		}
		if rep.Reruns > 0 {
			t.Logf("%s: run %d times (the wall-clock safety net stopped a call)", m.name, rep.Reruns+1)
		}
		return verdict(rep)
	}
	idle := make([]string, len(mods))
	spent := make([]string, len(mods))
	for i, m := range mods {
		t0 := time.Now()
		idle[i] = run(m)
		spent[i] = fmt.Sprintf("%s %v", m.name, time.Since(t0).Round(time.Millisecond))
	}
	t.Logf("idle runs: %s", strings.Join(spent, ", "))
	stop := burn()
	defer stop()
	for i, m := range mods {
		if loaded := run(m); loaded != idle[i] {
			t.Errorf("%s: the verdict under load differs\nidle:\n%s\nloaded:\n%s", m.name, idle[i], loaded)
		}
	}
	stop()
	t.Logf("%d modules, the same verdicts and fuel idle and loaded; .map:\n%s", len(mods), idle[2])
}
