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
)

// The Rust toolchain the SDK supports is Debian's (rustc 1.63, cargo, the
// wasm32-wasi standard library and the packaged crates under
// /usr/share/cargo/registry), called by its absolute paths: a rustup
// toolchain on the PATH is not what a fresh CI machine has.
const (
	DebianCargo = "/usr/bin/cargo"
	DebianRustc = "/usr/bin/rustc"
	// RustTarget is rustc 1.63's name for WASI preview 1.
	RustTarget = "wasm32-wasi"
)

// ErrCargoMissing reports that Debian's cargo and rustc are not installed.
var ErrCargoMissing = errors.New("wasmbuild: Debian's cargo and rustc are not installed (apt-get install cargo rustc libstd-rust-dev-wasm32 librust-serde-json-dev librust-serde-derive-dev)")

// CargoTargetEnv names a cargo target directory that test processes share,
// so the crates a Rust plugin depends on compile once (`make test` sets it
// beside the wazero cache); without it, a directory under the system's
// temporary directory is used.
const CargoTargetEnv = "RON_TEST_CARGO_TARGET"

// CargoTargetDir returns the shared cargo target directory.
func CargoTargetDir() string {
	if d := os.Getenv(CargoTargetEnv); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "ronhost-cargo-target")
}

// HaveCargo reports whether Debian's cargo, rustc and wasm32 standard
// library are installed.
func HaveCargo() error {
	for _, p := range []string{DebianCargo, DebianRustc, "/usr/lib/rustlib/" + RustTarget} {
		if _, err := os.Stat(p); err != nil {
			return ErrCargoMissing
		}
	}
	return nil
}

// Cargo runs Debian's cargo with args in dir against the shared target
// directory (its own CARGO_HOME inside it, so nothing of ~/.cargo takes
// part) and returns its combined output.
func Cargo(ctx context.Context, dir string, args ...string) ([]byte, error) {
	if err := HaveCargo(); err != nil {
		return nil, err
	}
	target := CargoTargetDir()
	cmd := exec.CommandContext(ctx, DebianCargo, args...)
	cmd.Dir = dir
	cmd.Env = append(cargoEnv(os.Environ()),
		"CARGO_TARGET_DIR="+target,
		"CARGO_HOME="+filepath.Join(target, "cargo-home"),
		"RUSTC="+DebianRustc,
		"RUSTDOC=/usr/bin/rustdoc",
		"CARGO_NET_OFFLINE=true",
		"CARGO_TERM_COLOR=never",
	)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return buf.Bytes(), fmt.Errorf("wasmbuild: cargo %s in %s: %w\n%s", strings.Join(args, " "), dir, err, strings.TrimSpace(buf.String()))
	}
	return buf.Bytes(), nil
}

// cargoEnv drops what would point cargo at another toolchain.
func cargoEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "CARGO_HOME", "CARGO_TARGET_DIR", "RUSTC", "RUSTDOC", "RUSTFLAGS", "CARGO_BUILD_TARGET":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// BuildRust builds the cdylib package pkg of the cargo project in dir for
// wasm32-wasi in release mode and copies the module to out. The crate's
// library name is pkg with '-' as '_'.
func BuildRust(ctx context.Context, dir, pkg, out string) error {
	if _, err := Cargo(ctx, dir, "build", "--release", "--target", RustTarget, "-p", pkg); err != nil {
		return err
	}
	built := filepath.Join(CargoTargetDir(), RustTarget, "release", strings.ReplaceAll(pkg, "-", "_")+".wasm")
	b, err := os.ReadFile(built)
	if err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	return os.WriteFile(out, b, 0o644)
}
