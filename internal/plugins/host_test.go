package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// chaosModules builds the chaos test plugin once per test binary run, in two
// versions (distinct modules) for reload tests.
var chaosOnce = struct {
	sync.Once
	v1, v2 []byte
}{}

func chaos(t testing.TB) (v1, v2 []byte) {
	t.Helper()
	chaosOnce.Do(func() {
		chaosOnce.v1 = wasmbuild.ForTest(t, "testdata/chaos")
		chaosOnce.v2 = wasmbuild.ForTest(t, "testdata/chaos", "-ldflags=-X main.version=2")
	})
	if chaosOnce.v1 == nil || chaosOnce.v2 == nil {
		t.Fatal("chaos plugin did not build (see the first test's failure)")
	}
	return chaosOnce.v1, chaosOnce.v2
}

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newHost(t testing.TB, cfg Config) *Host {
	t.Helper()
	if cfg.MemoEntries == 0 {
		cfg.MemoEntries = -1
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = cacheDir
	}
	h := New(cfg)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

func load(t testing.TB, h *Host, wasm []byte) *Plugin {
	t.Helper()
	p, err := h.Load(context.Background(), wasm)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func mode(m string) json.RawMessage { return json.RawMessage(`{"mode":"` + m + `"}`) }

func TestLoadDescribes(t *testing.T) {
	v1, _ := chaos(t)
	h := newHost(t, Config{PoolSize: 2})
	p := load(t, h, v1)
	d := p.Info()
	if d.TLD != "chaos" || d.Version != "1" || !d.HasFeature("resolve") || len(d.Roles) != 2 {
		t.Fatalf("describe = %+v", d)
	}
	if p.Hash() != HashBytes(v1) || !strings.HasPrefix(p.Hash(), "b3:") || len(p.Hash()) != 67 {
		t.Fatalf("hash = %s", p.Hash())
	}
}

func TestValidateAndReject(t *testing.T) {
	v1, _ := chaos(t)
	p := load(t, newHost(t, Config{}), v1)
	ctx := context.Background()
	v, err := p.Validate(ctx, mode("ok"), ValidateContext{TLD: "chaos", PayloadSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Manifest) != `{"mode":"ok"}` || string(v.Index) != `{"title":"ok"}` {
		t.Fatalf("validated = %s %s", v.Manifest, v.Index)
	}
	_, err = p.Validate(ctx, mode("reject"), ValidateContext{TLD: "chaos"})
	var re *RejectedError
	if !errors.As(err, &re) || !errors.Is(err, ErrRejected) {
		t.Fatalf("want a rejection, got %v", err)
	}
	if len(re.Errors) != 1 || re.Errors[0].Path != "mode" || re.Errors[0].Code != "mode" {
		t.Fatalf("field errors = %+v", re.Errors)
	}
	if s := p.Stats(); s.Rejected != 1 || s.Faults != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

// Every hostile behaviour is contained: the right kind of fault, and the
// plugin goes on serving good calls afterwards.
func TestFaultsAreContained(t *testing.T) {
	v1, _ := chaos(t)
	logs := &logBuffer{}
	cfg := Config{
		PoolSize:        2,
		QuarantineAfter: 100,
		Logger:          slog.New(slog.NewTextHandler(logs, nil)),
	}
	cfg.Limits.MemoryBytes = 32 << 20
	// A generous deadline: every case but the loop ends long before it (the
	// memory bomb takes a few hundred ms to fill 32 MiB on a loaded machine).
	cfg.Limits.Validate = 20 * time.Second
	p := load(t, newHost(t, cfg), v1)
	short := cfg
	short.Limits.ValidateFuel = 1_000_000_000
	pLoop := load(t, newHost(t, short), v1)
	ctx := context.Background()
	cases := []struct {
		mode string
		kind FaultKind
	}{
		{"trap", FaultTrap}, // a Go nil dereference panics; the runtime aborts with unreachable
		{"loop", FaultTimeout},
		{"bomb", FaultMemory},
		{"big", FaultOutputTooLarge},
		{"status7", FaultStatus},
		{"garbage", FaultBadOutput},
		{"exit", FaultExit},
		{"badptr", FaultTrap},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			p := p
			if c.mode == "loop" {
				p = pLoop
			}
			before := p.Stats().Faults
			_, err := p.Validate(ctx, mode(c.mode), ValidateContext{TLD: "chaos"})
			var fe *FaultError
			if !errors.As(err, &fe) || !errors.Is(err, ErrFault) {
				t.Fatalf("want a fault, got %v", err)
			}
			if fe.Kind != c.kind || fe.Entry != EntryValidate || fe.TLD != "chaos" {
				t.Fatalf("fault = %+v (%v), want kind %s", fe, fe, c.kind)
			}
			if _, err := p.Validate(ctx, mode("ok"), ValidateContext{TLD: "chaos"}); err != nil {
				t.Fatalf("a good call after the fault failed: %v", err)
			}
			if s := p.Stats(); s.Faults != before+1 || s.Quarantined {
				t.Fatalf("stats = %+v", s)
			}
		})
	}
	if !strings.Contains(logs.String(), "plugin fault") {
		t.Fatalf("faults were not logged: %s", logs.String())
	}
}

// Faults that say the plugin is broken (no content caused them) quarantine
// it after QuarantineAfter in a row; faults on content, however many, do not.
func TestQuarantineAfterRepeatedFaults(t *testing.T) {
	v1, v2 := chaos(t)
	h := newHost(t, Config{QuarantineAfter: 3})
	bad, other := load(t, h, v1), load(t, h, v2)
	ctx := context.Background()
	for n := range 6 {
		if _, err := bad.Validate(ctx, modeN("status7", n), ValidateContext{}); !errors.Is(err, ErrContentFault) {
			t.Fatalf("want a content fault, got %v", err)
		}
	}
	if s := bad.Stats(); s.Faults != 6 || s.Quarantined {
		t.Fatalf("stats %+v: faults on 6 manifests quarantined the plugin", s)
	}
	for range 3 {
		_ = brokenFault(bad, "status 7 at instantiate")
	}
	_, err := bad.Validate(ctx, mode("ok"), ValidateContext{})
	if !errors.Is(err, ErrQuarantined) || !strings.Contains(err.Error(), "status 7") {
		t.Fatalf("want quarantine naming the last fault, got %v", err)
	}
	if !bad.Stats().Quarantined {
		t.Fatal("stats do not show the quarantine")
	}
	if _, err := other.Validate(ctx, mode("ok"), ValidateContext{}); err != nil {
		t.Fatalf("another plugin was affected: %v", err)
	}
}

// Faults that are not in a row do not quarantine: a success between them
// resets the count.
func TestQuarantineNeedsFaultsInARow(t *testing.T) {
	v1, _ := chaos(t)
	p := load(t, newHost(t, Config{QuarantineAfter: 2}), v1)
	ctx := context.Background()
	for n := range 5 {
		_ = brokenFault(p, "instance failed")
		if _, err := p.Validate(ctx, modeN("status7", n), ValidateContext{}); !errors.Is(err, ErrContentFault) {
			t.Fatalf("want a content fault, got %v", err)
		}
		if _, err := p.Validate(ctx, mode("ok"), ValidateContext{}); err != nil {
			t.Fatal(err)
		}
	}
	if s := p.Stats(); s.Faults != 10 || s.Quarantined {
		t.Fatalf("stats %+v, want 10 faults and no quarantine", s)
	}
}

func TestMemoAndFreshInstances(t *testing.T) {
	v1, _ := chaos(t)
	ctx := context.Background()
	in := []byte(`{"manifest":{"mode":"counter"},"context":{"tld":"chaos","payload_size":0}}`)

	// Without memo, a reused instance keeps its state: the counter moves.
	p := load(t, newHost(t, Config{PoolSize: 1}), v1)
	a, _ := p.Call(ctx, EntryValidate, in)
	b, _ := p.Call(ctx, EntryValidate, in)
	if bytes.Equal(a.Output, b.Output) {
		t.Fatalf("reused instance should show its state: %s", a.Output)
	}
	// Fresh instances never share state.
	f1, err1 := p.CallFresh(ctx, EntryValidate, in)
	f2, err2 := p.CallFresh(ctx, EntryValidate, in)
	if err1 != nil || err2 != nil || !bytes.Equal(f1.Output, f2.Output) || !strings.Contains(string(f1.Output), `"title":"1"`) {
		t.Fatalf("fresh calls: %s %v / %s %v", f1.Output, err1, f2.Output, err2)
	}

	// With memo, the same input is answered once.
	pm := load(t, newHost(t, Config{PoolSize: 1, MemoEntries: 16}), v1)
	m1, _ := pm.Call(ctx, EntryValidate, in)
	m2, _ := pm.Call(ctx, EntryValidate, in)
	if !bytes.Equal(m1.Output, m2.Output) || m1.Memoized || !m2.Memoized {
		t.Fatalf("memo: %s (%v) / %s (%v)", m1.Output, m1.Memoized, m2.Output, m2.Memoized)
	}
	if s := pm.Stats(); s.MemoHits != 1 || s.Calls != 3 { // describe at load, then two
		t.Fatalf("stats = %+v", s)
	}
}

func TestMemoIsBounded(t *testing.T) {
	m := newMemo(3, 1<<20)
	for i := range 10 {
		m.put(newMemoKey("h", newContentKey(EntryValidate, []byte{byte(i)})), Result{Output: []byte{byte(i)}})
	}
	if m.len() != 3 {
		t.Fatalf("memo holds %d entries, want 3", m.len())
	}
	if _, ok := m.get(newMemoKey("h", newContentKey(EntryValidate, []byte{9}))); !ok {
		t.Fatal("the newest entry was evicted")
	}
	if _, ok := m.get(newMemoKey("h", newContentKey(EntryValidate, []byte{0}))); ok {
		t.Fatal("the oldest entry was kept")
	}
	if _, ok := m.get(newMemoKey("other", newContentKey(EntryValidate, []byte{9}))); ok {
		t.Fatal("the key must include the plugin hash")
	}
}

func TestSplitIsChecked(t *testing.T) {
	v1, _ := chaos(t)
	p := load(t, newHost(t, Config{QuarantineAfter: 100}), v1)
	ctx := context.Background()
	in := SplitInput{Manifest: mode("ok"), Epoch: "2026-11", Amount: MaxMoney}
	allocs, err := p.Split(ctx, in)
	if err != nil || len(allocs) != 1 || allocs[0].Amount != MaxMoney || allocs[0].Role != "creator" {
		t.Fatalf("split = %+v, %v", allocs, err)
	}
	for _, m := range []string{"lose", "undeclared"} {
		in.Manifest = mode(m)
		_, err := p.Split(ctx, in)
		var fe *FaultError
		if !errors.As(err, &fe) || fe.Kind != FaultBadOutput {
			t.Fatalf("%s: want a bad-output fault, got %v", m, err)
		}
	}
	if _, err := p.Split(ctx, SplitInput{Manifest: mode("ok"), Amount: MaxMoney + 1}); err == nil {
		t.Fatal("an amount over 2^53-1 was accepted")
	}
}

func TestCheckSplitRules(t *testing.T) {
	roles := []string{"creator"}
	for _, c := range []struct {
		out  string
		want string // "" means valid
	}{
		{`{"allocations":[{"payee":"a","role":"creator","amount":10}]}`, ""},
		{`{"allocations":[{"payee":"a","role":"creator","amount":9}]}`, "sum to 9"},
		{`{"allocations":[{"payee":"a","role":"creator","amount":-1},{"payee":"b","role":"creator","amount":11}]}`, "non-negative"},
		{`{"allocations":[{"payee":"a","role":"creator","amount":2.5},{"payee":"b","role":"creator","amount":7.5}]}`, "non-negative integer"},
		{`{"allocations":[{"payee":"","role":"creator","amount":10}]}`, "empty payee"},
		{`{"allocations":[{"payee":"a","role":"thief","amount":10}]}`, "not declared"},
		{`{"allocations":[{"payee":"a","role":"creator","amount":9007199254740992}]}`, "over 2^53-1"},
		{`{"nope":1}`, "want"},
		{`{"allocations":[]} x`, "want"},
	} {
		_, err := CheckSplit([]byte(c.out), 10, roles)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: err = %v, want %q", c.out, err, c.want)
		}
	}
}

func TestResolveReadsTheObject(t *testing.T) {
	v1, _ := chaos(t)
	p := load(t, newHost(t, Config{}), v1)
	payload := []byte("zero\none\ntwo")
	ctx := context.Background()
	r, err := p.Resolve(ctx, ResolveInput{Manifest: mode("ok"), Path: "/1", PayloadSize: uint64(len(payload))}, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || string(payload[r.Offset:r.Offset+r.Length]) != "one" || r.ContentType != "text/plain" {
		t.Fatalf("resolved = %+v", r)
	}
	r, err = p.Resolve(ctx, ResolveInput{Manifest: mode("ok"), Path: "/7", PayloadSize: uint64(len(payload))}, bytes.NewReader(payload))
	if err != nil || r.Status != 404 {
		t.Fatalf("resolved = %+v, %v", r, err)
	}
	// The raw call hands the plugin the payload too, pooled or fresh, and
	// returns the plugin's own bytes.
	in := []byte(`{"manifest":{"mode":"ok"},"path":"/2","payload_size":12}`)
	for _, fresh := range []bool{false, true} {
		res, err := p.Invoke(ctx, EntryResolve, in, CallOptions{Object: bytes.NewReader(payload), Fresh: fresh})
		if err != nil || res.Status != 0 || !strings.Contains(string(res.Output), `"offset":9`) || res.Memoized {
			t.Fatalf("fresh=%v: %+v %s %v", fresh, res, res.Output, err)
		}
	}
	// object_read is refused without an object: the resolve entry fails when called through Call.
	res, err := p.Call(ctx, EntryResolve, []byte(`{"path":"/0","payload_size":4}`))
	if err != nil || res.Status != 1 {
		t.Fatalf("resolve without an object: %+v %v", res, err)
	}
}

func TestLogsReachTheNodeLog(t *testing.T) {
	v1, _ := chaos(t)
	logs := &logBuffer{}
	p := load(t, newHost(t, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))}), v1)
	if _, err := p.Validate(context.Background(), mode("log"), ValidateContext{}); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "hello from chaos") || !strings.Contains(out, "chaos on stderr") || !strings.Contains(out, "tld=chaos") {
		t.Fatalf("log = %s", out)
	}
}

func TestLimitsAtLoadAndCall(t *testing.T) {
	v1, _ := chaos(t)
	cfg := Config{}
	cfg.Limits.ModuleBytes = len(v1) - 1
	if _, err := newHost(t, cfg).Load(context.Background(), v1); !errors.Is(err, ErrModuleTooLarge) {
		t.Fatalf("want ErrModuleTooLarge, got %v", err)
	}
	cfg = Config{}
	cfg.Limits.InputBytes = 64
	p := load(t, newHost(t, cfg), v1)
	if _, err := p.Call(context.Background(), EntryValidate, make([]byte, 65)); !errors.Is(err, ErrInputTooLarge) {
		t.Fatalf("want ErrInputTooLarge, got %v", err)
	}
}

func TestModuleShapeChecks(t *testing.T) {
	h := newHost(t, Config{})
	ctx := context.Background()
	cases := []struct {
		name string
		spec wasmSpec
		is   error
		msg  string
	}{
		{"forbidden module", wasmSpec{imports: []wasmImport{{module: "env", name: "evil"}}, funcs: abiFuncs("ron_abi_v1"), memory: true}, ErrForbiddenImport, "env.evil"},
		{"unknown ron import", wasmSpec{imports: []wasmImport{{module: "ron", name: "socket"}}, funcs: abiFuncs("ron_abi_v1"), memory: true}, ErrForbiddenImport, "ron.socket"},
		{"wrong ron signature", wasmSpec{imports: []wasmImport{{module: "ron", name: "input_len", results: []byte{i64}}}, funcs: abiFuncs("ron_abi_v1"), memory: true}, ErrForbiddenImport, "want () -> (i32)"},
		{"no marker", wasmSpec{funcs: abiFuncs(""), memory: true}, ErrNoABI, "supports ron_abi_v1"},
		{"future marker", wasmSpec{funcs: abiFuncs("ron_abi_v2"), memory: true}, ErrNoABI, "declares ron_abi_v2"},
		{"no memory", wasmSpec{funcs: abiFuncs("ron_abi_v1")}, ErrMissingExport, "memory"},
		{"no split", wasmSpec{funcs: append(abiFuncs("")[:2], wasmFunc{name: "ron_abi_v1"}), memory: true}, ErrMissingExport, "ron_split"},
		{"empty describe", wasmSpec{funcs: abiFuncs("ron_abi_v1"), memory: true}, ErrBadDescribe, "describe"},
		{"not wasm", wasmSpec{}, ErrInvalidModule, ""},
		// An import section claiming 2^32-1 entries in 15 bytes: unchecked,
		// wazero would try to allocate hundreds of GB and kill the process.
		{"count bomb", wasmSpec{}, ErrInvalidModule, "meter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.spec.encode()
			switch c.name {
			case "not wasm":
				b = []byte("not a module")
			case "count bomb":
				b = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x02, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f}
			}
			_, err := h.Load(ctx, b)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, c.is, c.msg)
			}
			var ie *ImportError
			if c.is == ErrForbiddenImport && !errors.As(err, &ie) {
				t.Fatalf("want an *ImportError, got %T", err)
			}
		})
	}
}

func TestConcurrentCallsShareThePool(t *testing.T) {
	v1, _ := chaos(t)
	p := load(t, newHost(t, Config{PoolSize: 2}), v1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := p.Validate(context.Background(), mode("ok"), ValidateContext{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := p.Stats().Instances; n < 1 || n > 2 {
		t.Fatalf("%d instances live, the pool holds 2", n)
	}
}

func TestCallerContextEndsTheWait(t *testing.T) {
	v1, _ := chaos(t)
	p := load(t, newHost(t, Config{PoolSize: 1}), v1)
	// Hold the only instance with a looping call, then ask with a short context.
	done := make(chan error, 1)
	go func() {
		_, err := p.Validate(context.Background(), mode("loop"), ValidateContext{})
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := p.Call(ctx, EntryValidate, []byte(`{"manifest":{"mode":"ok"}}`))
	if err == nil {
		// The loop may not have started yet; the call then simply succeeded.
		t.Log("the pool was free")
	} else if errors.Is(err, ErrFault) {
		t.Fatalf("a caller giving up is not a plugin fault: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrFault) {
		t.Fatalf("the loop should time out, got %v", err)
	}
}

// Fuel is counted by the module itself, so the same call on the same instance
// history burns the same fuel whatever the machine is doing. (A reused
// instance's runtime carries state, such as when its GC runs, so its calls
// may burn a little more or less than a fresh one's.)
func TestFuelIsDeterministic(t *testing.T) {
	v1, _ := chaos(t)
	p := load(t, newHost(t, Config{PoolSize: 1}), v1)
	ctx := context.Background()
	in := []byte(`{"manifest":{"mode":"ok","pad":"` + strings.Repeat("x", 4000) + `"},"context":{"tld":"chaos","payload_size":0}}`)
	var fuel []uint64
	for range 3 {
		res, err := p.Invoke(ctx, EntryValidate, in, CallOptions{Fresh: true})
		if err != nil {
			t.Fatal(err)
		}
		fuel = append(fuel, res.Fuel)
	}
	if fuel[0] == 0 || fuel[0] != fuel[1] || fuel[1] != fuel[2] {
		t.Fatalf("fuel per fresh call = %v, want one non-zero value", fuel)
	}
}

// A caller that gives up ends a running call within a refill, and that is
// not the plugin's fault.
func TestCallerGivingUpStopsARunningCall(t *testing.T) {
	v1, _ := chaos(t)
	cfg := Config{}
	cfg.Limits.Validate = time.Minute
	cfg.Limits.ValidateFuel = 1 << 62
	p := load(t, newHost(t, cfg), v1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Validate(ctx, mode("loop"), ValidateContext{})
	if err == nil || errors.Is(err, ErrFault) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the caller's deadline, not a fault: %v", err)
	}
	if s := p.Stats(); s.Faults != 0 {
		t.Fatalf("stats = %+v", s)
	}
	if _, err := p.Validate(context.Background(), mode("ok"), ValidateContext{}); err != nil {
		t.Fatal(err)
	}
}
