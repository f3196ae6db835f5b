package modtld_test

// The describe examples (example-*.json) and the conformance cases
// (../testdata/cases/*.json) hold real ed25519 signatures, made here with
// fixed development keys (seed: 32 bytes equal to the key's number). They are
// generated from the definitions below; TestGenerated checks that the files
// on disk are exactly what the definitions give, and rewrites them with
//
//	go test ./tlds/mod/modtld -run TestGenerated -args -rewrite
//
// Every invalid case lists its expected errors here by hand (path:code); the
// expectation of a valid case (normalized manifest and index) is what the
// plugin answers natively, which the conformance suite then requires of the
// .wasm through the real host.

import (
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"slices"
	"sort"
	"testing"

	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/tlds/mod/modtld"
)

var rewrite = flag.Bool("rewrite", false, "rewrite example-*.json and ../testdata/cases/*.json from gen_test.go")

const casesDir = "../testdata/cases"

// The shared helpers of generated cases, by short names.
var (
	devKey = tldtest.DevKey
	cidOf  = tldtest.CID
	obj    = tldtest.Obj
)

func pub(n byte) string { return modtld.PublicKey(devKey(n).Public().(ed25519.PublicKey)) }

// moderatorTable is a normalized, signed registry entry.
func moderatorTable(t testing.TB) modtld.Table {
	tab := modtld.Table{TreasuryBPS: 1000, Moderator: &modtld.Moderator{
		Name:    "Lyon Maps Moderation",
		Key:     pub(1),
		Payout:  "ron1lyonmod",
		Charter: cidOf("Lyon Maps Moderation charter v3"),
		Stake:   250000,
		Score:   8700,
		Labels:  []string{"copyright", "misleading", "ok", "scam", "spam"},
	}}
	if err := modtld.Sign(&tab, devKey(1)); err != nil {
		t.Fatal(err)
	}
	return tab
}

// verdictTable is a normalized verdict signed by moderators 1 and 2.
func verdictTable(t testing.TB) modtld.Table {
	tab := modtld.Table{TreasuryBPS: 1000, Verdict: &modtld.Verdict{
		Target: cidOf("a .map manifest full of casino links"),
		Label:  "spam",
		Reason: "The tile set's attribution and every feature name link to the same casino site.",
		Time:   "2026-03-01T12:30:00Z",
		Moderators: []modtld.Signer{
			{Key: pub(1), Payout: "ron1lyonmod", Weight: 1},
			{Key: pub(2), Payout: "ron1grace", Weight: 2},
		},
	}}
	sortSigners(tab.Verdict.Moderators)
	if err := modtld.Sign(&tab, devKey(1), devKey(2)); err != nil {
		t.Fatal(err)
	}
	return tab
}

func sortSigners(s []modtld.Signer) {
	sort.Slice(s, func(i, j int) bool { return s[i].Key < s[j].Key })
}

// doc is a manifest: [meta], [payload] and the given [mod] table.
func doc(t testing.TB, mod any) map[string]any {
	return map[string]any{
		"meta": map[string]any{"tld": "mod", "created": "2026-03-01T12:45:00Z"},
		"payload": map[string]any{
			"cid":        cidOf("the explanation of the decision, in markdown"),
			"size":       json.Number("2048"),
			"media_type": "text/markdown",
		},
		"mod": tldtest.Tree(t, mod),
	}
}

// exampleModerator and exampleVerdict are the describe examples: signed
// tables, given as a publisher might write them (unnormalized).
func exampleModerator(t testing.TB) map[string]any {
	m := doc(t, moderatorTable(t))
	obj(m, "meta")["title"] = "Lyon Maps Moderation"
	mo := obj(m, "mod", "moderator")
	mo["name"] = "  Lyon Maps   Moderation "
	mo["labels"] = []any{"Spam", "scam", "ok", "misleading", "copyright", "spam"}
	delete(obj(m, "mod"), "treasury_bps")
	obj(m, "payload")["cid"] = cidOf("Lyon Maps Moderation charter v3")
	return m
}

func exampleVerdict(t testing.TB) map[string]any {
	m := doc(t, verdictTable(t))
	v := obj(m, "mod", "verdict")
	v["label"] = " Spam "
	v["time"] = "2026-03-01T13:30:00+01:00"
	mods := v["moderators"].([]any)
	slices.Reverse(mods)
	for _, s := range mods {
		if s.(map[string]any)["weight"] == json.Number("1") {
			delete(s.(map[string]any), "weight")
		}
	}
	delete(obj(m, "mod"), "treasury_bps")
	return m
}

func cases(t testing.TB) []tldtest.Case {
	mutV := func(f func(m, v map[string]any)) map[string]any {
		m := doc(t, verdictTable(t))
		f(m, obj(m, "mod", "verdict"))
		return m
	}
	mutM := func(f func(m, mo map[string]any)) map[string]any {
		m := doc(t, moderatorTable(t))
		f(m, obj(m, "mod", "moderator"))
		return m
	}
	single := func() modtld.Table { // one moderator, label ok, every default
		tab := modtld.Table{TreasuryBPS: modtld.DefaultTreasuryBPS, Verdict: &modtld.Verdict{
			Target: cidOf("a .alg manifest someone reported"), Label: "ok",
			Reason: "Checked the reported feed: it does what its manifest says.", Time: "2026-04-02T08:00:00.5Z",
			Moderators: []modtld.Signer{{Key: pub(3), Payout: "mod-carol", Weight: 1}},
		}}
		if err := modtld.Sign(&tab, devKey(3)); err != nil {
			t.Fatal(err)
		}
		return tab
	}
	return []tldtest.Case{
		// Accepted.
		{Name: "moderator-entry", Manifest: exampleModerator(t)},
		{Name: "verdict-panel", Manifest: exampleVerdict(t)},
		{Name: "verdict-single", Manifest: func() map[string]any {
			m := doc(t, single())
			s := obj(m, "mod", "verdict", "moderators", "[0]")
			delete(s, "weight")
			delete(obj(m, "mod"), "treasury_bps")
			return m
		}()},
		{Name: "moderator-all-labels", Manifest: func() map[string]any {
			tab := moderatorTable(t)
			tab.Moderator.Labels = nil
			tab.TreasuryBPS = 10000
			tab.Moderator.Labels = allLabels()
			if err := modtld.Sign(&tab, devKey(1)); err != nil {
				t.Fatal(err)
			}
			m := doc(t, tab)
			delete(obj(m, "mod", "moderator"), "labels") // the default: every label
			return m
		}()},

		// Rejected.
		{Name: "wrong-tld", Manifest: mutV(func(m, v map[string]any) { obj(m, "meta")["tld"] = "map" }),
			Errors: []string{"meta.tld:mismatch"}},
		{Name: "no-mod-table", Manifest: func() map[string]any { m := doc(t, nil); delete(m, "mod"); return m }(),
			Errors: []string{"mod:required"}},
		{Name: "neither-kind", Manifest: doc(t, map[string]any{"treasury_bps": 1000}),
			Errors: []string{"mod:required"}},
		{Name: "both-kinds", Manifest: func() map[string]any {
			m := doc(t, verdictTable(t))
			obj(m, "mod")["moderator"] = obj(doc(t, moderatorTable(t)), "mod", "moderator")
			return m
		}(), Errors: []string{"mod:invalid"}},
		{Name: "tampered-reason", Manifest: mutV(func(m, v map[string]any) { v["reason"] = "Nothing wrong with it." }),
			Errors: []string{"mod.verdict.moderators[0].signature:signature", "mod.verdict.moderators[1].signature:signature"}},
		{Name: "tampered-stake", Manifest: mutM(func(m, mo map[string]any) { mo["stake"] = json.Number("2500000") }),
			Errors: []string{"mod.moderator.signature:signature"}},
		{Name: "tampered-weight", Manifest: mutV(func(m, v map[string]any) {
			obj(m, "mod", "verdict", "moderators", "[0]")["weight"] = json.Number("5")
		}), Errors: []string{"mod.verdict.moderators[0].signature:signature", "mod.verdict.moderators[1].signature:signature"}},
		{Name: "signed-by-another-key", Manifest: func() map[string]any {
			tab := moderatorTable(t)
			tab.Moderator.Key = pub(2) // claims key 2, signed by key 1
			m := doc(t, tab)
			return m
		}(), Errors: []string{"mod.moderator.signature:signature"}},
		{Name: "unknown-label", Manifest: mutV(func(m, v map[string]any) { v["label"] = "nsfw" }),
			Errors: []string{"mod.verdict.label:vocabulary"}},
		{Name: "bad-target", Manifest: mutV(func(m, v map[string]any) { v["target"] = "b3:ABC" }),
			Errors: []string{"mod.verdict.target:format"}},
		{Name: "time-without-offset", Manifest: mutV(func(m, v map[string]any) { v["time"] = "2026-03-01T12:30:00" }),
			Errors: []string{"mod.verdict.time:format"}},
		{Name: "duplicate-moderator", Manifest: mutV(func(m, v map[string]any) {
			mods := v["moderators"].([]any)
			v["moderators"] = append(mods, mods[0])
		}), Errors: []string{"mod.verdict.moderators[2].key:duplicate"}},
		{Name: "zero-weight", Manifest: mutV(func(m, v map[string]any) {
			obj(m, "mod", "verdict", "moderators", "[1]")["weight"] = json.Number("0")
		}), Errors: []string{"mod.verdict.moderators[1].weight:range"}},
		{Name: "bad-payout-and-key", Manifest: mutV(func(m, v map[string]any) {
			s := obj(m, "mod", "verdict", "moderators", "[0]")
			s["payout"] = "Ron Grace"
			s["key"] = "ed25519:zz"
		}), Errors: []string{"mod.verdict.moderators[0].key:format", "mod.verdict.moderators[0].payout:format"}},
		{Name: "signature-missing-and-short", Manifest: mutV(func(m, v map[string]any) {
			delete(obj(m, "mod", "verdict", "moderators", "[0]"), "signature")
			obj(m, "mod", "verdict", "moderators", "[1]")["signature"] = "abcd"
		}), Errors: []string{"mod.verdict.moderators[0].signature:required", "mod.verdict.moderators[1].signature:format"}},
		{Name: "treasury-too-small", Manifest: mutV(func(m, v map[string]any) { obj(m, "mod")["treasury_bps"] = json.Number("100") }),
			Errors: []string{"mod.treasury_bps:range"}},
		{Name: "moderator-out-of-range", Manifest: mutM(func(m, mo map[string]any) {
			mo["score"] = json.Number("10001")
			mo["stake"] = json.Number("9007199254740992")
			mo["labels"] = []any{"spam", "nsfw"}
			mo["charter"] = ""
		}), Errors: []string{"mod.moderator.charter:required", "mod.moderator.labels[1]:vocabulary", "mod.moderator.score:range", "mod.moderator.stake:range"}},
		{Name: "unknown-key", Manifest: mutV(func(m, v map[string]any) { v["severity"] = json.Number("3") }),
			Errors: []string{"mod.verdict.severity:unknown"}},
		{Name: "unknown-table", Manifest: mutV(func(m, v map[string]any) { m["mdo"] = map[string]any{"label": "spam"} }),
			Errors: []string{"mdo:unknown"}},
		{Name: "empty-verdict", Manifest: mutV(func(m, v map[string]any) {
			v["reason"] = " \n "
			v["moderators"] = []any{}
			delete(v, "time")
			delete(v, "label")
		}), Errors: []string{"mod.verdict.label:required", "mod.verdict.moderators:required", "mod.verdict.reason:required", "mod.verdict.time:required"}},
		{Name: "weight-as-string", Manifest: mutV(func(m, v map[string]any) {
			obj(m, "mod", "verdict", "moderators", "[0]")["weight"] = "2"
		}), Errors: []string{"mod.verdict.moderators.weight:type"}},
	}
}

func allLabels() []string {
	var out []string
	for _, l := range modtld.Labels() {
		out = append(out, l.Name)
	}
	return out
}

// generated returns every generated file by path, checking each case
// against the plugin natively on the way.
func generated(t *testing.T) map[string][]byte {
	files := map[string][]byte{
		"example-moderator.json": tldtest.Indent(t, exampleModerator(t)),
		"example-verdict.json":   tldtest.Indent(t, exampleVerdict(t)),
	}
	cs := cases(t)
	if len(cs) < 14 {
		t.Fatalf("only %d cases", len(cs))
	}
	for p, b := range tldtest.CaseFiles(t, modtld.New(), modtld.TLD, casesDir, cs) {
		files[p] = b
	}
	return files
}

func TestGenerated(t *testing.T) {
	tldtest.CheckGenerated(t, generated(t), casesDir, *rewrite, "./tlds/mod/modtld")
}
