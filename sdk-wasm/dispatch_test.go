package ron

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// testPlugin is a small plugin whose behaviour each test sets.
type testPlugin struct {
	desc     func() Description
	validate func(ValidateInput) (ValidateOutput, error)
	split    func(SplitInput) ([]Allocation, error)
}

func (p *testPlugin) Describe(HostInfo) Description {
	if p.desc != nil {
		return p.desc()
	}
	return Description{TLD: "t", Name: "T", Version: "1", Roles: []string{"creator", "operator"},
		Examples: []*Manifest{MustManifest(`{"meta":{"tld":"t"}}`)}}
}

func (p *testPlugin) Validate(in ValidateInput) (ValidateOutput, error) {
	if p.validate != nil {
		return p.validate(in)
	}
	return ValidateOutput{}, nil
}

func (p *testPlugin) Split(in SplitInput) ([]Allocation, error) {
	if p.split != nil {
		return p.split(in)
	}
	return []Allocation{{Payee: "c", Role: "creator", Amount: in.Amount}}, nil
}

type resolvingPlugin struct {
	testPlugin
	resolve func(ResolveInput, Object) (ResolveOutput, error)
}

func (p *resolvingPlugin) Resolve(in ResolveInput, obj Object) (ResolveOutput, error) {
	return p.resolve(in, obj)
}

func errorsOf(t *testing.T, out []byte) []FieldError {
	t.Helper()
	var r Rejection
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("not an error document: %q: %v", out, err)
	}
	return r.Errors
}

const validateIn = `{"manifest":{"meta":{"tld":"t"},"t":{"b":[3,{"z":1,"a":"<&>"}],"a":1.50}},"context":{"tld":"t","payload_size":5}}`

func TestDispatchValidatePassThroughIsCanonical(t *testing.T) {
	status, out := Dispatch(&testPlugin{}, EntryValidate, []byte(validateIn), nil)
	want := `{"manifest":{"meta":{"tld":"t"},"t":{"a":1.50,"b":[3,{"a":"<&>","z":1}]}},"index":{"title":"","tags":[]}}`
	if status != StatusOK || string(out) != want {
		t.Fatalf("status %d\n got %s\nwant %s", status, out, want)
	}
}

func TestDispatchRejectsHostileInput(t *testing.T) {
	p := &resolvingPlugin{resolve: func(ResolveInput, Object) (ResolveOutput, error) { return NotFound(), nil }}
	inputs := map[string]string{
		"empty":       "",
		"spaces":      "  \n",
		"null":        "null",
		"array":       "[1]",
		"truncated":   `{"manifest":{"meta":`,
		"not-utf8":    "{\"manifest\":{\"meta\":{\"tld\":\"\xff\"}}}",
		"deep":        `{"manifest":` + strings.Repeat("[", MaxDepth+1),
		"deep-string": `{"manifest":"` + strings.Repeat("[", 1000) + `"}`,
		"trailing":    `{"abi":1}x`,
		"no-meta":     `{"manifest":{"x":1},"abi":"1"}`,
		"meta-string": `{"manifest":{"meta":"x"},"abi":0}`,
		"no-tld":      `{"manifest":{"meta":{}},"abi":2}`,
		"amount-big":  `{"manifest":{"meta":{"tld":"t"}},"amount":9007199254740992,"context":{"payload_size":9007199254740992},"payload_size":9007199254740992}`,
		"amount-neg":  `{"manifest":{"meta":{"tld":"t"}},"amount":-1,"context":{"payload_size":-1},"payload_size":-1,"abi":-1}`,
		"server-big":  `{"manifest":{"meta":{"tld":"t"}},"amount":1,"usage":{"servers":[{"bytes":9007199254740992}]},"context":"x","payload_size":"1"}`,
		"huge":        `{"manifest":{"meta":{"tld":"t"}},"x":"` + strings.Repeat("a", MaxInputBytes) + `"}`,
	}
	for _, entry := range []string{EntryDescribe, EntryValidate, EntrySplit, EntryResolve} {
		for name, in := range inputs {
			status, out := Dispatch(p, entry, []byte(in), nil)
			if status != StatusRejected {
				t.Errorf("%s %s: status %d: %.200s", entry, name, status, out)
				continue
			}
			if errs := errorsOf(t, out); len(errs) == 0 || errs[0].Message == "" {
				t.Errorf("%s %s: empty errors: %s", entry, name, out)
			}
		}
	}
	// Depth exactly MaxDepth inside a string value is fine, and the check
	// counts structure only.
	status, out := Dispatch(p, EntryDescribe, []byte(`{"abi":1,"host":{"name":"`+strings.Repeat("{", 200)+`"}}`), nil)
	if status != StatusOK {
		t.Fatalf("brackets in strings: status %d %s", status, out)
	}
}

func TestDispatchErrorPaths(t *testing.T) {
	in := []byte(`{"manifest":{"meta":{"tld":5}},"context":{}}`)
	_, out := Dispatch(&testPlugin{}, EntryValidate, in, nil)
	if e := errorsOf(t, out); e[0].Path != "meta.tld" || e[0].Code != CodeType {
		t.Fatalf("got %+v", e)
	}
	in = []byte(`{"manifest":{"meta":{"tld":"t"}},"amount":1,"usage":{"servers":[{"bytes":1},{"bytes":9007199254740992}]}}`)
	_, out = Dispatch(&testPlugin{}, EntrySplit, in, nil)
	if e := errorsOf(t, out); e[0].Path != "usage.servers[1].bytes" || e[0].Code != CodeRange {
		t.Fatalf("got %+v", e)
	}
	_, out = Dispatch(&testPlugin{}, EntryDescribe, []byte(`{"abi":2}`), nil)
	if e := errorsOf(t, out); e[0].Path != "abi" || e[0].Code != CodeUnsupported {
		t.Fatalf("got %+v", e)
	}
}

func TestDispatchHandlerErrors(t *testing.T) {
	var errs Errors
	errs.Add("t.z", CodeRange, "too big")
	errs.Add("t.a", CodeRequired, "missing")
	errs.AddErr("t.m", errors.New("plain"))
	p := &testPlugin{validate: func(ValidateInput) (ValidateOutput, error) { return ValidateOutput{}, errs.Err() }}
	status, out := Dispatch(p, EntryValidate, []byte(validateIn), nil)
	want := `{"errors":[{"path":"t.a","code":"required","message":"missing"},{"path":"t.m","code":"invalid","message":"plain"},{"path":"t.z","code":"range","message":"too big"}]}`
	if status != StatusRejected || string(out) != want {
		t.Fatalf("status %d: %s", status, out)
	}
	// A plain error is status 1, code invalid, empty path.
	p.validate = func(ValidateInput) (ValidateOutput, error) { return ValidateOutput{}, errors.New("no good") }
	status, out = Dispatch(p, EntryValidate, []byte(validateIn), nil)
	if status != StatusRejected || string(out) != `{"errors":[{"path":"","code":"invalid","message":"no good"}]}` {
		t.Fatalf("status %d: %s", status, out)
	}
	// A wrapped rejection keeps its field errors.
	p.validate = func(ValidateInput) (ValidateOutput, error) {
		return ValidateOutput{}, errors.Join(errors.New("ctx"), Reject("t.x", CodeFormat, "bad"))
	}
	_, out = Dispatch(p, EntryValidate, []byte(validateIn), nil)
	if e := errorsOf(t, out); len(e) != 1 || e[0].Path != "t.x" {
		t.Fatalf("got %s", out)
	}
}

func TestDispatchPanicIsFault(t *testing.T) {
	p := &testPlugin{split: func(in SplitInput) ([]Allocation, error) {
		var m map[string]int
		//lint:ignore SA5000 a deliberate runtime panic: Dispatch must turn it into a fault
		m["x"]++
		return nil, nil
	}}
	status, out := Dispatch(p, EntrySplit, []byte(`{"manifest":{"meta":{"tld":"t"}},"amount":5}`), nil)
	if status != StatusFault {
		t.Fatalf("status %d", status)
	}
	if e := errorsOf(t, out); e[0].Code != CodePanic || !strings.Contains(e[0].Message, "nil map") {
		t.Fatalf("got %s", out)
	}
	if status, _ := Dispatch(nil, EntryDescribe, []byte(`{"abi":1}`), nil); status != StatusFault {
		t.Fatalf("nil plugin: status %d", status)
	}
	if status, _ := Dispatch(&testPlugin{}, "ron_other", []byte(`{}`), nil); status != StatusFault {
		t.Fatalf("unknown entry: status %d", status)
	}
}

func TestDispatchSplitContract(t *testing.T) {
	in := []byte(`{"manifest":{"meta":{"tld":"t"}},"amount":10,"usage":{"servers":[{"node":"n2","payout":"b"},{"node":"n1","payout":"a"}]}}`)
	cases := []struct {
		allocs []Allocation
		status int32
		out    string
	}{
		{[]Allocation{{"z", "creator", 4}, {"a", "operator", 0}, {"a", "creator", 1}, {"z", "creator", 5}}, StatusOK,
			`{"allocations":[{"payee":"a","role":"creator","amount":1},{"payee":"z","role":"creator","amount":9}]}`},
		{nil, StatusFault, ""},
		{[]Allocation{{"a", "creator", 11}}, StatusFault, ""},
		{[]Allocation{{"a", "creator", 1<<64 - 1}, {"b", "creator", 11}}, StatusFault, ""},
		{[]Allocation{{"", "creator", 10}}, StatusFault, ""},
		{[]Allocation{{"a", "", 10}}, StatusFault, ""},
	}
	for _, c := range cases {
		var seen []Server
		p := &testPlugin{split: func(in SplitInput) ([]Allocation, error) { seen = in.Usage.Servers; return c.allocs, nil }}
		status, out := Dispatch(p, EntrySplit, in, nil)
		if status != c.status || (c.out != "" && string(out) != c.out) {
			t.Errorf("%v: status %d: %s", c.allocs, status, out)
		}
		if status == StatusFault && errorsOf(t, out)[0].Code != CodeContract {
			t.Errorf("%v: %s", c.allocs, out)
		}
		if len(seen) != 2 || seen[0].Payout != "a" {
			t.Errorf("servers not handed over sorted by payout: %v", seen)
		}
	}
	// Zero amount: no allocations is fine and encodes as an empty list.
	status, out := Dispatch(&testPlugin{}, EntrySplit, []byte(`{"manifest":{"meta":{"tld":"t"}},"amount":0}`), nil)
	if status != StatusOK || string(out) != `{"allocations":[]}` {
		t.Fatalf("status %d: %s", status, out)
	}
}

func TestDispatchDescribe(t *testing.T) {
	rp := &resolvingPlugin{resolve: func(ResolveInput, Object) (ResolveOutput, error) { return NotFound(), nil }}
	status, out := Dispatch(rp, EntryDescribe, []byte(`{"abi":1,"host":{"name":"x","version":"1"}}`), nil)
	want := `{"tld":"t","name":"T","version":"1","summary":"","roles":["creator","operator"],"features":["resolve"],"examples":[{"meta":{"tld":"t"}}]}`
	if status != StatusOK || string(out) != want {
		t.Fatalf("status %d\n got %s\nwant %s", status, out, want)
	}
	bad := []Description{
		{TLD: "Bad", Name: "n", Version: "1", Roles: []string{"r"}, Examples: []*Manifest{NewManifest()}},
		{TLD: "ok", Name: "", Version: "1", Roles: []string{"r"}, Examples: []*Manifest{NewManifest()}},
		{TLD: "ok", Name: "n", Version: "1", Roles: nil, Examples: []*Manifest{NewManifest()}},
		{TLD: "ok", Name: "n", Version: "1", Roles: []string{"r", "r"}, Examples: []*Manifest{NewManifest()}},
		{TLD: "ok", Name: "n", Version: "1", Roles: []string{"r"}},
		{TLD: "ok", Name: "n", Version: "1", Roles: []string{"r"}, Features: []string{"resolve"}, Examples: []*Manifest{NewManifest()}},
	}
	for _, d := range bad {
		d := d
		status, out := Dispatch(&testPlugin{desc: func() Description { return d }}, EntryDescribe, []byte(`{"abi":1}`), nil)
		if status != StatusFault || errorsOf(t, out)[0].Code != CodeContract {
			t.Errorf("%+v: status %d %s", d, status, out)
		}
	}
}

func TestDispatchResolve(t *testing.T) {
	payload := []byte("hello, world")
	var p resolvingPlugin
	in := []byte(`{"manifest":{"meta":{"tld":"t"}},"path":"/x","payload_size":12}`)
	p.resolve = func(in ResolveInput, obj Object) (ResolveOutput, error) {
		buf := make([]byte, 20)
		n, err := obj.ReadAt(buf, 7)
		if n != 5 || string(buf[:n]) != "world" || err == nil {
			t.Errorf("ReadAt past the end: %d %q %v", n, buf[:n], err)
		}
		if obj.Size() != 12 {
			t.Errorf("size %d", obj.Size())
		}
		return Serve("text/plain", 7, 5), nil
	}
	status, out := Dispatch(&p, EntryResolve, in, bytes.NewReader(payload))
	if status != StatusOK || string(out) != `{"status":200,"content_type":"text/plain","offset":7,"length":5}` {
		t.Fatalf("status %d: %s", status, out)
	}
	p.resolve = func(ResolveInput, Object) (ResolveOutput, error) { return NotFound(), nil }
	if _, out := Dispatch(&p, EntryResolve, in, nil); string(out) != `{"status":404}` {
		t.Fatalf("got %s", out)
	}
	for _, bad := range []ResolveOutput{Serve("x", 10, 3), Serve("x", 13, 0), {Status: 0}, {Status: 1000}} {
		bad := bad
		p.resolve = func(ResolveInput, Object) (ResolveOutput, error) { return bad, nil }
		if status, out := Dispatch(&p, EntryResolve, in, nil); status != StatusFault {
			t.Errorf("%+v: status %d %s", bad, status, out)
		}
	}
	// Reading with no object is an error, not a crash.
	p.resolve = func(_ ResolveInput, obj Object) (ResolveOutput, error) {
		_, err := obj.ReadAt(make([]byte, 1), 0)
		return ResolveOutput{}, err
	}
	if status, out := Dispatch(&p, EntryResolve, in, nil); status != StatusRejected || !strings.Contains(string(out), "no object") {
		t.Fatalf("status %d %s", status, out)
	}
	// Without a Resolver, resolve is status 1 "unsupported".
	status, out = Dispatch(&testPlugin{}, EntryResolve, in, nil)
	if status != StatusRejected || errorsOf(t, out)[0].Code != CodeUnsupported {
		t.Fatalf("status %d %s", status, out)
	}
}

func TestDispatchOutputLimit(t *testing.T) {
	p := &testPlugin{validate: func(in ValidateInput) (ValidateOutput, error) {
		return ValidateOutput{Index: Index{Title: strings.Repeat("x", MaxOutputBytes)}}, nil
	}}
	status, out := Dispatch(p, EntryValidate, []byte(validateIn), nil)
	if status != StatusFault || len(out) > 1000 {
		t.Fatalf("status %d, %d bytes", status, len(out))
	}
}
