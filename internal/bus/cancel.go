package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// Cancelling a request across the bus. Each request carries a fresh random
// token in the Ron-Cancel header. A caller whose ctx is cancelled before a
// reply (not its deadline: the handler's ctx ends at the same deadline)
// publishes a message with that header, and no body, on the request's
// subject followed by ".cancel" (ron.<role>.<verb>.cancel). Every instance
// of the role hears it (no queue group); the one running the request
// cancels its handler's ctx, with ErrCallerCanceled as the cause.
//
// A cancel names a request by its subject and token: only the caller, the
// role's instances (which could answer it anyway) and the operator see the
// token, so no other client can cancel a request it did not see. An unknown
// token changes nothing beyond the small bounded memory of cancels that
// came before their request (earlyCancels).
const (
	cancelHeader = "Ron-Cancel"
	cancelSuffix = ".cancel"
)

// ErrCallerCanceled is the cause (context.Cause) of a handler's ctx that
// ended because its caller cancelled the request.
var ErrCallerCanceled = errors.New("bus: the caller canceled the request")

// earlyCancels bounds the cancels kept for requests not seen yet (a cancel
// may overtake its request queued behind Concurrency others): such a
// request is dropped when it comes. The oldest are forgotten first.
const earlyCancels = 256

type cancelKey struct{ subject, token string }

// cancels is a Bus's in-flight requests that may be cancelled, by subject
// and token.
type cancels struct {
	mu      sync.Mutex
	running map[cancelKey]*tracked
	early   map[cancelKey]struct{}
	ring    []cancelKey // early, oldest first at next
	next    int
}

type tracked struct{ cancel context.CancelCauseFunc }

func newCancelToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// saneToken: what a token may be (as a request id: it is only ever
// compared, but a rogue should not make us keep big keys).
func saneToken(tok string) bool { return SaneRequestID(tok) }

// track returns a ctx under parent that a cancel of (subject, token) ends,
// and release, which forgets it and must be called when the handler has
// ended. ok is false when the request was cancelled before it came: it
// should not run. A request without a token (or with one already running:
// only a rogue repeats one) cannot be cancelled.
func (c *cancels) track(parent context.Context, subject, token string) (ctx context.Context, release func(), ok bool) {
	ctx, cancel := context.WithCancelCause(parent)
	if token == "" || !saneToken(token) {
		return ctx, func() { cancel(nil) }, true
	}
	k := cancelKey{subject, token}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, gone := c.early[k]; gone {
		delete(c.early, k)
		cancel(ErrCallerCanceled)
		return ctx, func() {}, false
	}
	if c.running[k] != nil {
		return ctx, func() { cancel(nil) }, true
	}
	if c.running == nil {
		c.running = map[cancelKey]*tracked{}
	}
	t := &tracked{cancel: cancel}
	c.running[k] = t
	return ctx, func() {
		c.mu.Lock()
		if c.running[k] == t {
			delete(c.running, k)
		}
		c.mu.Unlock()
		cancel(nil)
	}, true
}

// cancel ends the handler of (subject, token), or remembers the cancel for
// a request not seen yet.
func (c *cancels) cancel(subject, token string) {
	if !saneToken(token) {
		return
	}
	k := cancelKey{subject, token}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.running[k]; t != nil {
		t.cancel(ErrCallerCanceled)
		return
	}
	if _, ok := c.early[k]; ok {
		return
	}
	if c.early == nil {
		c.early = map[cancelKey]struct{}{}
		c.ring = make([]cancelKey, 0, earlyCancels)
	}
	if len(c.ring) < earlyCancels {
		c.ring = append(c.ring, k)
	} else {
		delete(c.early, c.ring[c.next])
		c.ring[c.next] = k
		c.next = (c.next + 1) % earlyCancels
	}
	c.early[k] = struct{}{}
}

// inFlight is the number of cancellable requests tracked (for tests).
func (c *cancels) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.running)
}

// onCancel handles a message on ron.<role>.<verb>.cancel.
func (b *Bus) onCancel(m *nats.Msg) {
	subj, ok := strings.CutSuffix(m.Subject, cancelSuffix)
	if !ok || m.Header == nil {
		return
	}
	b.cancels.cancel(subj, m.Header.Get(cancelHeader))
}

// sendCancel asks the instance running the request sent on subj with
// token to stop. Best effort: a connection the server does not let publish
// the cancel subject (an external NATS configured before it existed) gets
// a permissions error from the server, logged, and the handler runs on to
// its deadline as before.
func sendCancel(nc *nats.Conn, subj, token string) {
	_ = nc.PublishMsg(&nats.Msg{Subject: subj + cancelSuffix, Header: nats.Header{cancelHeader: []string{token}}})
}
