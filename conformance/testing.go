package conformance

import (
	"strings"
	"testing"
)

// Test runs the suite on wasm inside a Go test: each check becomes a subtest
// (t.Run with the check's id), failed with the check's message or skipped;
// a warning is logged.
// The run itself failing (a cancelled context, a bad cases directory) fails t.
// It returns the report, for tests that want the figures.
//
//	func TestConformance(t *testing.T) {
//		wasm := wasmbuild.ForTest(t, ".")
//		conformance.Test(t, wasm, conformance.Options{CasesDir: "testdata/cases", Update: *update})
//	}
func Test(t *testing.T, wasm []byte, opts Options) *Report {
	t.Helper()
	rep, err := Run(t.Context(), wasm, opts)
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	for _, c := range rep.Checks {
		t.Run(c.ID, func(t *testing.T) {
			switch c.Status {
			case Fail:
				t.Error(c.Message)
			case Skip:
				t.Skip(c.Message)
			case Warn:
				t.Log("WARN: " + c.Message)
			default:
				if c.Message != "" {
					t.Log(c.Message)
				}
			}
		})
	}
	var b strings.Builder
	_ = rep.WriteText(&b)
	t.Log("\n" + b.String())
	return rep
}
