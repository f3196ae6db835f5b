package algtld_test

// The describe examples (example-*.json) and the conformance cases
// (../testdata/cases/*.json) hold audits with real ed25519 signatures, made
// here with fixed development keys (seed: 32 bytes equal to the key's
// number). They are generated from the definitions below; TestGenerated
// checks that the files on disk are exactly what the definitions give, and
// rewrites them with
//
//	go test ./tlds/alg/algtld -run TestGenerated -args -rewrite
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
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/tlds/alg/algtld"
)

var rewrite = flag.Bool("rewrite", false, "rewrite example-*.json and ../testdata/cases/*.json from gen_test.go")

const casesDir = "../testdata/cases"

// The shared helpers of generated cases, by short names.
var (
	devKey = tldtest.DevKey
	cidOf  = tldtest.CID
	obj    = tldtest.Obj
)

func pub(n byte) string { return algtld.PublicKey(devKey(n).Public().(ed25519.PublicKey)) }

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
		"alg":     tldtest.Tree(t, alg),
	}
}

func feedDoc(t testing.TB) map[string]any { return doc(t, feedTable(t), codeV21, "application/wasm") }

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

func cases(t testing.TB) []tldtest.Case {
	mut := func(f func(m, a map[string]any)) map[string]any {
		m := feedDoc(t)
		f(m, obj(m, "alg"))
		return m
	}
	return []tldtest.Case{
		// Accepted.
		{Name: "feed-audited", Manifest: exampleFeed(t)},
		{Name: "ranking-unaudited", Manifest: exampleRanking(t)},
		{Name: "docs-payload", Manifest: func() map[string]any {
			// The payload is documentation, not the module: code is free.
			return doc(t, feedTable(t), cidOf("lyon-local documentation"), "text/html")
		}()},

		// Rejected.
		{Name: "wrong-tld", Manifest: mut(func(m, a map[string]any) { obj(m, "meta")["tld"] = "mod" }),
			Errors: []string{"meta.tld:mismatch"}},
		{Name: "no-alg-table", Manifest: mut(func(m, a map[string]any) { delete(m, "alg") }),
			Errors: []string{"alg:required"}},
		{Name: "tampered-audit-result", Manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "audits", "[0]")["result"] = "pass" // key 2 said "concerns"
		}), Errors: []string{"alg.audits[0].signature:signature"}},
		{Name: "audit-by-another-key", Manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "audits", "[1]")["key"] = pub(3) // signed by key 1
		}), Errors: []string{"alg.audits[1].signature:signature"}},
		{Name: "audit-payout-swapped", Manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "audits", "[1]")["payout"] = "ron1mallory"
		}), Errors: []string{"alg.audits[1].signature:signature"}},
		{Name: "shares-not-10000", Manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "authors", "[1]")["share"] = json.Number("2000")
		}), Errors: []string{"alg.authors:sum"}},
		{Name: "payload-is-other-module", Manifest: mut(func(m, a map[string]any) {
			obj(m, "payload")["cid"] = codeV20
		}), Errors: []string{"alg.code:mismatch"}},
		{Name: "audit-version-mismatch", Manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "audits", "[1]")["version"] = "2.0.9"
		}), Errors: []string{"alg.audits[1].version:mismatch"}},
		{Name: "no-changelog-for-version", Manifest: mut(func(m, a map[string]any) {
			a["changelog"] = a["changelog"].([]any)[1:]
		}), Errors: []string{"alg.changelog:required"}},
		{Name: "changelog-from-the-future", Manifest: mut(func(m, a map[string]any) {
			a["changelog"] = append(a["changelog"].([]any), map[string]any{"version": "3.0.0", "date": "2026-06-01", "notes": "Soon."})
			obj(m, "alg", "changelog", "[1]")["version"] = "2.1.0"
		}), Errors: []string{"alg.changelog[1].version:duplicate", "alg.changelog[3].version:range"}},
		{Name: "bad-versions-and-dates", Manifest: mut(func(m, a map[string]any) {
			a["version"] = "v2.1"
			obj(m, "alg", "changelog", "[2]")["date"] = "2025-06-01T00:00:00Z"
		}), Errors: []string{"alg.changelog[2].date:format", "alg.version:format"}},
		{Name: "unknown-kind-and-result", Manifest: mut(func(m, a map[string]any) {
			a["kind"] = "recommender"
			obj(m, "alg", "audits", "[0]")["result"] = "maybe"
		}), Errors: []string{"alg.audits[0].result:vocabulary", "alg.kind:vocabulary"}},
		{Name: "bad-cids", Manifest: mut(func(m, a map[string]any) {
			a["code"] = "b3:XYZ"
			obj(m, "alg", "audits", "[0]")["report"] = "https://example.com/report"
			obj(m, "payload")["media_type"] = "text/plain"
		}), Errors: []string{"alg.audits[0].report:format", "alg.code:format"}},
		{Name: "inputs", Manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "inputs", "[0]")["name"] = "Item Age!"
			obj(m, "alg", "inputs", "[2]")["name"] = "item.age"
			obj(m, "alg", "inputs", "[1]")["description"] = " "
		}), Errors: []string{"alg.inputs[0].name:format", "alg.inputs[1].description:required", "alg.inputs[2].name:duplicate"}},
		{Name: "no-inputs-or-authors", Manifest: mut(func(m, a map[string]any) {
			a["inputs"] = []any{}
			delete(a, "authors")
		}), Errors: []string{"alg.authors:required", "alg.inputs:required"}},
		{Name: "authors", Manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "authors", "[1]")["payout"] = "ron1ada"
			obj(m, "alg", "authors", "[0]")["name"] = ""
		}), Errors: []string{"alg.authors[0].name:required", "alg.authors[1].payout:duplicate"}},
		{Name: "duplicate-audit", Manifest: mut(func(m, a map[string]any) {
			a["audits"] = append(a["audits"].([]any), a["audits"].([]any)[1])
		}), Errors: []string{"alg.audits[2]:duplicate"}},
		{Name: "unsigned-audit", Manifest: mut(func(m, a map[string]any) {
			delete(obj(m, "alg", "audits", "[0]"), "signature")
			obj(m, "alg", "audits", "[1]")["key"] = "ed25519:" + strings.Repeat("AB", 32)
		}), Errors: []string{"alg.audits[0].signature:required", "alg.audits[1].key:format"}},
		{Name: "auditor-bps-too-high", Manifest: mut(func(m, a map[string]any) { a["auditor_bps"] = json.Number("6000") }),
			Errors: []string{"alg.auditor_bps:range"}},
		{Name: "unknown-key", Manifest: mut(func(m, a map[string]any) { a["license"] = "MIT" }),
			Errors: []string{"alg.license:unknown"}},
		{Name: "unknown-table", Manifest: mut(func(m, a map[string]any) { m["algo"] = map[string]any{} }),
			Errors: []string{"algo:unknown"}},
		{Name: "share-as-string", Manifest: mut(func(m, a map[string]any) {
			obj(m, "alg", "authors", "[0]")["share"] = "7000"
		}), Errors: []string{"alg.authors.share:type"}},
	}
}

// generated returns every generated file by path, checking each case
// against the plugin natively on the way.
func generated(t *testing.T) map[string][]byte {
	files := map[string][]byte{
		"example-feed.json":    tldtest.Indent(t, exampleFeed(t)),
		"example-ranking.json": tldtest.Indent(t, exampleRanking(t)),
	}
	cs := cases(t)
	if len(cs) < 14 {
		t.Fatalf("only %d cases", len(cs))
	}
	for p, b := range tldtest.CaseFiles(t, algtld.New(), algtld.TLD, casesDir, cs) {
		files[p] = b
	}
	return files
}

func TestGenerated(t *testing.T) {
	tldtest.CheckGenerated(t, generated(t), casesDir, *rewrite, "./tlds/alg/algtld")
}
