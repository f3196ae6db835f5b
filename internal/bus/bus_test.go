package bus

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"golang.org/x/crypto/bcrypt"

	"github.com/ronhost/ronhost/internal/poll"

	"github.com/ronhost/ronhost/internal/codes"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func startBus(t testing.TB, o Options) *Bus {
	t.Helper()
	if o.Logger == nil {
		o.Logger = discard
	}
	b := New(o)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// ctxT bounds a test's requests: a bound on a hang, as long as poll's, not
// a verdict on speed.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), poll.Deadline)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or a deadline passes.

type echoReq struct {
	Text string `json:"text"`
	N    int    `json:"n"`
}

type echoResp struct {
	Text string `json:"text"`
	N    int    `json:"n"`
	Node string `json:"node"`
}

func echoService(node string) map[string]Handler {
	return map[string]Handler{
		"echo": func(ctx context.Context, req []byte) (any, error) {
			var r echoReq
			if err := json.Unmarshal(req, &r); err != nil {
				return nil, Errorf(codes.Invalid, "bad request: %v", err)
			}
			return echoResp{Text: r.Text, N: r.N + 1, Node: node}, nil
		},
	}
}

func asBusError(t *testing.T, err error) *Error {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %T %v is not a *bus.Error", err, err)
	}
	return e
}

func TestRequestRoundTrip(t *testing.T) {
	b := startBus(t, Options{Name: "n1"})
	rejected := &Error{Code: codes.Rejected, Message: "the .map plugin rejected the manifest:\nline two", Retryable: false,
		Errors: json.RawMessage(`[{"path":"meta.tld","code":"mismatch","message":"want \"map\""}]`)}
	eps := echoService("n1")
	eps["reject"] = func(context.Context, []byte) (any, error) { return nil, rejected }
	eps["busy"] = func(context.Context, []byte) (any, error) {
		return nil, &Error{Code: codes.Overloaded, Message: "busy", Retryable: true}
	}
	eps["plain"] = func(context.Context, []byte) (any, error) { return nil, errors.New("disk on fire") }
	eps["wrapped"] = func(context.Context, []byte) (any, error) {
		return nil, errors.Join(errors.New("context"), Errorf(codes.NotFound, "no such object"))
	}
	eps["nothing"] = func(context.Context, []byte) (any, error) { return nil, nil }
	eps["raw"] = func(_ context.Context, req []byte) (any, error) { return json.RawMessage(req), nil }
	if err := b.AddService("echo", "1.2.3", "test echo", eps); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)

	var got echoResp
	if err := b.Request(ctx, Spec{Role: "echo", Verb: "echo"}, echoReq{Text: "héllo", N: 41}, &got); err != nil {
		t.Fatal(err)
	}
	if got != (echoResp{Text: "héllo", N: 42, Node: "n1"}) {
		t.Fatalf("reply %+v", got)
	}
	r2, err := Call(ctx, b, Declare[json.RawMessage, echoResp]("echo", "echo", false), json.RawMessage(`{"text":"raw","n":1}`))
	if err != nil || r2.Text != "raw" || r2.N != 2 {
		t.Fatalf("Call: %+v %v", r2, err)
	}
	var raw json.RawMessage
	if err := b.Request(ctx, Spec{Role: "echo", Verb: "nothing"}, nil, &raw); err != nil || string(raw) != "{}" {
		t.Fatalf("nil reply: %s %v", raw, err)
	}
	if err := b.Request(ctx, Spec{Role: "echo", Verb: "raw"}, nil, &raw); err != nil || string(raw) != "{}" {
		t.Fatalf("nil request: %s %v", raw, err)
	}

	for verb, want := range map[string]*Error{
		"reject":  rejected,
		"busy":    {Code: codes.Overloaded, Message: "busy", Retryable: true},
		"plain":   {Code: codes.Internal, Message: "disk on fire"},
		"wrapped": {Code: codes.NotFound, Message: "no such object"},
	} {
		e := asBusError(t, b.Request(ctx, Spec{Role: "echo", Verb: verb}, nil, &got))
		if !reflect.DeepEqual(e, want) {
			t.Errorf("%s: got %#v\nwant %#v", verb, e, want)
		}
		if !errors.Is(e, &Error{Code: want.Code}) {
			t.Errorf("%s: errors.Is by code fails", verb)
		}
	}

	e := asBusError(t, b.Request(ctx, Spec{Role: "echo", Verb: "echo"}, "not an object", &got))
	if e.Code != codes.Invalid || !strings.HasPrefix(e.Message, "bad request: ") || e.Retryable {
		t.Fatalf("handler's invalid: %#v", e)
	}
	// A request body that is not JSON is refused before it is sent.
	if e := asBusError(t, b.Request(ctx, Spec{Role: "echo", Verb: "echo"}, json.RawMessage(`{"text":`), nil)); e.Code != codes.Invalid {
		t.Fatalf("invalid raw request: %v", e)
	}
	// Nobody serves this role.
	e = asBusError(t, b.Request(ctx, Spec{Role: "nobody", Verb: "stat"}, nil, nil))
	if e.Code != codes.Unavailable || !e.Retryable {
		t.Fatalf("no responders: %#v", e)
	}
	// A bad verb never reaches the wire.
	if e := asBusError(t, b.Request(ctx, Spec{Role: "echo", Verb: "ec.ho"}, nil, nil)); e.Code != codes.Invalid {
		t.Fatalf("bad verb: %#v", e)
	}
}

func TestErrorReplyOnTheWire(t *testing.T) {
	// What the nats CLI sees: the micro error headers and the *Error body.
	b := startBus(t, Options{})
	err := b.AddService("echo", "1.0.0", "", map[string]Handler{
		"fail": func(context.Context, []byte) (any, error) { return nil, Errorf(codes.NotFound, "no\r\nsuch") },
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := b.Conn().Request("ron.echo.fail", []byte(`{}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c, d := msg.Header.Get(micro.ErrorCodeHeader), msg.Header.Get(micro.ErrorHeader); c != "not_found" || d != "no  such" {
		t.Fatalf("headers %q %q", c, d)
	}
	if string(msg.Data) != `{"code":"not_found","message":"no\r\nsuch","retryable":false}` {
		t.Fatalf("body %s", msg.Data)
	}
	// A micro error from a service that is not ours keeps its description.
	nc := b.Conn()
	sub, err := nc.Subscribe("ron.foreign.x", func(m *nats.Msg) {
		_ = m.RespondMsg(&nats.Msg{Header: nats.Header{micro.ErrorHeader: {"gone"}, micro.ErrorCodeHeader: {"404"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	e := asBusError(t, b.Request(ctxT(t), Spec{Role: "foreign", Verb: "x"}, nil, nil))
	if !reflect.DeepEqual(e, &Error{Code: codes.NotFound, Message: "gone"}) {
		t.Fatalf("foreign error %#v", e)
	}
}

func TestHandlerDeadlineAndClientTimeout(t *testing.T) {
	// The bus's RequestTimeout is short enough to wait for once, long
	// enough that a round trip that must succeed under it does so on a
	// loaded machine.
	const busTimeout = 2 * time.Second
	b := startBus(t, Options{RequestTimeout: busTimeout})
	var sawDeadline atomic.Bool
	release := make(chan struct{})
	type seen struct {
		Left time.Duration `json:"left"`
		ID   string        `json:"id"`
	}
	err := b.AddService("slow", "1.0.0", "", map[string]Handler{
		"wait": func(ctx context.Context, _ []byte) (any, error) {
			_, ok := ctx.Deadline()
			sawDeadline.Store(ok)
			<-ctx.Done()
			return nil, ctx.Err()
		},
		"hold": func(ctx context.Context, _ []byte) (any, error) {
			<-release
			return nil, nil
		},
		"deadline": func(ctx context.Context, _ []byte) (any, error) {
			dl, _ := ctx.Deadline()
			return seen{Left: time.Until(dl), ID: RequestID(ctx)}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The caller's deadline and request id cross the bus: a caller that
	// gives a settle five minutes is not cut short by the bus's 2 s.
	ctx, cancel := context.WithTimeout(WithRequestID(context.Background(), "req-42"), 5*time.Minute)
	defer cancel()
	var got seen
	if err := b.Request(ctx, Spec{Role: "slow", Verb: "deadline"}, nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.Left < 4*time.Minute || got.Left > 5*time.Minute || got.ID != "req-42" {
		t.Fatalf("the handler had %s left and request id %q; want the caller's 5 minutes and req-42", got.Left, got.ID)
	}
	// Without an id the bus makes one; without a deadline the bus's
	// RequestTimeout is the caller's.
	if err := b.Request(context.Background(), Spec{Role: "slow", Verb: "deadline"}, nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.Left > busTimeout || !SaneRequestID(got.ID) {
		t.Fatalf("without a deadline or id: %s left, id %q", got.Left, got.ID)
	}
	// A request without the header (the nats CLI's) runs under the bus's
	// RequestTimeout, and its caller gets the handler's timeout.
	msg, err := b.Conn().Request("ron.slow.wait", []byte(`{}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e := decodeError(msg); e.Code != codes.Timeout || !e.Retryable || !strings.Contains(e.Message, "ran past its "+busTimeout.String()) || !sawDeadline.Load() {
		t.Fatalf("handler deadline: %#v (deadline seen %v)", e, sawDeadline.Load())
	}
	// The caller's deadline ends the wait for a handler that holds on.
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	e := asBusError(t, b.Request(short, Spec{Role: "slow", Verb: "hold"}, nil, nil))
	close(release)
	if e.Code != codes.Timeout || !e.Retryable {
		t.Fatalf("client deadline: %#v", e)
	}
}

func TestPanicInHandler(t *testing.T) {
	b := startBus(t, Options{})
	err := b.AddService("echo", "1.0.0", "", map[string]Handler{
		"boom": func(_ context.Context, req []byte) (any, error) {
			if string(req) == `"panic"` {
				panic("kaboom")
			}
			return "fine", nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	for i := 0; i < 3; i++ {
		e := asBusError(t, b.Request(ctx, Spec{Role: "echo", Verb: "boom"}, "panic", nil))
		if e.Code != codes.Internal || !strings.Contains(e.Message, "kaboom") {
			t.Fatalf("panic reply %#v", e)
		}
		var s string
		if err := b.Request(ctx, Spec{Role: "echo", Verb: "boom"}, "ok", &s); err != nil || s != "fine" {
			t.Fatalf("after a panic: %q %v", s, err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	b := startBus(t, Options{})
	var calls atomic.Int32
	err := b.AddService("echo", "1.0.0", "", map[string]Handler{
		"big": func(_ context.Context, req []byte) (any, error) {
			calls.Add(1)
			return strings.Repeat("x", int(b.MaxPayload())), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	max := b.MaxPayload()
	if max <= 0 {
		t.Fatalf("max payload %d", max)
	}
	ctx := ctxT(t)
	e := asBusError(t, b.Request(ctx, Spec{Role: "echo", Verb: "big"}, strings.Repeat("y", int(max)), nil))
	if e.Code != codes.TooLarge || e.Retryable || calls.Load() != 0 {
		t.Fatalf("oversized request: %#v, %d calls", e, calls.Load())
	}
	// An oversized reply is refused by the handler's side, with the same code.
	e = asBusError(t, b.Request(ctx, Spec{Role: "echo", Verb: "big"}, nil, nil))
	if e.Code != codes.TooLarge || calls.Load() != 1 {
		t.Fatalf("oversized reply: %#v", e)
	}
	if err := b.Emit("object.stored", strings.Repeat("z", int(max))); err == nil {
		t.Fatal("an oversized event was published")
	}
}

func TestDiscovery(t *testing.T) {
	b := startBus(t, Options{Name: "node-a"})
	if err := b.AddService("echo", "1.2.3", "test echo", echoService("node-a")); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := b.Request(ctx, Spec{Role: "echo", Verb: "echo"}, echoReq{}, nil); err != nil {
		t.Fatal(err)
	}
	nc := b.Conn()
	var ping micro.Ping
	msg, err := nc.RequestWithContext(ctx, "$SRV.PING", nil)
	if err != nil || json.Unmarshal(msg.Data, &ping) != nil {
		t.Fatalf("PING: %v", err)
	}
	if ping.Name != "ron-echo" || ping.Version != "1.2.3" || ping.Metadata["node"] != "node-a" {
		t.Fatalf("PING %+v", ping)
	}
	var info micro.Info
	msg, err = nc.RequestWithContext(ctx, "$SRV.INFO.ron-echo", nil)
	if err != nil || json.Unmarshal(msg.Data, &info) != nil {
		t.Fatalf("INFO: %v", err)
	}
	if info.Description != "test echo" || len(info.Endpoints) != 1 {
		t.Fatalf("INFO %+v", info)
	}
	if ep := info.Endpoints[0]; ep.Name != "echo" || ep.Subject != "ron.echo.echo" || ep.QueueGroup != "ron.echo" {
		t.Fatalf("endpoint %+v", ep)
	}
	var stats micro.Stats
	msg, err = nc.RequestWithContext(ctx, "$SRV.STATS.ron-echo."+ping.ID, nil)
	if err != nil || json.Unmarshal(msg.Data, &stats) != nil {
		t.Fatalf("STATS: %v", err)
	}
	var data endpointStats
	if len(stats.Endpoints) != 1 || json.Unmarshal(stats.Endpoints[0].Data, &data) != nil {
		t.Fatalf("STATS %+v", stats)
	}
	if stats.Endpoints[0].NumRequests != 1 || data.Requests != 1 || data.Errors != 0 || data.InFlight != 0 {
		t.Fatalf("STATS %+v data %+v", stats.Endpoints[0], data)
	}
}

func TestAddServiceChecks(t *testing.T) {
	nb := New(Options{Logger: discard})
	if err := nb.AddService("echo", "1.0.0", "", echoService("")); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("before Start: %v", err)
	}
	b := startBus(t, Options{})
	if err := b.AddService("echo", "1.0.0", "", echoService("")); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"duplicate": b.AddService("echo", "1.0.0", "", echoService("")),
		"version":   b.AddService("other", "one", "", echoService("")),
		"role":      b.AddService("a.b", "1.0.0", "", echoService("")),
		"verb":      b.AddService("other", "1.0.0", "", map[string]Handler{"x y": echoService("")["echo"]}),
		"empty":     b.AddService("other", "1.0.0", "", nil),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.AddService("late", "1.0.0", "", echoService("")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if e := asBusError(t, b.Request(ctxT(t), Spec{Role: "echo", Verb: "echo"}, nil, nil)); e.Code != codes.Unavailable {
		t.Fatalf("request after Close: %#v", e)
	}
}

func TestSubjects(t *testing.T) {
	if s, err := Subject("store", "name_set"); err != nil || s != "ron.store.name_set" {
		t.Fatalf("%q %v", s, err)
	}
	if s, err := EventSubject("object.stored"); err != nil || s != "ron.evt.object.stored" {
		t.Fatalf("%q %v", s, err)
	}
	for _, c := range [][2]string{{"", "x"}, {"a.b", "x"}, {"a b", "x"}, {"*", "x"}, {">", "x"}, {"a", ""},
		{"a", "b.c"}, {"a", "*"}, {"a", "b\n"}, {"é", "x"}, {strings.Repeat("a", 65), "x"}} {
		if _, err := Subject(c[0], c[1]); !errors.Is(err, ErrBadToken) {
			t.Errorf("Subject(%q, %q): %v", c[0], c[1], err)
		}
	}
	for _, k := range []string{"", ".", "a.", ".a", "a..b", "a.*", ">", "a.>", "a b"} {
		if _, err := EventSubject(k); !errors.Is(err, ErrBadToken) {
			t.Errorf("EventSubject(%q): %v", k, err)
		}
	}
	for k, ok := range map[string]bool{">": true, "plugin.*": true, "*.faulted": true, "plugin.>": true,
		"a.>.b": false, "a.>>": false, "a.": false, "a*": false} {
		if _, err := eventFilter(k); (err == nil) != ok {
			t.Errorf("eventFilter(%q): %v", k, err)
		}
	}
}

func TestEventShapes(t *testing.T) {
	b := startBus(t, Options{Name: "node-e"})
	var mu sync.Mutex
	got := map[string]map[string]any{}
	unsub, err := b.Subscribe(">", func(subject string, data []byte) {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Errorf("%s: %v", subject, err)
		}
		mu.Lock()
		got[subject] = m
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	// The field names of ISSUE5.md, plus time and node on every event.
	want := map[string][]string{
		KindObjectStored:      {"cid", "size", "inline"},
		KindManifestPublished: {"address", "manifest", "tld", "payload", "size"},
		KindPluginInstalled:   {"tld", "plugin", "version", "source"},
		KindPluginRemoved:     {"tld"},
		KindPluginFaulted:     {"tld", "plugin", "entry", "kind", "message"},
		KindEpochSettled:      {"epoch", "manifests", "amount", "failed"},
		KindNameUpdated:       {"name", "address", "seq"},
	}
	given := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	events := map[string]any{
		KindObjectStored:      ObjectStored{CID: "b3:00", Size: 3, Inline: true},
		KindManifestPublished: &ManifestPublished{Address: "crab://x.map"},
		KindPluginInstalled:   PluginInstalled{TLD: "map", Node: "other"},
		KindPluginRemoved:     PluginRemoved{TLD: "map", Time: given},
		KindPluginFaulted:     PluginFaulted{TLD: "map", Kind: "trap"},
		KindEpochSettled:      EpochSettled{Epoch: 42},
		KindNameUpdated:       NameUpdated{Name: "n", Seq: 7},
	}
	for kind, ev := range events {
		if err := b.Emit(kind, ev); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, "every event", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == len(want) })
	mu.Lock()
	defer mu.Unlock()
	for kind, fields := range want {
		m := got["ron.evt."+kind]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		fields = append(fields, "time", "node")
		slices.Sort(keys)
		slices.Sort(fields)
		if !slices.Equal(keys, fields) {
			t.Errorf("%s: fields %v, want %v", kind, keys, fields)
		}
		ts, _ := m["time"].(string)
		tm, err := time.Parse(time.RFC3339, ts)
		if err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("%s: time %q is not RFC 3339 UTC: %v", kind, ts, err)
		}
		switch kind {
		case KindPluginInstalled:
			if m["node"] != "other" {
				t.Errorf("a given node was replaced: %v", m["node"])
			}
		case KindPluginRemoved:
			if !tm.Equal(given) {
				t.Errorf("a given time was replaced: %v", tm)
			}
		default:
			if m["node"] != "node-e" {
				t.Errorf("%s: node %v", kind, m["node"])
			}
		}
	}
	if f, ok := got["ron.evt."+KindEpochSettled]["failed"].([]any); !ok || len(f) != 0 {
		t.Errorf("failed should be [], got %#v", got["ron.evt."+KindEpochSettled]["failed"])
	}
	if err := b.Emit("object.*", ObjectStored{}); !errors.Is(err, ErrBadToken) {
		t.Errorf("Emit with a wildcard: %v", err)
	}
}

const (
	opUser = "operator"
	opPass = "s3cret-pass-7f3a9c1e"
)

func TestOperatorListener(t *testing.T) {
	for name, o := range map[string]Options{
		"no credentials": {Listen: "127.0.0.1:0"},
		"no password":    {Listen: "127.0.0.1:0", User: "op"},
		"reserved user":  {Listen: "127.0.0.1:0", User: internalUser, Password: "x"},
		"URL and Listen": {Listen: "127.0.0.1:0", User: "op", Password: "x", URL: "nats://127.0.0.1:4222"},
		"bad address":    {Listen: "127.0.0.1", User: "op", Password: "x"},
		"no host":        {Listen: ":0", User: "op", Password: "x"},
	} {
		if err := New(o).Start(ctxT(t)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}

	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b := startBus(t, Options{Name: "node-l", Listen: "127.0.0.1:0", User: opUser, Password: opPass, Logger: logger})
	logMu.Lock()
	if logs.Len() > 0 { // e.g. nats-server's "Plaintext passwords detected"
		t.Errorf("warnings at Start: %s", logs.String())
	}
	logMu.Unlock()
	// A second server on the same port fails Start with the reason.
	taken := New(Options{Listen: strings.TrimPrefix(b.ListenURL(), "nats://"), User: opUser, Password: opPass, Logger: discard})
	if err := taken.Start(ctxT(t)); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a taken port: %v", err)
	}
	_ = taken.Close()
	if err := b.AddService("echo", "1.0.0", "", echoService("node-l")); err != nil {
		t.Fatal(err)
	}
	url := b.ListenURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("listen URL %q", url)
	}
	for name, opts := range map[string][]nats.Option{
		"wrong password":  {nats.UserInfo(opUser, "wrong")},
		"no credentials":  nil,
		"unknown user":    {nats.UserInfo("someone", opPass)},
		"internal user":   {nats.UserInfo(internalUser, opPass)},
		"empty password":  {nats.UserInfo(opUser, "")},
		"password as tok": {nats.Token(opPass)},
	} {
		nc, err := nats.Connect(url, append(opts, nats.NoReconnect())...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization error", name, err)
		}
	}
	// The operator, as with the nats CLI: call a service, watch events.
	nc, err := nats.Connect(url, nats.UserInfo(opUser, opPass), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg, err := nc.Request("ron.echo.echo", []byte(`{"text":"cli","n":1}`), 10*time.Second)
	if err != nil || string(msg.Data) != `{"text":"cli","n":2,"node":"node-l"}` {
		t.Fatalf("operator request: %v %s", err, msg.Data)
	}
	sub, err := nc.SubscribeSync("ron.evt.>")
	if err != nil || nc.Flush() != nil {
		t.Fatal(err)
	}
	if err := b.Emit(KindPluginRemoved, PluginRemoved{TLD: "map"}); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil || m.Subject != "ron.evt.plugin.removed" {
		t.Fatalf("operator event: %v", err)
	}
}

func TestBcryptOperatorPassword(t *testing.T) {
	cheap, err := bcrypt.GenerateFromPassword([]byte(opPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := New(Options{Listen: "127.0.0.1:0", User: opUser, Password: string(cheap), Logger: discard}).Start(ctxT(t)); !errors.Is(err, ErrConfig) ||
		!strings.Contains(err.Error(), "cost 4") {
		t.Fatalf("a bcrypt hash of cost 4: %v", err)
	}
	// bcrypt.GenerateFromPassword([]byte(opPass), minBcryptCost), made once
	// (each bcrypt of cost 10 takes seconds under the race detector).
	hash := []byte("$2a$10$DdWnf0jXNfAgUVocQINca.H0APkKfkQfEGxJTnZG1R6UjkbxX927a")
	b := startBus(t, Options{Listen: "127.0.0.1:0", User: opUser, Password: string(hash)})
	nc, err := nats.Connect(b.ListenURL(), nats.UserInfo(opUser, opPass), nats.NoReconnect(), nats.Timeout(30*time.Second))
	if err != nil {
		t.Fatalf("the plain password against its bcrypt hash: %v", err)
	}
	nc.Close()
	if nc, err := nats.Connect(b.ListenURL(), nats.UserInfo(opUser, string(hash)), nats.NoReconnect(), nats.Timeout(30*time.Second)); err == nil {
		nc.Close()
		t.Fatal("the hash itself was accepted as the password")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestExternalURL(t *testing.T) {
	// b1 runs the server with a listener; b2 uses it as "--nats URL".
	b1 := startBus(t, Options{Name: "n1", Listen: "127.0.0.1:0", User: opUser, Password: opPass})
	b2 := startBus(t, Options{Name: "n2", URL: b1.ListenURL(), User: opUser, Password: opPass})
	if !b1.Ready() || !b2.Ready() || b2.ListenURL() != "" {
		t.Fatal("not ready")
	}
	bad := New(Options{URL: b1.ListenURL(), User: opUser, Password: "nope", Logger: discard})
	if err := bad.Start(ctxT(t)); err == nil || !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("wrong password to URL: %v", err)
	}
	_ = bad.Close()

	if err := b1.AddService("echo", "1.0.0", "", echoService("n1")); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	var r echoResp
	if err := b2.Request(ctx, Spec{Role: "echo", Verb: "echo"}, echoReq{Text: "via url"}, &r); err != nil || r.Node != "n1" {
		t.Fatalf("b2 -> b1: %+v %v", r, err)
	}

	// Events both ways.
	var seen1, seen2 sync.Map
	u1, err := b1.Subscribe(">", func(s string, d []byte) { seen1.Store(string(d), true) })
	if err != nil {
		t.Fatal(err)
	}
	defer u1()
	u2, err := b2.Subscribe("name.*", func(s string, d []byte) { seen2.Store(string(d), true) })
	if err != nil {
		t.Fatal(err)
	}
	defer u2()
	e1 := NameUpdated{Name: "from-1", Time: time.Unix(1, 0)}
	e2 := NameUpdated{Name: "from-2", Time: time.Unix(2, 0)}
	if err := b1.Emit(KindNameUpdated, e1); err != nil {
		t.Fatal(err)
	}
	if err := b2.Emit(KindNameUpdated, e2); err != nil {
		t.Fatal(err)
	}
	j := func(node string, e NameUpdated) string {
		e.Node = node
		e.Time = e.Time.UTC()
		d, _ := json.Marshal(e)
		return string(d)
	}
	poll.Until(t, "events across the two buses", func() bool {
		_, a := seen2.Load(j("n1", e1))
		_, b := seen1.Load(j("n2", e2))
		return a && b
	})

	// A macronode: the same role on both buses shares the requests.
	if err := b2.AddService("echo", "1.0.0", "", echoService("n2")); err != nil {
		t.Fatal(err)
	}
	pongs, err := b1.Conn().SubscribeSync(nats.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	if err := b1.Conn().PublishRequest("$SRV.PING.ron-echo", pongs.Subject, nil); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for len(ids) < 2 {
		m, err := pongs.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("PING: %d instances: %v", len(ids), err)
		}
		var p micro.Ping
		_ = json.Unmarshal(m.Data, &p)
		ids[p.Metadata["node"]] = true
	}
	if !ids["n1"] || !ids["n2"] {
		t.Fatalf("instances %v", ids)
	}
	count := map[string]int{}
	const n = 200
	for i := 0; i < n; i++ {
		from := b1
		if i%2 == 1 {
			from = b2
		}
		if err := from.Request(ctx, Spec{Role: "echo", Verb: "echo"}, echoReq{N: i}, &r); err != nil || r.N != i+1 {
			t.Fatalf("request %d: %+v %v", i, r, err)
		}
		count[r.Node]++
	}
	if count["n1"] == 0 || count["n2"] == 0 || count["n1"]+count["n2"] != n {
		t.Fatalf("queue group spread %v", count)
	}
}

func TestTwoBusesInOneProcess(t *testing.T) {
	b1 := startBus(t, Options{Name: "n1"})
	b2 := startBus(t, Options{Name: "n2"})
	if err := b1.AddService("echo", "1.0.0", "", echoService("n1")); err != nil {
		t.Fatal(err)
	}
	if err := b2.AddService("echo", "1.0.0", "", echoService("n2")); err != nil {
		t.Fatal(err)
	}
	if err := b1.AddService("only1", "1.0.0", "", echoService("n1")); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	for i := 0; i < 20; i++ {
		for _, b := range []*Bus{b1, b2} {
			var r echoResp
			if err := b.Request(ctx, Spec{Role: "echo", Verb: "echo"}, echoReq{N: i}, &r); err != nil || r.Node != b.o.Name {
				t.Fatalf("%s answered by %q: %v", b.o.Name, r.Node, err)
			}
		}
	}
	if e := asBusError(t, b2.Request(ctx, Spec{Role: "only1", Verb: "echo"}, echoReq{}, nil)); e.Code != codes.Unavailable {
		t.Fatalf("b2 reached b1's service: %#v", e)
	}
	var mu sync.Mutex
	var got2 []string
	u, err := b2.Subscribe(">", func(s string, d []byte) {
		var e PluginRemoved
		_ = json.Unmarshal(d, &e)
		mu.Lock()
		got2 = append(got2, e.TLD)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer u()
	if err := b1.Emit(KindPluginRemoved, PluginRemoved{TLD: "one"}); err != nil || b1.Conn().Flush() != nil {
		t.Fatal(err)
	}
	if err := b2.Emit(KindPluginRemoved, PluginRemoved{TLD: "two"}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "b2's own event", func() bool { mu.Lock(); defer mu.Unlock(); return len(got2) > 0 })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got2, []string{"two"}) {
		t.Fatalf("b2 saw %v", got2)
	}
}

func TestConcurrentHandlers(t *testing.T) {
	// One verb serves several requests at once, up to Concurrency.
	b := startBus(t, Options{Concurrency: 3})
	var running, peak atomic.Int32
	release := make(chan struct{})
	err := b.AddService("par", "1.0.0", "", map[string]Handler{
		"x": func(ctx context.Context, _ []byte) (any, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-release
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- b.Request(ctxT(t), Spec{Role: "par", Verb: "x"}, nil, nil)
		}()
	}
	poll.Until(t, "three handlers running", func() bool { return running.Load() == 3 })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if peak.Load() != 3 {
		t.Fatalf("peak concurrency %d, want 3", peak.Load())
	}
}

func TestCloseWaitsAndLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b := New(Options{Name: "c", Listen: "127.0.0.1:0", User: opUser, Password: opPass, Logger: discard})
	if err := b.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	started, canceled, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	err := b.AddService("slow", "1.0.0", "", map[string]Handler{
		"wait": func(ctx context.Context, _ []byte) (any, error) {
			defer finished.Store(true)
			close(started)
			<-ctx.Done() // Close cancels it after its grace
			close(canceled)
			<-release // and then it takes its time
			return nil, ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	unsub, err := b.Subscribe(">", func(string, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	_ = unsub
	// A second bus on the listener, closed first.
	b2 := New(Options{URL: b.ListenURL(), User: opUser, Password: opPass, Logger: discard})
	if err := b2.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := b2.Request(ctxT(t), Spec{Role: "slow", Verb: "nothing"}, nil, nil); asBusError(t, err).Code != codes.Unavailable {
		t.Fatal(err)
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}

	reply := make(chan error, 1)
	go func() { reply <- b.Request(context.Background(), Spec{Role: "slow", Verb: "wait"}, nil, nil) }()
	<-started
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	<-canceled
	// A right Close drains the connection only once the handler has
	// returned; give a wrong one a moment to run ahead.
	nc := b.Conn()
	for i := 0; i < 100 && !nc.IsDraining() && !nc.IsClosed(); i++ {
		time.Sleep(time.Millisecond)
	}
	if nc.IsDraining() || nc.IsClosed() {
		t.Fatal("Close drained the connection while a handler was running")
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a handler was running")
	default:
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Close returned before the handler did")
	}
	if e := asBusError(t, <-reply); e.Code != codes.Unavailable || !e.Retryable {
		t.Fatalf("the request in flight at Close got %#v", e)
	}
	if b.Ready() {
		t.Fatal("ready after Close")
	}
	if err := b.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	poll.Until(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestURLErrorsHidePasswords(t *testing.T) {
	b := New(Options{URL: "nats://op:hunter2@127.0.0.1:1,nats://127.0.0.1:2", Logger: discard})
	// Nothing listens there: Start keeps trying until its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := b.Start(ctx)
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("%v", err)
	}
	if b.Ready() || b.MaxPayload() != 0 {
		t.Fatal("ready without a connection")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
