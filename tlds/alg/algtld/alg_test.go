package algtld_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/ronhost/ronhost/internal/tldtest"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
	"github.com/ronhost/ronhost/tlds/alg/algtld"
)

var ctx = context.Background()

func TestPluginChecks(t *testing.T) {
	rontest.CheckPlugin(t, rontest.New(algtld.New()))
}

// fataler is what both *testing.T and *rapid.T offer.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func canonical(t fataler, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return ron.MustManifest(string(b)).String()
}

func validate(t testing.TB, manifest string) (ron.ValidateOutput, error) {
	t.Helper()
	m := ron.MustManifest(manifest)
	p, _ := m.Payload()
	return rontest.New(algtld.New()).Validate(ctx, m, ron.Context{TLD: algtld.TLD, PayloadSize: p.Size})
}

func algTable(t testing.TB, m *ron.Manifest) string {
	t.Helper()
	doc, err := ron.ParseManifest(m.Raw(algtld.TLD))
	if err != nil {
		t.Fatal(err)
	}
	return doc.String()
}

// The examples, written as a publisher might (unsorted lists, spaces and
// capitals, defaults left out), normalize to exactly the hand-built tables.
func TestExamplesNormalize(t *testing.T) {
	for i, want := range []algtld.Table{feedTable(t), rankingTable()} {
		out, err := validate(t, algtld.Examples()[i])
		if err != nil {
			t.Fatalf("examples[%d]: %v", i, err)
		}
		if got, want := algTable(t, out.Manifest), canonical(t, want); got != want {
			t.Errorf("examples[%d]:\n got %s\nwant %s", i, got, want)
		}
	}
	out, _ := validate(t, algtld.Examples()[0])
	if out.Index.Title != "Lyon Local, a feed of what happens near you" ||
		strings.Join(out.Index.Tags, ",") != "audited,feed,input:follows,input:item.age,input:item.place" {
		t.Errorf("index %+v", out.Index)
	}
	out, _ = validate(t, algtld.Examples()[1])
	if out.Index.Title != "Newest first 1.0.0" || strings.Join(out.Index.Tags, ",") != "input:item.created,ranking" {
		t.Errorf("index %+v", out.Index)
	}
}

// The signed message is documented byte for byte in README.md.
func TestAuditMessage(t *testing.T) {
	a := algtld.Audit{Auditor: "A & B <audits>", Key: "ed25519:" + strings.Repeat("01", 32), Payout: "ron1ab",
		Code: "b3:" + strings.Repeat("ab", 32), Version: "1.2.3", Date: "2026-02-10", Result: "pass", Signature: "ignored"}
	got, err := algtld.AuditMessage(a)
	if err != nil {
		t.Fatal(err)
	}
	want := "ronhost .alg audit v1\n" + `{"auditor":"A & B <audits>","code":"b3:` + strings.Repeat("ab", 32) +
		`","date":"2026-02-10","key":"ed25519:` + strings.Repeat("01", 32) + `","payout":"ron1ab","result":"pass","version":"1.2.3"}`
	if string(got) != want {
		t.Fatalf("\n got %q\nwant %q", got, want)
	}
	a.Report = "b3:" + strings.Repeat("cd", 32)
	got, _ = algtld.AuditMessage(a)
	if !strings.Contains(string(got), `"payout":"ron1ab","report":"b3:cdcd`) {
		t.Fatalf("report not covered: %q", got)
	}
}

// Every field of an audit is covered by its signature, and an audit moved
// into another manifest (same code) still verifies.
func TestAuditSignature(t *testing.T) {
	base := feedTable(t)
	mutations := map[string]func(a *algtld.Audit){
		"auditor": func(a *algtld.Audit) { a.Auditor += "s" },
		"payout":  func(a *algtld.Audit) { a.Payout = "ron1mallory" },
		"code":    func(a *algtld.Audit) { a.Code, a.Version = base.Audits[0].Code, "2.0.0" },
		"date":    func(a *algtld.Audit) { a.Date = "2026-02-11" },
		"result":  func(a *algtld.Audit) { a.Result = "fail" },
		"report":  func(a *algtld.Audit) { a.Report = "" },
		"key":     func(a *algtld.Audit) { a.Key = pub(9) },
	}
	for name, mutate := range mutations {
		tab := feedTable(t)
		mutate(&tab.Audits[1])
		_, err := validate(t, canonical(t, map[string]any{"meta": map[string]any{"tld": "alg"}, "alg": tab}))
		r, ok := ron.AsRejection(err)
		if !ok || len(r.Errors) != 1 || r.Errors[0].Code != algtld.CodeSignature {
			t.Errorf("%s: want one signature error, got %v", name, err)
		}
	}
	// The 2.1.0 audit carried into a manifest that only changes the name,
	// authors and changelog wording still verifies.
	tab := feedTable(t)
	tab.Name = "Lyon Local (renamed)"
	tab.Authors = []algtld.Author{{Name: "Ada", Payout: "ron1ada", Share: 10000}}
	tab.Changelog[0].Notes = "Reworded."
	if _, err := validate(t, canonical(t, map[string]any{"meta": map[string]any{"tld": "alg"}, "alg": tab})); err != nil {
		t.Fatal(err)
	}
	// Signing with the wrong domain does not verify.
	a := feedTable(t).Audits[1]
	msg, _ := algtld.AuditMessage(a)
	a.Signature = fmt.Sprintf("%x", ed25519.Sign(devKey(1), msg[len(algtld.DomainAudit):]))
	tab = feedTable(t)
	tab.Audits[1] = a
	if _, err := validate(t, canonical(t, map[string]any{"meta": map[string]any{"tld": "alg"}, "alg": tab})); err == nil {
		t.Fatal("a signature without the domain line verified")
	}
}

func normalized(t testing.TB, i int) *ron.Manifest {
	t.Helper()
	out, err := validate(t, algtld.Examples()[i])
	if err != nil {
		t.Fatal(err)
	}
	return out.Manifest
}

func TestSplit(t *testing.T) {
	h := rontest.New(algtld.New())
	// Audited feed: auditor_bps 1500 to the one audit of the current code
	// (ron1ofa; the 2.0.0 audit is not paid), the rest 70/30 to the authors.
	got := rontest.CheckSplit(t, h, ron.SplitInput{Manifest: normalized(t, 0), Amount: 1001, Usage: rontest.SampleUsage()})
	// auditors floor(1001*1500/10000) = 150; authors 851: 595.7 / 255.3 -> 596 / 255.
	want := []ron.Allocation{{Payee: "ron1ada", Role: "author", Amount: 596}, {Payee: "ron1grace", Role: "author", Amount: 255}, {Payee: "ron1ofa", Role: "auditor", Amount: 150}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("feed: got %v want %v", got, want)
	}
	// Unaudited ranking: everything to the author.
	got = rontest.CheckSplit(t, h, ron.SplitInput{Manifest: normalized(t, 1), Amount: ron.MaxAmount})
	want = []ron.Allocation{{Payee: "alg-carol", Role: "author", Amount: ron.MaxAmount}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ranking: got %v want %v", got, want)
	}
	// A broken table is rejected, not paid.
	_, err := h.Split(ctx, ron.SplitInput{Manifest: ron.MustManifest(`{"meta":{"tld":"alg"},"alg":{"authors":[{"name":"a","payout":"ron1a","share":5000}]}}`), Amount: 5})
	if _, ok := ron.AsRejection(err); !ok {
		t.Fatalf("split of a broken table: %v", err)
	}
}

func TestResolve(t *testing.T) {
	h := rontest.New(algtld.New())
	m := normalized(t, 0)
	for path, want := range map[string]ron.ResolveOutput{
		"/":     ron.Serve("application/wasm", 0, 48213),
		"":      ron.Serve("application/wasm", 0, 48213),
		"/code": ron.NotFound(),
	} {
		got, err := h.Resolve(ctx, ron.ResolveInput{Manifest: m, Path: path, PayloadSize: 48213}, strings.NewReader(""))
		if err != nil || got != want {
			t.Errorf("%q: got %+v %v, want %+v", path, got, err, want)
		}
	}
}

// Property: for any authors (shares totalling 10000), any audits (current
// or not), any auditor_bps, any amount 0..2^53-1 and servers in any order,
// the split pays exactly the amount, only the declared roles, the auditors
// of the current code exactly floor(amount*bps/10000) (0 without one), each
// author and auditor their exact share to within one unit, and nothing
// depends on the servers.
func TestSplitProperties(t *testing.T) {
	h := rontest.New(algtld.New())
	code := "b3:" + strings.Repeat("aa", 32)
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 8).Draw(rt, "authors")
		// n shares totalling 10000: cut points in 1..9999.
		cuts := rapid.SliceOfNDistinct(rapid.Uint64Range(1, 9999), n-1, n-1, rapid.ID[uint64]).Draw(rt, "cuts")
		slices.Sort(cuts)
		cuts = append(append([]uint64{0}, cuts...), 10000)
		var authors []map[string]any
		share := map[string]uint64{}
		for i := range n {
			p := fmt.Sprintf("ron1author%d", i)
			share[p] = cuts[i+1] - cuts[i]
			authors = append(authors, map[string]any{"name": p, "payout": p, "share": share[p]})
		}
		var audits []map[string]any
		current := map[string]uint64{}
		var nCurrent uint64
		for i := range rapid.IntRange(0, 6).Draw(rt, "audits") {
			c, v := code, "1.0.0"
			if rapid.Bool().Draw(rt, "old") {
				c, v = fmt.Sprintf("b3:%064x", i+1), "0.9.0"
			}
			p := rapid.SampledFrom([]string{"ron1x", "ron1y", "ron1author0"}).Draw(rt, "payout")
			if c == code {
				current[p]++
				nCurrent++
			}
			audits = append(audits, map[string]any{"auditor": "x", "key": fmt.Sprintf("ed25519:%064x", i+1), "payout": p, "code": c,
				"version": v, "date": "2026-01-01", "result": "pass", "signature": strings.Repeat("00", 64)})
		}
		bps := rapid.Uint64Range(0, algtld.MaxAuditorBPS).Draw(rt, "auditor_bps")
		amount := rapid.OneOf(rapid.Uint64Range(0, 1000), rapid.Uint64Range(0, ron.MaxAmount), rapid.Just(uint64(ron.MaxAmount))).Draw(rt, "amount")
		m := canonical(rt, map[string]any{"meta": map[string]any{"tld": "alg"}, "alg": map[string]any{
			"name": "x", "kind": "feed", "code": code, "version": "1.0.0", "auditor_bps": bps,
			"inputs":    []any{map[string]any{"name": "a", "description": "a"}},
			"changelog": []any{map[string]any{"version": "1.0.0", "date": "2026-01-01", "notes": "n"}},
			"authors":   authors, "audits": audits,
		}})
		servers := rapid.SliceOfN(rapid.Custom(func(rt *rapid.T) ron.Server {
			return ron.Server{Node: rapid.StringMatching(`n[0-9]`).Draw(rt, "node"), Payout: rapid.StringMatching(`op[0-9]`).Draw(rt, "payout"),
				Bytes: rapid.Uint64Range(0, ron.MaxAmount).Draw(rt, "bytes")}
		}), 0, 5).Draw(rt, "servers")
		in := ron.SplitInput{Manifest: ron.MustManifest(m), Epoch: "e", Amount: amount, Usage: ron.Usage{Servers: servers}}
		got, err := h.Split(ctx, in)
		if err != nil {
			rt.Fatal(err)
		}
		rev := slices.Clone(servers)
		slices.Reverse(rev)
		in.Usage.Servers = rev
		if again, err := h.Split(ctx, in); err != nil || fmt.Sprint(again) != fmt.Sprint(got) {
			rt.Fatalf("servers reordered: %v %v vs %v", err, again, got)
		}
		big0 := func(x uint64) *big.Int { return new(big.Int).SetUint64(x) }
		part := big.NewInt(0)
		if nCurrent > 0 {
			part.Div(new(big.Int).Mul(big0(amount), big0(bps)), big.NewInt(10000))
		}
		rest := new(big.Int).Sub(big0(amount), part)
		within1 := func(a ron.Allocation, total *big.Int, num, den uint64) {
			floor := new(big.Int).Div(new(big.Int).Mul(total, big0(num)), big0(den))
			d := new(big.Int).Sub(big0(a.Amount), floor)
			if d.Sign() < 0 || d.Cmp(big.NewInt(1)) > 0 {
				rt.Fatalf("%v: exact floor %v", a, floor)
			}
		}
		sum, audPaid := new(big.Int), new(big.Int)
		for _, a := range got {
			sum.Add(sum, big0(a.Amount))
			switch a.Role {
			case algtld.RoleAuthor:
				within1(a, rest, share[a.Payee], 10000)
			case algtld.RoleAuditor:
				audPaid.Add(audPaid, big0(a.Amount))
				within1(a, part, current[a.Payee], nCurrent)
			default:
				rt.Fatalf("undeclared role %v", a)
			}
		}
		if sum.Cmp(big0(amount)) != 0 || audPaid.Cmp(part) != 0 {
			rt.Fatalf("sum %v of %v; auditors %v of %v", sum, amount, audPaid, part)
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	for i, name := range []string{"feed", "ranking"} {
		in := []byte(`{"manifest":` + algtld.Examples()[i] + `,"context":{"tld":"alg","payload_size":48213}}`)
		b.Run(name, func(b *testing.B) { tldtest.BenchDispatch(b, algtld.New(), ron.EntryValidate, in) })
	}
}

func BenchmarkSplit(b *testing.B) {
	m, _ := normalized(b, 0).MarshalJSON()
	in := []byte(`{"manifest":` + string(m) + `,"epoch":"2026-03","amount":1000003,"usage":{"requests":0,"bytes":0,"servers":[]}}`)
	tldtest.BenchDispatch(b, algtld.New(), ron.EntrySplit, in)
}
