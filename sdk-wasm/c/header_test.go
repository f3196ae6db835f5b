package c

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ronhost/ronhost/sdk-wasm/internal/wasmfile"
)

// clang finds clang, skipping the test when it is missing, unless CI=true.
func clang(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"clang", "clang-14"} {
		if p, err := exec.LookPath(name); err == nil {
			if _, err := os.Stat("/usr/include/wasm32-wasi/stdlib.h"); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("clang with wasi-libc (/usr/include/wasm32-wasi) is required in CI")
	}
	t.Skip("clang or wasi-libc missing")
	return ""
}

// TestHeaderBuildsAPlugin compiles testdata/plugin.c (a reactor without
// ron_resolve) and a variant with ron_resolve, with warnings as errors in
// C11 and C99, and checks the module's exports and imports.
func TestHeaderBuildsAPlugin(t *testing.T) {
	cc := clang(t)
	dir := t.TempDir()
	withResolve := filepath.Join(dir, "resolve.c")
	src, err := os.ReadFile("testdata/plugin.c")
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, []byte(`
int32_t ron_resolve(void) {
	char buf[16];
	int32_t got = ron_object_read(0, buf, (int32_t)sizeof buf);
	ron_output_str(got < 0 ? "{\"status\":404}" : "{\"status\":200,\"content_type\":\"text/plain\",\"offset\":0,\"length\":0}");
	return RON_STATUS_OK;
}
`)...)
	if err := os.WriteFile(withResolve, src, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		src, std string
		resolve  bool
	}{
		{"testdata/plugin.c", "c11", false},
		{withResolve, "c99", true},
	}
	for _, c := range cases {
		out := filepath.Join(dir, c.std+".wasm")
		cmd := exec.Command(cc, "--target=wasm32-wasi", "--sysroot=/usr", "-mexec-model=reactor", "-O2",
			"-std="+c.std, "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-I.", "-o", out, c.src)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c.src, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		m, err := wasmfile.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"_initialize", "ron_abi_v1", "ron_describe", "ron_validate", "ron_split"} {
			if !m.HasExport(name, 0) {
				t.Errorf("%s: missing export %s", c.src, name)
			}
		}
		if !m.HasExport("memory", 2) {
			t.Errorf("%s: missing memory export", c.src)
		}
		if m.HasExport("ron_resolve", 0) != c.resolve {
			t.Errorf("%s: ron_resolve exported = %v, want %v", c.src, !c.resolve, c.resolve)
		}
		ron := map[string]bool{}
		for _, imp := range m.Imports {
			switch imp.Module {
			case "ron":
				ron[imp.Name] = true
			case "wasi_snapshot_preview1":
			default:
				t.Errorf("%s: import %s.%s", c.src, imp.Module, imp.Name)
			}
		}
		want := map[string]bool{"input_len": true, "input_read": true, "output_set": true, "log": true}
		if c.resolve {
			want["object_read"] = true
		}
		if len(ron) != len(want) {
			t.Errorf("%s: ron imports %v, want %v", c.src, ron, want)
		}
		for name := range want {
			if !ron[name] {
				t.Errorf("%s: missing import ron.%s", c.src, name)
			}
		}
	}
}
