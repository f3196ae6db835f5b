package poll

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

type recorder struct {
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	r := &recorder{}
	Until(r, "three calls", func() bool { return n.Add(1) == 3 })
	if r.failed != "" || n.Load() != 3 {
		t.Fatalf("failed %q after %d calls", r.failed, n.Load())
	}
}

func TestUntilErrFailsWithTheLastError(t *testing.T) {
	r := &recorder{}
	boom := errors.New("still 2 of 3")
	UntilErr(r, 20*time.Millisecond, "replicas", func() error { return boom })
	if r.failed == "" {
		t.Fatal("a condition that never holds did not fail the test")
	}
	if want := "timed out waiting for replicas (20ms): still 2 of 3"; r.failed != want {
		t.Fatalf("message %q, want %q", r.failed, want)
	}
}

func TestWaitEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	boom := errors.New("no")
	err := Wait(ctx, func() error { return boom })
	if !errors.Is(err, boom) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want both the last error and context.Canceled", err)
	}
}

func TestUntilCtxFailsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &recorder{}
	UntilCtx(r, ctx, "nothing", func() bool { return false })
	if r.failed == "" {
		t.Fatal("an ended context did not fail the test")
	}
}
