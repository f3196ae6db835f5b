package rontest_test

import (
	"context"
	"fmt"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
)

// New runs a plugin natively through ron.Dispatch, exactly as the wasm
// exports do, with typed helpers for each entry point.
func ExampleNew() {
	h := rontest.New(good{})
	ctx := context.Background()
	m := ron.MustManifest(`{"meta":{"tld":"good"},"good":{"owner":"alice"}}`)
	out, err := h.Validate(ctx, m, ron.Context{TLD: "good"})
	fmt.Println(out.Manifest, out.Index.Title, err)
	allocs, err := h.Split(ctx, ron.SplitInput{Manifest: out.Manifest, Amount: 42})
	fmt.Println(allocs, err)
	_, err = h.Validate(ctx, ron.MustManifest(`{"meta":{"tld":"good"},"good":{"owner":""}}`), ron.Context{TLD: "good"})
	fmt.Println(err)
	// Output:
	// {"good":{"owner":"alice"},"meta":{"tld":"good"}} alice <nil>
	// [{alice creator 42}] <nil>
	// ron: rejected: good.owner: required: who owns it?
}
