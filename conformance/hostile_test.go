package conformance_test

import (
	"strings"
	"testing"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/plugins"
)

// Each hostile plugin breaks one rule; the suite must fail the check that
// names the rule, with a message that tells the author what is wrong.
func TestHostilePluginsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		dir   string
		check string
		want  []string // substrings of the check's message
	}{
		{"hostile/loop", "limits.time", []string{"ron_split spent its fuel budget of 1000000000 units"}},
		{"hostile/membomb", "limits.memory", []string{"ron_split ran out of memory"}},
		{"hostile/trap", "validate.garbage", []string{"never a fault", "fault in ron_validate"}},
		{"hostile/evilimport", "abi.imports", []string{"env.evil", "forbidden import"}},
		{"hostile/nondet", "determinism.reused", []string{"answered differently in a reused instance", `"calls":`}},
		{"hostile/losesmoney", "split.conserve", []string{"minor unit lost", "not to the amount 1 "}},
		{"hostile/badrole", "split.roles", []string{`pays role "tips"`, "(roles: creator)"}},
		{"hostile/bigoutput", "limits.output", []string{"ron_split produced an output over the limit"}},
		{"hostile/nomarker", "abi.marker", []string{"does not export the ABI marker ron_abi_v1"}},
		{"hostile/baddates", "validate.dates", []string{"the normalized manifest is refused by the host", `conformance_dates.$date: a key beginning with one "$"`}},
		{"hostile/badmeta", "abi.outputs", []string{"validate.output.schema.json: /manifest/meta/price: is number 1.5, want integer"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			wasm := goPlugin(t, tc.dir)
			opts := roomyOpts()
			if tc.check == "limits.time" {
				// Any budget catches an endless loop; a small one keeps the test short.
				opts.Limits = &plugins.Limits{SplitFuel: 1_000_000_000}
			}
			rep, err := conformance.Run(t.Context(), wasm, opts)
			if err != nil {
				t.Fatal(err)
			}
			c, ok := rep.Check(tc.check)
			if !ok || c.Status != conformance.Fail {
				t.Fatalf("check %s did not fail:\n%s", tc.check, text(rep))
			}
			for _, w := range tc.want {
				if !strings.Contains(c.Message, w) {
					t.Errorf("%s's message lacks %q:\n%s", tc.check, w, c.Message)
				}
			}
			t.Logf("%s: %s", tc.check, c.Message)
			if rep.Failed() == 0 || !strings.HasSuffix(text(rep), "\n") {
				t.Fatal("report inconsistent")
			}
		})
	}
}
