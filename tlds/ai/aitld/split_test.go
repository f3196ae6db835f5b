package aitld_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/ronhost/ronhost/internal/tldtest"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
	"github.com/ronhost/ronhost/tlds/ai/aitld"
)

func normalized(t testing.TB, m string) *ron.Manifest {
	t.Helper()
	out, err := rontest.New(aitld.New()).Validate(ctx, ron.MustManifest(m), ron.Context{TLD: "ai"})
	if err != nil {
		t.Fatal(err)
	}
	return out.Manifest
}

func TestSplitModel(t *testing.T) {
	h := rontest.New(aitld.New())
	m := normalized(t, aitld.Example)
	usage := ron.Usage{Servers: []ron.Server{
		{Node: "n1", Payout: "op-b", Requests: 1, Bytes: 300},
		{Node: "n2", Payout: "op-a", Requests: 9, Bytes: 100},
		{Node: "n3", Payout: "", Bytes: 999}, // no payout address
	}}
	got := rontest.CheckSplit(t, h, ron.SplitInput{Manifest: m, Epoch: "e", Amount: 100000, Usage: usage})
	// 6000/1500/2000/500 of 100000; creators 60000 at 80/20, contributors
	// 15000 at 700:300, compute 20000 by bytes (a model is paid per byte).
	want := []ron.Allocation{
		{Payee: "op-a", Role: "compute", Amount: 5000}, {Payee: "op-b", Role: "compute", Amount: 15000},
		{Payee: "pool:moderation", Role: "moderation", Amount: 5000},
		{Payee: "ron1grace", Role: "creator", Amount: 12000}, {Payee: "ron1owc", Role: "contributor", Amount: 10500},
		{Payee: "ron1parl", Role: "contributor", Amount: 4500}, {Payee: "ron1ternlab", Role: "creator", Amount: 48000},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestSplitInference(t *testing.T) {
	h := rontest.New(aitld.New())
	m := normalized(t, aitld.ExampleInference)
	usage := ron.Usage{Servers: []ron.Server{
		{Node: "node-lyon-1", Payout: "someone-else", Requests: 3, Bytes: 1},      // paid at the declared payout
		{Node: "node-aurora", Payout: "", Requests: 1, Bytes: 1 << 30},            // by requests, not bytes
		{Node: "node-rogue", Payout: "ron1rogue", Requests: 1000, Bytes: 1 << 30}, // not a declared provider
	}}
	got := rontest.CheckSplit(t, h, ron.SplitInput{Manifest: m, Epoch: "e", Amount: 1003, Usage: usage})
	// 3500/0/6000/500 of 1003: 351.05, 601.8, 50.15 -> 351, 601, 50 and one
	// left to compute (largest fraction). Compute 602 at 3:1 -> 451.5/150.5
	// -> 451/150 and the one left to the smaller payee of the tie.
	want := []ron.Allocation{
		{Payee: "pool:moderation", Role: "moderation", Amount: 50},
		{Payee: "ron1aurora", Role: "compute", Amount: 151}, {Payee: "ron1gpucoop", Role: "compute", Amount: 451},
		{Payee: "ron1ternlab", Role: "creator", Amount: 351},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	// No declared provider served: compute's part goes to the creators.
	got = rontest.CheckSplit(t, h, ron.SplitInput{Manifest: m, Epoch: "e", Amount: 1000, Usage: ron.Usage{Servers: usage.Servers[2:]}})
	want = []ron.Allocation{{Payee: "pool:moderation", Role: "moderation", Amount: 50}, {Payee: "ron1ternlab", Role: "creator", Amount: 950}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

// TestSplitProperties: for any valid [ai] table, amount and usage, the
// split sums to the amount, pays only declared roles and payees, and does
// not depend on the order of the servers.
func TestSplitProperties(t *testing.T) {
	p := aitld.New()
	rapid.Check(t, func(t *rapid.T) {
		kind := rapid.SampledFrom([]string{aitld.KindModel, aitld.KindDataset, aitld.KindInference}).Draw(t, "kind")
		shares := tldtest.DrawShares(t, rapid.IntRange(1, aitld.MaxCreators).Draw(t, "creators"))
		ai := map[string]any{"kind": kind}
		var creators []map[string]any
		payees := map[string]bool{aitld.ModerationPool: true}
		for i, s := range shares {
			creators = append(creators, map[string]any{"name": fmt.Sprint("C", i), "payout": fmt.Sprint("ron1c", i), "share": s})
			payees[fmt.Sprint("ron1c", i)] = true
		}
		ai["creators"] = creators
		nContrib := rapid.IntRange(0, 5).Draw(t, "contributors")
		var contribs []map[string]any
		for i := range nContrib {
			contribs = append(contribs, map[string]any{"name": fmt.Sprint("D", i), "payout": fmt.Sprint("ron1d", i),
				"weight": rapid.Uint64Range(1, ron.MaxAmount).Draw(t, "weight")})
			payees[fmt.Sprint("ron1d", i)] = true
		}
		if contribs != nil {
			ai["contributors"] = contribs
		}
		parts := tldtest.DrawShares(t, 4)
		for parts[3] < aitld.MinModerationBPS {
			parts = tldtest.DrawShares(t, 4)
		}
		if nContrib == 0 {
			parts[0] += parts[1]
			parts[1] = 0
		}
		ai["split"] = map[string]any{"creators_bps": parts[0], "contributors_bps": parts[1], "compute_bps": parts[2], "moderation_bps": parts[3]}
		card := map[string]any{"license": "MIT", "intended_use": "u", "limitations": "l"}
		if kind == aitld.KindModel {
			card["architecture"], card["parameters"] = "mlp", 1000
		}
		ai["card"] = card
		var providers []map[string]any
		if kind == aitld.KindInference || rapid.Bool().Draw(t, "providers") {
			for i := range rapid.IntRange(1, 3).Draw(t, "nproviders") {
				providers = append(providers, map[string]any{"name": "P", "node": fmt.Sprint("n", i), "payout": fmt.Sprint("op-", i)})
			}
			ai["providers"] = providers
		}
		if kind == aitld.KindInference {
			ai["model"] = "b3:" + fmt.Sprintf("%064x", 1)
		}
		doc, _ := json.Marshal(map[string]any{"meta": map[string]any{"tld": "ai"}, "ai": ai})
		res, err := p.Validate(ron.ValidateInput{Manifest: ron.MustManifest(string(doc)), Context: ron.Context{TLD: "ai"}})
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		amount := rapid.OneOf(rapid.Uint64Range(0, 100), rapid.Uint64Range(0, ron.MaxAmount), rapid.Just(uint64(ron.MaxAmount))).Draw(t, "amount")
		servers := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) ron.Server {
			return ron.Server{
				Node:     rapid.SampledFrom([]string{"n0", "n1", "n2", "n9"}).Draw(t, "node"),
				Payout:   rapid.SampledFrom([]string{"op-0", "op-1", "op-x", "", "BAD"}).Draw(t, "payout"),
				Requests: rapid.OneOf(rapid.Uint64Range(0, 10), rapid.Uint64Range(0, ron.MaxAmount)).Draw(t, "requests"),
				Bytes:    rapid.OneOf(rapid.Uint64Range(0, 10), rapid.Uint64Range(0, ron.MaxAmount)).Draw(t, "bytes"),
			}
		}), 0, 8).Draw(t, "servers")
		for _, pr := range providers {
			payees[pr["payout"].(string)] = true
		}
		if providers == nil {
			payees["op-0"], payees["op-1"], payees["op-x"] = true, true, true
		}
		in := ron.SplitInput{Manifest: res.Manifest, Epoch: "e", Amount: amount, Usage: ron.Usage{Servers: servers}}
		input, _ := json.Marshal(in)
		status, out := ron.Dispatch(p, ron.EntrySplit, input, nil)
		if status != ron.StatusOK {
			t.Fatalf("status %d: %s", status, out)
		}
		var so ron.SplitOutput
		if err := json.Unmarshal(out, &so); err != nil {
			t.Fatal(err)
		}
		var sum uint64
		for _, a := range so.Allocations {
			if !slices.Contains([]string{aitld.RoleCreator, aitld.RoleContributor, aitld.RoleCompute, aitld.RoleModeration}, a.Role) {
				t.Fatalf("undeclared role %q", a.Role)
			}
			if !payees[a.Payee] || a.Amount == 0 || a.Amount > ron.MaxAmount {
				t.Fatalf("bad allocation %+v", a)
			}
			sum += a.Amount
		}
		if sum != amount {
			t.Fatalf("allocations sum to %d, amount %d", sum, amount)
		}
		in.Usage.Servers = rapid.Permutation(servers).Draw(t, "perm")
		input, _ = json.Marshal(in)
		if _, out2 := ron.Dispatch(p, ron.EntrySplit, input, nil); string(out2) != string(out) {
			t.Fatalf("order changes the split:\n%s\n%s", out, out2)
		}
	})
}

func BenchmarkSplitNative(b *testing.B) {
	m := normalized(b, aitld.Example)
	in, _ := json.Marshal(ron.SplitInput{Manifest: m, Epoch: "e", Amount: 1000003, Usage: rontest.SampleUsage()})
	tldtest.BenchDispatch(b, aitld.New(), ron.EntrySplit, in)
}

func BenchmarkValidateNative(b *testing.B) {
	in := []byte(`{"manifest":` + aitld.Example + `,"context":{"tld":"ai","payload_size":14483464192}}`)
	tldtest.BenchDispatch(b, aitld.New(), ron.EntryValidate, in)
}
