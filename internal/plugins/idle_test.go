package plugins

import (
	"context"
	"testing"
	"time"
)

// Instances unused for IdleTimeout (on the host's clock, faked here) are
// released; one in use within the timeout stays; the next call makes one
// again on demand and answers as before. A closed plugin releases nothing.
func TestIdleInstancesAreReleased(t *testing.T) {
	v1, _ := chaos(t)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	h := newHost(t, Config{IdleTimeout: time.Minute, now: clock.now})
	r := NewRouter(h)
	ctx := context.Background()
	t.Cleanup(func() { _ = r.Close(ctx) })
	p, err := r.Install(ctx, "chaos", v1)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().Instances; got != 1 {
		t.Fatalf("after load: %d instances, want the one describe warmed", got)
	}
	clock.advance(59 * time.Second)
	if n := r.ReleaseIdle(ctx); n != 0 || p.Stats().Instances != 1 {
		t.Fatalf("before the timeout: released %d, %d instances left", n, p.Stats().Instances)
	}
	clock.advance(time.Second)
	if n := r.ReleaseIdle(ctx); n != 1 || p.Stats().Instances != 0 {
		t.Fatalf("at the timeout: released %d, %d instances left", n, p.Stats().Instances)
	}
	// On demand again.
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().Instances; got != 1 {
		t.Fatalf("after a call: %d instances", got)
	}
	// Used half a minute ago: kept.
	clock.advance(30 * time.Second)
	if n := r.ReleaseIdle(ctx); n != 0 {
		t.Fatalf("an instance used 30 s ago was released (%d)", n)
	}
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Hour)
	if n := p.ReleaseIdle(ctx); n != 0 || p.Stats().Instances != 0 {
		t.Fatalf("a closed plugin: released %d, %d instances", n, p.Stats().Instances)
	}
}

// ReleaseAll closes the instance the load warmed at once, whatever the
// clock; a call makes one again on demand; a negative IdleTimeout keeps
// them.
func TestReleaseAllClosesWarmedInstances(t *testing.T) {
	v1, _ := chaos(t)
	ctx := context.Background()
	h := newHost(t, Config{})
	r := NewRouter(h)
	t.Cleanup(func() { _ = r.Close(ctx) })
	p, err := r.Install(ctx, "chaos", v1)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.ReleaseAll(ctx); n != 1 || p.Stats().Instances != 0 {
		t.Fatalf("ReleaseAll after load: released %d, %d instances left", n, p.Stats().Instances)
	}
	if _, err := r.Validate(ctx, "chaos", mode("ok"), 0); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().Instances; got != 1 {
		t.Fatalf("after a call: %d instances, want 1 made on demand", got)
	}

	keep := NewRouter(newHost(t, Config{IdleTimeout: -1}))
	t.Cleanup(func() { _ = keep.Close(ctx) })
	kp, err := keep.Install(ctx, "chaos", v1)
	if err != nil {
		t.Fatal(err)
	}
	if n := keep.ReleaseAll(ctx); n != 0 || kp.Stats().Instances != 1 {
		t.Fatalf("IdleTimeout < 0: released %d, %d instances left", n, kp.Stats().Instances)
	}
}
