package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// TestPluginNewTemplatesPass generates each language's template with
// `ronhost plugin new NAME --lang L`, builds it as its README says, and runs
// the conformance suite with the template's own cases on it: every check
// and every case passes, as generated, under the ABI's limits (time is
// judged by fuel, the same under any load). The Rust one's native tests (cargo
// test, the SDK's harness) pass too.
func TestPluginNewTemplatesPass(t *testing.T) {
	sdk, err := filepath.Abs("../../sdk-wasm")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range tldtest.TemplateLangs {
		t.Run(lang, func(t *testing.T) {
			tldtest.NeedToolchain(t, lang)
			c := newCLI(t)
			useTestCache(t, c.data, "")
			tld := "new-" + lang
			dir := filepath.Join(t.TempDir(), "ron-"+tld)
			args := []string{"plugin", "new", tld, "--lang", lang, "--dir", dir}
			if lang == "go" {
				args = append(args, "--sdk-replace", sdk)
			}
			if out := c.ok(args...); !strings.Contains(out, "wrote a ."+tld+" plugin") {
				t.Fatalf("plugin new: %s", out)
			}
			if _, errs, code := c.run("", args...); code == 0 || !strings.Contains(errs, "exists") {
				t.Fatalf("a second plugin new over the same directory: exit %d: %s", code, errs)
			}
			if _, err := tldtest.BuildTemplate(context.Background(), lang, dir, tld); err != nil {
				t.Fatal(err)
			}
			if lang == "rust" {
				out, err := wasmbuild.Cargo(t.Context(), dir, "test")
				if err != nil || !strings.Contains(string(out), "test result: ok. 4 passed") {
					t.Fatalf("cargo test: %v\n%s", err, out)
				}
			}
			wasm := mustRead(t, filepath.Join(dir, "plugin.wasm"))
			rep, err := conformance.Run(t.Context(), wasm, conformance.Options{
				CasesDir: filepath.Join(dir, "testdata", "cases"), CacheDir: testCache})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			_ = rep.WriteText(&text)
			if rep.Failed() != 0 || rep.TLD != tld {
				t.Fatalf("plugin test:\n%s", text.String())
			}
			for _, id := range []string{"cases.accepted", "cases.required", "cases.owner-format", "cases.unknown-key",
				"cases.split-servers", "cases.split-no-servers", "cases.resolve-root", "cases.resolve-not-found"} {
				if c, ok := rep.Check(id); !ok || c.Status != conformance.Pass {
					t.Errorf("%s: %+v\n%s", id, c, text.String())
				}
			}
			if _, err := os.Stat(filepath.Join(dir, ".github", "workflows", "conformance.yml")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
