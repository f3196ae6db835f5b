package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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

// brokenFault notes, through p's fault path, a fault no content caused (an
// instance that failed to start): the kind that says the plugin is broken.
func brokenFault(p *Plugin, msg string) error {
	return p.noteFault(&FaultError{Plugin: p.hash, TLD: p.Info().TLD, Entry: "instantiate", Kind: FaultTrap, Err: errors.New(msg)}, nil, contentKey{})
}

// The hostile case: content crafted to make a plugin fault, in as many
// distinct manifests as its author likes and asked for over and over (the
// marks expire between rounds), never quarantines the plugin: each manifest
// is marked, every other manifest keeps being served.
func TestContentFaultsNeverQuarantine(t *testing.T) {
	v1, _ := chaos(t)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p := load(t, newHost(t, Config{QuarantineAfter: 3, QuarantineDistinct: 3, ContentFaultTTL: time.Minute,
		QuarantineWindow: time.Hour, now: clock.now}), v1)
	ctx := context.Background()
	modes := []string{"trap", "status7", "garbage", "badutf8", "exit", "badptr"}
	for round := range 3 {
		for n := range 12 {
			if _, err := p.Validate(ctx, modeN(modes[n%len(modes)], n), ValidateContext{TLD: "chaos"}); !errors.Is(err, ErrContentFault) {
				t.Fatalf("round %d, manifest %d: want a content fault, got %v", round, n, err)
			}
		}
		clock.advance(time.Minute) // the marks expire: the next round runs the plugin again
	}
	if s := p.Stats(); s.Faults != 36 || s.Quarantined {
		t.Fatalf("36 faults on 12 crafted manifests: stats = %+v, want no quarantine", s)
	}
	if _, err := p.Validate(ctx, mode("ok"), ValidateContext{TLD: "chaos"}); err != nil {
		t.Fatalf("other content after the crafted manifests: %v", err)
	}
}

// Quarantine is for a plugin that is broken, not for its content: faults no
// content caused count, and QuarantineAfter of them in a row quarantine it
// (naming the last fault) for QuarantineFor, while other plugins serve.
func TestQuarantineNeedsDistinctInputs(t *testing.T) {
	v1, v2 := chaos(t)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	h := newHost(t, Config{QuarantineAfter: 3, QuarantineDistinct: 3, ContentFaultTTL: time.Minute,
		QuarantineWindow: time.Hour, now: clock.now})
	p, other := load(t, h, v1), load(t, h, v2)
	ctx := context.Background()
	// Content faults in between change nothing: they neither count nor, not
	// being successes, reset the count.
	for n := range 2 {
		_ = brokenFault(p, "instance failed")
		if _, err := p.Validate(ctx, modeN("trap", n), ValidateContext{}); !errors.Is(err, ErrContentFault) {
			t.Fatalf("manifest %d: %v", n, err)
		}
	}
	if s := p.Stats(); s.Faults != 4 || s.Quarantined {
		t.Fatalf("stats = %+v, want 4 faults, 2 counted, no quarantine", s)
	}
	_ = brokenFault(p, "status 7 at instantiate")
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
	for n := range 9 {
		_ = brokenFault(p, "instance failed")
		if n%2 == 1 {
			clock.advance(2 * time.Minute)
		}
	}
	if s := p.Stats(); s.Faults != 9 || s.Quarantined {
		t.Fatalf("stats = %+v: two faults per window must not quarantine", s)
	}
	_ = brokenFault(p, "instance failed") // the second in this window
	if p.Stats().Quarantined {
		t.Fatal("two faults in a window quarantined")
	}
	_ = brokenFault(p, "instance failed") // the third
	if s := p.Stats(); !s.Quarantined {
		t.Fatalf("stats = %+v: three faults in one window must quarantine", s)
	}
}

// Bad outputs are faults, counted before the call is taken for a success:
// invalid UTF-8, a changed [meta], a malformed answer, a split repeating a
// key. Each marks its manifest; being about content, none quarantines.
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
	_, err = p.Validate(ctx, mode("garbage"), ValidateContext{TLD: "chaos"})
	want("garbage", err, "want")
	if s := p.Stats(); s.Faults != 4 || s.Quarantined {
		t.Fatalf("stats = %+v, want 4 faults and no quarantine", s)
	}
	// Marked: asked again, each fails at once.
	if _, err := p.Validate(ctx, mode("garbage"), ValidateContext{TLD: "chaos"}); !errors.Is(err, ErrContentFault) || p.Stats().Marked != 1 {
		t.Fatalf("garbage again: %v, stats %+v", err, p.Stats())
	}
}

// The fault book's verdicts, fault by fault: a content fault counts towards
// quarantine only when it is a logic fault on an input the plugin answered
// well before; wall-clock timeouts, failed payload reads, fuel and memory
// never count; counted faults must span distinct inputs.
func TestFaultBookCounts(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	b := newFaultBook(Config{QuarantineAfter: 3, QuarantineDistinct: 3, ContentFaultTTL: time.Minute, now: clock.now}.withDefaults())
	key := func(s string) contentKey { return newContentKey(EntryResolve, []byte(s)) }
	fault := func(kind FaultKind, err error) *FaultError {
		return &FaultError{Entry: EntryResolve, Kind: kind, Err: err}
	}
	wall := fmt.Errorf("%w: no answer within 1s", ErrWallClock)
	fuel := fmt.Errorf("%w: 10 units", ErrOutOfFuel)
	m := key("manifest")
	good := func(in string) { k := m; b.success(&k, key(in), true) }

	// Never answered well: a logic fault marks and does not count.
	if v := b.fault(&m, key("/never"), fault(FaultTrap, errors.New("trap"))); !v.marked || v.counted {
		t.Fatalf("trap on new content: %+v, want marked, not counted", v)
	}
	// The manifest's other path answered well does not make this path known.
	good("/1")
	if v := b.fault(&m, key("/2"), fault(FaultTrap, errors.New("trap"))); v.counted {
		t.Fatalf("trap on a path never answered: %+v, want not counted", v)
	}
	// Answered well, then a resource or environmental fault: never counted.
	good("/a")
	for _, f := range []*FaultError{fault(FaultTimeout, wall), fault(FaultTimeout, fuel), fault(FaultMemory, errors.New("oom")),
		{Entry: EntryResolve, Kind: FaultTrap, Err: errors.New("trap after a read failed"), objectFailed: true}} {
		if v := b.fault(&m, key("/a"), f); v.counted {
			t.Fatalf("%v on a known-good input: %+v, want not counted", f.Err, v)
		}
	}
	// Nor does a wall-clock timeout no content caused (a stalled machine).
	if v := b.fault(nil, contentKey{}, fault(FaultTimeout, wall)); v.counted {
		t.Fatalf("wall-clock timeout at instantiate: %+v, want not counted", v)
	}
	// A wall-clock fault marks on the second in a row only; out of fuel at once.
	n := key("other manifest")
	if v := b.fault(&n, key("/x"), fault(FaultTimeout, wall)); v.marked {
		t.Fatalf("first wall-clock timeout marked: %+v", v)
	}
	if v := b.fault(&n, key("/x"), fault(FaultTimeout, wall)); !v.marked {
		t.Fatalf("second wall-clock timeout in a row did not mark: %+v", v)
	}
	f := key("fuel manifest")
	if v := b.fault(&f, key("/x"), fault(FaultTimeout, fuel)); !v.marked {
		t.Fatalf("out of fuel did not mark at once: %+v", v)
	}
	// Logic faults on known-good inputs count: two inputs, however many
	// faults, do not quarantine; a third distinct input does.
	good("/p")
	good("/q")
	good("/r")
	for range 3 {
		for _, in := range []string{"/p", "/q"} {
			if v := b.fault(&m, key(in), fault(FaultBadOutput, errors.New("bad"))); !v.counted || v.quarantine {
				t.Fatalf("fault on known-good %s: %+v, want counted, no quarantine", in, v)
			}
		}
	}
	if v := b.fault(&m, key("/r"), fault(FaultStatus, errors.New("status 7"))); !v.counted || !v.quarantine || v.distinct != 3 {
		t.Fatalf("a third known-good input: %+v, want quarantine", v)
	}
	// A success resets the count.
	good("/p")
	if b.inRow() != 0 {
		t.Fatalf("after a success: %d faults in a row", b.inRow())
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

// Out of fuel depends on the module and the input alone: the first marks
// the content, for the whole ContentFaultTTL, and does not count towards
// quarantine.
func TestOutOfFuelMarksAtOnce(t *testing.T) {
	v1, _ := chaos(t)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	cfg := Config{QuarantineAfter: 1, ContentFaultTTL: 5 * time.Minute, now: clock.now}
	cfg.Limits.ValidateFuel = 50_000_000 // far below the loop's reach of the 2 s safety net
	p := load(t, newHost(t, cfg), v1)
	ctx := context.Background()
	_, err := p.Validate(ctx, mode("loop"), ValidateContext{TLD: "chaos"})
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Kind != FaultTimeout || !errors.Is(err, ErrOutOfFuel) || !fe.Content {
		t.Fatalf("want an out-of-fuel content fault, got %v", err)
	}
	clock.advance(4 * time.Minute)
	if _, err := p.Validate(ctx, mode("loop"), ValidateContext{TLD: "chaos"}); !errors.As(err, &fe) || fe.Since.IsZero() {
		t.Fatalf("4 minutes later: %v, want the mark to hold", err)
	}
	if s := p.Stats(); s.Faults != 1 || s.Quarantined {
		t.Fatalf("stats %+v, want one fault, no quarantine", s)
	}
}

// The wall-clock safety net also depends on the machine's load: the first
// one on some content is an ordinary fault (the next call runs the plugin
// again); a second in a row marks the content, for at most a minute.
func TestTimeoutMarksOnTheSecondInARow(t *testing.T) {
	v1, _ := chaos(t)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	cfg := Config{QuarantineAfter: 1, now: clock.now}
	// The safety net, and a fuel budget it cannot reach: the chaos loop's
	// pass pays its whole (large) function, so the default budget is spent
	// in well under 50 ms on a fast machine, and out of fuel would answer
	// first (CI, stop 25).
	cfg.Limits.Validate = 50 * time.Millisecond
	cfg.Limits.ValidateFuel = math.MaxUint64 / 2
	p := load(t, newHost(t, cfg), v1)
	ctx := context.Background()
	call := func() *FaultError {
		t.Helper()
		_, err := p.Validate(ctx, mode("loop"), ValidateContext{TLD: "chaos"})
		var fe *FaultError
		if !errors.As(err, &fe) || fe.Kind != FaultTimeout || !errors.Is(err, ErrWallClock) {
			t.Fatalf("want a wall-clock timeout, got %v", err)
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
	if p.Stats().Quarantined {
		t.Fatal("wall-clock timeouts quarantined the plugin (QuarantineAfter 1)")
	}
}

// A manifest's mark holds for every spelling of it: the key is the manifest
// as the plugin's input holds it (compact JSON), not the caller's bytes.
func TestContentKeyIgnoresSpelling(t *testing.T) {
	v1, _ := chaos(t)
	p := load(t, newHost(t, Config{}), v1)
	ctx := context.Background()
	if _, err := p.Validate(ctx, json.RawMessage(`{"mode":"trap","n":1}`), ValidateContext{TLD: "chaos"}); !errors.Is(err, ErrContentFault) {
		t.Fatalf("want a content fault, got %v", err)
	}
	_, err := p.Validate(ctx, json.RawMessage("{ \"mode\" : \"trap\",\n \"n\": 1 }"), ValidateContext{TLD: "chaos"})
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Since.IsZero() || p.Stats().Faults != 1 {
		t.Fatalf("another spelling of the marked manifest: %v, stats %+v, want it refused without a run", err, p.Stats())
	}
}

// The host-owned tables are compared with numbers by their digits: above
// 2^53, float64 would take a changed integer for the same one.
func TestHostTablesKeptBigIntegers(t *testing.T) {
	in := json.RawMessage(`{"meta":{"tld":"chaos","price":1},"payload":{"size":9007199254740993}}`)
	changed := json.RawMessage(`{"meta":{"tld":"chaos","price":1},"payload":{"size":9007199254740992}}`)
	if err := hostTablesKept(in, changed); err == nil || !strings.Contains(err.Error(), "[payload]") {
		t.Fatalf("a changed size above 2^53: %v, want it refused", err)
	}
	if err := hostTablesKept(in, json.RawMessage(`{"payload":{"size":9007199254740993},"x":1,"meta":{"price":1,"tld":"chaos"}}`)); err != nil {
		t.Fatalf("the same tables in another order: %v", err)
	}
}

// The content key of a call is hashed with a pooled hasher: it must name
// the same content as newContentKey whatever the hasher hashed before
// (longer inputs, several chunks, another entry point).
func TestPooledContentKey(t *testing.T) {
	h := New(Config{})
	big := bytes.Repeat([]byte("abcdefghijklmnop"), 1<<16)
	for _, n := range []int{1 << 20, 0, 1, 1023, 1024, 1025, 5000, 1 << 20, 63, 64, 65} {
		for _, e := range []Entry{EntryValidate, EntrySplit} {
			in := big[:n]
			if got, want := h.contentKey(e, in), newContentKey(e, in); got != want {
				t.Fatalf("%s, %d bytes: pooled %x, fresh %x", e, n, got, want)
			}
		}
	}
	if h.contentKey(EntryValidate, []byte("x")) == h.contentKey(EntrySplit, []byte("x")) {
		t.Fatal("two entry points give one key")
	}
}
