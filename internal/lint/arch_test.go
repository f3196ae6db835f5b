package lint

import (
	"slices"
	"strings"
	"testing"
)

// TestArchitecture holds ronhost to docs/ARCHITECTURE.md's package table.
func TestArchitecture(t *testing.T) {
	problems, err := Check("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestArchitectureCatchesViolations runs the same check on a module that
// breaks its own table in every way the check knows (testdata/violations):
// it must report each violation, and nothing that the rules allow.
func TestArchitectureCatchesViolations(t *testing.T) {
	problems, err := Check("testdata/violations")
	if err != nil {
		t.Fatal(err)
	}
	// Shorten "(row `x`: cell)" to "(row `x`)" to keep the expectations readable.
	for i, p := range problems {
		if j := strings.Index(p, "(row `"); j >= 0 {
			if k := strings.Index(p[j:], "`:"); k >= 0 {
				problems[i] = p[:j+k+1] + ")"
			}
		}
	}
	const table = "docs/ARCHITECTURE.md"
	want := []string{
		table + ":16: row `bad`: cannot read \"nats\": write packages in backquotes (`core/node`, `github.com/nats-io/...`), \"any ronhost package [but ...]\", \"anything [but ...]\", \"imported by nothing [but ...]\" or \"nothing\"",
		table + ":17: row `ghost` names no package",
		// any ronhost package, on linux and on darwin only.
		"leaf: imports other, which " + table + ":11 forbids (row `leaf`)",
		"leaf: imports other/deep, which " + table + ":11 forbids (row `leaf`)",
		// anything but leaf (its own subtree and the standard library are allowed).
		"plugin/echo: imports example.com/ext, which " + table + ":14 forbids (row `plugin/NAME`)",
		// any ronhost package but leaf, and wiring's rule on its importers.
		"store: imports wiring, which " + table + ":10 says nothing but its row's importers may (row `wiring`)",
		"store: imports wiring, which " + table + ":12 forbids (row `store`)",
		"undocumented: no package documentation (a doc.go saying what it owns and must not import)",
		"undocumented: no row in the package table of " + table + " (add one: package, owns, must not import)",
		// A list of packages, one of them another module's pattern.
		"web: imports example.com/ext/sub, which " + table + ":13 forbids (row `web`)",
		"web: imports wiring, which " + table + ":10 says nothing but its row's importers may (row `wiring`)",
		"web: imports wiring, which " + table + ":13 forbids (row `web`)",
	}
	slices.Sort(want)
	for _, p := range problems {
		if !slices.Contains(want, p) {
			t.Errorf("unexpected: %s", p)
		}
	}
	for _, w := range want {
		if !slices.Contains(problems, w) {
			t.Errorf("missed: %s", w)
		}
	}
}

func TestParseRules(t *testing.T) {
	for _, tc := range []struct {
		cell string
		want []clause
		err  string
	}{
		{cell: "nothing: it is the top", want: []clause{{kind: nothing}}},
		{cell: "`core/node`, `plugins/...` or `github.com/nats-io/...`", want: []clause{{kind: forbidden, terms: []string{"core/node", "plugins/...", "github.com/nats-io/..."}}}},
		{cell: "any ronhost package (the node gives it a dialer)", want: []clause{{kind: anyModule}}},
		{cell: "any ronhost package but `core/cid` and `internal/pebbledb`", want: []clause{{kind: anyModule, terms: []string{"core/cid", "internal/pebbledb"}}}},
		{cell: "anything but `sdk-wasm/...`", want: []clause{{kind: anything, terms: []string{"sdk-wasm/..."}}}},
		{cell: "anything (it requires nothing)", want: []clause{{kind: anything}}},
		{cell: "`cmd/...`; imported by nothing but `cmd/ronhost` (the wiring is the top's)", want: []clause{{kind: forbidden, terms: []string{"cmd/..."}}, {kind: importedOnlyBy, terms: []string{"cmd/ronhost"}}}},
		{cell: "any ronhost package; imported by nothing (tests only)", want: []clause{{kind: anyModule}, {kind: importedOnlyBy}}},
		{cell: "`core/node`, plugins", err: "cannot read"},
		{cell: "nats", err: "cannot read"},
		{cell: "any ronhost package but the store", err: "but what?"},
		{cell: "imported by nothing but cmd", err: "but what?"},
		{cell: "any subsystem", err: "cannot read"},
		{cell: "(a comment only)", err: "empty"},
		{cell: "`core/ node`", err: "not a package path"},
	} {
		got, err := ParseRules(tc.cell)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.cell, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.cell, err)
			continue
		}
		if !slices.EqualFunc(got, tc.want, func(a, b clause) bool { return a.kind == b.kind && slices.Equal(a.terms, b.terms) }) {
			t.Errorf("%q: %+v, want %+v", tc.cell, got, tc.want)
		}
	}
}

func TestMatch(t *testing.T) {
	const mod = "github.com/ronhost/ronhost"
	for _, tc := range []struct {
		term, imp string
		want      bool
	}{
		{"core/node", mod + "/core/node", true},
		{"core/node", mod + "/core/nodes", false},
		{"core/node", mod + "/core/node/sub", false},
		{"core/...", mod + "/core/node/sub", true},
		{"core/...", mod + "/core", true},
		{"core/...", mod + "/corex", false},
		{"github.com/nats-io/...", "github.com/nats-io/nats.go/micro", true},
		{"github.com/nats-io/...", "github.com/nats-iox/x", false},
	} {
		if got := matchTerm(mod, tc.term, tc.imp); got != tc.want {
			t.Errorf("matchTerm(%q, %q) = %v", tc.term, tc.imp, got)
		}
	}
	for _, tc := range []struct {
		pattern, rel, inst string
		ok                 bool
	}{
		{"tlds/NAME", "tlds/map/internal/pmtiles", "tlds/map", true},
		{"tlds/NAME", "tlds", "", false},
		{"core/store", "core/store/internal/crashdata", "core/store", true},
		{"core/store", "core/stores", "", false},
	} {
		inst, ok := matchRow(tc.pattern, tc.rel)
		if ok != tc.ok || inst != tc.inst {
			t.Errorf("matchRow(%q, %q) = %q, %v", tc.pattern, tc.rel, inst, ok)
		}
	}
}
