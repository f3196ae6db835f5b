package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ronhost/ronhost/internal/plugins/internal/meter"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// ronModule is the import module name of ABI v1.
const ronModule = "ron"

// wasiModule is the WASI preview 1 import module, sandboxed by the host.
const wasiModule = "wasi_snapshot_preview1"

// logLineMax truncates one plugin log line.
const logLineMax = 1024

// ronImports lists the ron imports and their signatures.
var ronImports = map[string]struct{ params, results []api.ValueType }{
	"input_len":   {nil, []api.ValueType{api.ValueTypeI32}},
	"input_read":  {[]api.ValueType{api.ValueTypeI32}, nil},
	"output_set":  {[]api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil},
	"log":         {[]api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, nil},
	"object_read": {[]api.ValueType{api.ValueTypeI64, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}},
}

// callState is what the ron imports see of the call in progress. It travels
// in the call's context, so one host module serves every instance.
type callState struct {
	fuel    *budget // nil when the module is not metered
	input   []byte
	output  []byte
	outMax  int
	object  io.ReaderAt // non-nil only inside ron_resolve
	logf    func(level int32, msg []byte)
	fault   *hostFault // set by an import that aborts the call
	outSize int        // size the plugin tried to set (for the over-limit message)
	// objectFailed: a payload read failed (the store's error, not the
	// content's): what the plugin saw depended on the machine.
	objectFailed bool
}

// hostFault is a fault detected inside an import; the import panics with it.
type hostFault struct {
	kind FaultKind
	err  error
}

func (f *hostFault) Error() string { return f.err.Error() }

type callKey struct{}

func stateOf(ctx context.Context) *callState {
	st, _ := ctx.Value(callKey{}).(*callState)
	return st
}

func (st *callState) abort(kind FaultKind, format string, args ...any) {
	st.fault = &hostFault{kind: kind, err: fmt.Errorf(format, args...)}
	panic(st.fault)
}

// instantiateRonModule defines the ron host module in r.
func instantiateRonModule(ctx context.Context, r wazero.Runtime) error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b := r.NewHostModuleBuilder(ronModule)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		st := stateOf(ctx)
		if st == nil {
			stack[0] = 0
			return
		}
		st.charge(0)
		stack[0] = uint64(uint32(len(st.input)))
	}), nil, []api.ValueType{i32}).Export("input_len")

	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		st := stateOf(ctx)
		if st == nil {
			return
		}
		dst := api.DecodeU32(stack[0])
		st.charge(hostBytes(uint64(len(st.input))))
		if !mod.Memory().Write(dst, st.input) {
			st.abort(FaultTrap, "input_read: destination %d+%d is outside memory", dst, len(st.input))
		}
	}), []api.ValueType{i32}, nil).Export("input_read")

	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		st := stateOf(ctx)
		if st == nil {
			return
		}
		ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
		if int64(n) > int64(st.outMax) {
			st.outSize = int(n)
			st.abort(FaultOutputTooLarge, "output_set: %d bytes, the limit is %d", n, st.outMax)
		}
		st.charge(hostBytes(uint64(n)))
		buf, ok := mod.Memory().Read(ptr, n)
		if !ok {
			st.abort(FaultTrap, "output_set: source %d+%d is outside memory", ptr, n)
		}
		st.output = append(st.output[:0], buf...)
	}), []api.ValueType{i32, i32}, nil).Export("output_set")

	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		st := stateOf(ctx)
		if st == nil {
			return
		}
		level, ptr, n := int32(api.DecodeU32(stack[0])), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
		if n > logLineMax {
			n = logLineMax
		}
		st.charge(hostBytes(uint64(n)))
		if st.logf == nil {
			return
		}
		buf, ok := mod.Memory().Read(ptr, n)
		if !ok {
			st.abort(FaultTrap, "log: message %d+%d is outside memory", ptr, n)
		}
		st.logf(level, buf)
	}), []api.ValueType{i32, i32, i32}, nil).Export("log")

	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		st := stateOf(ctx)
		off, dst, n := int64(stack[0]), api.DecodeU32(stack[1]), int32(api.DecodeU32(stack[2]))
		if st == nil {
			stack[0] = api.EncodeI32(-1)
			return
		}
		st.charge(0)
		if st.object == nil || off < 0 || n < 0 {
			stack[0] = api.EncodeI32(-1)
			return
		}
		buf, ok := mod.Memory().Read(dst, uint32(n))
		if !ok {
			st.abort(FaultTrap, "object_read: destination %d+%d is outside memory", dst, n)
		}
		got, err := st.object.ReadAt(buf, off)
		// The bytes read pay after the read; a single read is bounded by
		// the memory cap.
		st.spend(hostBytes(uint64(got)))
		if err != nil && !errors.Is(err, io.EOF) {
			st.objectFailed = true
			stack[0] = api.EncodeI32(-1)
			return
		}
		stack[0] = api.EncodeI32(int32(got))
	}), []api.ValueType{i64, i32, i32}, []api.ValueType{i32}).Export("object_read")

	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("plugins: instantiating the ron module: %w", err)
	}
	return nil
}

// checkModule enforces the module shape of ABI v1 on a compiled module:
// imports only from ron (known names and signatures) and WASI, no imported
// memory, the memory export, a known ABI marker, and the entry points.
func checkModule(cm wazero.CompiledModule) error {
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		switch mod {
		case ronModule:
			sig, ok := ronImports[name]
			if !ok {
				return &ImportError{Module: mod, Name: name, Reason: "not a ron import of ABI v1 (known: input_len, input_read, output_set, log, object_read)"}
			}
			if !slices.Equal(def.ParamTypes(), sig.params) || !slices.Equal(def.ResultTypes(), sig.results) {
				return &ImportError{Module: mod, Name: name, Reason: fmt.Sprintf("signature %s, want %s", sigString(def.ParamTypes(), def.ResultTypes()), sigString(sig.params, sig.results))}
			}
		case wasiModule:
		case meter.RefillModule:
			// Added by the meter, which refuses modules that import from it themselves.
			if name != meter.RefillName {
				return &ImportError{Module: mod, Name: name, Reason: "reserved for the host's fuel meter"}
			}
		default:
			return &ImportError{Module: mod, Name: name, Reason: "only the modules ron and wasi_snapshot_preview1 may be imported"}
		}
	}
	for _, def := range cm.ImportedMemories() {
		mod, name, _ := def.Import()
		return &ImportError{Module: mod, Name: name, Reason: "a plugin must define and export its own memory, not import one"}
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		return fmt.Errorf("%w: memory (a plugin must export its linear memory as \"memory\")", ErrMissingExport)
	}
	exports := cm.ExportedFunctions()
	marker := ""
	var others []string
	for name := range exports {
		if strings.HasPrefix(name, "ron_abi_v") {
			if slices.Contains(supportedABIs, name) {
				marker = name
			} else {
				others = append(others, name)
			}
		}
	}
	if marker == "" {
		msg := "the module exports no ABI marker"
		if len(others) > 0 {
			slices.Sort(others)
			msg = "the module declares " + strings.Join(others, ", ")
		}
		return fmt.Errorf("%w: %s; this host supports %s (export a function %q with no params and no results)",
			ErrNoABI, msg, strings.Join(supportedABIs, ", "), supportedABIs[0])
	}
	if def := exports[marker]; len(def.ParamTypes()) != 0 || len(def.ResultTypes()) != 0 {
		return fmt.Errorf("%w: %s must take no params and return nothing, has %s", ErrNoABI, marker, sigString(def.ParamTypes(), def.ResultTypes()))
	}
	for _, e := range []Entry{EntryDescribe, EntryValidate, EntrySplit, EntryResolve} {
		def, ok := exports[string(e)]
		if !ok {
			if e == EntryResolve {
				continue
			}
			return fmt.Errorf("%w: %s (every ABI v1 plugin exports %s, %s and %s, each () -> i32)", ErrMissingExport, e, EntryDescribe, EntryValidate, EntrySplit)
		}
		if len(def.ParamTypes()) != 0 || !slices.Equal(def.ResultTypes(), []api.ValueType{api.ValueTypeI32}) {
			return fmt.Errorf("%w: %s has signature %s, want () -> i32", ErrMissingExport, e, sigString(def.ParamTypes(), def.ResultTypes()))
		}
	}
	if def, ok := exports["_initialize"]; ok && (len(def.ParamTypes()) != 0 || len(def.ResultTypes()) != 0) {
		return fmt.Errorf("%w: _initialize must take no params and return nothing", ErrMissingExport)
	}
	return nil
}

func sigString(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return name(params) + " -> " + name(results)
}
