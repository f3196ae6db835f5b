package poll

import (
	"context"
	"time"
)

// Deadline is how long Until and UntilErr wait before they fail the test.
const Deadline = time.Minute

// Guard bounds a whole test step (a context for starting libp2p nodes,
// a lookup, a fetch) where only a hang must fail: long enough that a loaded
// 2-core machine never meets it, short of go test's own 10-minute timeout.
const Guard = 5 * time.Minute

// TB is the part of testing.TB that poll uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Until waits until cond returns true, failing t with "timed out waiting for
// what" after Deadline.
func Until(t TB, what string, cond func() bool) {
	t.Helper()
	UntilErr(t, Deadline, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

// UntilErr waits until f returns nil, failing t with f's last error after
// timeout.
func UntilErr(t TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := Wait(ctx, f); err != nil {
		t.Fatalf("timed out waiting for %s (%v): %v", what, timeout, err)
	}
}

// UntilCtx waits until cond returns true or ctx ends, failing t in the
// latter case.
func UntilCtx(t TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	err := Wait(ctx, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
	if err != nil {
		t.Fatalf("timed out waiting for %s: %v", what, err)
	}
}

// Wait calls f until it returns nil, or returns f's last error (joined with
// the context's) once ctx ends. It is for helpers that report their own
// failures.
func Wait(ctx context.Context, f func() error) error {
	interval := time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		timer := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return &timeoutError{last: err, ctx: ctx.Err()}
		case <-timer.C:
		}
		if interval < 50*time.Millisecond {
			interval *= 2
		}
	}
}

type timeoutError struct{ last, ctx error }

func (e *timeoutError) Error() string   { return e.last.Error() }
func (e *timeoutError) Unwrap() []error { return []error{e.last, e.ctx} }

type notYet struct{}

func (notYet) Error() string { return "condition not met" }

var errNotYet error = notYet{}
