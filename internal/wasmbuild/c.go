package wasmbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ErrClangMissing reports that clang with wasi-libc is not installed.
var ErrClangMissing = errors.New("wasmbuild: clang with wasi-libc is not installed (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)")

// Clang finds clang with wasi-libc's headers installed.
func Clang() (string, error) {
	if _, err := os.Stat("/usr/include/wasm32-wasi/stdlib.h"); err != nil {
		return "", ErrClangMissing
	}
	for _, name := range []string{"clang", "clang-14"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrClangMissing
}

// BuildC compiles C sources into out as a WASI reactor, the way
// docs/PLUGIN-AUTHORS.md tells a C author to (warnings are errors). dir is
// the working directory (include paths are relative to it).
func BuildC(ctx context.Context, dir, out string, sources ...string) error {
	cc, err := Clang()
	if err != nil {
		return err
	}
	args := append([]string{"--target=wasm32-wasi", "--sysroot=/usr", "-mexec-model=reactor", "-O2",
		"-std=c11", "-Wall", "-Wextra", "-Werror", "-o", out}, sources...)
	cmd := exec.CommandContext(ctx, cc, args...)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wasmbuild: clang %s: %w\n%s", strings.Join(sources, " "), err, strings.TrimSpace(buf.String()))
	}
	return nil
}
