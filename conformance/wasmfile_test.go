package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A hand-assembled module: one type () -> i32, an import ron.input_len of
// that type, one function of that type exported as ron_describe, a memory
// exported as memory.
var tinyModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // types: () -> i32
	0x02, 0x11, 0x01, 0x03, 'r', 'o', 'n', 0x09, 'i', 'n', 'p', 'u', 't', '_', 'l', 'e', 'n', 0x00, 0x00, // import ron.input_len
	0x03, 0x02, 0x01, 0x00, // functions: one of type 0
	0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1
	0x07, 0x1b, 0x02, // exports
	0x0c, 'r', 'o', 'n', '_', 'd', 'e', 's', 'c', 'r', 'i', 'b', 'e', 0x00, 0x01,
	0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00,
	0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x00, 0x0b, // code: i32.const 0
}

func TestParseWasm(t *testing.T) {
	m, err := parseWasm(tinyModule)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.imports) != 1 || m.imports[0].module != "ron" || m.imports[0].name != "input_len" || m.imports[0].typ.String() != "() -> (i32)" {
		t.Fatalf("imports: %+v", m.imports)
	}
	if e := m.exports["ron_describe"]; e.kind != kindFunc || !e.typ.is(nil, []byte{valI32}) {
		t.Fatalf("ron_describe: %+v", e)
	}
	if e := m.exports["memory"]; e.kind != kindMemory {
		t.Fatalf("memory: %+v", e)
	}
	// No prefix panics; one that cuts a section is an error (one that ends
	// between sections is a smaller valid module).
	for n := range len(tinyModule) {
		_, _ = parseWasm(tinyModule[:n])
	}
	for _, n := range []int{4, 12, 20, 36, 50, len(tinyModule) - 1} {
		if _, err := parseWasm(tinyModule[:n]); err == nil {
			t.Errorf("a prefix of %d bytes parsed", n)
		}
	}
	if _, err := parseWasm([]byte("\x00asm\x0d\x00\x01\x00")); err == nil {
		t.Error("a component parsed as a core module")
	}
}

// The C plugin, when clang is here, parses with its ABI exports.
func TestParseWasmOfClangOutput(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not found")
	}
	out := filepath.Join(t.TempDir(), "c.wasm")
	if b, err := exec.Command(clang, "--target=wasm32-wasi", "--sysroot=/usr", "-mexec-model=reactor", "-O2", "-o", out, filepath.Join("testdata", "cplugin", "plugin.c")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseWasm(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ron_abi_v1", "ron_describe", "ron_validate", "ron_split", "_initialize", "memory"} {
		if _, ok := m.exports[name]; !ok {
			t.Errorf("no export %s", name)
		}
	}
}

func FuzzParseWasm(f *testing.F) {
	f.Add(tinyModule)
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseWasm(b)
		if err == nil && m == nil {
			t.Fatal("nil module without error")
		}
	})
}
