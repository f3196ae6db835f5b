package mailboxsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/bustest"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/mailbox"
	"github.com/ronhost/ronhost/internal/poll"
)

// openBox opens a real mailbox (its own Pebble) served over HTTP on
// loopback, reached at that address (no tor).
func openBox(t *testing.T) *mailbox.Mailbox {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	id, err := mailbox.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mb, err := mailbox.Open(ctx, filepath.Join(t.TempDir(), "mailbox"), mailbox.Options{Identity: id, Host: ln.Addr().String(),
		Dialer: &net.Dialer{Timeout: 30 * time.Second}, RetryMin: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := mb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mb.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() {
		_ = srv.Close()
		_ = mb.Close()
	})
	return mb
}

// TestAddressOverTheBus: the mailbox role's one verb on a real bus with
// role keys. Its own role reads the address and tor's state; a malformed
// request is invalid; a gateway's key may not call it (its bus refuses
// before sending, and the server drops the message when sent anyway).
func TestAddressOverTheBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mb := openBox(t)
	bn := bustest.Start(t, contract.Mailbox)
	if err := bn.Bus.Serve(contract.Mailbox, "1.0.0", "", Service{Mailbox: mb}.Endpoints()...); err != nil {
		t.Fatal(err)
	}
	got, err := bus.Call(ctx, bn.Bus, contract.MailboxAddress, contract.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Address != mb.Address().String() || string(got.Tor) != `{"mode":"off"}` {
		t.Fatalf("address %+v (tor %s), want %s without tor", got, got.Tor, mb.Address())
	}
	if _, err := mailbox.ParseAddress(got.Address); err != nil {
		t.Fatalf("the address does not parse: %v", err)
	}

	err = bn.Bus.Request(ctx, contract.MailboxAddress.Spec, map[string]any{"address": "x"}, nil)
	if codes.Of(err) != codes.Invalid {
		t.Fatalf("a request with an unknown field: %v, want invalid", err)
	}
	err = bn.Bus.Request(ctx, contract.MailboxAddress.Spec, map[string]string{"pad": strings.Repeat("x", 2<<20)}, nil)
	if codes.Of(err) != codes.TooLarge {
		t.Fatalf("a 2 MiB request: %v, want too_large", err)
	}

	gw := bn.Client(t, contract.Gateway)
	if _, err := bus.Call(ctx, gw, contract.MailboxAddress, contract.Empty{}); codes.Of(err) != codes.Forbidden {
		t.Fatalf("the gateway's key calling mailbox.address: %v, want forbidden", err)
	}
	bn.Forge(t, "ron.mailbox.address", []byte(`{}`), contract.Gateway)
}

// TestOps: the operator's operations on two real mailboxes that deliver
// to each other over loopback. A message sent from A arrives in B's inbox
// and is acked there once; malformed, oversized and misaddressed sends are
// refused with their codes and leave A's outbox as it was.
func TestOps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := Service{Mailbox: openBox(t)}, Service{Mailbox: openBox(t)}
	ops := Ops()
	call := func(s Service, pattern, body string, path ...string) (any, error) {
		t.Helper()
		op, ok := ops[pattern]
		if !ok {
			t.Fatalf("no op %q", pattern)
		}
		method, target, _ := strings.Cut(pattern, " ")
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		if len(path) == 2 {
			r.SetPathValue(path[0], path[1])
		}
		return op(ctx, s, r)
	}
	outbox := func(s Service) []mailbox.OutboxEntry {
		t.Helper()
		out, err := call(s, "GET /v1/mailbox/outbox", "")
		if err != nil {
			t.Fatal(err)
		}
		return out.(map[string]any)["outbox"].([]mailbox.OutboxEntry)
	}

	out, err := call(b, "GET /v1/mailbox", "")
	if err != nil {
		t.Fatal(err)
	}
	bAddr := out.(map[string]any)["address"].(string)
	if bAddr != b.Mailbox.Address().String() {
		t.Fatalf("GET /v1/mailbox: %v", out)
	}

	for name, c := range map[string]struct {
		body string
		code codes.Code
	}{
		"not JSON":          {`{"to":`, codes.Invalid},
		"an unknown field":  {`{"to":"` + bAddr + `","bcc":"x"}`, codes.Invalid},
		"a bad address":     {`{"to":"nobody@nowhere","body":"aGk="}`, codes.Invalid},
		"a body over 1 MiB": {`{"to":"` + bAddr + `","body":"` + strings.Repeat("A", MaxSendBody) + `"}`, codes.TooLarge},
		"a message over the mailbox's cap": {`{"to":"` + bAddr + `","body":"` +
			strings.Repeat("A", 200<<10) + `"}`, codes.TooLarge},
	} {
		if _, err := call(a, "POST /v1/mailbox/send", c.body); codes.Of(err) != c.code {
			t.Errorf("send of %s: %v, want %s", name, err, c.code)
		}
	}
	if ob := outbox(a); len(ob) != 0 {
		t.Fatalf("refused sends left %+v in the outbox", ob)
	}

	body, _ := json.Marshal(map[string]any{"to": bAddr, "body": []byte("hello, B")})
	out, err = call(a, "POST /v1/mailbox/send", string(body))
	if err != nil {
		t.Fatal(err)
	}
	id := out.(map[string]string)["id"]
	var inbox []mailbox.Message
	poll.Until(t, "the message to reach B's inbox", func() bool {
		out, err := call(b, "GET /v1/mailbox/inbox", "")
		if err != nil {
			t.Fatal(err)
		}
		inbox = out.(map[string]any)["messages"].([]mailbox.Message)
		return len(inbox) == 1
	})
	if inbox[0].ID != id || !bytes.Equal(inbox[0].Body, []byte("hello, B")) {
		t.Fatalf("B's inbox: %+v, want %s", inbox[0], id)
	}
	if _, err := call(b, "POST /v1/mailbox/ack/{id}", "", "id", id); err != nil {
		t.Fatal(err)
	}
	if _, err := call(b, "POST /v1/mailbox/ack/{id}", "", "id", id); codes.Of(err) != codes.NotFound {
		t.Fatalf("a second ack: %v, want not_found", err)
	}
}
