package modtld_test

// The describe examples (example-*.json) and the conformance cases
// (../testdata/cases/*.json) hold real ed25519 signatures, made here with
// fixed development keys (seed: 32 bytes equal to the key's number). They are
// generated from the definitions below; TestGenerated checks that the files
// on disk are exactly what the definitions give, and rewrites them with
//
//	go test ./tlds/mod/modtld -run TestGenerated -args -regen
//
// Every invalid case lists its expected errors here by hand (path:code); the
// expectation of a valid case (normalized manifest and index) is what the
// plugin answers natively, which the conformance suite then requires of the
// .wasm through the real host.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"lukechampine.com/blake3"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
	"github.com/ronhost/ronhost/tlds/mod/modtld"
)

var regen = flag.Bool("regen", false, "rewrite example-*.json and ../testdata/cases/*.json from gen_test.go")

const casesDir = "../testdata/cases"

// devKey is development key n: ed25519 from a seed of 32 bytes equal to n.
func devKey(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

func pub(n byte) string { return modtld.PublicKey(devKey(n).Public().(ed25519.PublicKey)) }

// cidOf is the CID of a made-up document.
func cidOf(s string) string {
	h := blake3.Sum256([]byte(s))
	return "b3:" + hex.EncodeToString(h[:])
}

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
		"mod": tree(t, mod),
	}
}

// tree turns v into a mutable JSON tree (numbers kept exact).
func tree(t testing.TB, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// obj walks m by keys (and "[i]" for array elements) to an object.
func obj(m map[string]any, path ...string) map[string]any {
	var cur any = m
	for _, p := range path {
		if strings.HasPrefix(p, "[") {
			var i int
			fmt.Sscanf(p, "[%d]", &i)
			cur = cur.([]any)[i]
			continue
		}
		cur = cur.(map[string]any)[p]
	}
	return cur.(map[string]any)
}

type genCase struct {
	name     string
	manifest map[string]any
	errors   []string // path:code, for a rejected manifest; nil when accepted
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

func cases(t testing.TB) []genCase {
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
	return []genCase{
		// Accepted.
		{name: "moderator-entry", manifest: exampleModerator(t)},
		{name: "verdict-panel", manifest: exampleVerdict(t)},
		{name: "verdict-single", manifest: func() map[string]any {
			m := doc(t, single())
			s := obj(m, "mod", "verdict", "moderators", "[0]")
			delete(s, "weight")
			delete(obj(m, "mod"), "treasury_bps")
			return m
		}()},
		{name: "moderator-all-labels", manifest: func() map[string]any {
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
		{name: "wrong-tld", manifest: mutV(func(m, v map[string]any) { obj(m, "meta")["tld"] = "map" }),
			errors: []string{"meta.tld:mismatch"}},
		{name: "no-mod-table", manifest: func() map[string]any { m := doc(t, nil); delete(m, "mod"); return m }(),
			errors: []string{"mod:required"}},
		{name: "neither-kind", manifest: doc(t, map[string]any{"treasury_bps": 1000}),
			errors: []string{"mod:required"}},
		{name: "both-kinds", manifest: func() map[string]any {
			m := doc(t, verdictTable(t))
			obj(m, "mod")["moderator"] = obj(doc(t, moderatorTable(t)), "mod", "moderator")
			return m
		}(), errors: []string{"mod:invalid"}},
		{name: "tampered-reason", manifest: mutV(func(m, v map[string]any) { v["reason"] = "Nothing wrong with it." }),
			errors: []string{"mod.verdict.moderators[0].signature:signature", "mod.verdict.moderators[1].signature:signature"}},
		{name: "tampered-stake", manifest: mutM(func(m, mo map[string]any) { mo["stake"] = json.Number("2500000") }),
			errors: []string{"mod.moderator.signature:signature"}},
		{name: "tampered-weight", manifest: mutV(func(m, v map[string]any) {
			obj(m, "mod", "verdict", "moderators", "[0]")["weight"] = json.Number("5")
		}), errors: []string{"mod.verdict.moderators[0].signature:signature", "mod.verdict.moderators[1].signature:signature"}},
		{name: "signed-by-another-key", manifest: func() map[string]any {
			tab := moderatorTable(t)
			tab.Moderator.Key = pub(2) // claims key 2, signed by key 1
			m := doc(t, tab)
			return m
		}(), errors: []string{"mod.moderator.signature:signature"}},
		{name: "unknown-label", manifest: mutV(func(m, v map[string]any) { v["label"] = "nsfw" }),
			errors: []string{"mod.verdict.label:vocabulary"}},
		{name: "bad-target", manifest: mutV(func(m, v map[string]any) { v["target"] = "b3:ABC" }),
			errors: []string{"mod.verdict.target:format"}},
		{name: "time-without-offset", manifest: mutV(func(m, v map[string]any) { v["time"] = "2026-03-01T12:30:00" }),
			errors: []string{"mod.verdict.time:format"}},
		{name: "duplicate-moderator", manifest: mutV(func(m, v map[string]any) {
			mods := v["moderators"].([]any)
			v["moderators"] = append(mods, mods[0])
		}), errors: []string{"mod.verdict.moderators[2].key:duplicate"}},
		{name: "zero-weight", manifest: mutV(func(m, v map[string]any) {
			obj(m, "mod", "verdict", "moderators", "[1]")["weight"] = json.Number("0")
		}), errors: []string{"mod.verdict.moderators[1].weight:range"}},
		{name: "bad-payout-and-key", manifest: mutV(func(m, v map[string]any) {
			s := obj(m, "mod", "verdict", "moderators", "[0]")
			s["payout"] = "Ron Grace"
			s["key"] = "ed25519:zz"
		}), errors: []string{"mod.verdict.moderators[0].key:format", "mod.verdict.moderators[0].payout:format"}},
		{name: "signature-missing-and-short", manifest: mutV(func(m, v map[string]any) {
			delete(obj(m, "mod", "verdict", "moderators", "[0]"), "signature")
			obj(m, "mod", "verdict", "moderators", "[1]")["signature"] = "abcd"
		}), errors: []string{"mod.verdict.moderators[0].signature:required", "mod.verdict.moderators[1].signature:format"}},
		{name: "treasury-too-small", manifest: mutV(func(m, v map[string]any) { obj(m, "mod")["treasury_bps"] = json.Number("100") }),
			errors: []string{"mod.treasury_bps:range"}},
		{name: "moderator-out-of-range", manifest: mutM(func(m, mo map[string]any) {
			mo["score"] = json.Number("10001")
			mo["stake"] = json.Number("9007199254740992")
			mo["labels"] = []any{"spam", "nsfw"}
			mo["charter"] = ""
		}), errors: []string{"mod.moderator.charter:required", "mod.moderator.labels[1]:vocabulary", "mod.moderator.score:range", "mod.moderator.stake:range"}},
		{name: "unknown-key", manifest: mutV(func(m, v map[string]any) { v["severity"] = json.Number("3") }),
			errors: []string{"mod.verdict.severity:unknown"}},
		{name: "unknown-table", manifest: mutV(func(m, v map[string]any) { m["mdo"] = map[string]any{"label": "spam"} }),
			errors: []string{"mdo:unknown"}},
		{name: "empty-verdict", manifest: mutV(func(m, v map[string]any) {
			v["reason"] = " \n "
			v["moderators"] = []any{}
			delete(v, "time")
			delete(v, "label")
		}), errors: []string{"mod.verdict.label:required", "mod.verdict.moderators:required", "mod.verdict.reason:required", "mod.verdict.time:required"}},
		{name: "weight-as-string", manifest: mutV(func(m, v map[string]any) {
			obj(m, "mod", "verdict", "moderators", "[0]")["weight"] = "2"
		}), errors: []string{"mod.verdict.moderators.weight:type"}},
	}
}

func allLabels() []string {
	var out []string
	for _, l := range modtld.Labels() {
		out = append(out, l.Name)
	}
	return out
}

type caseErr struct {
	Path string `json:"path"`
	Code string `json:"code"`
}

type caseExpect struct {
	Manifest json.RawMessage `json:"manifest,omitempty"`
	Index    json.RawMessage `json:"index,omitempty"`
	Errors   []caseErr       `json:"errors,omitempty"`
}

type caseFile struct {
	Manifest json.RawMessage `json:"manifest"`
	Expect   caseExpect      `json:"expect"`
}

func indent(t testing.TB, v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// generated returns every generated file by path, checking each case
// against the plugin natively on the way.
func generated(t *testing.T) map[string][]byte {
	h := rontest.New(modtld.New())
	files := map[string][]byte{
		"example-moderator.json": indent(t, exampleModerator(t)),
		"example-verdict.json":   indent(t, exampleVerdict(t)),
	}
	for _, c := range cases(t) {
		raw, err := json.Marshal(c.manifest)
		if err != nil {
			t.Fatal(err)
		}
		m := ron.MustManifest(string(raw))
		size := uint64(0)
		if p, err := m.Payload(); err == nil {
			size = p.Size
		}
		cf := caseFile{Manifest: raw}
		out, err := h.Validate(context.Background(), m, ron.Context{TLD: modtld.TLD, PayloadSize: size})
		if c.errors == nil {
			if err != nil {
				t.Errorf("case %s: want accepted, got %v", c.name, err)
				continue
			}
			cf.Expect.Manifest, _ = out.Manifest.MarshalJSON()
			cf.Expect.Index, _ = json.Marshal(out.Index)
		} else {
			r, ok := ron.AsRejection(err)
			if !ok {
				t.Errorf("case %s: want rejected with %v, got %v", c.name, c.errors, err)
				continue
			}
			var got []string
			for _, e := range r.Errors {
				got = append(got, e.Path+":"+e.Code)
			}
			want := slices.Sorted(slices.Values(c.errors))
			if slices.Sort(got); !slices.Equal(got, want) {
				t.Errorf("case %s: errors\n got %v\nwant %v\n%v", c.name, got, want, err)
				continue
			}
			for _, e := range c.errors {
				p, code, _ := strings.Cut(e, ":")
				cf.Expect.Errors = append(cf.Expect.Errors, caseErr{Path: p, Code: code})
			}
		}
		files[filepath.Join(casesDir, c.name+".json")] = indent(t, cf)
	}
	if n := len(cases(t)); n < 14 {
		t.Fatalf("only %d cases", n)
	}
	return files
}

func TestGenerated(t *testing.T) {
	files := generated(t)
	if t.Failed() {
		return
	}
	if *regen {
		old, _ := filepath.Glob(filepath.Join(casesDir, "*.json"))
		for _, p := range old {
			if _, keep := files[p]; !keep {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		}
		for p, b := range files {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", p)
		}
		return
	}
	for p, want := range files {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not what gen_test.go generates (%v); run: go test ./tlds/mod/modtld -run TestGenerated -args -regen", p, err)
		}
	}
	onDisk, _ := filepath.Glob(filepath.Join(casesDir, "*.json"))
	for _, p := range onDisk {
		if _, ok := files[p]; !ok {
			t.Errorf("%s is not generated by gen_test.go; remove it or add it there (-regen removes it)", p)
		}
	}
}
