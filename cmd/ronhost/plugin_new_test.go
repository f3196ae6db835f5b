package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// TestPluginNewTemplatesPass generates each language's template with
// `ronhost plugin new NAME --lang L`, builds it as its README says, and runs
// `ronhost plugin test` with the template's own cases on it: every check
// and every case passes, as generated. The Rust one's native tests (cargo
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
			out, errs, code := c.run("", "plugin", "test", filepath.Join(dir, "plugin.wasm"), "--cases", filepath.Join(dir, "testdata", "cases"))
			if code != 0 {
				t.Fatalf("plugin test: exit %d\n%s%s", code, out, errs)
			}
			m := regexp.MustCompile(`(?m)^(\d+) passed, 0 failed$`).FindStringSubmatch(out)
			if m == nil || !strings.Contains(out, "PASS cases.accepted") || !strings.Contains(out, "PASS cases.unknown-key") {
				t.Fatalf("plugin test:\n%s", out)
			}
			if _, err := os.Stat(filepath.Join(dir, ".github", "workflows", "conformance.yml")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
