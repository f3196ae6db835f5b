package tldtest

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

func TestDevKeyAndCIDAreFixed(t *testing.T) {
	if !DevKey(1).Equal(DevKey(1)) || DevKey(1).Equal(DevKey(2)) {
		t.Fatal("development keys are not a function of their number")
	}
	if got := len(DevKey(7).Public().(ed25519.PublicKey)); got != ed25519.PublicKeySize {
		t.Fatalf("public key of %d bytes", got)
	}
	// BLAKE3 of the empty input, from the BLAKE3 test vectors.
	if got := CID(""); got != "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262" {
		t.Fatalf("CID(\"\") = %s", got)
	}
}

func TestTreeAndObj(t *testing.T) {
	m := Tree(t, map[string]any{"a": []any{map[string]any{"n": uint64(1<<53 + 1)}}}).(map[string]any)
	o := Obj(m, "a", "[0]")
	if o["n"] != json.Number("9007199254740993") {
		t.Fatalf("number not kept exact: %#v", o["n"])
	}
	o["n"] = "changed"
	if Obj(m, "a", "[0]")["n"] != "changed" {
		t.Fatal("Obj does not return the tree's own object")
	}
}

func TestQuantile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 101; i++ {
		ds = append(ds, time.Duration(i))
	}
	if quantile(ds, 50) != 51 || quantile(ds, 99) != 100 || quantile(ds, 100) != 101 || quantile(ds, 0) != 1 {
		t.Fatalf("p50 %d, p99 %d", quantile(ds, 50), quantile(ds, 99))
	}
	if quantile(nil, 50) != 0 || quantile(ds[:1], 99) != 1 || quantile(ds[:3], 99) != 3 || quantile(ds[:4], 50) != 2 {
		t.Fatal("edge cases")
	}
}

func TestSplitInputIsASplitInput(t *testing.T) {
	var in ron.SplitInput
	if err := json.Unmarshal(SplitInput(json.RawMessage(`{"meta":{"tld":"x"}}`)), &in); err != nil {
		t.Fatal(err)
	}
	if in.Amount != 1000003 || len(in.Usage.Servers) != 4 || in.Manifest.Raw("meta") == nil {
		t.Fatalf("%+v", in)
	}
}

// owner accepts a manifest whose [x] table names an owner.
type owner struct{}

func (owner) Describe(ron.HostInfo) ron.Description {
	return ron.Description{TLD: "x", Name: "X", Version: "1", Roles: []string{"creator"}}
}

func (owner) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	var v struct {
		Owner string `json:"owner"`
	}
	if err := in.Manifest.Table("x", &v); err != nil {
		return ron.ValidateOutput{}, err
	}
	if v.Owner == "" {
		return ron.ValidateOutput{}, ron.Reject("x.owner", ron.CodeRequired, "who owns it?")
	}
	return ron.ValidateOutput{Manifest: in.Manifest, Index: ron.Index{Title: v.Owner}}, nil
}

func (owner) Split(in ron.SplitInput) ([]ron.Allocation, error) { return nil, nil }

func TestCaseFilesAndCheckGenerated(t *testing.T) {
	dir := t.TempDir()
	cases := []Case{
		{Name: "ok", Manifest: map[string]any{"meta": map[string]any{"tld": "x"}, "x": map[string]any{"owner": "ada"}}},
		{Name: "no-owner", Manifest: map[string]any{"meta": map[string]any{"tld": "x"}, "x": map[string]any{}}, Errors: []string{"x.owner:required"}},
	}
	files := CaseFiles(t, owner{}, "x", dir, cases)
	if len(files) != 2 {
		t.Fatalf("%d files", len(files))
	}
	var ok, bad struct {
		Manifest json.RawMessage
		Expect   struct {
			Manifest json.RawMessage
			Index    struct{ Title string }
			Errors   []struct{ Path, Code string }
		}
	}
	if err := json.Unmarshal(files[filepath.Join(dir, "ok.json")], &ok); err != nil || ok.Expect.Index.Title != "ada" || ok.Expect.Manifest == nil {
		t.Fatalf("ok.json: %+v %v", ok, err)
	}
	if err := json.Unmarshal(files[filepath.Join(dir, "no-owner.json")], &bad); err != nil || len(bad.Expect.Errors) != 1 || bad.Expect.Errors[0].Path != "x.owner" || bad.Expect.Manifest != nil {
		t.Fatalf("no-owner.json: %+v %v", bad, err)
	}
	if !strings.HasSuffix(string(files[filepath.Join(dir, "ok.json")]), "}\n") {
		t.Fatal("a generated file ends with a newline")
	}
	// A stale case is removed by regen; afterwards the check passes.
	stale := filepath.Join(dir, "stale.json")
	if err := os.WriteFile(stale, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	CheckGenerated(t, files, dir, true, "./x")
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale case kept: %v", err)
	}
	for p, want := range files {
		if got, err := os.ReadFile(p); err != nil || string(got) != string(want) {
			t.Fatalf("%s: %v", p, err)
		}
	}
	CheckGenerated(t, files, dir, false, "./x")
}

func TestValidateNative(t *testing.T) {
	table, errs := ValidateNative(t, owner{}, "x", `{"meta":{"tld":"x"},"x":{"owner":"ada"}}`, 0)
	if table != `{"owner":"ada"}` || errs != nil {
		t.Fatalf("%s %v", table, errs)
	}
	table, errs = ValidateNative(t, owner{}, "x", `{"meta":{"tld":"x"},"x":{"owner":""}}`, 0)
	if table != "" || !slices.Equal(errs, []string{"x.owner:required"}) {
		t.Fatalf("%s %v", table, errs)
	}
}

func TestDrawShares(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 50).Draw(rt, "n")
		shares := DrawShares(rt, n)
		var sum uint64
		for _, s := range shares {
			if s == 0 {
				rt.Fatalf("a zero share: %v", shares)
			}
			sum += s
		}
		if len(shares) != n || sum != ron.TotalBPS {
			rt.Fatalf("%d shares totalling %d: %v", len(shares), sum, shares)
		}
	})
}

func BenchmarkDispatch(b *testing.B) {
	BenchDispatch(b, owner{}, ron.EntryValidate, []byte(`{"manifest":{"meta":{"tld":"x"},"x":{"owner":"ada"}},"context":{"tld":"x","payload_size":0}}`))
}
