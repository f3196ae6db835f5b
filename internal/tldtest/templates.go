package tldtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/wasmbuild"
	sdkrust "github.com/ronhost/ronhost/sdk-rust"
	"github.com/ronhost/ronhost/sdk-wasm/template"
)

// TemplateLangs are the languages `ronhost plugin new --lang` writes.
var TemplateLangs = []string{"go", "rust", "c"}

// NeedToolchain skips tb when the toolchain of lang is missing, except in
// CI (CI=true), whose .ci/run installs every one.
func NeedToolchain(tb testing.TB, lang string) {
	tb.Helper()
	if err := Toolchain(tb, lang); err != nil {
		tb.Skip(err)
	}
}

// Toolchain returns why lang's toolchain (go needs none beyond the test's
// own) cannot build here, or nil; in CI (CI=true) a missing one fails tb.
func Toolchain(tb testing.TB, lang string) error {
	tb.Helper()
	var err error
	switch lang {
	case "rust":
		err = wasmbuild.HaveCargo()
	case "c":
		_, err = wasmbuild.Clang()
	}
	if err != nil && os.Getenv("CI") == "true" {
		tb.Fatal(err)
	}
	return err
}

// WriteTemplate generates the template plugin of lang for tld into dir, as
// `ronhost plugin new` does (the Go one against this checkout's SDK, sdk,
// through a replace directive).
func WriteTemplate(lang, dir, tld, sdk string) error {
	switch lang {
	case "go":
		return template.Write(dir, tld, template.Options{SDKReplace: sdk})
	case "rust":
		return sdkrust.Write(dir, tld, sdkrust.Options{})
	case "c":
		return template.Write(dir, tld, template.Options{Lang: "c"})
	}
	return fmt.Errorf("tldtest: no template for %q", lang)
}

// BuildTemplate builds the plugin `ronhost plugin new --lang lang` wrote in
// dir for tld, the way its README says, and returns the module.
func BuildTemplate(ctx context.Context, lang, dir, tld string) ([]byte, error) {
	out := filepath.Join(dir, "plugin.wasm")
	var err error
	switch lang {
	case "go":
		err = wasmbuild.Build(ctx, dir, out)
	case "rust":
		err = wasmbuild.BuildRust(ctx, dir, "ron-"+tld, out)
	case "c":
		err = wasmbuild.BuildC(ctx, dir, out, "plugin.c")
	default:
		err = fmt.Errorf("tldtest: no template for %q", lang)
	}
	if err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// Template generates and builds the template of lang for the TLD
// "tpl-<lang>" in a temporary directory; it returns the directory and the
// module. sdk is this checkout's sdk-wasm directory.
func Template(tb testing.TB, lang, sdk string) (string, []byte) {
	tb.Helper()
	NeedToolchain(tb, lang)
	dir := filepath.Join(tb.TempDir(), "plugin")
	tld := "tpl-" + strings.ToLower(lang)
	if err := WriteTemplate(lang, dir, tld, sdk); err != nil {
		tb.Fatal(err)
	}
	wasm, err := BuildTemplate(context.Background(), lang, dir, tld)
	if err != nil {
		tb.Fatal(err)
	}
	return dir, wasm
}
