package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/poll"
)

// blocked is a handler's ctx, seen by a test while the handler waits for
// it to end.
type blocked struct {
	ctx  context.Context
	done chan struct{} // closed when the handler has returned
}

// blockingAlpha serves alpha.get on a with a handler that waits for its ctx
// to end; started gets each call's ctx, by request id.
func blockingAlpha(t *testing.T, a *Bus) <-chan map[string]blocked {
	t.Helper()
	started := make(chan map[string]blocked, 16)
	if err := a.AddService("alpha", "1.0.0", "", map[string]Handler{"get": func(ctx context.Context, _ []byte) (any, error) {
		done := make(chan struct{})
		defer close(done)
		started <- map[string]blocked{RequestID(ctx): {ctx, done}}
		<-ctx.Done()
		return nil, ctx.Err()
	}}); err != nil {
		t.Fatal(err)
	}
	return started
}

// call requests alpha.get from c under a 5-minute deadline with request id
// rid, in the background; it returns the cancel of its ctx and its result.
func call(c *Bus, rid string) (context.CancelFunc, <-chan error) {
	ctx, cancel := context.WithTimeout(WithRequestID(context.Background(), rid), 5*time.Minute)
	res := make(chan error, 1)
	go func() { res <- c.Request(ctx, Spec{Role: "alpha", Verb: "get"}, nil, nil) }()
	return cancel, res
}

func await[T any](t *testing.T, ctx context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("%s: %v", what, ctx.Err())
	}
	var zero T
	return zero
}

// TestCancelCrossesTheBus: a caller in one process (gamma, the server's)
// cancels its request to a role in another (alpha, with its role key)
// long before the deadline, and the handler's ctx ends, caused by the
// caller's cancel; the handler's tracking is gone once it has returned.
func TestCancelCrossesTheBus(t *testing.T) {
	ctx := ctxT(t)
	secret := testSecret(t, 9)
	srv := startBus(t, Options{Name: "srv", Listen: "127.0.0.1:0", User: opUser, Password: opPass,
		Contract: testContract, Roles: []string{"gamma"}, Secret: secret})
	a := startBus(t, Options{Name: "a", URL: srv.ListenURL(), Contract: testContract, Roles: []string{"alpha"}, RoleKey: roleKey(t, secret, "alpha")})
	started := blockingAlpha(t, a)

	cancel, res := call(srv, "rid-1")
	defer cancel()
	h := await(t, ctx, started, "the handler to start")["rid-1"]
	if h.ctx == nil {
		t.Fatal("the handler did not get the caller's request id")
	}
	cancel()
	if e := asBusError(t, await(t, ctx, res, "the caller's answer")); e.Code != codes.Timeout {
		t.Fatalf("the caller got %#v", e)
	}
	await(t, ctx, h.done, "the handler to return")
	if !errors.Is(h.ctx.Err(), context.Canceled) || !errors.Is(context.Cause(h.ctx), ErrCallerCanceled) {
		t.Fatalf("the handler's ctx ended with %v (cause %v), want context.Canceled caused by the caller", h.ctx.Err(), context.Cause(h.ctx))
	}
	poll.Until(t, "the handler's tracking to go", func() bool { return a.cancels.inFlight() == 0 })
}

// TestCancelOnlyWhatItNames: cancels that do not name a running request
// (a made-up token, the request id, which a client may choose, the right
// token on another verb's cancel subject) change nothing, even from the
// operator who sees every request; a role that may not call a verb may not
// publish its cancels (the server refuses, and its connection lives on).
func TestCancelOnlyWhatItNames(t *testing.T) {
	ctx := ctxT(t)
	secret := testSecret(t, 10)
	srv := startBus(t, Options{Name: "srv", Listen: "127.0.0.1:0", User: opUser, Password: opPass,
		Contract: testContract, Roles: []string{"gamma"}, Secret: secret})
	url := srv.ListenURL()
	a := startBus(t, Options{Name: "a", URL: url, Contract: testContract, Roles: []string{"alpha"}, RoleKey: roleKey(t, secret, "alpha")})
	started := blockingAlpha(t, a)

	// The operator sees the requests, and so their cancel tokens.
	op, err := nats.Connect(url, nats.UserInfo(opUser, opPass), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	gets, err := op.SubscribeSync("ron.alpha.get")
	if err != nil || op.Flush() != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	handlers := map[string]blocked{}
	var cancels []context.CancelFunc
	var results []<-chan error
	for _, rid := range []string{"rid-1", "rid-2"} {
		cancel, res := call(srv, rid)
		defer cancel()
		cancels, results = append(cancels, cancel), append(results, res)
		for id, h := range await(t, ctx, started, "a handler to start") {
			handlers[id] = h
		}
	}
	for range 2 {
		m, err := gets.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		tokens[m.Header.Get(requestIDHeader)] = m.Header.Get(cancelHeader)
	}
	if !saneToken(tokens["rid-1"]) || !saneToken(tokens["rid-2"]) || tokens["rid-1"] == tokens["rid-2"] {
		t.Fatalf("cancel tokens %q", tokens)
	}

	// Beta does not call alpha.get: the server drops its cancel, even
	// with the right token, and its connection lives on.
	bad, badErrs := rogue(t, url, roleKey(t, secret, "beta"), "beta")
	if err := bad.PublishMsg(&nats.Msg{Subject: "ron.alpha.get.cancel", Header: nats.Header{cancelHeader: {tokens["rid-1"]}}}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the server to refuse beta's cancel", func() bool {
		for _, e := range badErrs() {
			if strings.Contains(strings.ToLower(e), "permissions violation for publish") {
				return true
			}
		}
		return false
	})
	if !bad.IsConnected() || bad.Flush() != nil {
		t.Fatal("beta's connection did not survive its refused cancel")
	}

	// Cancels naming no running request, then (from the same connection,
	// so they are handled first) the right one for rid-2.
	for _, m := range []*nats.Msg{
		{Subject: "ron.alpha.get.cancel", Header: nats.Header{cancelHeader: {"0123456789abcdef0123456789abcdef"}}},
		{Subject: "ron.alpha.get.cancel", Header: nats.Header{cancelHeader: {"rid-1"}}},
		{Subject: "ron.alpha.get.cancel", Header: nats.Header{cancelHeader: {strings.Repeat("x", 1000)}}},
		{Subject: "ron.alpha.get.cancel"},
		{Subject: "ron.alpha.other.cancel", Header: nats.Header{cancelHeader: {tokens["rid-1"]}}},
		{Subject: "ron.alpha.get.cancel", Header: nats.Header{cancelHeader: {tokens["rid-2"]}}},
	} {
		if err := op.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	await(t, ctx, handlers["rid-2"].done, "rid-2's handler to return")
	if !errors.Is(context.Cause(handlers["rid-2"].ctx), ErrCallerCanceled) {
		t.Fatalf("rid-2's handler ended with %v", context.Cause(handlers["rid-2"].ctx))
	}
	if err := handlers["rid-1"].ctx.Err(); err != nil {
		t.Fatalf("a cancel that did not name rid-1 ended it: %v (cause %v)", err, context.Cause(handlers["rid-1"].ctx))
	}
	// rid-2's tracking goes after its handler has returned.
	poll.Until(t, "rid-2's tracking to go", func() bool { return a.cancels.inFlight() <= 1 })
	if n := a.cancels.inFlight(); n != 1 {
		t.Fatalf("%d requests tracked, want rid-1's", n)
	}
	// rid-1's own caller still cancels it.
	cancels[0]()
	await(t, ctx, handlers["rid-1"].done, "rid-1's handler to return")
	if !errors.Is(context.Cause(handlers["rid-1"].ctx), ErrCallerCanceled) {
		t.Fatalf("rid-1's handler ended with %v", context.Cause(handlers["rid-1"].ctx))
	}
	for i, res := range results {
		if e := asBusError(t, await(t, ctx, res, "an answer")); e.Code != codes.Timeout {
			t.Fatalf("request %d: %#v", i, e)
		}
	}
	poll.Until(t, "the handlers' tracking to go", func() bool { return a.cancels.inFlight() == 0 })
}

// TestEarlyCancels: a cancel that overtakes its request stops it from
// running; the memory of such cancels is bounded.
func TestEarlyCancels(t *testing.T) {
	var c cancels
	c.cancel("ron.a.b", "tok")
	if _, release, ok := c.track(context.Background(), "ron.a.b", "tok"); ok {
		release()
		t.Fatal("a request cancelled before it came was let run")
	}
	ctx, release, ok := c.track(context.Background(), "ron.a.b", "tok")
	if !ok || ctx.Err() != nil {
		t.Fatal("a cancel stopped two requests")
	}
	release()
	if ctx.Err() == nil || c.inFlight() != 0 {
		t.Fatal("release left the request tracked or its ctx running")
	}
	for i := range 3 * earlyCancels {
		c.cancel("ron.a.b", fmt.Sprint("t", i))
	}
	if len(c.early) != earlyCancels || len(c.ring) != earlyCancels {
		t.Fatalf("%d early cancels kept, at most %d", len(c.early), earlyCancels)
	}
}
