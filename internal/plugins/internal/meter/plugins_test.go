package meter

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ronhost/ronhost/internal/wasmbuild"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
	"github.com/tetratelabs/wazero"
)

// The repository's plugins, instrumented, answer byte for byte what the
// original modules answer, and an endless loop stops on an empty tank.

// built caches the modules this test binary builds, by name.
var built sync.Map

func goModule(t testing.TB, dir string) []byte {
	t.Helper()
	if b, ok := built.Load(dir); ok {
		return b.([]byte)
	}
	b := wasmbuild.ForTest(t, dir)
	built.Store(dir, b)
	return b
}

// cModule builds the conformance suite's C plugin with clang (skips without
// clang or wasi-libc); simd adds -msimd128 so clang vectorizes loops.
func cModule(t testing.TB, simd bool) []byte {
	t.Helper()
	key := "cplugin"
	if simd {
		key += "-simd"
	}
	if b, ok := built.Load(key); ok {
		return b.([]byte)
	}
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skipf("clang not found: %v", err)
	}
	out := filepath.Join(t.TempDir(), key+".wasm")
	args := []string{"--target=wasm32-wasi", "--sysroot=/usr", "-mexec-model=reactor", "-O2", "-std=c11",
		"-o", out, "../../../../conformance/testdata/cplugin/plugin.c"}
	if simd {
		args = append(args, "-msimd128")
	}
	if b, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		t.Skipf("clang cannot build a wasm32-wasi reactor here: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	built.Store(key, b)
	return b
}

// skipUnderRace skips a test that compiles large Go plugins: under the race
// detector wazero's compiler is instrumented and takes 10-25 s per module,
// and these tests compare wasm outputs, which the detector does not see.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceDetector {
		t.Skip("compiles large Go plugins: minutes under the race detector, which sees no wasm; run without -race")
	}
}

// prefixed counts the instructions of wasm's code with the opcode prefix op.
func prefixed(t testing.TB, wasm []byte, op byte) int {
	t.Helper()
	m, err := parse(wasm)
	if err != nil || m.code == nil {
		t.Fatalf("parse: %v", err)
	}
	r := &reader{b: m.code.body}
	n, _ := r.u32()
	count := 0
	for range n {
		size, _ := r.u32()
		body, _ := r.bytes(size)
		br := &reader{b: body}
		nent, _ := br.u32()
		for range nent {
			_, _ = br.u32()
			_, _ = br.byte()
		}
		for !br.done() {
			if br.b[br.off] == op {
				count++
			}
			if _, err := decode(br); err != nil {
				t.Fatal(err)
			}
		}
	}
	return count
}

// pair runs every call on the original and the instrumented module and
// fails the test when they answer differently. It is a rontest.Caller.
type pair struct {
	t          testing.TB
	orig, inst *instance
	calls      int
	fuel       uint64 // fuel used by all calls
}

func newPair(t testing.TB, r wazero.Runtime, wasm []byte) *pair {
	t.Helper()
	metered, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	return &pair{t: t, orig: instantiate(t, r, compile(t, r, wasm)), inst: instantiate(t, r, compile(t, r, metered))}
}

func (p *pair) Call(ctx context.Context, entry string, input []byte, obj io.ReaderAt) (int32, []byte, error) {
	var objCopy io.ReaderAt
	if obj != nil {
		objCopy = obj // a ReaderAt has no position: both calls can read it
	}
	s1, o1, _, err1 := p.orig.call(ctx, entry, input, obj, 0)
	s2, o2, used, err2 := p.inst.call(ctx, entry, input, objCopy, ample)
	p.calls++
	p.fuel += used
	if err1 != nil && err2 != nil && err1.Error() != err2.Error() {
		// The same trap, and the same stack trace: the name section's
		// function indices were renumbered with the functions.
		p.t.Errorf("%s: original %v\ninstrumented %v", entry, err1, err2)
	}
	if (err1 == nil) != (err2 == nil) || s1 != s2 || !bytes.Equal(o1, o2) {
		p.t.Errorf("%s(%.80q): original (%d, %v) %.200q, instrumented (%d, %v) %.200q", entry, input, s1, err1, o1, s2, err2, o2)
	}
	if err2 != nil && p.inst.exhausted() {
		p.t.Errorf("%s: out of fuel with %d units", entry, uint64(ample))
	}
	return s1, o1, err1
}

func TestPluginsAnswerTheSame(t *testing.T) {
	r := newRuntime(t, false)
	plugins := []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"sdk notes (large)", func(t testing.TB) []byte { return goModule(t, "../../../../sdk-wasm/examples/notes/wasm") }},
		{"conformance reference (large)", func(t testing.TB) []byte { return goModule(t, "../../../../conformance/testdata/reference") }},
		{"conformance C plugin", func(t testing.TB) []byte { return cModule(t, false) }},
		{"conformance C plugin, SIMD", func(t testing.TB) []byte { return cModule(t, true) }},
	}
	for _, pl := range plugins {
		t.Run(pl.name, func(t *testing.T) {
			if strings.HasSuffix(pl.name, "(large)") {
				skipUnderRace(t)
			}
			wasm := pl.wasm(t)
			if strings.Contains(pl.name, "SIMD") && prefixed(t, wasm, 0xfd) == 0 {
				t.Fatal("clang emitted no SIMD instruction: the case tests nothing more")
			}
			p := newPair(t, r, wasm)
			rontest.CheckPlugin(t, p)
			t.Logf("%d calls, %d fuel", p.calls, p.fuel)
			if p.calls < 20 || p.fuel == 0 {
				t.Fatalf("%d calls used %d fuel: the checks did not run", p.calls, p.fuel)
			}
		})
	}
}

func TestChaosAnswersTheSame(t *testing.T) {
	skipUnderRace(t)
	r := newRuntime(t, false)
	p := newPair(t, r, goModule(t, "../../testdata/chaos"))
	ctx := context.Background()
	for _, mode := range []string{"ok", "reject", "counter", "log", "garbage", "big", "status7", "nope"} {
		p.Call(ctx, "ron_validate", []byte(`{"manifest":{"mode":"`+mode+`"}}`), nil)
	}
	for _, mode := range []string{"ok", "lose", "undeclared"} {
		p.Call(ctx, "ron_split", []byte(`{"manifest":{"mode":"`+mode+`"},"amount":1000}`), nil)
	}
	payload := []byte("zero\none\ntwo\nthree")
	for _, path := range []string{"/0", "/2", "/3", "/9", "/x"} {
		p.Call(ctx, "ron_resolve", []byte(`{"path":"`+path+`","payload_size":18}`), bytes.NewReader(payload))
	}
	// A trap is a trap on both sides, and not for lack of fuel.
	p.Call(ctx, "ron_validate", []byte(`{"manifest":{"mode":"trap"}}`), nil)
}

// An endless loop ends with the fuel exhausted, whatever its budget.
func TestEndlessLoopsRunOutOfFuel(t *testing.T) {
	r := newRuntime(t, false)
	ctx := context.Background()
	cases := []struct {
		name, dir, entry string
		input            string
	}{
		{"chaos loop", "../../testdata/chaos", "ron_validate", `{"manifest":{"mode":"loop"}}`},
		{"conformance hostile/loop", "../../../../conformance/testdata/hostile/loop", "ron_split", `{}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.dir == "../../testdata/chaos" {
				skipUnderRace(t)
			}
			metered, err := Instrument(goModule(t, c.dir))
			if err != nil {
				t.Fatal(err)
			}
			cm := compile(t, r, metered)
			for _, budget := range []uint64{0, 1, 1000, 10_000_000} {
				in := instantiate(t, r, cm)
				_, _, used, err := in.call(ctx, c.entry, []byte(c.input), nil, budget)
				if err == nil || !in.exhausted() {
					t.Fatalf("budget %d: err %v, used %d; want a trap, out of fuel", budget, err, used)
				}
				if !strings.Contains(err.Error(), "out of fuel") || used <= budget {
					t.Fatalf("budget %d: used %d, err %v", budget, used, err)
				}
			}
		})
	}
}

// The fuel a call uses is a function of the module and the input alone.
func TestFuelIsDeterministic(t *testing.T) {
	skipUnderRace(t)
	r := newRuntime(t, false)
	ctx := context.Background()
	metered, err := Instrument(goModule(t, "../../../../sdk-wasm/examples/notes/wasm"))
	if err != nil {
		t.Fatal(err)
	}
	cm := compile(t, r, metered)
	in := validateInput(t)
	var uses []uint64
	for range 2 {
		inst := instantiate(t, r, cm)
		st, _, used, err := inst.call(ctx, "ron_validate", in, nil, ample)
		if err != nil || st != 0 {
			t.Fatalf("validate: %d %v", st, err)
		}
		uses = append(uses, used)
	}
	if uses[0] != uses[1] || uses[0] == 0 {
		t.Fatalf("two fresh instances used %d and %d fuel on the same validate", uses[0], uses[1])
	}
	// Exactly the fuel it needs is enough; one unit less is not.
	inst := instantiate(t, r, cm)
	if _, _, _, err := inst.call(ctx, "ron_validate", in, nil, uses[0]); err != nil {
		t.Fatalf("validate with exactly %d fuel: %v", uses[0], err)
	}
	inst = instantiate(t, r, cm)
	if _, _, _, err := inst.call(ctx, "ron_validate", in, nil, uses[0]-1); err == nil || !inst.exhausted() {
		t.Fatalf("validate with %d fuel: err %v, want out of fuel", uses[0]-1, err)
	}
}
