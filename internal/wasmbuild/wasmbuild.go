package wasmbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ErrGoMissing reports that no go tool could be found to build a plugin.
var ErrGoMissing = errors.New("wasmbuild: go tool not found")

// Build compiles the Go main package in pkgDir (a directory, absolute or
// relative to the working directory) into out as a wasip1 reactor module.
// extra go build flags (e.g. "-ldflags=-X main.version=2") come before the
// package. The go tool's output is returned in the error when the build fails.
func Build(ctx context.Context, pkgDir, out string, extra ...string) error {
	goTool, err := goBinary()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	outAbs, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	args := append([]string{"build", "-buildmode=c-shared", "-trimpath", "-o", outAbs}, extra...)
	cmd := exec.CommandContext(ctx, goTool, append(args, ".")...)
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wasmbuild: building %s: %w\n%s", pkgDir, err, strings.TrimSpace(buf.String()))
	}
	return nil
}

// ForTest builds pkgDir into the test's temporary directory and returns the
// module's bytes; it fails the test when the build fails.
func ForTest(t testing.TB, pkgDir string, extra ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkgDir)+".wasm")
	if err := Build(context.Background(), pkgDir, out, extra...); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goBinary finds the go tool on the PATH, then under $GOROOT.
func goBinary() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		cand := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(cand); err == nil {
			return cand, nil
		}
	}
	return "", ErrGoMissing
}

// CacheDirEnv names a directory that test processes share as wazero's
// compilation cache, so a module compiled by one test package is loaded from
// disk by the next. `make test` sets it; without it each test binary uses a
// directory of its own.
const CacheDirEnv = "RON_TEST_WAZERO_CACHE"

// TestCacheDir returns the compilation cache directory for a test binary:
// $RON_TEST_WAZERO_CACHE when set, else a new temporary directory that the
// caller removes (cleanup is nil when there is nothing to remove).
func TestCacheDir() (dir string, cleanup func(), err error) {
	if d := os.Getenv(CacheDirEnv); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", nil, fmt.Errorf("wasmbuild: %w", err)
		}
		return d, nil, nil
	}
	d, err := os.MkdirTemp("", "ronhost-wazero-cache-")
	if err != nil {
		return "", nil, fmt.Errorf("wasmbuild: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// RunWithCache is the TestMain of a test binary whose hosts share the
// compilation cache: it sets *dir to [TestCacheDir], runs the tests, removes
// the directory when it was a temporary one and returns m.Run's exit code
// (1 when no directory could be had):
//
//	var cacheDir string
//
//	func TestMain(m *testing.M) { os.Exit(wasmbuild.RunWithCache(m, &cacheDir)) }
func RunWithCache(m *testing.M, dir *string) int {
	d, cleanup, err := TestCacheDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cleanup != nil {
		defer cleanup()
	}
	*dir = d
	return m.Run()
}
