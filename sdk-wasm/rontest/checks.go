package rontest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// call runs one raw call and fails the test on a caller error.
func call(t testing.TB, c Caller, entry string, input []byte) (int32, []byte) {
	t.Helper()
	status, out, err := c.Call(context.Background(), entry, input, nil)
	if err != nil {
		t.Fatalf("%s: %v", entry, err)
	}
	return status, out
}

// mustJSON encodes v or fails.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkOutput asserts that out is a UTF-8 JSON object.
func checkOutput(t testing.TB, entry string, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Fatalf("%s: output is not valid UTF-8", entry)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(out, &obj); err != nil {
		t.Fatalf("%s: output is not a JSON object: %v: %q", entry, err, out)
	}
}

// CheckDescribe calls ron_describe twice and checks the description: status
// 0, byte-identical outputs, a valid TLD, a name and a version, at least one
// unique role and at least one example. It returns the description.
func CheckDescribe(t testing.TB, c Caller) ron.Description {
	t.Helper()
	input := mustJSON(t, ron.DescribeInput{ABI: ron.ABIVersion, Host: ron.HostInfo{Name: "rontest", Version: "0"}})
	status, out := call(t, c, ron.EntryDescribe, input)
	if status != ron.StatusOK {
		t.Fatalf("describe: status %d: %s", status, out)
	}
	checkOutput(t, "describe", out)
	if _, again := call(t, c, ron.EntryDescribe, input); !bytes.Equal(out, again) {
		t.Fatalf("describe is not deterministic:\n%s\n%s", out, again)
	}
	var d ron.Description
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("describe: %v", err)
	}
	if !ron.ValidTLD(d.TLD) {
		t.Errorf("describe: tld %q is not [a-z0-9-]{1,32}", d.TLD)
	}
	if d.Name == "" || d.Version == "" {
		t.Errorf("describe: name %q and version %q must not be empty", d.Name, d.Version)
	}
	seen := map[string]bool{}
	for _, r := range d.Roles {
		if r == "" || seen[r] {
			t.Errorf("describe: role %q is empty or repeated", r)
		}
		seen[r] = true
	}
	if len(d.Roles) == 0 {
		t.Errorf("describe: no roles")
	}
	if len(d.Examples) == 0 {
		t.Errorf("describe: no examples")
	}
	return d
}

// CheckValidate validates m and checks: status 0, a deterministic output,
// and idempotent normalization (validating the normalized manifest returns
// the same manifest and index, byte for byte). It returns the output.
func CheckValidate(t testing.TB, c Caller, m *ron.Manifest, vc ron.Context) ron.ValidateOutput {
	t.Helper()
	input := mustJSON(t, ron.ValidateInput{Manifest: m, Context: vc})
	status, out := call(t, c, ron.EntryValidate, input)
	if status != ron.StatusOK {
		t.Fatalf("validate %s: status %d: %s", m, status, out)
	}
	checkOutput(t, "validate", out)
	if _, again := call(t, c, ron.EntryValidate, input); !bytes.Equal(out, again) {
		t.Fatalf("validate is not deterministic:\n%s\n%s", out, again)
	}
	var res ron.ValidateOutput
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if res.Manifest == nil {
		t.Fatalf("validate: the output has no manifest: %s", out)
	}
	input2 := mustJSON(t, ron.ValidateInput{Manifest: res.Manifest, Context: vc})
	status2, out2 := call(t, c, ron.EntryValidate, input2)
	if status2 != ron.StatusOK {
		t.Fatalf("validate is not idempotent: the normalized manifest gets status %d: %s", status2, out2)
	}
	if !bytes.Equal(out, out2) {
		t.Fatalf("validate is not idempotent:\nfirst  %s\nsecond %s", out, out2)
	}
	return res
}

// CheckSplit splits in and checks: status 0, allocations summing to exactly
// in.Amount, non-empty payees, roles that describe declares, a deterministic
// output, and the same output for the servers in reverse and rotated orders.
// It returns the allocations.
func CheckSplit(t testing.TB, c Caller, in ron.SplitInput) []ron.Allocation {
	t.Helper()
	d := CheckDescribe(t, c)
	roles := map[string]bool{}
	for _, r := range d.Roles {
		roles[r] = true
	}
	input := mustJSON(t, in)
	status, out := call(t, c, ron.EntrySplit, input)
	if status != ron.StatusOK {
		t.Fatalf("split: status %d: %s", status, out)
	}
	checkOutput(t, "split", out)
	var res ron.SplitOutput
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("split: %v", err)
	}
	var sum uint64
	for _, a := range res.Allocations {
		if a.Payee == "" {
			t.Errorf("split: allocation %+v has an empty payee", a)
		}
		if !roles[a.Role] {
			t.Errorf("split: allocation %+v has role %q, which describe does not declare (%v)", a, a.Role, d.Roles)
		}
		if a.Amount > ron.MaxAmount {
			t.Errorf("split: allocation %+v is more than 2^53-1", a)
		}
		if sum+a.Amount < sum {
			t.Fatalf("split: allocations overflow uint64")
		}
		sum += a.Amount
	}
	if sum != in.Amount {
		t.Fatalf("split: allocations sum to %d, the amount is %d: %s", sum, in.Amount, out)
	}
	if _, again := call(t, c, ron.EntrySplit, input); !bytes.Equal(out, again) {
		t.Fatalf("split is not deterministic:\n%s\n%s", out, again)
	}
	n := len(in.Usage.Servers)
	for _, perm := range []func(i int) int{
		func(i int) int { return n - 1 - i },   // reversed
		func(i int) int { return (i + 1) % n }, // rotated
	} {
		if n < 2 {
			break
		}
		p := in
		p.Usage.Servers = make([]ron.Server, n)
		for i := range p.Usage.Servers {
			p.Usage.Servers[i] = in.Usage.Servers[perm(i)]
		}
		_, outP := call(t, c, ron.EntrySplit, mustJSON(t, p))
		if !bytes.Equal(out, outP) {
			t.Fatalf("split depends on the order of servers:\n%s\n%s", out, outP)
		}
	}
	return res.Allocations
}

// HostileInputs returns inputs every entry point must answer with status 1:
// malformed, truncated, non-UTF-8, deeply nested, wrongly typed and
// out-of-range documents. Each is under 1 MiB.
func HostileInputs() map[string][]byte {
	deep := strings.Repeat("[", 100000)
	return map[string][]byte{
		"empty":         {},
		"null":          []byte("null"),
		"array":         []byte("[]"),
		"number":        []byte("12"),
		"string":        []byte(`"manifest"`),
		"truncated":     []byte(`{"manifest":{"meta":{"tld":"x"`),
		"garbage":       []byte("\x00\x01\x02\xff{}"),
		"not-utf8":      []byte("{\"manifest\":{\"meta\":{\"tld\":\"\xff\xfe\"}}}"),
		"deep":          []byte(`{"manifest":` + deep),
		"deep-objects":  []byte(strings.Repeat(`{"a":`, 10000)),
		"trailing":      []byte(`{"manifest":{}} {}`),
		"manifest-str":  []byte(`{"manifest":"x","epoch":"e","amount":1,"path":"/"}`),
		"manifest-null": []byte(`{"manifest":null,"amount":1}`),
		"amount-huge":   []byte(`{"manifest":{},"amount":9007199254740992}`),
		"amount-neg":    []byte(`{"manifest":{},"amount":-1,"abi":2}`),
		"amount-float":  []byte(`{"manifest":{},"amount":1.5,"abi":"1"}`),
		"amount-exp":    []byte(`{"manifest":{},"amount":1e3,"abi":1.0}`),
		"servers-obj":   []byte(`{"manifest":{},"amount":1,"usage":{"servers":{"a":1}},"abi":0}`),
		"big-string":    []byte(`{"manifest":{"x":"` + strings.Repeat("a", 900<<10) + `"},"amount":1e400}`),
	}
}

// CheckRejects sends every HostileInputs document to every entry point and
// fails unless each gets status 1 with an {"errors":[...]} output.
func CheckRejects(t testing.TB, c Caller) {
	t.Helper()
	for _, entry := range []string{ron.EntryDescribe, ron.EntryValidate, ron.EntrySplit, ron.EntryResolve} {
		for name, input := range HostileInputs() {
			status, out := call(t, c, entry, input)
			if status != ron.StatusRejected {
				t.Errorf("%s(%s): status %d, want 1: %.300s", entry, name, status, out)
				continue
			}
			var r ron.Rejection
			if err := json.Unmarshal(out, &r); err != nil || len(r.Errors) == 0 {
				t.Errorf("%s(%s): the rejection is not {\"errors\":[...]}: %.300s", entry, name, out)
			}
		}
	}
}

// SplitAmounts are the amounts CheckPlugin splits: the edges, primes and
// the largest amount the ABI carries.
var SplitAmounts = []uint64{0, 1, 2, 3, 7, 9973, 10000, 1000003, 4294967311, ron.MaxAmount}

// SampleUsage is usage with uneven servers (two share a payout address).
func SampleUsage() ron.Usage {
	return ron.Usage{Requests: 60, Bytes: 1 << 20, Servers: []ron.Server{
		{Node: "node-a", Payout: "op-a", Requests: 10, Bytes: 1000},
		{Node: "node-b", Payout: "op-b", Requests: 30, Bytes: 777777},
		{Node: "node-c", Payout: "op-a", Requests: 5, Bytes: 3},
		{Node: "node-d", Payout: "op-d", Requests: 15, Bytes: 270796},
	}}
}

// CheckPlugin runs every check a plugin must pass from its describe output
// alone, as the conformance suite does: describe; validate each example
// (idempotence, determinism); split each normalized example with
// SplitAmounts, with and without usage; resolve "/" if the plugin declares
// "resolve" (any status but a fault); and CheckRejects.
func CheckPlugin(t testing.TB, c Caller) {
	t.Helper()
	d := CheckDescribe(t, c)
	resolves := false
	for _, f := range d.Features {
		resolves = resolves || f == ron.FeatureResolve
	}
	for i, ex := range d.Examples {
		size := uint64(0)
		if p, err := ex.Payload(); err == nil {
			size = p.Size
		}
		res := CheckValidate(t, c, ex, ron.Context{TLD: d.TLD, PayloadSize: size})
		for _, amount := range SplitAmounts {
			for _, usage := range []ron.Usage{{}, SampleUsage()} {
				CheckSplit(t, c, ron.SplitInput{Manifest: res.Manifest, Epoch: fmt.Sprintf("epoch-%d", i), Amount: amount, Usage: usage})
			}
		}
		if resolves {
			payload := bytes.Repeat([]byte("ron\n"), int(min(size, 1<<20)/4+1))
			in := ron.ResolveInput{Manifest: res.Manifest, Path: "/", PayloadSize: uint64(len(payload))}
			status, out, err := c.Call(context.Background(), ron.EntryResolve, mustJSON(t, in), bytes.NewReader(payload))
			if err != nil || (status != ron.StatusOK && status != ron.StatusRejected) {
				t.Errorf("resolve /: status %d, err %v: %s", status, err, out)
			}
		}
	}
	CheckRejects(t, c)
}
