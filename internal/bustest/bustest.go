package bustest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/poll"
)

// Net is a running embedded bus and the secret its role keys derive from.
type Net struct {
	// Bus is the server's own connection, with the permissions of the
	// roles given to Start: the role under test serves on it.
	Bus    *bus.Bus
	secret []byte
}

// Start runs an embedded bus on 127.0.0.1 whose own connection has the
// permissions of roles; it is closed when the test ends.
func Start(t testing.TB, roles ...string) *Net {
	t.Helper()
	secret := bytes.Repeat([]byte{0x42}, bus.SecretSize)
	b := bus.New(bus.Options{Name: "test", Listen: "127.0.0.1:0", Secret: secret, Contract: contract.Roles(),
		Roles: roles, Logger: slog.New(slog.DiscardHandler), RequestTimeout: time.Minute, Retries: -1})
	start(t, b)
	return &Net{Bus: b, secret: secret}
}

func start(t testing.TB, b *bus.Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
}

// Client connects to the bus with the role key of roles, as a process of
// a macronode does.
func (n *Net) Client(t testing.TB, roles ...string) *bus.Bus {
	t.Helper()
	key, err := bus.RoleKey(n.secret, roles)
	if err != nil {
		t.Fatal(err)
	}
	b := bus.New(bus.Options{Name: "client-" + strings.Join(roles, "+"), URL: n.Bus.ListenURL(), Contract: contract.Roles(),
		Roles: roles, RoleKey: key, Retries: -1, Logger: slog.New(slog.DiscardHandler), RequestTimeout: time.Minute})
	start(t, b)
	return b
}

// Forge publishes data on subject as a plain NATS client holding the role
// key of roles (no check of this side's), with a reply subject, and
// returns once the server has refused it as a permissions violation. A
// subject the key may publish fails the test (after poll's deadline).
func (n *Net) Forge(t testing.TB, subject string, data []byte, roles ...string) {
	t.Helper()
	var mu sync.Mutex
	var errs []string
	nc, pub := RawConn(t, n.Bus.ListenURL(), n.secret, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err.Error())
	}, roles...)
	defer nc.Close()
	if err := nc.PublishRequest(subject, "_INBOX."+pub+".forged", data); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the server to refuse publishing "+subject, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			if strings.Contains(strings.ToLower(e), "permissions violation for publish") && strings.Contains(e, subject) {
				return true
			}
		}
		return false
	})
}

// RawConn connects to the bus listener at url with the role key of roles
// (derived from secret) as a plain NATS client, which checks nothing before
// the server does; onErr, when set, gets the server's asynchronous errors
// (permissions violations). It returns the connection, closed when the test
// ends, and the key's public name (its inbox prefix is "_INBOX."+pub).
func RawConn(t testing.TB, url string, secret []byte, onErr func(error), roles ...string) (*nats.Conn, string) {
	t.Helper()
	key, err := bus.RoleKey(secret, roles)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, key)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	set, err := bus.RoleSet(roles)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, nats.UserInfo(set, ""), nats.Nkey(pub, kp.Sign),
		nats.CustomInboxPrefix("_INBOX."+pub), nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if onErr != nil {
				onErr(err)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, pub
}
