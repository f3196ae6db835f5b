package mailbox

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/poll"
)

func TestExchange(t *testing.T) {
	n := newMemNet()
	alice := newBox(t, n, "/a", testOptions(n, "alice.onion:80"))
	bob := newBox(t, n, "/b", testOptions(n, "bob.onion:80"))

	id, err := alice.m.Send(bg, bob.addr, []byte("hello bob"), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	e := waitStatus(t, alice.m, id, StatusDelivered)
	if e.Attempts != 1 || e.Receipt == nil || e.To != bob.addr {
		t.Fatalf("outbox entry %+v", e)
	}
	if err := e.Receipt.Verify(id, bob.addr.Keys); err != nil {
		t.Fatalf("the stored receipt: %v", err)
	}
	// Events are published just after the synced writes.
	poll.Until(t, "the delivered and received events", func() bool {
		return alice.ev.has("mailbox.delivered", id) && bob.ev.has("mailbox.received", id)
	})
	msgs := inbox(t, bob.m)
	if len(msgs) != 1 {
		t.Fatalf("bob's inbox: %d messages", len(msgs))
	}
	msg := msgs[0]
	if msg.ID != id || msg.From != alice.addr || string(msg.Body) != "hello bob" || msg.ContentType != "text/plain" {
		t.Fatalf("message %+v", msg)
	}
	if !msg.Received.Equal(e.Receipt.Received) {
		t.Fatalf("received %v, receipt says %v", msg.Received, e.Receipt.Received)
	}
	// Bob answers; the default content type.
	id2, err := bob.m.Send(bg, msg.From, []byte("hi alice"), "")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, bob.m, id2, StatusDelivered)
	if got := inbox(t, alice.m); len(got) != 1 || string(got[0].Body) != "hi alice" || got[0].ContentType != DefaultContentType || got[0].From != bob.addr {
		t.Fatalf("alice's inbox %+v", got)
	}
	if err := bob.m.Ack(bg, id); err != nil {
		t.Fatal(err)
	}
	if !bob.ev.has("mailbox.acked", id) {
		t.Fatal("no acked event")
	}
	if got := inbox(t, bob.m); len(got) != 0 {
		t.Fatalf("inbox after ack: %+v", got)
	}
	if err := bob.m.Ack(bg, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second ack: %v", err)
	}
	if _, err := bob.m.Get(bg, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after ack: %v", err)
	}
}

// sealed returns a valid envelope from alice to bob's keys.
func sealed(t testing.TB, from *Identity, fromAddr Address, to Keys, body string) *Envelope {
	t.Helper()
	id, _ := newID()
	now := time.Now()
	env, err := from.Seal(id, fromAddr, to, now, now.Add(time.Hour), "text/plain", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestTamperedEnvelopeRefused(t *testing.T) {
	n := newMemNet()
	alice := newBox(t, n, "/a", testOptions(n, "alice.onion:80"))
	bob := newBox(t, n, "/b", testOptions(n, "bob.onion:80"))
	good := sealed(t, alice.m.id, alice.addr, bob.addr.Keys, "tamper with me").Marshal()
	for i := range good {
		for _, x := range []byte{0x01, 0x20, 0x80} {
			bad := bytes.Clone(good)
			bad[i] ^= x
			if rc, err := bob.m.Deliver(bad); err == nil {
				t.Fatalf("byte %d ^ %#x accepted: %+v\n%s", i, x, rc, bad)
			}
		}
	}
	if got := inbox(t, bob.m); len(got) != 0 {
		t.Fatalf("tampered messages stored: %d", len(got))
	}
	// Flipping a ciphertext bit is a bad seal; swapping the sender is a bad
	// signature or seal.
	env, _ := ParseEnvelope(good, 0)
	env.Sealed[len(env.Sealed)/2] ^= 1
	if _, err := bob.m.Deliver(env.Marshal()); !errors.Is(err, ErrBadEnvelope) {
		t.Fatalf("flipped ciphertext: %v", err)
	}
	carol, _ := GenerateIdentity()
	env, _ = ParseEnvelope(good, 0)
	env.From = Address{Keys: carol.Keys(), Host: "carol.onion:80"}.String()
	if _, err := bob.m.Deliver(env.Marshal()); !errors.Is(err, ErrBadEnvelope) {
		t.Fatalf("other sender: %v", err)
	}
	// Through HTTP: 400.
	resp := post(t, n, bob.addr.Host, good[:len(good)-3])
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("tampered over HTTP: %s", resp.Status)
	}
	if resp := post(t, n, bob.addr.Host, good); resp.StatusCode != http.StatusOK {
		t.Fatalf("the untampered envelope: %s", resp.Status)
	}
}

// post sends body to the deliver endpoint at host over n.
func post(t *testing.T, n *memNet, host string, body []byte) *http.Response {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: n.DialContext}}
	defer c.CloseIdleConnections()
	resp, err := c.Post("http://"+host+DeliverPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestNotForUs(t *testing.T) {
	n := newMemNet()
	alice := newBox(t, n, "/a", testOptions(n, "alice.onion:80"))
	bob := newBox(t, n, "/b", testOptions(n, "bob.onion:80"))
	carol := newBox(t, n, "/c", testOptions(n, "carol.onion:80"))

	toCarol := sealed(t, alice.m.id, alice.addr, carol.addr.Keys, "for carol").Marshal()
	if _, err := bob.m.Deliver(toCarol); !errors.Is(err, ErrNotForUs) {
		t.Fatalf("delivered to the wrong mailbox: %v", err)
	}
	if resp := post(t, n, bob.addr.Host, toCarol); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("over HTTP: %s", resp.Status)
	}
	// The header names bob but the seal is to carol's key: it does not open.
	env, _ := ParseEnvelope(toCarol, 0)
	env.To, env.to = bob.addr.Keys.String(), bob.addr.Keys
	if _, err := bob.m.Deliver(env.Marshal()); !errors.Is(err, ErrBadEnvelope) {
		t.Fatalf("header rewritten to bob: %v", err)
	}
	// Bob forwards alice's signed message to carol, re-sealed with a header
	// for carol: the inner recipient is bob, so carol refuses it.
	toBob := sealed(t, alice.m.id, alice.addr, bob.addr.Keys, "for bob only")
	bid := bob.m.id
	aead, err := sealKey(bid.box[:], toBob.EPK, toBob.EPK, bid.keys.Box[:])
	if err != nil {
		t.Fatal(err)
	}
	var nonce [12]byte
	inner, err := aead.Open(nil, nonce[:], toBob.Sealed, toBob.header())
	if err != nil {
		t.Fatal(err)
	}
	fwd := *toBob
	fwd.To, fwd.to = carol.addr.Keys.String(), carol.addr.Keys
	esk := bytes.Repeat([]byte{7}, 32)
	fwd.EPK, _ = x25519Base(esk)
	if err := fwd.encrypt(esk, carol.addr.Keys, inner); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.m.Deliver(fwd.Marshal()); !errors.Is(err, ErrNotForUs) {
		t.Fatalf("forwarded: %v", err)
	}
	if len(inbox(t, carol.m))+len(inbox(t, bob.m)) != 0 {
		t.Fatal("something was stored")
	}
}

func TestRedeliveryIdempotent(t *testing.T) {
	n := newMemNet()
	alice := newBox(t, n, "/a", testOptions(n, "alice.onion:80"))
	bob := newBox(t, n, "/b", testOptions(n, "bob.onion:80"))
	env := sealed(t, alice.m.id, alice.addr, bob.addr.Keys, "once")
	b := env.Marshal()
	r1, err := bob.m.Deliver(b)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := bob.m.Deliver(b)
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Received.Equal(r2.Received) || !bytes.Equal(r1.Sig, r2.Sig) {
		t.Fatalf("receipts differ: %+v %+v", r1, r2)
	}
	// Over HTTP as well.
	if resp := post(t, n, bob.addr.Host, b); resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	if got := inbox(t, bob.m); len(got) != 1 {
		t.Fatalf("%d inbox entries", len(got))
	}
	if err := bob.m.Ack(bg, env.ID); err != nil {
		t.Fatal(err)
	}
	r3, err := bob.m.Deliver(b)
	if err != nil || !bytes.Equal(r3.Sig, r1.Sig) {
		t.Fatalf("redelivery after ack: %+v, %v", r3, err)
	}
	if got := inbox(t, bob.m); len(got) != 0 {
		t.Fatalf("redelivery after ack stored it again: %d", len(got))
	}
	// Another sender reusing the id is refused.
	carol, _ := GenerateIdentity()
	caddr, _ := carol.Address("carol.onion:80")
	now := time.Now()
	other, err := carol.Seal(env.ID, caddr, bob.addr.Keys, now, now.Add(time.Hour), "", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.m.Deliver(other.Marshal()); !errors.Is(err, errConflict) {
		t.Fatalf("same id from another sender: %v", err)
	}
}

func TestRecipientDownAtFirst(t *testing.T) {
	n := newMemNet()
	alice := newBox(t, n, "/a", testOptions(n, "alice.onion:80"))
	bob := newBox(t, n, "/b", testOptions(n, "bob.onion:80"))
	n.setFail(bob.addr.Host, 5)
	id, err := alice.m.Send(bg, bob.addr, []byte("are you there?"), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	e := waitStatus(t, alice.m, id, StatusDelivered)
	if e.Attempts != 6 || n.failLeft(bob.addr.Host) != 0 {
		t.Fatalf("attempts %d (want 6), %d failures left", e.Attempts, n.failLeft(bob.addr.Host))
	}
	if !strings.Contains(e.LastError, "down") {
		t.Fatalf("last error %q", e.LastError)
	}
	if got := inbox(t, bob.m); len(got) != 1 || string(got[0].Body) != "are you there?" {
		t.Fatalf("inbox %+v", got)
	}
}

func TestInboxFull(t *testing.T) {
	n := newMemNet()
	alice := newBox(t, n, "/a", testOptions(n, "alice.onion:80"))
	carol := newBox(t, n, "/c", testOptions(n, "carol.onion:80"))
	ob := testOptions(n, "bob.onion:80")
	ob.MaxInbox = 1
	bob := newBox(t, n, "/b", ob)
	first, err := carol.m.Send(bg, bob.addr, []byte("1"), "")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, carol.m, first, StatusDelivered)
	if resp := post(t, n, bob.addr.Host, sealed(t, alice.m.id, alice.addr, bob.addr.Keys, "x").Marshal()); resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("full inbox answered %s", resp.Status)
	}
	id, err := alice.m.Send(bg, bob.addr, []byte("2"), "")
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "retries against the full inbox", func() bool {
		e := outboxEntry(t, alice.m, id)
		return e.Status == StatusPending && e.Attempts >= 3 && strings.Contains(e.LastError, "507")
	})
	if err := bob.m.Ack(bg, first); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, alice.m, id, StatusDelivered)
	if got := inbox(t, bob.m); len(got) != 1 || got[0].ID != id {
		t.Fatalf("inbox %+v", got)
	}
}

func TestSizeCaps(t *testing.T) {
	n := newMemNet()
	alice := newBox(t, n, "/a", testOptions(n, "alice.onion:80"))
	ob := testOptions(n, "bob.onion:80")
	ob.MaxBody = 1 << 10
	bob := newBox(t, n, "/b", ob)
	if _, err := alice.m.Send(bg, bob.addr, make([]byte, DefaultMaxBody+1), ""); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("body over the cap: %v", err)
	}
	id, err := alice.m.Send(bg, alice.addr, make([]byte, DefaultMaxBody), "")
	if err != nil {
		t.Fatalf("body at the cap: %v", err)
	}
	e := waitStatus(t, alice.m, id, StatusDelivered)
	if e.Size > 100<<10 {
		t.Fatalf("envelope of a %d-byte body is %d bytes", DefaultMaxBody, e.Size)
	}
	// Bob takes 1 KiB bodies: a 2 KiB one fails for good with 413.
	id, err = alice.m.Send(bg, bob.addr, make([]byte, 2<<10), "")
	if err != nil {
		t.Fatal(err)
	}
	e = waitStatus(t, alice.m, id, StatusFailed)
	if !strings.Contains(e.LastError, "413") || e.Attempts != 1 {
		t.Fatalf("entry %+v", e)
	}
	poll.Until(t, "the failed event", func() bool { return alice.ev.has("mailbox.failed", id) })
	if resp := post(t, n, bob.addr.Host, make([]byte, bob.m.maxEnv+1)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized post: %s", resp.Status)
	}
	if _, err := ParseEnvelope(make([]byte, 101<<10), 0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("parse over the default cap: %v", err)
	}
}

func TestRetentionSweep(t *testing.T) {
	n := newMemNet()
	clk := newClock()
	oa := testOptions(n, "alice.onion:80")
	oa.Now, oa.TTL = clk.Now, 2*time.Hour
	alice := newBox(t, n, "/a", oa)
	ob := testOptions(n, "bob.onion:80")
	ob.Now, ob.Retention = clk.Now, 24*time.Hour
	bob := newBox(t, n, "/b", ob)

	id, err := alice.m.Send(bg, bob.addr, []byte("keep me a day"), "")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, alice.m, id, StatusDelivered)
	// A message to a mailbox that never answers.
	n.setFail("dave.onion:80", 1<<30)
	dave, _ := GenerateIdentity()
	daddr, _ := dave.Address("dave.onion:80")
	lost, err := alice.m.Send(bg, daddr, []byte("nobody home"), "")
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "an attempt to dave", func() bool { return outboxEntry(t, alice.m, lost).Attempts > 0 })

	clk.Add(24*time.Hour - time.Second)
	if _, err := bob.m.Sweep(bg); err != nil {
		t.Fatal(err)
	}
	if len(inbox(t, bob.m)) != 1 {
		t.Fatal("swept before its retention")
	}
	if _, err := alice.m.Sweep(bg); err != nil {
		t.Fatal(err)
	}
	e := outboxEntry(t, alice.m, lost)
	if e.Status != StatusExpired || !strings.Contains(e.LastError, "expired") {
		t.Fatalf("expired entry %+v", e)
	}
	poll.Until(t, "the failed event", func() bool { return alice.ev.has("mailbox.failed", lost) })
	clk.Add(time.Second)
	if k, err := bob.m.Sweep(bg); err != nil || k != 2 { // the message and its receipt record
		t.Fatalf("sweep dropped %d, %v", k, err)
	}
	if len(inbox(t, bob.m)) != 0 {
		t.Fatal("not swept at its retention")
	}
	if bob.m.inboxN != 0 {
		t.Fatalf("inbox count %d", bob.m.inboxN)
	}
	if _, err := bob.m.Deliver(mustEnvelope(t, alice, id)); !errors.Is(err, ErrExpired) {
		t.Fatalf("redelivery of an expired message: %v", err)
	}
	// Alice's outbox entries stay Retention (7 days) after they finished.
	clk.Add(7 * 24 * time.Hour)
	if _, err := alice.m.Sweep(bg); err != nil {
		t.Fatal(err)
	}
	if es, _ := alice.m.Outbox(bg); len(es) != 0 {
		t.Fatalf("outbox after retention: %+v", es)
	}
}

func mustEnvelope(t *testing.T, b *box, id string) []byte {
	t.Helper()
	v, closer, err := b.m.db.Get(key(prefixEnvelope, id))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

// TestFarOffExpiryDoesNotKeepReceipts: a stranger's message that expires
// in a century leaves no receipt record past MaxDedup (records of acked
// messages would otherwise pile up forever).
func TestFarOffExpiryDoesNotKeepReceipts(t *testing.T) {
	n := newMemNet()
	clk := newClock()
	ob := testOptions(n, "bob.onion:80")
	ob.Now = clk.Now
	bob := newBox(t, n, "/b", ob)
	stranger, _ := GenerateIdentity()
	from, _ := stranger.Address("stranger.onion:80")
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	env, err := stranger.Seal(id, from, bob.addr.Keys, clk.Now(), clk.Now().Add(100*365*24*time.Hour), "", []byte("keep this forever"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.m.Deliver(env.Marshal()); err != nil {
		t.Fatal(err)
	}
	if err := bob.m.Ack(bg, id); err != nil {
		t.Fatal(err)
	}
	clk.Add(MaxDedup)
	if k, err := bob.m.Sweep(bg); err != nil || k != 1 {
		t.Fatalf("sweep dropped %d, %v", k, err)
	}
	if _, _, err := bob.m.db.Get(key(prefixReceipt, id)); err == nil {
		t.Fatal("the receipt record outlived MaxDedup")
	}
}
