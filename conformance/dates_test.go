package conformance_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// validate.dates on the plugin host's echo plugin (plugins/testdata/dates:
// it hands back the manifest it was given), built as a v1 plugin and as one
// that declares "dates": each kind reaches both, as strings and tagged, and
// both pass. (hostile/baddates, which forges a tag, fails: hostile_test.go.)
func TestDatesCheckBothForms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"v1", nil, "as strings"},
		{"dates", []string{"-ldflags=-X main.features=dates"}, "tagged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wasm, err := buildOnce("dates-"+tc.name, func(out string) error {
				return wasmbuild.Build(context.Background(), "../internal/plugins/testdata/dates", out, tc.extra...)
			})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := conformance.Run(t.Context(), wasm, roomyOpts())
			if err != nil {
				t.Fatal(err)
			}
			c, ok := rep.Check("validate.dates")
			if !ok || c.Status != conformance.Pass || !strings.Contains(c.Message, tc.want) {
				t.Fatalf("validate.dates: %+v\n%s", c, text(rep))
			}
		})
	}
}
