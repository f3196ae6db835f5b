package wasmfile

import "testing"

func TestParse(t *testing.T) {
	// (module (import "ron" "input_len" (func (result i32))) (memory 1)
	//   (func (result i32) i32.const 0) (export "memory" (memory 0)) (export "ron_describe" (func 1)))
	b := []byte{
		0, 'a', 's', 'm', 1, 0, 0, 0,
		1, 5, 1, 0x60, 0, 1, 0x7f, // type section: () -> i32
		2, 17, 1, 3, 'r', 'o', 'n', 9, 'i', 'n', 'p', 'u', 't', '_', 'l', 'e', 'n', 0, 0,
		3, 2, 1, 0, // function section
		5, 3, 1, 0, 1, // memory section
		7, 25, 2, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0, 12, 'r', 'o', 'n', '_', 'd', 'e', 's', 'c', 'r', 'i', 'b', 'e', 0, 1,
		10, 6, 1, 4, 0, 0x41, 0, 0x0b, // code
	}
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Imports) != 1 || m.Imports[0] != (Import{"ron", "input_len", 0}) {
		t.Fatalf("imports %+v", m.Imports)
	}
	if !m.HasExport("memory", 2) || !m.HasExport("ron_describe", 0) || m.HasExport("ron_split", 0) {
		t.Fatalf("exports %+v", m.Exports)
	}
	for _, cut := range []int{9, 20, 30, 60} { // inside a section
		if _, err := Parse(b[:cut]); err == nil {
			t.Errorf("truncated at %d: want error", cut)
		}
	}
	if _, err := Parse([]byte("not wasm")); err == nil {
		t.Fatal("want error")
	}
}
