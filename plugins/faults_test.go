package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is the fault accounting's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// modeN is a manifest of mode m made distinct by n.
func modeN(m string, n int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"mode":%q,"n":%d}`, m, n))
}

// A fault on one manifest marks that manifest: asked again, it fails at once
// with the same fault (the plugin does not run), however often it is asked;
// the plugin is not quarantined and serves other manifests.
func TestContentFaultMarksTheContent(t *testing.T) {
	v1, _ := chaos(t)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p := load(t, newHost(t, Config{QuarantineAfter: 3, ContentFaultTTL: time.Minute, now: clock.now}), v1)
	ctx := context.Background()
	bad := modeN("status7", 1)
	for i := range 20 {
		_, err := p.Validate(ctx, bad, ValidateContext{TLD: "chaos"})
		var fe *FaultError
		if !errors.As(err, &fe) || !errors.Is(err, ErrContentFault) || !errors.Is(err, ErrFault) || fe.Kind != FaultStatus {
			t.Fatalf("call %d: want a content fault of kind status, got %v", i, err)
		}
		if (i == 0) != fe.Since.IsZero() {
			t.Fatalf("call %d: only the first call runs the plugin; Since = %v", i, fe.Since)
		}
		if i > 0 && !strings.Contains(err.Error(), "this content made it fault") {
			t.Fatalf("call %d: the message does not say the content is marked: %v", i, err)
		}
	}
	if s := p.Stats(); s.Faults != 1 || s.Marked != 19 || s.Quarantined {
		t.Fatalf("stats = %+v, want 1 fault, 19 refused at once, no quarantine", s)
	}
	if _, err := p.Validate(ctx, mode("ok"), ValidateContext{TLD: "chaos"}); err != nil {
		t.Fatalf("another manifest: %v", err)
	}
	// The same manifest in another entry point is another content.
	if _, err := p.Split(ctx, SplitInput{Manifest: bad, Amount: 10}); err != nil {
		t.Fatalf("split of the manifest whose validate faults: %v", err)
	}
	// The mark expires: the plugin runs (and faults) again.
	clock.advance(time.Minute)
	_, err := p.Validate(ctx, bad, ValidateContext{TLD: "chaos"})
	var fe *FaultError
	if !errors.As(err, &fe) || !fe.Since.IsZero() || p.Stats().Faults != 2 {
		t.Fatalf("after the mark expired: %v, stats %+v", err, p.Stats())
	}
}

// Quarantine is for a plugin that faults across many inputs: faults on two
// manifests, however many, do not quarantine (QuarantineDistinct 3); a
// third distinct manifest faulting with no success between does, for a
// minute.
func TestQuarantineNeedsDistinctInputs(t *testing.T) {
	v1, v2 := chaos(t)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	h := newHost(t, Config{QuarantineAfter: 3, QuarantineDistinct: 3, ContentFaultTTL: time.Minute,
		QuarantineWindow: time.Hour, now: clock.now})
	p, other := load(t, h, v1), load(t, h, v2)
	ctx := context.Background()
	for round := range 4 {
		for n := range 2 {
			if _, err := p.Validate(ctx, modeN("trap", n), ValidateContext{}); !errors.Is(err, ErrContentFault) {
				t.Fatalf("round %d, manifest %d: want a content fault, got %v", round, n, err)
			}
		}
		clock.advance(time.Minute) // the marks expire: the next round runs the plugin again
	}
	if s := p.Stats(); s.Faults != 8 || s.Quarantined {
		t.Fatalf("8 faults on 2 manifests: stats = %+v, want no quarantine", s)
	}
	if _, err := p.Validate(ctx, modeN("status7", 3), ValidateContext{}); !errors.Is(err, ErrContentFault) {
		t.Fatalf("a third manifest: %v", err)
	}
	_, err := p.Validate(ctx, mode("ok"), ValidateContext{})
	if !errors.Is(err, ErrQuarantined) || !strings.Contains(err.Error(), "status 7") {
		t.Fatalf("want quarantine naming the last fault, got %v", err)
	}
	if _, err := other.Validate(ctx, mode("ok"), ValidateContext{}); err != nil {
		t.Fatalf("another plugin was affected: %v", err)
	}
	// The quarantine lasts QuarantineFor (1 minute): then calls run again.
	clock.advance(59 * time.Second)
	if _, err := p.Validate(ctx, mode("ok"), ValidateContext{}); !errors.Is(err, ErrQuarantined) {
		t.Fatalf("before the quarantine ended: %v", err)
	}
	clock.advance(time.Second)
	if _, err := p.Validate(ctx, mode("ok"), ValidateContext{}); err != nil || p.Stats().Quarantined {
		t.Fatalf("after the quarantine ended: %v, stats %+v", err, p.Stats())
	}
}

// Faults older than the window do not count.
func TestQuarantineWindow(t *testing.T) {
	v1, _ := chaos(t)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p := load(t, newHost(t, Config{QuarantineAfter: 3, QuarantineWindow: time.Minute, now: clock.now}), v1)
	ctx := context.Background()
	for n := range 9 {
		if _, err := p.Validate(ctx, modeN("trap", n), ValidateContext{}); !errors.Is(err, ErrContentFault) {
			t.Fatalf("manifest %d: %v", n, err)
		}
		if n%2 == 1 {
			clock.advance(2 * time.Minute)
		}
	}
	if s := p.Stats(); s.Faults != 9 || s.Quarantined {
		t.Fatalf("stats = %+v: two faults per window must not quarantine", s)
	}
}

// Bad outputs are faults, counted before the call is taken for a success:
// invalid UTF-8, a changed [meta], a malformed answer, a split repeating a
// key. Each marks its manifest, and together, over distinct manifests, they
// quarantine the plugin.
func TestRefusedOutputsAreFaults(t *testing.T) {
	v1, _ := chaos(t)
	p := load(t, newHost(t, Config{QuarantineAfter: 4, QuarantineDistinct: 4}), v1)
	ctx := context.Background()
	want := func(what string, err error, msg string) {
		t.Helper()
		var fe *FaultError
		if !errors.As(err, &fe) || fe.Kind != FaultBadOutput || !fe.Content || !strings.Contains(err.Error(), msg) {
			t.Fatalf("%s: want a bad-output content fault naming %q, got %v", what, msg, err)
		}
	}
	_, err := p.Validate(ctx, mode("badutf8"), ValidateContext{TLD: "chaos"})
	want("invalid UTF-8", err, "not UTF-8")
	_, err = p.Validate(ctx, json.RawMessage(`{"mode":"meta","meta":{"tld":"chaos","title":"mine"}}`), ValidateContext{TLD: "chaos"})
	want("a changed [meta]", err, "[meta]")
	_, err = p.Split(ctx, SplitInput{Manifest: mode("dupkey"), Amount: 10})
	want("a split repeating payee", err, `"payee" appears twice`)
	if s := p.Stats(); s.Faults != 3 || s.Quarantined {
		t.Fatalf("stats = %+v, want 3 faults", s)
	}
	_, err = p.Validate(ctx, mode("garbage"), ValidateContext{TLD: "chaos"})
	want("garbage", err, "want")
	if s := p.Stats(); s.Faults != 4 || !s.Quarantined {
		t.Fatalf("stats = %+v, want 4 faults and the plugin quarantined", s)
	}
}

func TestNoDuplicateKeys(t *testing.T) {
	for _, c := range []struct {
		in  string
		dup string
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"x":{"y":[1,{"z":1,"z":2}]}}`, "z"},
		{`[{"a":1},{"b":{"c":{}},"b":0}]`, "b"},
		{`{"a":[],"b":{},"a":null}`, "a"},
		{`{"a":"a","b":"a"}`, ""},
	} {
		err := noDuplicateKeys([]byte(c.in))
		if (err == nil) != (c.dup == "") || (err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", c.dup))) {
			t.Fatalf("%s: %v, want duplicate %q", c.in, err, c.dup)
		}
	}
	if _, err := CheckSplit([]byte(`{"allocations":[],"allocations":[{"payee":"a","role":"creator","amount":10}]}`), 10, []string{"creator"}); err == nil {
		t.Fatal("CheckSplit accepted a repeated allocations key")
	}
}

// A timeout also depends on the machine's load: the first one on some
// content is an ordinary fault (the next call runs the plugin again); a
// second in a row marks the content, for at most a minute.
func TestTimeoutMarksOnTheSecondInARow(t *testing.T) {
	v1, _ := chaos(t)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	cfg := Config{QuarantineAfter: 100, now: clock.now}
	cfg.Limits.Validate = 50 * time.Millisecond
	p := load(t, newHost(t, cfg), v1)
	ctx := context.Background()
	call := func() *FaultError {
		t.Helper()
		_, err := p.Validate(ctx, mode("loop"), ValidateContext{TLD: "chaos"})
		var fe *FaultError
		if !errors.As(err, &fe) || fe.Kind != FaultTimeout {
			t.Fatalf("want a timeout, got %v", err)
		}
		return fe
	}
	if fe := call(); fe.Content || errors.Is(fe, ErrContentFault) {
		t.Fatalf("the first timeout marked the content: %v", fe)
	}
	if fe := call(); !fe.Content || !fe.Since.IsZero() {
		t.Fatalf("the second timeout in a row: %+v, want it to mark the content", fe)
	}
	if fe := call(); fe.Since.IsZero() || p.Stats().Faults != 2 {
		t.Fatalf("after the mark: %+v, stats %+v, want a refusal without a run", fe, p.Stats())
	}
	clock.advance(time.Minute)
	if fe := call(); fe.Content || p.Stats().Faults != 3 {
		t.Fatalf("a minute later: %+v, stats %+v, want the plugin run again, one strike", fe, p.Stats())
	}
}
