package meter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/ronhost/ronhost/internal/wasmbuild"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// A minimal host for the tests: WASI and the ron imports of ABI v1, enough
// to run plugins the way the plugins package does, in a runtime without
// wazero's termination checks (or with them, to compare).

// cacheDir is the compilation cache every runtime in these tests shares.
var cacheDir string

func TestMain(m *testing.M) {
	dir, cleanup, err := wasmbuild.TestCacheDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

type callState struct {
	input, output []byte
	object        io.ReaderAt
}

type callKey struct{}

// newRuntime returns a runtime with WASI and the ron module; closeOnDone
// turns on wazero's own termination checks.
func newRuntime(t testing.TB, closeOnDone bool) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCloseOnContextDone(closeOnDone).
		WithCompilationCache(cache).
		WithMemoryLimitPages(1024))
	t.Cleanup(func() {
		_ = r.Close(ctx)
		_ = cache.Close(ctx)
	})
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	state := func(ctx context.Context) *callState {
		st, _ := ctx.Value(callKey{}).(*callState)
		if st == nil {
			st = &callState{}
		}
		return st
	}
	b := r.NewHostModuleBuilder("ron")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(len(state(ctx).input))
	}), nil, []api.ValueType{i32}).Export("input_len")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		if !m.Memory().Write(api.DecodeU32(s[0]), state(ctx).input) {
			panic("input_read outside memory")
		}
	}), []api.ValueType{i32}, nil).Export("input_read")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		buf, ok := m.Memory().Read(api.DecodeU32(s[0]), api.DecodeU32(s[1]))
		if !ok {
			panic("output_set outside memory")
		}
		st := state(ctx)
		st.output = append(st.output[:0], buf...)
	}), []api.ValueType{i32, i32}, nil).Export("output_set")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
	}), []api.ValueType{i32, i32, i32}, nil).Export("log")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		st := state(ctx)
		off, n := int64(s[0]), api.DecodeU32(s[2])
		buf, ok := m.Memory().Read(api.DecodeU32(s[1]), n)
		if st.object == nil || !ok || off < 0 {
			s[0] = api.EncodeI32(-1)
			return
		}
		got, err := st.object.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			s[0] = api.EncodeI32(-1)
			return
		}
		s[0] = api.EncodeI32(int32(got))
	}), []api.ValueType{i64, i32, i32}, []api.ValueType{i32}).Export("object_read")
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := instantiateRefill(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// ample is the fuel the tests give a call that must not run out (the hand
// module's countdown(0) makes 2^32 passes of LoopPassUnits).
const ample = 1 << 44

// instance is one instantiated plugin. used and limit are nil for an
// uninstrumented module.
type instance struct {
	mod         api.Module
	used, limit api.MutableGlobal
	last        *budget // of the last call
}

// withBudget readies the fuel for a call under b and returns its context.
func (in *instance) withBudget(ctx context.Context, b *budget) context.Context {
	in.last = b
	if in.used != nil {
		b.used, b.limit = in.used, in.limit
		in.used.Set(0)
		in.limit.Set(b.firstLimit())
	}
	return context.WithValue(ctx, budgetKey{}, b)
}

// spent is the fuel the last call used (more than its budget when it ran out).
func (in *instance) spent() uint64 { return in.used.Get() }

// exhausted reports whether the last call ran out of fuel.
func (in *instance) exhausted() bool {
	return in.used != nil && in.used.Get() > in.last.fuel && errors.Is(in.last.ended, errOutOfFuel)
}

func compile(t testing.TB, r wazero.Runtime, wasm []byte) wazero.CompiledModule {
	t.Helper()
	cm, err := r.CompileModule(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// instantiate runs no start function until the fuel is set, then _initialize.
func instantiate(t testing.TB, r wazero.Runtime, cm wazero.CompiledModule) *instance {
	t.Helper()
	ctx := context.Background()
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithStderr(io.Discard).WithStdout(io.Discard).
		WithWalltime(func() (int64, int32) { return 1704067200, 0 }, sys.ClockResolution(1)).
		WithRandSource(rand.NewChaCha8([32]byte{'m', 'e', 't', 'e', 'r'}))
	mod, err := r.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mod.Close(ctx) })
	in := &instance{mod: mod}
	if g := mod.ExportedGlobal(UsedGlobal); g != nil {
		in.used = g.(api.MutableGlobal)
		in.limit = mod.ExportedGlobal(LimitGlobal).(api.MutableGlobal)
	}
	if f := mod.ExportedFunction("_initialize"); f != nil {
		if _, err := f.Call(in.withBudget(ctx, newBudget(ample, 0))); err != nil {
			t.Fatalf("_initialize: %v", err)
		}
	}
	return in
}

// call runs entry with input; for an instrumented instance it sets the fuel
// to budget first and returns what the call used.
func (in *instance) call(ctx context.Context, entry string, input []byte, obj io.ReaderAt, budget uint64) (status int32, out []byte, used uint64, err error) {
	status, out, err = in.callBudget(ctx, entry, input, obj, newBudget(budget, 0))
	if in.used != nil {
		used = in.spent()
	}
	return status, out, used, err
}

// callBudget calls entry with input under b.
func (in *instance) callBudget(ctx context.Context, entry string, input []byte, obj io.ReaderAt, b *budget) (status int32, out []byte, err error) {
	ctx = in.withBudget(ctx, b)
	fn := in.mod.ExportedFunction(entry)
	if fn == nil { // as a host would: the plugin does not support entry
		return 1, []byte(`{"errors":[{"path":"","code":"unsupported","message":"no ` + entry + `"}]}`), nil
	}
	st := &callState{input: input, object: obj}
	res, err := fn.Call(context.WithValue(ctx, callKey{}, st))
	if err != nil || len(res) == 0 {
		return 0, nil, err
	}
	return int32(res[0]), st.output, nil
}
