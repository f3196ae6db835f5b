package mailbox

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestOverTCP: the same exchange over real loopback TCP with a net.Dialer
// (the contract is only Dialer).
func TestOverTCP(t *testing.T) {
	bobID, _ := GenerateIdentity()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bobM, err := Open(bg, "/b", Options{FS: vfs.NewMem(), Identity: bobID, Host: l.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer bobM.Close()
	srv := httptest.NewUnstartedServer(bobM.Handler())
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	defer srv.Close()

	aliceID, _ := GenerateIdentity()
	alice, err := Open(bg, "/a", Options{FS: vfs.NewMem(), Identity: aliceID, Host: "127.0.0.1:1", Dialer: &net.Dialer{}, RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	if err := alice.Start(bg); err != nil {
		t.Fatal(err)
	}
	id, err := alice.Send(bg, bobM.Address(), []byte("over tcp"), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, alice, id, StatusDelivered)
	if got := inbox(t, bobM); len(got) != 1 || string(got[0].Body) != "over tcp" {
		t.Fatalf("inbox %+v", got)
	}
	resp, err := http.Get(srv.URL + DeliverPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %s", resp.Status)
	}
	// After Close the handler answers 503.
	if err := bobM.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := bobM.Deliver(sealed(t, aliceID, alice.Address(), bobID.Keys(), "late").Marshal()); err != ErrClosed {
		t.Fatalf("deliver after close: %v", err)
	}
}

// hangDialer blocks every dial until its context ends.
type hangDialer struct{ dialing chan struct{} }

func (h hangDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	select {
	case h.dialing <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestCloseDuringDelivery: Close cancels a hanging delivery and waits for
// it; the message stays pending with no attempt counted, and a reopened
// mailbox delivers it.
func TestCloseDuringDelivery(t *testing.T) {
	n := newMemNet()
	bob := newBox(t, n, "/b", testOptions(n, "bob.onion:80"))
	o := testOptions(n, "alice.onion:80")
	h := hangDialer{dialing: make(chan struct{}, 1)}
	o.Dialer = h
	m, err := Open(bg, "/a", o)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(bg); err != nil {
		t.Fatal(err)
	}
	id, err := m.Send(bg, bob.addr, []byte("patience"), "")
	if err != nil {
		t.Fatal(err)
	}
	<-h.dialing
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	o.Dialer = n
	m2, err := Open(bg, "/a", o)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if e := outboxEntry(t, m2, id); e.Status != StatusPending || e.Attempts != 0 {
		t.Fatalf("after close: %+v", e)
	}
	if err := m2.Start(bg); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m2, id, StatusDelivered)
	if got := inbox(t, bob.m); len(got) != 1 {
		t.Fatalf("inbox %d", len(got))
	}
}
