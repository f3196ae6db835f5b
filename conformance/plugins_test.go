package conformance_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// The test plugins are built once per test binary, on first use, into a
// directory TestMain removes.

var buildDir string

// wazeroCache is the hosts' compilation cache, shared by every Run in this
// binary (and across packages when RON_TEST_WAZERO_CACHE is set): wazero
// compiles a Go module in about a second, but in 10 to 20 seconds when the
// race detector instruments its compiler.
var wazeroCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "conformance-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	buildDir = dir
	code := wasmbuild.RunWithCache(m, &wazeroCache)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type built struct {
	once sync.Once
	wasm []byte
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*built{}
)

func buildOnce(name string, build func(out string) error) ([]byte, error) {
	buildsMu.Lock()
	b, ok := builds[name]
	if !ok {
		b = &built{}
		builds[name] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		out := filepath.Join(buildDir, filepath.Base(name)+".wasm")
		if b.err = build(out); b.err == nil {
			b.wasm, b.err = os.ReadFile(out)
		}
	})
	return b.wasm, b.err
}

// goPlugin builds testdata/<dir> (a Go wasip1 program).
func goPlugin(t testing.TB, dir string) []byte {
	t.Helper()
	wasm, err := buildOnce(dir, func(out string) error {
		return wasmbuild.Build(context.Background(), filepath.Join("testdata", dir), out)
	})
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// cPlugin builds testdata/cplugin/plugin.c with clang for wasm32-wasi. It
// skips the test when clang is missing, unless CI=true, where it fails.
func cPlugin(t testing.TB) []byte {
	t.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("clang is required in CI to build the C plugin (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32): %v", err)
		}
		t.Skipf("clang not found (%v); install clang lld wasi-libc libclang-rt-14-dev-wasm32 to run this test", err)
	}
	wasm, err := buildOnce("cplugin", func(out string) error {
		cmd := exec.Command(clang, cFlags(out)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building the C plugin: %v\n%s\n%s", err, cmd.String(), b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// cFlags builds a WASI reactor from one C file against Debian's wasi-libc.
func cFlags(out string) []string {
	return []string{
		"--target=wasm32-wasi", "--sysroot=/usr", "-mexec-model=reactor",
		"-O2", "-std=c11", "-Wall", "-Wextra", "-Werror",
		"-o", out, filepath.Join("testdata", "cplugin", "plugin.c"),
	}
}
