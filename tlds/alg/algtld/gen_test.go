package algtld_test

// The describe examples (example-*.json) and the conformance cases
// (../testdata/cases/*.json) hold audits with real ed25519 signatures, made
// here with fixed development keys (seed: 32 bytes equal to the key's
// number). They are generated from the definitions below; TestGenerated
// checks that the files on disk are exactly what the definitions give, and
// rewrites them with
//
//	go test ./tlds/alg/algtld -run TestGenerated -args -regen
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
	"strings"
	"testing"

	"lukechampine.com/blake3"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
	"github.com/ronhost/ronhost/tlds/alg/algtld"
)

var regen = flag.Bool("regen", false, "rewrite example-*.json and ../testdata/cases/*.json from gen_test.go")

const casesDir = "../testdata/cases"

// devKey is development key n: ed25519 from a seed of 32 bytes equal to n.
func devKey(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

func pub(n byte) string { return algtld.PublicKey(devKey(n).Public().(ed25519.PublicKey)) }

// cidOf is the CID of a made-up document.
func cidOf(s string) string {
	h := blake3.Sum256([]byte(s))
	return "b3:" + hex.EncodeToString(h[:])
}

var (
	codeV21 = cidOf("lyon-local feed module 2.1.0")
	codeV20 = cidOf("lyon-local feed module 2.0.0")
)

// signed returns audit a signed by development key n.
func signed(t testing.TB, a algtld.Audit, n byte) algtld.Audit {
	if err := algtld.Sign(&a, devKey(n)); err != nil {
		t.Fatal(err)
	}
	return a
}

// feedTable is the normalized [alg] table of the feed example: audited at
// 2.1.0 by key 1 (pass), at 2.0.0 by key 2 (concerns).
func feedTable(t testing.TB) algtld.Table {
	return algtld.Table{
		Name: "Lyon Local", Kind: "feed", Code: codeV21, Version: "2.1.0",
		Inputs: []algtld.Input{
			{Name: "follows", Description: "The accounts the reader follows."},
			{Name: "item.age", Description: "Hours since the item was published."},
			{Name: "item.place", Description: "The item's place, if it has one, to favour the Lyon area."},
		},
		Changelog: []algtld.Change{
			{Version: "2.1.0", Date: "2026-02-01", Notes: "Items older than 72 hours are dropped instead of down-weighted."},
			{Version: "2.0.0", Date: "2025-11-15", Notes: "Place boost: items from the Lyon area rank higher."},
			{Version: "1.0.0", Date: "2025-06-01", Notes: "First release: newest items from followed accounts."},
		},
		Authors: []algtld.Author{
			{Name: "Ada", Payout: "ron1ada", Share: 7000},
			{Name: "Grace", Payout: "ron1grace", Share: 3000},
		},
		Audits: []algtld.Audit{
			signed(t, algtld.Audit{Auditor: "Feed Watch", Payout: "ron1feedwatch", Code: codeV20, Version: "2.0.0",
				Date: "2025-12-01", Result: "concerns", Report: cidOf("Feed Watch report on lyon-local 2.0.0")}, 2),
			signed(t, algtld.Audit{Auditor: "Open Feeds Audit", Payout: "ron1ofa", Code: codeV21, Version: "2.1.0",
				Date: "2026-02-10", Result: "pass", Report: cidOf("OFA report on lyon-local 2.1.0")}, 1),
		},
		AuditorBPS: 1500,
	}
}

// rankingTable is a normalized, unaudited ranking with every default.
func rankingTable() algtld.Table {
	return algtld.Table{
		Name: "Newest first", Kind: "ranking", Code: cidOf("newest-first ranking module 1.0.0"), Version: "1.0.0",
		Inputs:     []algtld.Input{{Name: "item.created", Description: "When the item was published."}},
		Changelog:  []algtld.Change{{Version: "1.0.0", Date: "2026-01-05", Notes: "First release."}},
		Authors:    []algtld.Author{{Name: "Carol", Payout: "alg-carol", Share: 10000}},
		Audits:     []algtld.Audit{},
		AuditorBPS: algtld.DefaultAuditorBPS,
	}
}

// doc is a manifest: [meta], [payload] and the given [alg] table.
func doc(t testing.TB, alg any, payloadCID, mediaType string) map[string]any {
	return map[string]any{
		"meta":    map[string]any{"tld": "alg", "created": "2026-02-12T09:00:00Z"},
		"payload": map[string]any{"cid": payloadCID, "size": json.Number("48213"), "media_type": mediaType},
		"alg":     tree(t, alg),
	}
}

func feedDoc(t testing.TB) map[string]any { return doc(t, feedTable(t), codeV21, "application/wasm") }

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

// exampleFeed is the feed as a publisher might write it: unsorted lists,
// spaces and capitals, audits in another order.
func exampleFeed(t testing.TB) map[string]any {
	m := feedDoc(t)
	obj(m, "meta")["title"] = "Lyon Local, a feed of what happens near you"
	a := obj(m, "alg")
	a["name"] = " Lyon  Local"
	a["kind"] = "Feed"
	ins := a["inputs"].([]any)
	slices.Reverse(ins)
	obj(m, "alg", "inputs", "[0]")["name"] = "Item.Place"
	cl := a["changelog"].([]any)
	cl[0], cl[2] = cl[2], cl[0]
	slices.Reverse(a["audits"].([]any))
	obj(m, "alg", "audits", "[0]")["result"] = " PASS"
	return m
}

func exampleRanking(t testing.TB) map[string]any {
	m := doc(t, rankingTable(), cidOf("newest-first: README"), "text/markdown")
	a := obj(m, "alg")
	delete(a, "audits")
	delete(a, "auditor_bps")
	return m
}

type genCase struct {
	name     string
	manifest map[string]any
	errors   []string // path:code, for a rejected manifest; nil when accepted
}

func cases(t testing.TB) []genCase {
	mut := func(f func(m, a map[string]any)) map[string]any {
		m := feedDoc(t)
		f(m, obj(m, "alg"))
		return m
	}
	return []genCase{
		// Accepted.
		{name: "feed-audited", manifest: exampleFeed(t)},
		{name: "ranking-unaudited", manifest: exampleRanking(t)},
		{name: "docs-payload", manifest: func() map[string]any {
			// The payload is documentation, not the module: code is free.
			return doc(t, feedTable(t), cidOf("lyon-local documentation"), "text/html")
		}()},

		// Rejected.
		{name: "wrong-tld", manifest: mut(func(m, a map[string]any) { obj(m, "meta")["tld"] = "mod" }),
			errors: []string{"meta.tld:mismatch"}},
		{name: "no-alg-table", manifest: mut(func(m, a map[string]any) { delete(m, "alg") }),
			errors: []string{"alg:required"}},
		{name: "tampered-audit-result", manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "audits", "[0]")["result"] = "pass" // key 2 said "concerns"
		}), errors: []string{"alg.audits[0].signature:signature"}},
		{name: "audit-by-another-key", manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "audits", "[1]")["key"] = pub(3) // signed by key 1
		}), errors: []string{"alg.audits[1].signature:signature"}},
		{name: "audit-payout-swapped", manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "audits", "[1]")["payout"] = "ron1mallory"
		}), errors: []string{"alg.audits[1].signature:signature"}},
		{name: "shares-not-10000", manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "authors", "[1]")["share"] = json.Number("2000")
		}), errors: []string{"alg.authors:sum"}},
		{name: "payload-is-other-module", manifest: mut(func(m, a map[string]any) {
			obj(m, "payload")["cid"] = codeV20
		}), errors: []string{"alg.code:mismatch"}},
		{name: "audit-version-mismatch", manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "audits", "[1]")["version"] = "2.0.9"
		}), errors: []string{"alg.audits[1].version:mismatch"}},
		{name: "no-changelog-for-version", manifest: mut(func(m, a map[string]any) {
			a["changelog"] = a["changelog"].([]any)[1:]
		}), errors: []string{"alg.changelog:required"}},
		{name: "changelog-from-the-future", manifest: mut(func(m, a map[string]any) {
			a["changelog"] = append(a["changelog"].([]any), map[string]any{"version": "3.0.0", "date": "2026-06-01", "notes": "Soon."})
			obj(m, "alg", "changelog", "[1]")["version"] = "2.1.0"
		}), errors: []string{"alg.changelog[1].version:duplicate", "alg.changelog[3].version:range"}},
		{name: "bad-versions-and-dates", manifest: mut(func(m, a map[string]any) {
			a["version"] = "v2.1"
			obj(m, "alg", "changelog", "[2]")["date"] = "2025-06-01T00:00:00Z"
		}), errors: []string{"alg.changelog[2].date:format", "alg.version:format"}},
		{name: "unknown-kind-and-result", manifest: mut(func(m, a map[string]any) {
			a["kind"] = "recommender"
			obj(m, "alg", "audits", "[0]")["result"] = "maybe"
		}), errors: []string{"alg.audits[0].result:vocabulary", "alg.kind:vocabulary"}},
		{name: "bad-cids", manifest: mut(func(m, a map[string]any) {
			a["code"] = "b3:XYZ"
			obj(m, "alg", "audits", "[0]")["report"] = "https://example.com/report"
			obj(m, "payload")["media_type"] = "text/plain"
		}), errors: []string{"alg.audits[0].report:format", "alg.code:format"}},
		{name: "inputs", manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "inputs", "[0]")["name"] = "Item Age!"
			obj(m, "alg", "inputs", "[2]")["name"] = "item.age"
			obj(m, "alg", "inputs", "[1]")["description"] = " "
		}), errors: []string{"alg.inputs[0].name:format", "alg.inputs[1].description:required", "alg.inputs[2].name:duplicate"}},
		{name: "no-inputs-or-authors", manifest: mut(func(m, a map[string]any) {
			a["inputs"] = []any{}
			delete(a, "authors")
		}), errors: []string{"alg.authors:required", "alg.inputs:required"}},
		{name: "authors", manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "authors", "[1]")["payout"] = "ron1ada"
			obj(m, "alg", "authors", "[0]")["name"] = ""
		}), errors: []string{"alg.authors[0].name:required", "alg.authors[1].payout:duplicate"}},
		{name: "duplicate-audit", manifest: mut(func(m, a map[string]any) {
			a["audits"] = append(a["audits"].([]any), a["audits"].([]any)[1])
		}), errors: []string{"alg.audits[2]:duplicate"}},
		{name: "unsigned-audit", manifest: mut(func(m, a map[string]any) {
			delete(obj(m, "alg", "audits", "[0]"), "signature")
			obj(m, "alg", "audits", "[1]")["key"] = "ed25519:" + strings.Repeat("AB", 32)
		}), errors: []string{"alg.audits[0].signature:required", "alg.audits[1].key:format"}},
		{name: "auditor-bps-too-high", manifest: mut(func(m, a map[string]any) { a["auditor_bps"] = json.Number("6000") }),
			errors: []string{"alg.auditor_bps:range"}},
		{name: "unknown-key", manifest: mut(func(m, a map[string]any) { a["license"] = "MIT" }),
			errors: []string{"alg.license:unknown"}},
		{name: "unknown-table", manifest: mut(func(m, a map[string]any) { m["algo"] = map[string]any{} }),
			errors: []string{"algo:unknown"}},
		{name: "share-as-string", manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "authors", "[0]")["share"] = "7000"
		}), errors: []string{"alg.authors.share:type"}},
	}
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
	h := rontest.New(algtld.New())
	files := map[string][]byte{
		"example-feed.json":    indent(t, exampleFeed(t)),
		"example-ranking.json": indent(t, exampleRanking(t)),
	}
	cs := cases(t)
	if len(cs) < 14 {
		t.Fatalf("only %d cases", len(cs))
	}
	for _, c := range cs {
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
		out, err := h.Validate(context.Background(), m, ron.Context{TLD: algtld.TLD, PayloadSize: size})
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
			t.Errorf("%s is not what gen_test.go generates (%v); run: go test ./tlds/alg/algtld -run TestGenerated -args -regen", p, err)
		}
	}
	onDisk, _ := filepath.Glob(filepath.Join(casesDir, "*.json"))
	for _, p := range onDisk {
		if _, ok := files[p]; !ok {
			t.Errorf("%s is not generated by gen_test.go; remove it or add it there (-regen removes it)", p)
		}
	}
}
