package template_test

import (
	"errors"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/sdk-wasm/internal/wasmfile"
	"github.com/ronhost/ronhost/sdk-wasm/template"
)

func goTool(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"GOWORK=off", "GOPROXY=off", "GOFLAGS=-mod=readonly"}, env...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestGeneratedPluginBuildsAndPasses generates a plugin against this SDK
// checkout and runs, in it, what its README and CI workflow run: go vet,
// go test, and the wasm build; then checks the module's exports.
func TestGeneratedPluginBuildsAndPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	sdk, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ron-demo")
	if err := template.Write(dir, "demo-1", template.Options{SDKReplace: sdk}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go.mod", "main.go", "plugin_test.go", "README.md", ".gitignore", ".github/workflows/conformance.yml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("missing %s: %v", name, err)
		}
	}
	goTool(t, dir, nil, "vet", "./...")
	out := goTool(t, dir, nil, "test", "-count=1", "-v", "./...")
	for _, test := range []string{"TestConformance", "TestValidate", "TestSplit", "TestResolve"} {
		if !strings.Contains(out, "--- PASS: "+test) {
			t.Errorf("%s did not pass:\n%s", test, out)
		}
	}
	goTool(t, dir, []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}, "build", "-buildmode=c-shared", "-trimpath", "-o", "plugin.wasm", ".")
	b, err := os.ReadFile(filepath.Join(dir, "plugin.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := wasmfile.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ron_abi_v1", "ron_describe", "ron_validate", "ron_split", "ron_resolve", "_initialize"} {
		if !m.HasExport(name, 0) {
			t.Errorf("missing export %s", name)
		}
	}
	// Writing again over the same directory is refused.
	if err := template.Write(dir, "demo-1", template.Options{SDKReplace: sdk}); !errors.Is(err, template.ErrExists) {
		t.Fatalf("second write: %v", err)
	}
}

func TestFilesOptions(t *testing.T) {
	fs, err := template.Files("maps", template.Options{Module: "example.org/maps", SDKVersion: "v1.2.3", RonhostVersion: "v0.9.0"})
	if err != nil {
		t.Fatal(err)
	}
	gomod := string(fs["go.mod"])
	if !strings.Contains(gomod, "module example.org/maps\n") || !strings.Contains(gomod, "require github.com/ronhost/ronhost/sdk-wasm v1.2.3") || strings.Contains(gomod, "replace") {
		t.Fatalf("go.mod:\n%s", gomod)
	}
	wf := string(fs[".github/workflows/conformance.yml"])
	for _, want := range []string{"GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared", "ronhost plugin test plugin.wasm", "cmd/ronhost@v0.9.0"} {
		if !strings.Contains(wf, want) {
			t.Errorf("workflow lacks %q:\n%s", want, wf)
		}
	}
	for name, src := range fs {
		if strings.HasSuffix(name, ".go") {
			if formatted, err := format.Source(src); err != nil || string(formatted) != string(src) {
				t.Errorf("%s is not gofmt'ed (%v)", name, err)
			}
		}
	}
	if !strings.Contains(string(fs["main.go"]), `const TLD = "maps"`) {
		t.Fatalf("main.go:\n%s", fs["main.go"])
	}
	for _, bad := range []string{"", "UPPER", "dot.tld", strings.Repeat("a", 33)} {
		if _, err := template.Files(bad, template.Options{}); !errors.Is(err, template.ErrBadTLD) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
