package node

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/core/mailbox"
	"github.com/ronhost/ronhost/internal/poll"
	"github.com/ronhost/ronhost/internal/tortest"
)

// TestMailboxOverPrivateTor runs a private Tor network on 127.0.0.1 (three
// directory authorities with keys from tor-gencert, five relays) and two
// nodes that each supervise their own client-only tor: a message sent from
// one node's mailbox reaches the other's onion mailbox, decrypted, and is
// acknowledged; when the sender's tor is killed, readiness degrades, tor is
// restarted, and a message sent meanwhile is still delivered.
func TestMailboxOverPrivateTor(t *testing.T) {
	if err := tortest.Available(); err != nil {
		t.Skip(err) // .ci/run installs Debian's tor
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	netDir, err := os.MkdirTemp("", "rtn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(netDir) })
	began := time.Now()
	network, err := tortest.Start(ctx, t, filepath.Join(netDir, "net"), tortest.Options{Authorities: 3, Relays: 5})
	if err != nil {
		t.Fatal(err)
	}
	withTor := func(c *config.Config) {
		c.Tor.Mode = "managed"
		c.Tor.ExtraTorrc = network.ClientTorrc()
		c.Node.Require = []string{"tor"} // readiness follows tor's
		c.Mailbox.RetryMin = config.Duration(500 * time.Millisecond)
		c.Mailbox.RetryMax = config.Duration(3 * time.Second)
	}
	a, _, _ := startNode(t, withTor)
	b, _, _ := startNode(t, withTor)
	if err := network.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	poll.UntilCtx(t, ctx, "both nodes ready (tor bootstrapped)", func() bool { return a.Ready(ctx) == nil && b.Ready(ctx) == nil })
	t.Logf("private network up and both nodes ready after %v", time.Since(began).Round(time.Millisecond))

	to := b.mailbox.Address()
	inboxHas := func(id string) *mailbox.Message {
		msgs, err := b.mailbox.Inbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range msgs {
			if msgs[i].ID == id {
				return &msgs[i]
			}
		}
		return nil
	}
	send := func(body string) (string, time.Time) {
		t.Helper()
		id, err := a.mailbox.Send(ctx, to, []byte(body), "text/plain")
		if err != nil {
			t.Fatal(err)
		}
		return id, time.Now()
	}
	delivered := func(id string) bool {
		out, err := a.mailbox.Outbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out {
			if e.ID == id {
				return e.Status == "delivered"
			}
		}
		return false
	}

	// First message: waits for the onion descriptor to reach the HSDirs.
	id1, sent := send("hello over onions")
	poll.UntilCtx(t, ctx, "the first message in B's inbox", func() bool { return inboxHas(id1) != nil })
	t.Logf("first message latency (cold: descriptor fetch, circuits): %v", time.Since(sent).Round(time.Millisecond))
	m := inboxHas(id1)
	if string(m.Body) != "hello over onions" || m.From.String() != a.mailbox.Address().String() {
		t.Fatalf("received %+v", m)
	}
	poll.UntilCtx(t, ctx, "A to see B's receipt", func() bool { return delivered(id1) })
	if err := b.mailbox.Ack(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if inboxHas(id1) != nil {
		t.Fatal("an acknowledged message is still in the inbox")
	}
	id2, sent := send("warm")
	poll.UntilCtx(t, ctx, "the second message", func() bool { return inboxHas(id2) != nil })
	t.Logf("second message latency (warm): %v", time.Since(sent).Round(time.Millisecond))

	// Kill the sender's tor: readiness degrades, a message sent now waits in
	// the outbox, tor comes back, the message arrives.
	if err := syscall.Kill(a.tor.Status().PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.UntilCtx(t, ctx, "A's readyz to degrade", func() bool { return a.Ready(ctx) != nil })
	id3, sent := send("sent while tor was down")
	killed := time.Now()
	poll.UntilCtx(t, ctx, "A's tor to be restarted and ready", func() bool { return a.Ready(ctx) == nil })
	t.Logf("tor restarted and bootstrapped %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	poll.UntilCtx(t, ctx, "the message sent while tor was down", func() bool { return inboxHas(id3) != nil })
	t.Logf("message sent while tor was down arrived %v after it was sent", time.Since(sent).Round(time.Millisecond))
	if a.tor.Status().Restarts < 1 {
		t.Fatalf("tor status %+v: no restart counted", a.tor.Status())
	}
}
