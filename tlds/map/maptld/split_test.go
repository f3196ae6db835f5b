package maptld_test

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/ronhost/ronhost/internal/tldtest"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
	"github.com/ronhost/ronhost/tlds/map/maptld"
)

func normalized(t testing.TB, m string) *ron.Manifest {
	t.Helper()
	out, err := rontest.New(maptld.New()).Validate(ctx, ron.MustManifest(m), ron.Context{TLD: "map", PayloadSize: 5242880})
	if err != nil {
		t.Fatal(err)
	}
	return out.Manifest
}

func TestSplitExample(t *testing.T) {
	h := rontest.New(maptld.New())
	m := normalized(t, maptld.Example)
	usage := ron.Usage{Servers: []ron.Server{
		{Node: "n1", Payout: "op-b", Bytes: 300},
		{Node: "n2", Payout: "op-a", Bytes: 100},
		{Node: "n3", Payout: "", Bytes: 999},     // no payout address: not paid
		{Node: "n4", Payout: "Op-C", Bytes: 999}, // not a valid payout address: not paid
		{Node: "n5", Payout: "op-a", Bytes: 0},   // served nothing
	}}
	got := rontest.CheckSplit(t, h, ron.SplitInput{Manifest: m, Epoch: "e1", Amount: 10001, Usage: usage})
	// Parts of 10001 at 6900/2500/500/100 bps: 6900.69, 2500.25, 500.05,
	// 100.01 -> floors 6900+2500+500+100 = 10000, the one left goes to the
	// largest fraction (creators). Creators 6901 at 7000/3000: 4830.7 and
	// 2070.3 -> 4831 and 2070. Operators 2500 at 1:3 -> 625 and 1875.
	want := []ron.Allocation{
		{Payee: "op-a", Role: "operator", Amount: 625}, {Payee: "op-b", Role: "operator", Amount: 1875},
		{Payee: "osmf.payout", Role: "royalty", Amount: 100}, {Payee: "pool:moderation", Role: "moderation", Amount: 500},
		{Payee: "ron1ada", Role: "creator", Amount: 2070}, {Payee: "ron1lyoncycling", Role: "creator", Amount: 4831},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	// Nobody eligible served: the operators' part goes to the creators
	// (9400 bps of 1000 = 940 at 70/30).
	got = rontest.CheckSplit(t, h, ron.SplitInput{Manifest: m, Epoch: "e1", Amount: 1000, Usage: ron.Usage{Servers: usage.Servers[2:]}})
	want = []ron.Allocation{
		{Payee: "osmf.payout", Role: "royalty", Amount: 10}, {Payee: "pool:moderation", Role: "moderation", Amount: 50},
		{Payee: "ron1ada", Role: "creator", Amount: 282}, {Payee: "ron1lyoncycling", Role: "creator", Amount: 658},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	// Parts of 0 basis points pay nobody: 9000/0/1000/0 of 999.
	zero := normalized(t, `{"meta":{"tld":"map"},"map":{"format":"png","license":"CC0-1.0","creators":[{"name":"A","payout":"ron1a"}],`+
		`"split":{"creators_bps":9000,"operators_bps":0,"moderation_bps":1000,"royalty_bps":0}}}`)
	got = rontest.CheckSplit(t, h, ron.SplitInput{Manifest: zero, Epoch: "e1", Amount: 999, Usage: usage})
	want = []ron.Allocation{{Payee: "pool:moderation", Role: "moderation", Amount: 100}, {Payee: "ron1a", Role: "creator", Amount: 899}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	// A manifest that is not valid is rejected, not split.
	bad := ron.MustManifest(`{"meta":{"tld":"map"},"map":{"format":"png","license":"CC0-1.0","creators":[{"name":"A","payout":"ron1a","share":9000}]}}`)
	if _, err := h.Split(ctx, ron.SplitInput{Manifest: bad, Amount: 5}); err == nil {
		t.Fatal("split of an invalid manifest accepted")
	}
}

// TestSplitProperties: for any valid [map] table, amount and usage, the
// split sums to the amount exactly, pays only declared roles, pays the
// moderation pool and royalty their floor or one more, and does not depend
// on the order of the servers.
func TestSplitProperties(t *testing.T) {
	p := maptld.New()
	rapid.Check(t, func(t *rapid.T) {
		nc := rapid.IntRange(1, maptld.MaxCreators).Draw(t, "creators")
		shares := tldtest.DrawShares(t, nc)
		var creators string
		for i, s := range shares {
			if i > 0 {
				creators += ","
			}
			creators += fmt.Sprintf(`{"name":"C%d","payout":"ron1c%d","share":%d}`, i, i, s)
		}
		parts := tldtest.DrawShares(t, 4)
		for parts[2] < maptld.MinModerationBPS { // moderation: at least 1%
			parts = tldtest.DrawShares(t, 4)
		}
		m := fmt.Sprintf(`{"meta":{"tld":"map"},"map":{"format":"pmtiles","license":"CC0-1.0","creators":[%s],`+
			`"split":{"creators_bps":%d,"operators_bps":%d,"moderation_bps":%d,"royalty_bps":%d}}}`, creators, parts[0], parts[1], parts[2], parts[3])
		res, err := p.Validate(ron.ValidateInput{Manifest: ron.MustManifest(m), Context: ron.Context{TLD: "map"}})
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		amount := rapid.OneOf(rapid.Uint64Range(0, 100), rapid.Uint64Range(0, ron.MaxAmount), rapid.Just(uint64(ron.MaxAmount))).Draw(t, "amount")
		servers := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) ron.Server {
			return ron.Server{
				Node:     rapid.StringMatching(`n[0-9]`).Draw(t, "node"),
				Payout:   rapid.SampledFrom([]string{"op-a", "op-b", "op-c", "", "BAD"}).Draw(t, "payout"),
				Requests: rapid.Uint64Range(0, 1000).Draw(t, "requests"),
				Bytes:    rapid.OneOf(rapid.Uint64Range(0, 10), rapid.Uint64Range(0, ron.MaxAmount)).Draw(t, "bytes"),
			}
		}), 0, 8).Draw(t, "servers")
		in := ron.SplitInput{Manifest: res.Manifest, Epoch: "e", Amount: amount, Usage: ron.Usage{Servers: servers}}
		status, out := ron.Dispatch(p, ron.EntrySplit, mustJSON(t, in), nil)
		if status != ron.StatusOK {
			t.Fatalf("status %d: %s", status, out)
		}
		allocs := decodeAllocs(t, out)
		var sum uint64
		for _, a := range allocs {
			if !slices.Contains([]string{maptld.RoleCreator, maptld.RoleOperator, maptld.RoleModeration, maptld.RoleRoyalty}, a.Role) {
				t.Fatalf("undeclared role %q", a.Role)
			}
			if a.Amount == 0 || a.Amount > ron.MaxAmount || a.Payee == "" {
				t.Fatalf("bad allocation %+v", a)
			}
			sum += a.Amount
			if a.Role == maptld.RoleModeration {
				if a.Payee != maptld.ModerationPool {
					t.Fatalf("moderation paid to %s", a.Payee)
				}
				if floor := ron.Portion(amount, parts[2]); a.Amount != floor && a.Amount != floor+1 {
					t.Fatalf("moderation %d, want %d or one more", a.Amount, floor)
				}
			}
		}
		if sum != amount {
			t.Fatalf("allocations sum to %d, amount %d", sum, amount)
		}
		// Any order of the servers gives the same bytes.
		perm := rapid.Permutation(servers).Draw(t, "perm")
		in.Usage.Servers = perm
		if _, out2 := ron.Dispatch(p, ron.EntrySplit, mustJSON(t, in), nil); string(out2) != string(out) {
			t.Fatalf("order changes the split:\n%s\n%s", out, out2)
		}
	})
}

func BenchmarkSplitNative(b *testing.B) {
	m := normalized(b, maptld.Example)
	in := mustJSON(b, ron.SplitInput{Manifest: m, Epoch: "e", Amount: 1000003, Usage: rontest.SampleUsage()})
	tldtest.BenchDispatch(b, maptld.New(), ron.EntrySplit, in)
}

func BenchmarkValidateNative(b *testing.B) {
	in := []byte(`{"manifest":` + maptld.Example + `,"context":{"tld":"map","payload_size":5242880}}`)
	tldtest.BenchDispatch(b, maptld.New(), ron.EntryValidate, in)
}
