package tldtest

import (
	"context"
	"slices"
	"testing"

	"pgregory.net/rapid"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
)

// ValidateNative validates manifest (JSON) with p through the native fake
// host, in tld with payloadSize. It returns the normalized [tld] table as
// JSON, or the rejection as "path:code" strings (sorted, as the SDK sorts
// them); any other error fails t.
func ValidateNative(t testing.TB, p ron.Plugin, tld, manifest string, payloadSize uint64) (string, []string) {
	t.Helper()
	out, err := rontest.New(p).Validate(context.Background(), ron.MustManifest(manifest), ron.Context{TLD: tld, PayloadSize: payloadSize})
	if r, ok := ron.AsRejection(err); ok {
		var got []string
		for _, e := range r.Errors {
			got = append(got, e.Path+":"+e.Code)
		}
		return "", got
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out.Manifest.Raw(tld)), nil
}

// BenchDispatch runs input through ron.Dispatch on p, the code a module
// runs, in a b.Loop, and fails b unless every call answers status 0.
func BenchDispatch(b *testing.B, p ron.Plugin, entry string, input []byte) {
	b.Helper()
	for b.Loop() {
		if status, out := ron.Dispatch(p, entry, input, nil); status != ron.StatusOK {
			b.Fatalf("%d %s", status, out)
		}
	}
}

// DrawShares draws n basis-point shares, each at least 1, totalling 10000
// (n at most 10000).
func DrawShares(t *rapid.T, n int) []uint64 {
	cuts := []uint64{0, ron.TotalBPS}
	for len(cuts) < n+1 {
		c := rapid.Uint64Range(1, ron.TotalBPS-1).Draw(t, "cut")
		if !slices.Contains(cuts, c) {
			cuts = append(cuts, c)
		}
	}
	slices.Sort(cuts)
	out := make([]uint64, n)
	for i := range out {
		out[i] = cuts[i+1] - cuts[i]
	}
	return out
}
