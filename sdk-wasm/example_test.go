package ron_test

import (
	"fmt"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// Hello is a whole plugin for a .hello TLD: one creator, paid everything.
type Hello struct{}

func (Hello) Describe(ron.HostInfo) ron.Description {
	return ron.Description{
		TLD: "hello", Name: "Hello", Version: "1.0.0", Summary: "Greetings.",
		Roles:    []string{"creator"},
		Examples: []*ron.Manifest{ron.MustManifest(`{"meta":{"tld":"hello"},"hello":{"creator":"ron1alice"}}`)},
	}
}

type helloTable struct {
	Creator string `json:"creator"`
}

func (Hello) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	var t helloTable
	if err := in.Manifest.Table("hello", &t); err != nil {
		return ron.ValidateOutput{}, err // already a *ron.Rejection with paths like "hello.creator"
	}
	if t.Creator == "" {
		return ron.ValidateOutput{}, ron.Reject("hello.creator", ron.CodeRequired, "who gets paid?")
	}
	return ron.ValidateOutput{Index: ron.Index{Title: "hello from " + t.Creator}}, nil // nil Manifest: unchanged
}

func (Hello) Split(in ron.SplitInput) ([]ron.Allocation, error) {
	var t helloTable
	if err := in.Manifest.Table("hello", &t); err != nil {
		return nil, err
	}
	return []ron.Allocation{{Payee: t.Creator, Role: "creator", Amount: in.Amount}}, nil
}

// A plugin's main package registers the plugin in init and has an empty
// main; build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
func ExampleRegister() {
	// In package main:
	//
	//	func init() { ron.Register(Hello{}) }
	//
	//	func main() {}
	_ = ron.Register // (not called here: a test binary is not a plugin)
}

// Dispatch is what the wasm exports run; rontest calls it natively.
func ExampleDispatch() {
	status, out := ron.Dispatch(Hello{}, ron.EntryValidate,
		[]byte(`{"manifest":{"meta":{"tld":"hello"},"hello":{}},"context":{"tld":"hello","payload_size":0}}`), nil)
	fmt.Println(status, string(out))
	// Output:
	// 1 {"errors":[{"path":"hello.creator","code":"required","message":"who gets paid?"}]}
}

func ExampleSplitBPS() {
	// 100 units, three authors at 33.33%, 33.33% and 33.34%: the unit left
	// after rounding down goes to the largest remainder (bob's).
	allocs, err := ron.SplitBPS(100, []ron.Share{
		{Payee: "carol", Role: "author", BPS: 3333},
		{Payee: "alice", Role: "author", BPS: 3333},
		{Payee: "bob", Role: "author", BPS: 3334},
	})
	fmt.Println(allocs, err)
	// Output:
	// [{alice author 33} {bob author 34} {carol author 33}] <nil>
}

func ExampleSplitWeighted() {
	// Pay servers pro rata by bytes served; two servers with one payout
	// address are one claim, and the order of the list does not matter.
	allocs, err := ron.SplitWeighted(1000, []ron.Weight{
		{Payee: "op-b", Role: "operator", Weight: 300},
		{Payee: "op-a", Role: "operator", Weight: 100},
		{Payee: "op-b", Role: "operator", Weight: 200},
	})
	fmt.Println(allocs, err)
	// Output:
	// [{op-a operator 167} {op-b operator 833}] <nil>
}

func ExamplePortion() {
	// Carve 20% for operators; the rest goes to the creators, so nothing is lost.
	amount := uint64(ron.MaxAmount)
	ops := ron.Portion(amount, 2000)
	fmt.Println(ops, amount-ops, ops+(amount-ops) == amount)
	// Output:
	// 1801439850948198 7205759403792793 true
}

func ExampleErrors() {
	var errs ron.Errors
	errs.Add("hello.title", ron.CodeRequired, "a title is required")
	errs.Addf("hello.tags[3]", ron.CodeFormat, "%q is not a tag", "No Spaces")
	fmt.Println(errs.Err())
	// Output:
	// ron: rejected: hello.tags[3]: format: "No Spaces" is not a tag; hello.title: required: a title is required
}
