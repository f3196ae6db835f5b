package meter

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// tightLoopC is a C function whose loop body is a handful of instructions:
// before LoopPassUnits it burnt about five units a pass, some 3,000 times
// slower per second than Go's code, which the budgets are sized to, so it
// met the wall-clock safety net long before its budget (issue 17).
const tightLoopC = `
static volatile unsigned long long passes;
__attribute__((export_name("spin"))) unsigned long long spin(unsigned long long n) { for (;;) passes += n; }
__attribute__((export_name("passes"))) unsigned long long count(unsigned long long n) { return passes / n; }
`

// A C tight loop pays LoopPassUnits a pass, so it reaches a budget within
// budget/LoopPassUnits passes: its verdict is out of fuel, at a fuel rate
// close to Go code's (BenchmarkRate wasm-spin against go-endless-loop),
// well inside the safety net. The pass count is exact, not timed.
func TestTightCLoopPaysPerPass(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skipf("clang not found: %v", err)
	}
	dir := t.TempDir()
	src, out := filepath.Join(dir, "spin.c"), filepath.Join(dir, "spin.wasm")
	if err := os.WriteFile(src, []byte(tightLoopC), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(clang, "--target=wasm32-wasi", "--sysroot=/usr", "-mexec-model=reactor", "-O2",
		"-o", out, src).CombinedOutput(); err != nil {
		t.Skipf("clang cannot build a wasm32-wasi reactor here: %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	metered, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	r := newRuntime(t, false)
	inst := instantiate(t, r, compile(t, r, metered))
	const budget = 50_000_000
	if _, used, err := callFn(t, inst, "spin", 1, budget); err == nil || !inst.exhausted() {
		t.Fatalf("spin: %v, used %d; want out of fuel", err, used)
	}
	passes, _, err := callFn(t, inst, "passes", 1, ample)
	if err != nil {
		t.Fatal(err)
	}
	if passes == 0 || passes > budget/LoopPassUnits+1 {
		t.Fatalf("%d passes on a budget of %d: a pass cost %d units, want at least %d", passes, budget, budget/max(passes, 1), LoopPassUnits)
	}
	t.Logf("%d passes of a %d-unit budget", passes, budget)
}
