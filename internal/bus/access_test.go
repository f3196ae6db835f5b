package bus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/ronhost/ronhost/internal/poll"

	"github.com/ronhost/ronhost/internal/codes"
)

// testContract: alpha serves get, calls beta.put and emits alpha.done;
// beta serves put and emits beta.ok; gamma serves x and calls alpha.get.
var testContract = Contract{
	{Role: "alpha", Serves: []string{"get"}, Calls: []string{"beta.put"}, Emits: []string{"alpha.done"}},
	{Role: "beta", Serves: []string{"put"}, Emits: []string{"beta.ok"}},
	{Role: "gamma", Serves: []string{"x"}, Calls: []string{"alpha.get"}},
}

func testSecret(t *testing.T, seed byte) []byte {
	t.Helper()
	return bytes.Repeat([]byte{seed}, SecretSize)
}

func roleKey(t *testing.T, secret []byte, roles ...string) []byte {
	t.Helper()
	k, err := RoleKey(secret, roles)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestContractChecks(t *testing.T) {
	if err := testContract.Check(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Contract{
		"a call nobody serves": {{Role: "a", Calls: []string{"b.x"}}},
		"a role twice":         {{Role: "a"}, {Role: "a"}},
		"a wildcard verb":      {{Role: "a", Serves: []string{"*"}}},
		"a wildcard event":     {{Role: "a", Emits: []string{"a.>"}}},
	} {
		if err := c.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	p, err := testContract.Permissions([]string{"gamma", "beta"}, "_INBOX.me")
	if err != nil {
		t.Fatal(err)
	}
	want := Permissions{
		Publish: []string{"ron.gamma.x", "ron.gamma.x.cancel", "ron.alpha.get", "ron.alpha.get.cancel",
			"ron.beta.put", "ron.beta.put.cancel", "ron.evt.beta.ok"},
		Subscribe: []string{"ron.gamma.x", "ron.gamma.*.cancel", "$SRV.*.ron-gamma", "$SRV.*.ron-gamma.*", "ron.beta.put",
			"ron.beta.*.cancel", "$SRV.*.ron-beta", "$SRV.*.ron-beta.*", "$SRV.PING", "$SRV.INFO", "$SRV.STATS", "_INBOX.me.>"},
	}
	if fmt.Sprint(p) != fmt.Sprint(want) {
		t.Fatalf("permissions of gamma+beta:\n%v\nwant\n%v", p, want)
	}
	if _, err := testContract.Permissions([]string{"delta"}, "_INBOX.me"); err == nil {
		t.Fatal("a role outside the contract got permissions")
	}
	if s, _ := RoleSet([]string{"gamma", "alpha"}); s != "alpha,gamma" {
		t.Fatalf("RoleSet: %q", s)
	}
	k1, k2 := roleKey(t, testSecret(t, 1), "alpha", "gamma"), roleKey(t, testSecret(t, 1), "gamma", "alpha")
	if !bytes.Equal(k1, k2) || bytes.Equal(k1, roleKey(t, testSecret(t, 1), "alpha")) || bytes.Equal(k1, roleKey(t, testSecret(t, 2), "alpha", "gamma")) {
		t.Fatal("a role key depends on the set of roles and the secret, not on their order")
	}
}

// rogue connects to url with the role key of roles, as a client that does
// not use this package (so nothing is checked before the server), and
// collects the errors the server reports.
func rogue(t *testing.T, url string, key []byte, roles ...string) (*nats.Conn, func() []string) {
	t.Helper()
	opts, err := roleKeyOptions(key, roles)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var errs []string
	opts = append(opts, nats.NoReconnect(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err.Error())
	}))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("the %v role key: %v", roles, err)
	}
	t.Cleanup(nc.Close)
	return nc, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string{}, errs...)
	}
}

// TestRoleKeysAreLeastPrivilege: processes with role keys serve, call and
// emit what the contract gives their roles, and a client holding one
// role's key cannot answer another role's verbs, read another
// connection's replies, call a verb its role does not call, or forge
// another role's event, even without this package's own checks.
func TestRoleKeysAreLeastPrivilege(t *testing.T) {
	ctx := ctxT(t)
	secret := testSecret(t, 7)
	// The server's process runs gamma (its in-process connection has
	// gamma's permissions); alpha and beta connect with their role keys.
	srv := startBus(t, Options{Name: "srv", Listen: "127.0.0.1:0", User: opUser, Password: opPass,
		Contract: testContract, Roles: []string{"gamma"}, Secret: secret})
	url := srv.ListenURL()
	a := startBus(t, Options{Name: "a", URL: url, Contract: testContract, Roles: []string{"alpha"}, RoleKey: roleKey(t, secret, "alpha")})
	b := startBus(t, Options{Name: "b", URL: url, Contract: testContract, Roles: []string{"beta"}, RoleKey: roleKey(t, secret, "beta")})
	if err := b.AddService("beta", "1.0.0", "", map[string]Handler{"put": func(context.Context, []byte) (any, error) {
		return map[string]string{"by": "b"}, nil
	}}); err != nil {
		t.Fatal(err)
	}

	// The operator watches every event (and, below, alpha.get).
	op, err := nats.Connect(url, nats.UserInfo(opUser, opPass), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	events, err := op.SubscribeSync("ron.evt.>")
	if err != nil || op.Flush() != nil {
		t.Fatal(err)
	}

	// A client with beta's key subscribes to alpha's verb before alpha is
	// up, and to every inbox: the server refuses both, so a request to
	// alpha finds no responder at all.
	bad, badErrs := rogue(t, url, roleKey(t, secret, "beta"), "beta")
	stolen, err := bad.SubscribeSync("ron.alpha.get")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.QueueSubscribeSync("ron.alpha.get", "ron.alpha"); err != nil {
		t.Fatal(err)
	}
	replies, err := bad.SubscribeSync("_INBOX.>")
	if err != nil || bad.Flush() != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the server to refuse the subscriptions", func() bool {
		n := 0
		for _, e := range badErrs() {
			if strings.Contains(strings.ToLower(e), "permissions violation for subscription") {
				n++
			}
		}
		return n == 3
	})
	if e := asBusError(t, srv.Request(ctx, Spec{Role: "alpha", Verb: "get"}, nil, nil)); e.Code != codes.Unavailable {
		t.Fatalf("alpha.get answered by a beta key: %#v", e)
	}
	gets, err := op.SubscribeSync("ron.alpha.get")
	if err != nil || op.Flush() != nil {
		t.Fatal(err)
	}

	// Alpha comes up: gamma's call reaches it, and alpha's own call to beta.
	if err := a.AddService("alpha", "1.0.0", "", map[string]Handler{"get": func(ctx context.Context, _ []byte) (any, error) {
		var r map[string]string
		if err := a.Request(ctx, Spec{Role: "beta", Verb: "put"}, nil, &r); err != nil {
			return nil, err
		}
		return map[string]string{"by": "a", "then": r["by"]}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	// A forged request to alpha.get from beta's key (beta does not call it)
	// is dropped by the server: the operator, who sees every message on
	// the subject, sees gamma's request first.
	if err := bad.PublishRequest("ron.alpha.get", "_INBOX.forged", []byte(`{"forged":true}`)); err != nil || bad.Flush() != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := srv.Request(ctx, Spec{Role: "alpha", Verb: "get"}, nil, &got); err != nil || got["by"] != "a" || got["then"] != "b" {
		t.Fatalf("gamma -> alpha -> beta: %v %v", got, err)
	}
	if m, err := gets.NextMsg(10 * time.Second); err != nil || strings.Contains(string(m.Data), "forged") {
		t.Fatalf("the first alpha.get on the wire: %v %q", err, m.Data)
	}
	for _, sub := range []*nats.Subscription{stolen, replies} {
		if n, _, _ := sub.Pending(); n != 0 {
			t.Fatalf("%s: the beta key received %d messages", sub.Subject, n)
		}
	}

	// Events: beta's key cannot forge alpha's; its own goes through (after
	// the forged one, which would have arrived first).
	if err := bad.Publish("ron.evt.alpha.done", []byte(`{"forged":true}`)); err != nil {
		t.Fatal(err)
	}
	if err := bad.Publish("ron.evt.beta.ok", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if m, err := events.NextMsg(10 * time.Second); err != nil || m.Subject != "ron.evt.beta.ok" {
		t.Fatalf("the first event: %v %v", m, err)
	}
	poll.Until(t, "the publish violations reported", func() bool {
		n := 0
		for _, e := range badErrs() {
			if strings.Contains(strings.ToLower(e), "permissions violation for publish") {
				n++
			}
		}
		return n == 2
	})

	// This package refuses the same at once, without sending.
	if e := asBusError(t, b.Request(ctx, Spec{Role: "alpha", Verb: "get"}, nil, nil)); e.Code != codes.Forbidden {
		t.Fatalf("beta calling alpha.get: %#v", e)
	}
	if err := b.Emit("alpha.done", map[string]any{}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("beta emitting alpha.done: %v", err)
	}
	if err := b.AddService("alpha", "1.0.0", "", map[string]Handler{"get": func(context.Context, []byte) (any, error) { return nil, nil }}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("beta serving alpha: %v", err)
	}
	if err := a.AddService("beta", "1.0.0", "", map[string]Handler{"other": func(context.Context, []byte) (any, error) { return nil, nil }}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("alpha serving beta.other: %v", err)
	}
	for _, x := range []*Bus{a, srv} {
		if _, err := x.Subscribe(">", func(string, []byte) {}); !errors.Is(err, ErrForbidden) {
			t.Fatalf("%s watching events: %v", x.o.Name, err)
		}
	}

	// Keys that do not match: another secret's, another set's under this
	// name, a set not in canonical form.
	for name, o := range map[string][]nats.Option{
		"another secret's key": mustRoleOpts(t, roleKey(t, testSecret(t, 8), "alpha"), "alpha"),
		"beta's key as alpha":  append(mustRoleOpts(t, roleKey(t, secret, "beta"), "beta")[1:], nats.UserInfo("alpha", "")),
		"not canonical":        append(mustRoleOpts(t, roleKey(t, secret, "beta", "alpha"), "beta", "alpha")[1:], nats.UserInfo("beta,alpha", "")),
		"a role set outside":   mustRoleOpts(t, roleKey(t, secret, "delta"), "delta"),
	} {
		nc, err := nats.Connect(url, append(o, nats.NoReconnect())...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mustRoleOpts(t *testing.T, key []byte, roles ...string) []nats.Option {
	t.Helper()
	o, err := roleKeyOptions(key, roles)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestNATSAuthorization runs a plain nats-server with the authorization
// block ronhost bus nats-conf writes: role keys connect with their
// permissions, and nothing else does.
func TestNATSAuthorization(t *testing.T) {
	secret := testSecret(t, 9)
	conf, err := testContract.NATSAuthorization(secret, [][]string{{"alpha"}, {"beta"}, {"gamma"}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "auth.conf")
	if err := os.WriteFile(path, []byte("host: 127.0.0.1\nport: -1\n"+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	so, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, conf)
	}
	so.NoSigs, so.NoLog = true, true
	s, err := server.NewServer(so)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	url := s.ClientURL()
	ctx := ctxT(t)
	a := startBus(t, Options{Name: "a", URL: url, Contract: testContract, Roles: []string{"alpha"}, RoleKey: roleKey(t, secret, "alpha")})
	g := startBus(t, Options{Name: "g", URL: url, Contract: testContract, Roles: []string{"gamma"}, RoleKey: roleKey(t, secret, "gamma")})
	if err := a.AddService("alpha", "1.0.0", "", map[string]Handler{"get": func(context.Context, []byte) (any, error) {
		return map[string]string{"by": "a"}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := g.Request(ctx, Spec{Role: "alpha", Verb: "get"}, nil, &got); err != nil || got["by"] != "a" {
		t.Fatalf("gamma -> alpha on nats-server: %v %v", got, err)
	}
	bad, badErrs := rogue(t, url, roleKey(t, secret, "beta"), "beta")
	if _, err := bad.SubscribeSync("ron.alpha.get"); err != nil || bad.Flush() != nil {
		t.Fatal(err)
	}
	poll.Until(t, "nats-server to refuse beta's subscription to alpha.get", func() bool {
		return len(badErrs()) == 1 && strings.Contains(strings.ToLower(badErrs()[0]), "permissions violation for subscription")
	})
	if nc, err := nats.Connect(url, append(mustRoleOpts(t, roleKey(t, testSecret(t, 10), "alpha"), "alpha"), nats.NoReconnect())...); err == nil {
		nc.Close()
		t.Fatal("another secret's key connected")
	}
}

func TestWeakPasswordsAndExposedListeners(t *testing.T) {
	for name, o := range map[string]Options{
		"a 1-character password":      {Listen: "127.0.0.1:0", User: opUser, Password: "x"},
		"15 characters":               {Listen: "127.0.0.1:0", User: opUser, Password: "abcdefghijklmno"},
		"few distinct characters":     {Listen: "127.0.0.1:0", User: opUser, Password: "abababababababababab"},
		"the user name inside":        {Listen: "127.0.0.1:0", User: opUser, Password: "my-" + opUser + "-password-1"},
		"a weak route password":       {Cluster: ClusterOptions{Name: "c", Listen: "127.0.0.1:0", User: "route", Password: "short"}},
		"0.0.0.0 without TLS":         {Listen: "0.0.0.0:4222", User: opUser, Password: opPass},
		"[::] without TLS":            {Listen: "[::]:4222", User: opUser, Password: opPass},
		"a LAN address without TLS":   {Listen: "10.1.2.3:4222", User: opUser, Password: opPass},
		"a host name without TLS":     {Listen: "nats.example:4222", User: opUser, Password: opPass},
		"routes on 0.0.0.0 plaintext": {Cluster: ClusterOptions{Name: "c", Listen: "0.0.0.0:6222"}},
	} {
		err := New(Options{Listen: o.Listen, User: o.User, Password: o.Password, Cluster: o.Cluster, Logger: discard}).Start(ctxT(t))
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		msg := err.Error()
		if strings.Contains(name, "TLS") || strings.Contains(name, "plaintext") {
			if !strings.Contains(msg, "without TLS") {
				t.Errorf("%s: %v", name, err)
			}
		} else if !strings.Contains(msg, "weak") {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, ok := range []string{opPass, "correct horse battery staple", "Zq8#vT2!mW4@xR6$"} {
		if err := CheckPassword("Password", opUser, ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	// Role keys alone (no operator) on a listener.
	if err := (&Options{Listen: "127.0.0.1:0", Secret: testSecret(t, 1), Contract: testContract, Roles: []string{"gamma"}}).check(); err != nil {
		t.Errorf("a listener for role keys only: %v", err)
	}
	// localhost and ::1 are loopback.
	for _, l := range []string{"localhost:0", "[::1]:0"} {
		if err := (&Options{Listen: l, User: opUser, Password: opPass}).check(); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
}

// TestAuthFailuresAreLimited: after authBurst failed attempts from an
// address, its attempts are refused unchecked (the right password too)
// until authRefill passes, with a WARN; the server's per-attempt error
// lines are not logged.
func TestAuthFailuresAreLimited(t *testing.T) {
	var clock struct {
		sync.Mutex
		now time.Time
	}
	clock.now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time {
		clock.Lock()
		defer clock.Unlock()
		return clock.now
	}
	logs := &syncBuffer{}
	b := New(Options{Name: "l", Listen: "127.0.0.1:0", User: opUser, Password: opPass,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	b.authNow = now
	if err := b.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	url := b.ListenURL()
	try := func(pw string) error {
		nc, err := nats.Connect(url, nats.UserInfo(opUser, pw), nats.NoReconnect(), nats.Timeout(10*time.Second))
		if err == nil {
			nc.Close()
		}
		return err
	}
	for i := range authBurst {
		if err := try(fmt.Sprintf("guess-%d", i)); !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if !strings.Contains(logs.String(), "repeated bus authentication failures") {
		t.Fatalf("no WARN after %d failures:\n%s", authBurst, logs.String())
	}
	if err := try(opPass); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("the right password while limited: %v", err)
	}
	// Time passes: one attempt more, and the right one gets through.
	clock.Lock()
	clock.now = clock.now.Add(authRefill)
	clock.Unlock()
	if err := try(opPass); err != nil {
		t.Fatalf("the right password after %s: %v", authRefill, err)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 0 {
		t.Fatalf("%d ERROR lines for failed attempts:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "repeated bus authentication failures"); n != 1 {
		t.Fatalf("%d WARN lines within a minute, want 1:\n%s", n, logs.String())
	}
}
