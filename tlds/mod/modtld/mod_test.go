package modtld_test

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
	"github.com/ronhost/ronhost/tlds/mod/modtld"
)

var ctx = context.Background()

func TestPluginChecks(t *testing.T) {
	rontest.CheckPlugin(t, rontest.New(modtld.New()))
}

func validate(t testing.TB, manifest string) (ron.ValidateOutput, error) {
	t.Helper()
	m := ron.MustManifest(manifest)
	p, _ := m.Payload()
	return rontest.New(modtld.New()).Validate(ctx, m, ron.Context{TLD: modtld.TLD, PayloadSize: p.Size})
}

// modTable returns the [mod] table of a manifest as canonical JSON.
func modTable(t testing.TB, m *ron.Manifest) string {
	t.Helper()
	doc, err := ron.ParseManifest(m.Raw(modtld.TLD))
	if err != nil {
		t.Fatal(err)
	}
	return doc.String()
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

// The examples, written as a publisher might (spaces, capitals, duplicate
// labels, an offset time, moderators out of order, defaults left out),
// normalize to exactly the tables their signatures were made over.
func TestExamplesNormalizeToTheSignedTables(t *testing.T) {
	for i, want := range []modtld.Table{moderatorTable(t), verdictTable(t)} {
		out, err := validate(t, modtld.Examples()[i])
		if err != nil {
			t.Fatalf("examples[%d]: %v", i, err)
		}
		if got, want := modTable(t, out.Manifest), canonical(t, want); got != want {
			t.Errorf("examples[%d]:\n got %s\nwant %s", i, got, want)
		}
		// meta and payload pass through untouched.
		in := ron.MustManifest(modtld.Examples()[i])
		for _, name := range []string{ron.TableMeta, ron.TablePayload} {
			a, _ := ron.ParseManifest(in.Raw(name))
			b, _ := ron.ParseManifest(out.Manifest.Raw(name))
			if a.String() != b.String() {
				t.Errorf("examples[%d]: [%s] changed: %s -> %s", i, name, a, b)
			}
		}
	}
	out, _ := validate(t, modtld.Examples()[1])
	if out.Index.Title != "Verdict spam on "+cidOf("a .map manifest full of casino links") || strings.Join(out.Index.Tags, ",") != cidOf("a .map manifest full of casino links")+",spam,verdict" {
		t.Errorf("index %+v", out.Index)
	}
}

// The signed message is documented byte for byte in README.md.
func TestSigningMessage(t *testing.T) {
	tab := modtld.Table{TreasuryBPS: 1000, Verdict: &modtld.Verdict{
		Target: "b3:" + strings.Repeat("ab", 32), Label: "spam", Reason: `"Buy <now>" & more`, Time: "2026-03-01T12:30:00Z",
		Moderators: []modtld.Signer{{Key: "ed25519:" + strings.Repeat("01", 32), Payout: "ron1a", Weight: 2, Signature: "ignored"}},
	}}
	got, err := modtld.SigningMessage(tab)
	if err != nil {
		t.Fatal(err)
	}
	want := "ronhost .mod verdict v1\n" +
		`{"treasury_bps":1000,"verdict":{"label":"spam","moderators":[{"key":"ed25519:` + strings.Repeat("01", 32) + `","payout":"ron1a","weight":2}],` +
		`"reason":"\"Buy <now>\" & more","target":"b3:` + strings.Repeat("ab", 32) + `","time":"2026-03-01T12:30:00Z"}}`
	if string(got) != want {
		t.Fatalf("\n got %q\nwant %q", got, want)
	}
	tab = moderatorTable(t)
	got, _ = modtld.SigningMessage(tab)
	if !strings.HasPrefix(string(got), "ronhost .mod moderator v1\n{\"moderator\":{\"charter\":") || strings.Contains(string(got), "signature") {
		t.Fatalf("moderator message %q", got)
	}
	if _, err := modtld.SigningMessage(modtld.Table{}); err == nil {
		t.Fatal("an empty table has no message")
	}
}

// Changing any signed field, or signing with another domain, breaks the
// signature: the message covers the whole table.
func TestSignatureCoversTheTable(t *testing.T) {
	mutations := map[string]func(tab *modtld.Table){
		"target":   func(tab *modtld.Table) { tab.Verdict.Target = cidOf("another item") },
		"label":    func(tab *modtld.Table) { tab.Verdict.Label = "ok" },
		"reason":   func(tab *modtld.Table) { tab.Verdict.Reason += "!" },
		"time":     func(tab *modtld.Table) { tab.Verdict.Time = "2026-03-01T12:30:01Z" },
		"payout":   func(tab *modtld.Table) { tab.Verdict.Moderators[0].Payout = "ron1mallory" },
		"weight":   func(tab *modtld.Table) { tab.Verdict.Moderators[1].Weight++ },
		"treasury": func(tab *modtld.Table) { tab.TreasuryBPS = 600 },
		"dropped":  func(tab *modtld.Table) { tab.Verdict.Moderators = tab.Verdict.Moderators[:1] },
	}
	for name, mutate := range mutations {
		tab := verdictTable(t)
		mutate(&tab)
		_, err := validate(t, canonical(t, map[string]any{"meta": map[string]any{"tld": "mod"}, "mod": tab}))
		r, ok := ron.AsRejection(err)
		if !ok || len(r.Errors) == 0 || r.Errors[0].Code != modtld.CodeSignature {
			t.Errorf("%s: want a signature error, got %v", name, err)
		}
	}
	// A moderator entry's signature made as a verdict signature (the other
	// domain) does not verify.
	tab := moderatorTable(t)
	msg, _ := modtld.SigningMessage(tab)
	msg = append([]byte(modtld.DomainVerdict), msg[len(modtld.DomainModerator):]...)
	tab.Moderator.Signature = fmt.Sprintf("%x", ed25519.Sign(devKey(1), msg))
	if _, err := validate(t, canonical(t, map[string]any{"meta": map[string]any{"tld": "mod"}, "mod": tab})); err == nil {
		t.Fatal("a signature under the wrong domain verified")
	}
	// The untouched tables verify.
	for _, tab := range []modtld.Table{moderatorTable(t), verdictTable(t)} {
		if _, err := validate(t, canonical(t, map[string]any{"meta": map[string]any{"tld": "mod"}, "mod": tab})); err != nil {
			t.Fatal(err)
		}
	}
}

func TestValidateContextAndPayload(t *testing.T) {
	h := rontest.New(modtld.New())
	m := ron.MustManifest(modtld.Examples()[0])
	_, err := h.Validate(ctx, m, ron.Context{TLD: "map"})
	if r, ok := ron.AsRejection(err); !ok || r.Errors[0].Path != "context.tld" || r.Errors[0].Code != modtld.CodeMismatch {
		t.Fatalf("context tld: %v", err)
	}
	// The host may leave the context out.
	if _, err := h.Validate(ctx, m, ron.Context{}); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(modtld.Examples()[0], `"size": 2048`, `"size": "2048"`, 1)
	if _, err := h.Validate(ctx, ron.MustManifest(bad), ron.Context{TLD: "mod"}); err == nil || !strings.Contains(err.Error(), "payload") {
		t.Fatalf("payload size as a string: %v", err)
	}
}

func normalized(t testing.TB, i int) *ron.Manifest {
	t.Helper()
	out, err := validate(t, modtld.Examples()[i])
	if err != nil {
		t.Fatal(err)
	}
	return out.Manifest
}

func TestSplit(t *testing.T) {
	h := rontest.New(modtld.New())
	// Registry entry: 10% to the treasury, the rest to the moderator.
	got := rontest.CheckSplit(t, h, ron.SplitInput{Manifest: normalized(t, 0), Amount: 999, Usage: rontest.SampleUsage()})
	want := []ron.Allocation{{Payee: "ron1lyonmod", Role: "moderator", Amount: 900}, {Payee: "treasury.mod", Role: "treasury", Amount: 99}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("entry: got %v want %v", got, want)
	}
	// Verdict: treasury floor(10*1000/10000) = 1; 9 by 2:1 -> 6 / 3.
	got = rontest.CheckSplit(t, h, ron.SplitInput{Manifest: normalized(t, 1), Amount: 10})
	want = []ron.Allocation{{Payee: "ron1grace", Role: "moderator", Amount: 6}, {Payee: "ron1lyonmod", Role: "moderator", Amount: 3}, {Payee: "treasury.mod", Role: "treasury", Amount: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("verdict: got %v want %v", got, want)
	}
	// 2 units: treasury 0; 2 by 2:1 -> 1.33/0.67: floors 1/0, the unit left
	// goes to the larger remainder (0.67, ron1lyonmod).
	got = rontest.CheckSplit(t, h, ron.SplitInput{Manifest: normalized(t, 1), Amount: 2})
	want = []ron.Allocation{{Payee: "ron1grace", Role: "moderator", Amount: 1}, {Payee: "ron1lyonmod", Role: "moderator", Amount: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("verdict 2: got %v want %v", got, want)
	}
	// A broken table is rejected, not paid.
	_, err := h.Split(ctx, ron.SplitInput{Manifest: ron.MustManifest(`{"meta":{"tld":"mod"},"mod":{"verdict":{"moderators":[]}}}`), Amount: 5})
	if _, ok := ron.AsRejection(err); !ok {
		t.Fatalf("split of a broken table: %v", err)
	}
}

// Property: for any verdict (1..16 moderators with any weights and payouts,
// any treasury_bps) and any amount 0..2^53-1 and servers in any order, the
// split pays exactly the amount, only the declared roles, the treasury
// exactly floor(amount*bps/10000), each moderator its pro rata share of the
// rest to within one unit, and nothing depends on the servers.
func TestSplitProperties(t *testing.T) {
	h := rontest.New(modtld.New())
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, modtld.MaxModerators).Draw(rt, "moderators")
		payouts := rapid.SampledFrom([]string{"ron1a", "ron1b", "ron1c", "mod-d", "treasury.mod"})
		var mods []map[string]any
		weights := map[string]uint64{}
		var total uint64
		for i := range n {
			w := rapid.Uint64Range(1, modtld.MaxWeight).Draw(rt, "weight")
			p := payouts.Draw(rt, "payout")
			weights[p] += w
			total += w
			mods = append(mods, map[string]any{
				"key": fmt.Sprintf("ed25519:%064x", i+1), "payout": p, "weight": w, "signature": strings.Repeat("00", 64),
			})
		}
		bps := rapid.Uint64Range(modtld.MinTreasuryBPS, modtld.MaxTreasuryBPS).Draw(rt, "treasury_bps")
		amount := rapid.OneOf(rapid.Uint64Range(0, 1000), rapid.Uint64Range(0, ron.MaxAmount), rapid.Just(uint64(ron.MaxAmount))).Draw(rt, "amount")
		m := canonical(rt, map[string]any{"meta": map[string]any{"tld": "mod"}, "mod": map[string]any{"treasury_bps": bps, "verdict": map[string]any{
			"target": "b3:" + strings.Repeat("cd", 32), "label": "spam", "reason": "r", "time": "2026-01-01T00:00:00Z", "moderators": mods,
		}}})
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
		again, err := h.Split(ctx, in)
		if err != nil || fmt.Sprint(again) != fmt.Sprint(got) {
			rt.Fatalf("servers reordered: %v %v vs %v", err, again, got)
		}
		sum := new(big.Int)
		treasury := new(big.Int).Div(new(big.Int).Mul(new(big.Int).SetUint64(amount), new(big.Int).SetUint64(bps)), big.NewInt(10000))
		rest := new(big.Int).Sub(new(big.Int).SetUint64(amount), treasury)
		for _, a := range got {
			sum.Add(sum, new(big.Int).SetUint64(a.Amount))
			switch a.Role {
			case modtld.RoleTreasury:
				if a.Payee != modtld.TreasuryPayout || new(big.Int).SetUint64(a.Amount).Cmp(treasury) != 0 {
					rt.Fatalf("treasury %v, want %v", a, treasury)
				}
			case modtld.RoleModerator:
				// exact share: rest*w/total; the amount is its floor or floor+1.
				exact := new(big.Int).Mul(rest, new(big.Int).SetUint64(weights[a.Payee]))
				floor := exact.Div(exact, new(big.Int).SetUint64(total))
				d := new(big.Int).Sub(new(big.Int).SetUint64(a.Amount), floor)
				if d.Sign() < 0 || d.Cmp(big.NewInt(1)) > 0 {
					rt.Fatalf("moderator %v, exact floor %v", a, floor)
				}
			default:
				rt.Fatalf("undeclared role %v", a)
			}
		}
		if sum.Cmp(new(big.Int).SetUint64(amount)) != 0 {
			rt.Fatalf("sum %v of %v", sum, amount)
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	for i, name := range []string{"moderator", "verdict"} {
		in := []byte(`{"manifest":` + modtld.Examples()[i] + `,"context":{"tld":"mod","payload_size":2048}}`)
		b.Run(name, func(b *testing.B) { tldtest.BenchDispatch(b, modtld.New(), ron.EntryValidate, in) })
	}
}

func BenchmarkSplit(b *testing.B) {
	m, _ := normalized(b, 1).MarshalJSON()
	in := []byte(`{"manifest":` + string(m) + `,"epoch":"2026-03","amount":1000003,"usage":{"requests":0,"bytes":0,"servers":[]}}`)
	tldtest.BenchDispatch(b, modtld.New(), ron.EntrySplit, in)
}

func TestResolve(t *testing.T) {
	h := rontest.New(modtld.New())
	m := normalized(t, 1)
	for path, want := range map[string]ron.ResolveOutput{
		"/":        ron.Serve("text/markdown", 0, 2048),
		"":         ron.Serve("text/markdown", 0, 2048),
		"/charter": ron.NotFound(),
	} {
		got, err := h.Resolve(ctx, ron.ResolveInput{Manifest: m, Path: path, PayloadSize: 2048}, strings.NewReader(strings.Repeat("x", 2048)))
		if err != nil || got != want {
			t.Errorf("%q: got %+v %v, want %+v", path, got, err, want)
		}
	}
}
