package conformance_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/plugins"
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

func TestReferencePassesEverything(t *testing.T) {
	wasm := goPlugin(t, "reference")
	rep, err := conformance.Run(t.Context(), wasm, conformance.Options{Limits: roomy()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 0 || rep.Skipped() != 0 {
		t.Fatalf("the reference plugin must pass every check:\n%s", text(rep))
	}
	if rep.TLD != "refdemo" || rep.Plugin != plugins.HashBytes(wasm) {
		t.Errorf("report names plugin %q %q", rep.TLD, rep.Plugin)
	}
}
