package meter

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/tetratelabs/wazero"
)

// Instrument never panics, and never turns a module wazero accepts into one
// it refuses.

// checkAgainstWazero: whatever Instrument returns, wazero compiles, if it
// compiles the original. (Inputs Instrument refuses are not given to wazero:
// some would make it allocate gigabytes, see TestRefuses.)
func checkAgainstWazero(t testing.TB, r wazero.Runtime, in []byte) (compiled bool) {
	t.Helper()
	ctx := context.Background()
	out, err := Instrument(in)
	if err != nil {
		return false
	}
	if _, err := Instrument(out); !errors.Is(err, ErrReserved) {
		t.Fatalf("instrumenting twice: %v, want ErrReserved", err)
	}
	cm, err := r.CompileModule(ctx, in)
	if err != nil {
		return false // garbage in, garbage out
	}
	_ = cm.Close(ctx)
	cm, err = r.CompileModule(ctx, out)
	if err != nil {
		t.Fatalf("wazero compiles the module but not its instrumented copy: %v\n%x", err, in)
	}
	_ = cm.Close(ctx)
	return true
}

func TestGarbageNeverPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Random bytes, half of them behind a valid header.
	for i := range 5000 {
		b := make([]byte, rng.IntN(300))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if i%2 == 0 && len(b) >= 8 {
			copy(b, header)
		}
		if out, err := Instrument(b); err == nil && len(out) < 8 {
			t.Fatalf("%x: %d bytes out", b, len(out))
		}
	}
	// Every prefix of the hand module, and every byte of it changed.
	hand := handModule()
	for n := range len(hand) {
		_, _ = Instrument(hand[:n])
	}
	for i := range hand {
		b := append([]byte(nil), hand...)
		for _, v := range []byte{0x00, 0x0b, 0x7f, 0x80, 0xff, b[i] + 1, b[i] - 1} {
			b[i] = v
			_, _ = Instrument(b)
		}
	}
}

// Random mutations of small modules, checked against wazero.
func TestMutationsAgainstWazero(t *testing.T) {
	r := wazero.NewRuntime(context.Background())
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	n := 400
	if raceDetector || testing.Short() {
		n = 60
	}
	rng := rand.New(rand.NewPCG(3, 4))
	seeds := [][]byte{handModule(), envModule()}
	for _, s := range seeds {
		checkAgainstWazero(t, r, s)
	}
	valid := 0
	for range n {
		b := append([]byte(nil), seeds[rng.IntN(len(seeds))]...)
		for range 1 + rng.IntN(2) {
			b[8+rng.IntN(len(b)-8)] = byte(rng.Uint32())
		}
		if checkAgainstWazero(t, r, b) {
			valid++
		}
	}
	if valid == 0 {
		t.Fatalf("only %d of %d mutations were valid modules: the test checks little", valid, n)
	}
	t.Logf("%d of %d mutated modules valid and instrumented", valid, n)
}

// FuzzInstrument: go test -fuzz Instrument ./plugins/internal/meter/
func FuzzInstrument(f *testing.F) {
	f.Add(handModule())
	f.Add(envModule())
	f.Add(mod{types: [][]byte{functype(nil, nil)}, funcs: []fn{{code: []byte{0x03, 0x40, 0x0b, 0x0b}}}}.encode())
	r := wazero.NewRuntime(context.Background())
	f.Cleanup(func() { _ = r.Close(context.Background()) })
	f.Fuzz(func(t *testing.T, b []byte) { checkAgainstWazero(t, r, b) })
}
