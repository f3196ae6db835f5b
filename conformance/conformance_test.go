package conformance_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/plugins"
)

func text(r *conformance.Report) string {
	var b strings.Builder
	_ = r.WriteText(&b)
	return b.String()
}

// roomy limits keep the well-behaved plugins' results independent of how
// busy the machine is; the hostile tests check the deadlines themselves.
func roomy() *plugins.Limits {
	return &plugins.Limits{Describe: 20 * time.Second, Validate: 20 * time.Second, Split: 20 * time.Second, Resolve: 20 * time.Second}
}

func roomyOpts() conformance.Options {
	return conformance.Options{Limits: roomy(), CacheDir: wazeroCache}
}

func TestReferencePassesEverything(t *testing.T) {
	wasm := goPlugin(t, "reference")
	rep, err := conformance.Run(t.Context(), wasm, roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 0 || rep.Skipped() != 0 {
		t.Fatalf("the reference plugin must pass every check:\n%s", text(rep))
	}
	t.Log("\n" + text(rep))
	if rep.TLD != "refdemo" || rep.Plugin != plugins.HashBytes(wasm) {
		t.Errorf("report names plugin %q %q", rep.TLD, rep.Plugin)
	}
}

// The C plugin is written from the ABI document alone, with no SDK.
func TestCPluginPassesEverything(t *testing.T) {
	wasm := cPlugin(t)
	rep, err := conformance.Run(t.Context(), wasm, roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 0 || rep.Skipped() != 0 {
		t.Fatalf("the C plugin must pass every check:\n%s", text(rep))
	}
	t.Log("\n" + text(rep))
	if rep.TLD != "c-demo" {
		t.Errorf("TLD %q, want c-demo", rep.TLD)
	}
}

// conformance.Test turns every check into a subtest.
func TestGoTestHelper(t *testing.T) {
	rep := conformance.Test(t, goPlugin(t, "reference"), roomyOpts())
	if rep.Failed() != 0 || len(rep.Checks) < 20 {
		t.Fatalf("%d checks, %d failed", len(rep.Checks), rep.Failed())
	}
}
