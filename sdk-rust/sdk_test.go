package sdkrust_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/wasmbuild"
	ron "github.com/ronhost/ronhost/sdk-wasm"
)

var cacheDir string

func TestMain(m *testing.M) { os.Exit(wasmbuild.RunWithCache(m, &cacheDir)) }

// needCargo skips without Debian's Rust toolchain, except in CI, which
// installs it (.ci/run).
func needCargo(t *testing.T) {
	t.Helper()
	if err := wasmbuild.HaveCargo(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// TestCrateTests runs the crate's and the example's own tests (cargo test):
// the SDK's scanner, canonical writer, split and rule helpers, and the
// example through the native harness.
func TestCrateTests(t *testing.T) {
	needCargo(t)
	out, err := wasmbuild.Cargo(t.Context(), ".", "test", "--workspace")
	if err != nil {
		t.Fatal(err)
	}
	passed := 0
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "test result: ") {
			continue
		}
		if !strings.HasPrefix(line, "test result: ok.") {
			t.Errorf("%s", line)
		}
		var n int
		fmt.Sscanf(strings.TrimPrefix(line, "test result: ok. "), "%d passed", &n)
		passed += n
	}
	if passed < 12 {
		t.Fatalf("%d Rust tests passed, want at least 12:\n%s", passed, out)
	}
}

var example = struct {
	sync.Once
	wasm []byte
	err  error
}{}

// ExampleModule builds examples/notes for wasm32-wasi, once per test binary.
func exampleModule(t *testing.T) []byte {
	t.Helper()
	needCargo(t)
	example.Do(func() {
		out := filepath.Join(t.TempDir(), "ron_notes.wasm")
		if example.err = wasmbuild.BuildRust(context.Background(), ".", "ron-notes", out); example.err == nil {
			example.wasm, example.err = os.ReadFile(out)
		}
	})
	if example.err != nil {
		t.Fatal(example.err)
	}
	return example.wasm
}

// TestExampleConformance runs the conformance suite on the Rust example
// module in the real host: every check passes.
func TestExampleConformance(t *testing.T) {
	rep := conformance.Test(t, exampleModule(t), conformance.Options{CacheDir: cacheDir})
	if rep.TLD != "notes" || rep.Failed() != 0 || rep.Passed() < 20 {
		t.Fatalf("tld %q: %d passed, %d failed", rep.TLD, rep.Passed(), rep.Failed())
	}
}

// oracle is the split_oracle example program, fed one request a line.
type oracle struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startOracle(t *testing.T) *oracle {
	t.Helper()
	needCargo(t)
	if _, err := wasmbuild.Cargo(t.Context(), ".", "build", "--example", "split_oracle"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(wasmbuild.CargoTargetDir(), "debug", "examples", "split_oracle"))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
	})
	return &oracle{cmd: cmd, in: in, out: bufio.NewReader(out)}
}

func (o *oracle) ask(t *rapid.T, req any) map[string]json.RawMessage {
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.in.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	line, err := o.out.ReadBytes('\n')
	if err != nil {
		t.Fatalf("the oracle died: %v", err)
	}
	var ans map[string]json.RawMessage
	if err := json.Unmarshal(line, &ans); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	return ans
}

type claim struct {
	Payee string `json:"payee"`
	Role  string `json:"role"`
	N     uint64 `json:"n"`
}

func errKind(err error) string {
	switch {
	case errors.Is(err, ron.ErrShares):
		return `"shares"`
	case errors.Is(err, ron.ErrNoWeight):
		return `"no-weight"`
	case errors.Is(err, ron.ErrWeightOverflow):
		return `"overflow"`
	case errors.Is(err, ron.ErrEmptyPayee):
		return `"empty-payee"`
	}
	return fmt.Sprintf("%q", err)
}

func amountGen() *rapid.Generator[uint64] {
	return rapid.OneOf(
		rapid.Uint64Range(0, 20),
		rapid.Uint64Range(0, 20),
		rapid.Uint64Range(0, ron.MaxAmount),
		rapid.SampledFrom([]uint64{ron.MaxAmount, 1<<64 - 1, 1 << 63, 10007, 9999, 10001}),
		rapid.Uint64(),
	)
}

func claimsGen(maxWeight *rapid.Generator[uint64]) *rapid.Generator[[]claim] {
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) claim {
		return claim{
			// A few payees and roles, so claims merge and remainders tie.
			Payee: rapid.SampledFrom([]string{"a", "b", "c", "ab", "B", "é", ""}).Draw(t, "payee"),
			Role:  rapid.SampledFrom([]string{"creator", "operator", ""}).Draw(t, "role"),
			N:     maxWeight.Draw(t, "n"),
		}
	}), 0, 12)
}

func equalAnswer(t *rapid.T, what string, got map[string]json.RawMessage, key string, want any, err error) {
	if err != nil {
		if string(got["error"]) != errKind(err) {
			t.Fatalf("%s: Go fails with %v, Rust answers %v", what, err, got)
		}
		return
	}
	// Compared as values: the oracle's JSON orders keys its own way.
	w, _ := json.Marshal(want)
	a, errA := decodeNumbers(w)
	b, errB := decodeNumbers(got[key])
	if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("%s:\n  Go   %s\n  Rust %s", what, w, got[key])
	}
}

// decodeNumbers decodes JSON keeping numbers exact (amounts go up to 2^64-1).
func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// TestSplitHelpersMatchGo proves the Rust SDK's split helpers answer
// exactly what the Go SDK's do, remainder rule and refusals included, on
// generated inputs: amounts up to 2^64-1, weights that merge, tie, are zero
// or overflow, shares and parts that do or do not total 10000.
func TestSplitHelpersMatchGo(t *testing.T) {
	o := startOracle(t)
	// More than rapid's default 100 cases: a wrong tie rule shows up in
	// about one case in a hundred. Each costs a few microseconds.
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == "100" {
		_ = f.Value.Set("3000")
		defer f.Value.Set("100")
	}
	rapid.Check(t, func(t *rapid.T) {
		amount := amountGen().Draw(t, "amount")
		switch rapid.IntRange(0, 3).Draw(t, "op") {
		case 0:
			// Small weights most of the time, so remainders tie.
			cs := claimsGen(rapid.OneOf(rapid.Uint64Range(0, 3), rapid.Uint64Range(0, 3), rapid.Uint64Range(0, 1<<62), rapid.Uint64())).Draw(t, "claims")
			ws := make([]ron.Weight, len(cs))
			for i, c := range cs {
				ws[i] = ron.Weight{Payee: c.Payee, Role: c.Role, Weight: c.N}
			}
			want, err := ron.SplitWeighted(amount, ws)
			equalAnswer(t, "weighted", o.ask(t, map[string]any{"op": "weighted", "amount": amount, "claims": cs}), "allocations", want, err)
		case 1:
			cs := claimsGen(rapid.OneOf(rapid.Uint64Range(0, 10000), rapid.SampledFrom([]uint64{2500, 5000, 3333, 3334, 10001}))).Draw(t, "shares")
			if len(cs) > 0 && rapid.Bool().Draw(t, "fix total") {
				// Make them total 10000 most of the time.
				var rest uint64 = ron.TotalBPS
				for i := range cs[:len(cs)-1] {
					cs[i].N = min(cs[i].N, rest)
					rest -= cs[i].N
				}
				cs[len(cs)-1].N = rest
			}
			ss := make([]ron.Share, len(cs))
			for i, c := range cs {
				ss[i] = ron.Share{Payee: c.Payee, Role: c.Role, BPS: c.N}
			}
			want, err := ron.SplitBPS(amount, ss)
			equalAnswer(t, "bps", o.ask(t, map[string]any{"op": "bps", "amount": amount, "claims": cs}), "allocations", want, err)
		case 2:
			bps := rapid.SliceOfN(rapid.Uint64Range(0, 10001), 1, 8).Draw(t, "bps")
			if rapid.Bool().Draw(t, "fix total") {
				var rest uint64 = ron.TotalBPS
				for i := range bps[:len(bps)-1] {
					bps[i] = min(bps[i], rest)
					rest -= bps[i]
				}
				bps[len(bps)-1] = rest
			}
			want, err := ron.PartitionBPS(amount, bps)
			equalAnswer(t, "partition", o.ask(t, map[string]any{"op": "partition", "amount": amount, "bps": bps}), "parts", want, err)
		default:
			bps := rapid.Uint64Range(0, 20000).Draw(t, "bps")
			equalAnswer(t, "portion", o.ask(t, map[string]any{"op": "portion", "amount": amount, "bps": bps}), "amount", ron.Portion(amount, bps), nil)
		}
	})
}
