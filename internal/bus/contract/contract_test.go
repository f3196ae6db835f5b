package contract_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/poll"
)

func startBus(t *testing.T, o bus.Options) *bus.Bus {
	t.Helper()
	o.Logger = slog.New(slog.DiscardHandler)
	b := bus.New(o)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestPublishIsNeverSentTwice: a publish whose handler stays silent past
// the attempt timeout is not sent again (it would run twice), while an
// idempotent lookup in the same situation is. Idempotency comes from the
// declarations alone.
func TestPublishIsNeverSentTwice(t *testing.T) {
	if contract.IndexPublish.Idempotent || contract.LedgerMeter.Idempotent || contract.LedgerSettle.Idempotent {
		t.Fatal("publish, meter and settle must not be declared idempotent")
	}
	// Every attempt after 10 ms of silence, as after 10 s with the
	// defaults (a 30 s deadline over 1 + 2 attempts).
	b := startBus(t, bus.Options{Name: "n", AttemptTimeout: 10 * time.Millisecond, Retries: 3})
	release := make(chan struct{})
	defer close(release)
	var publishes, lookups atomic.Int32
	block := func(ctx context.Context) {
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	if err := b.Serve(contract.Index, "1.0.0", "",
		bus.Handle(contract.IndexPublish, func(ctx context.Context, _ contract.PublishReq) (contract.Published, error) {
			publishes.Add(1)
			block(ctx)
			return contract.Published{}, ctx.Err()
		}),
		bus.Handle(contract.IndexLookup, func(ctx context.Context, _ contract.LookupReq) (contract.Entry, error) {
			lookups.Add(1)
			block(ctx)
			return contract.Entry{}, ctx.Err()
		}),
	); err != nil {
		t.Fatal(err)
	}
	call := func(f func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if e := bus.AsError(f(ctx)); e == nil || e.Code != codes.Timeout {
			t.Fatalf("a silent handler: %v", e)
		}
		// A round trip: whatever was sent has arrived.
		if err := b.Conn().Flush(); err != nil {
			t.Fatal(err)
		}
	}
	call(func(ctx context.Context) error {
		_, err := bus.Call(ctx, b, contract.IndexPublish, contract.PublishReq{})
		return err
	})
	// The handlers run on goroutines of their own, which a loaded machine
	// may not have run yet (a deadline sends no cancel: each request is
	// served however late).
	poll.Until(t, "the publish at the index", func() bool { return publishes.Load() > 0 })
	if n := publishes.Load(); n != 1 {
		t.Fatalf("a publish silent past the attempt timeout ran %d times", n)
	}
	call(func(ctx context.Context) error {
		_, err := bus.Call(ctx, b, contract.IndexLookup, contract.LookupReq{})
		return err
	})
	poll.Until(t, "the lookup and its copy at the index (else the test would not see a re-sent publish)", func() bool { return lookups.Load() >= 2 })
	if st := b.Stats(); st.Hedges < 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRolesDeriveFromTheDeclarations: every verb is served by its role in
// the permissions, and every call names a declared verb.
func TestRolesDeriveFromTheDeclarations(t *testing.T) {
	c := contract.Roles()
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	serves := map[string]bool{}
	for _, r := range c {
		for _, v := range r.Serves {
			serves[r.Role+"."+v] = true
		}
	}
	for _, s := range contract.Verbs() {
		if !serves[s.String()] {
			t.Errorf("%s is declared but no role serves it", s)
		}
		if got, ok := contract.Lookup(s.Role, s.Verb); !ok || got != s {
			t.Errorf("Lookup(%s): %+v %v", s, got, ok)
		}
	}
	if len(serves) != len(contract.Verbs()) {
		t.Errorf("the roles serve %d verbs, %d are declared", len(serves), len(contract.Verbs()))
	}
}
