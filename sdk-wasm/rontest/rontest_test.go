package rontest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
)

// good is a correct plugin: everything to the creator.
type good struct{}

func (good) Describe(ron.HostInfo) ron.Description {
	return ron.Description{TLD: "good", Name: "Good", Version: "1", Roles: []string{"creator", "operator"},
		Examples: []*ron.Manifest{ron.MustManifest(`{"meta":{"tld":"good"},"good":{"owner":"alice"}}`)}}
}

func (good) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	var v struct {
		Owner string `json:"owner"`
	}
	if err := in.Manifest.Table("good", &v); err != nil {
		return ron.ValidateOutput{}, err
	}
	if v.Owner == "" {
		return ron.ValidateOutput{}, ron.Reject("good.owner", ron.CodeRequired, "who owns it?")
	}
	return ron.ValidateOutput{Index: ron.Index{Title: v.Owner}}, nil
}

func (good) Split(in ron.SplitInput) ([]ron.Allocation, error) {
	var v struct {
		Owner string `json:"owner"`
	}
	if err := in.Manifest.Table("good", &v); err != nil {
		return nil, err
	}
	return []ron.Allocation{{Payee: v.Owner, Role: "creator", Amount: in.Amount}}, nil
}

// recorder is a testing.TB that records failures instead of failing, so the
// checks themselves can be tested. Fatal ends the checking goroutine.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)                 { r.Errorf("%s", fmt.Sprint(args...)); runtime.Goexit() }

// run runs check against a recorder and returns the failures.
func run(t *testing.T, check func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); check(r) }()
	<-done
	return r.failed
}

func TestGoodPluginPasses(t *testing.T) {
	rontest.CheckPlugin(t, rontest.New(good{}))
}

func TestTypedHelpers(t *testing.T) {
	h := rontest.New(good{})
	ctx := context.Background()
	d, err := h.Describe(ctx)
	if err != nil || d.TLD != "good" || len(d.Examples) != 1 {
		t.Fatalf("%+v %v", d, err)
	}
	_, err = h.Validate(ctx, ron.MustManifest(`{"meta":{"tld":"good"},"good":{}}`), ron.Context{TLD: "good"})
	var r *ron.Rejection
	if !errors.As(err, &r) || r.Errors[0].Path != "good.owner" {
		t.Fatalf("got %v", err)
	}
	_, err = h.Resolve(ctx, ron.ResolveInput{Manifest: d.Examples[0]}, nil)
	if !errors.As(err, &r) || r.Errors[0].Code != ron.CodeUnsupported {
		t.Fatalf("got %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Describe(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// Broken plugins, each caught by a check.

type nonIdempotent struct{ good }

func (nonIdempotent) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	var v struct {
		Owner string `json:"owner"`
	}
	if err := in.Manifest.Table("good", &v); err != nil {
		return ron.ValidateOutput{}, err
	}
	m := in.Manifest.Clone()
	m.Set("good", map[string]string{"owner": v.Owner + "!"})
	return ron.ValidateOutput{Manifest: m}, nil
}

type undeclaredRole struct{ good }

func (undeclaredRole) Split(in ron.SplitInput) ([]ron.Allocation, error) {
	return []ron.Allocation{{Payee: "x", Role: "landlord", Amount: in.Amount}}, nil
}

type leaky struct{ good }

func (leaky) Split(in ron.SplitInput) ([]ron.Allocation, error) {
	return []ron.Allocation{{Payee: "x", Role: "creator", Amount: in.Amount / 2}}, nil
}

// okCaller answers every call with status 0 and an empty object, like a
// module that ignores its input.
type okCaller struct{}

func (okCaller) Call(context.Context, string, []byte, io.ReaderAt) (int32, []byte, error) {
	return 0, []byte("{}"), nil
}

type panicky struct{ good }

func (panicky) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	if in.Manifest.Has("x") {
		panic("boom")
	}
	return good{}.Validate(in)
}

// nondeterministic counts calls.
type nondeterministic struct {
	good
	n *int
}

func (p nondeterministic) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	*p.n++
	return ron.ValidateOutput{Index: ron.Index{Title: fmt.Sprint(*p.n)}}, nil
}

func TestChecksCatchBrokenPlugins(t *testing.T) {
	ex := good{}.Describe(ron.HostInfo{}).Examples[0]
	usage := rontest.SampleUsage()
	cases := []struct {
		name  string
		check func(tb testing.TB)
		want  string
	}{
		{"non-idempotent", func(tb testing.TB) {
			rontest.CheckValidate(tb, rontest.New(nonIdempotent{}), ex, ron.Context{TLD: "good"})
		}, "not idempotent"},
		{"nondeterministic", func(tb testing.TB) {
			rontest.CheckValidate(tb, rontest.New(nondeterministic{n: new(int)}), ex, ron.Context{TLD: "good"})
		}, "not deterministic"},
		{"undeclared role", func(tb testing.TB) {
			rontest.CheckSplit(tb, rontest.New(undeclaredRole{}), ron.SplitInput{Manifest: ex, Amount: 5, Usage: usage})
		}, "landlord"},
		{"leaky split", func(tb testing.TB) {
			rontest.CheckSplit(tb, rontest.New(leaky{}), ron.SplitInput{Manifest: ex, Amount: 5, Usage: usage})
		}, "status 2"},
		{"accepts hostile input", func(tb testing.TB) { rontest.CheckRejects(tb, okCaller{}) }, "status 0"},
		{"panics", func(tb testing.TB) {
			rontest.CheckValidate(tb, rontest.New(panicky{}), ron.MustManifest(`{"meta":{"tld":"good"},"x":1}`), ron.Context{})
		}, "status 2"},
	}
	for _, c := range cases {
		failed := run(t, c.check)
		if len(failed) == 0 || !strings.Contains(strings.Join(failed, "\n"), c.want) {
			t.Errorf("%s: failures %q, want one mentioning %q", c.name, failed, c.want)
		}
	}
	// The good plugin passes the same checks.
	if failed := run(t, func(tb testing.TB) { rontest.CheckPlugin(tb, rontest.New(good{})) }); len(failed) > 0 {
		t.Fatalf("good plugin: %q", failed)
	}
}
