package bus

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/ronhost/ronhost/internal/codes"
)

// The backoff before sending a request again after it failed (no instance
// answered, an instance refused it as unavailable or overloaded): the n-th
// repeat waits a random time between half of and all of
// min(retryBackoffMax, retryBackoffMin<<(n-1)).
const (
	retryBackoffMin = 20 * time.Millisecond
	retryBackoffMax = 500 * time.Millisecond
)

// counters are the bus's figures for Stats.
type counters struct {
	requests, failed, retries, hedges, reconnects atomic.Uint64
}

// Stats are a bus's running totals, for metrics.
type Stats struct {
	Requests   uint64 // Request calls that reached the wire
	Failed     uint64 // of which ended in an error (a handler's own included)
	Retries    uint64 // requests sent again after a failed attempt
	Hedges     uint64 // idempotent requests sent again after AttemptTimeout of silence
	Reconnects uint64 // times the connection was lost and made again
	Connected  bool
	ServerURL  string // the server the connection is on ("" when down; in-process when embedded)
	Members    int    // the other cluster members the embedded server has routes to (0 without a cluster)
}

// Stats returns the bus's running totals.
func (b *Bus) Stats() Stats {
	s := Stats{
		Requests: b.stats.requests.Load(), Failed: b.stats.failed.Load(),
		Retries: b.stats.retries.Load(), Hedges: b.stats.hedges.Load(), Reconnects: b.stats.reconnects.Load(),
	}
	if nc := b.conn.Load(); nc != nil && nc.IsConnected() {
		s.Connected = true
		s.ServerURL = nc.ConnectedUrlRedacted()
	}
	b.mu.Lock()
	if b.srv != nil {
		s.Members = b.srv.NumRemotes()
	}
	b.mu.Unlock()
	return s
}

// again is what may follow a failed attempt.
type again int

const (
	final        again = iota // the answer stands
	resend                    // the request never ran, or its handler said to try again
	resendIfIdem              // the request may have run: only an idempotent verb is sent again
)

// judge turns an attempt's outcome into its reply or error, and says
// whether the request may be sent again.
func judge(subj string, msg *nats.Msg, err error) (*nats.Msg, *Error, again) {
	if err != nil {
		e := requestError(subj, err)
		switch {
		case errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrReconnectBufExceeded):
			return nil, e, resend
		case errors.Is(err, nats.ErrDisconnected):
			// The reply was lost with the connection (nats.go gives up the
			// requests in flight when it is made to reconnect).
			return nil, e, resendIfIdem
		}
		return nil, e, final
	}
	if msg.Header.Get(micro.ErrorCodeHeader) != "" {
		e := decodeError(msg)
		switch {
		case !e.Retryable || e.Code != codes.Unavailable && e.Code != codes.Overloaded:
			return nil, e, final
		case msg.Header.Get(notRunHeader) != "":
			return nil, e, resend // refused before its handler ran
		}
		// The handler says another attempt may succeed, but it may have
		// done part of the work.
		return nil, e, resendIfIdem
	}
	return msg, nil, final
}

// exchange sends the request and returns its reply, sending it again as
// Request documents.
func (b *Bus) exchange(ctx context.Context, nc *nats.Conn, v Spec, subj string, data []byte) (*nats.Msg, *Error) {
	b.stats.requests.Add(1)
	msg, e := b.attempts(ctx, nc, v, subj, data)
	if e != nil {
		b.stats.failed.Add(1)
	}
	return msg, e
}

func (b *Bus) attempts(ctx context.Context, nc *nats.Conn, v Spec, subj string, data []byte) (*nats.Msg, *Error) {
	idem := v.Idempotent
	if idem && b.retries > 0 && b.o.AttemptTimeout >= 0 {
		return b.hedged(ctx, nc, subj, data)
	}
	for n := 1; ; n++ {
		msg, err := send(ctx, nc, subj, data)
		m, e, next := judge(subj, msg, err)
		if e == nil {
			return m, nil
		}
		if next == final || next == resendIfIdem && !idem || n > b.retries || !b.backoff(ctx, n) {
			return nil, e
		}
		b.stats.retries.Add(1)
		if b.retryHook != nil {
			b.retryHook(n, e)
		}
	}
}

// backoffDelay is the wait before the n-th repeat.
func backoffDelay(n int) time.Duration {
	d := retryBackoffMax
	if n <= 8 {
		d = min(d, retryBackoffMin<<(n-1))
	}
	return d/2 + rand.N(d/2+1)
}

// fits says whether d ends before ctx's deadline.
func fits(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

// backoff waits before the n-th repeat; false if ctx would end first.
func (b *Bus) backoff(ctx context.Context, n int) bool {
	d := backoffDelay(n)
	if !fits(ctx, d) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type outcome struct {
	msg *nats.Msg
	err error
}

// hedged runs the attempts of an idempotent request: it sends the request
// again after AttemptTimeout of silence (keeping the earlier attempts: the
// first answer wins) or after a backoff when an attempt fails in a way
// another may fix, up to Retries more times. Every attempt it started has
// ended when it returns.
func (b *Bus) hedged(ctx context.Context, nc *nats.Conn, subj string, data []byte) (*nats.Msg, *Error) {
	most := 1 + b.retries
	every := b.o.AttemptTimeout
	if every == 0 {
		if dl, ok := ctx.Deadline(); ok {
			every = time.Until(dl) / time.Duration(most)
		}
		every = max(every, time.Millisecond)
	}
	actx, cancel := context.WithCancel(ctx)
	results := make(chan outcome, most)
	sent, pending := 0, 0
	defer func() {
		cancel()
		for ; pending > 0; pending-- {
			<-results
		}
	}()
	send := func() {
		sent++
		pending++
		go func() {
			msg, err := send(actx, nc, subj, data)
			results <- outcome{msg, err}
		}()
	}

	send()
	timer := time.NewTimer(every)
	defer timer.Stop()
	next := time.Now().Add(every) // when the timer fires
	retry := false                // whether it fires for a failure (else for silence)
	var last *Error
	for {
		select {
		case o := <-results:
			pending--
			m, e, verdict := judge(subj, o.msg, o.err)
			if e == nil {
				return m, nil
			}
			if verdict == final {
				return nil, e
			}
			last = e
			d := backoffDelay(sent)
			if sent >= most || !fits(ctx, d) {
				if pending == 0 {
					return nil, last
				}
				continue // an earlier attempt may still answer
			}
			if at := time.Now().Add(d); at.Before(next) {
				timer.Reset(d)
				next, retry = at, true
			}
		case <-timer.C:
			if sent >= most {
				continue
			}
			if retry {
				b.stats.retries.Add(1)
			} else {
				b.stats.hedges.Add(1)
			}
			if b.retryHook != nil {
				b.retryHook(sent, last)
			}
			send()
			if sent < most {
				timer.Reset(every)
				next, retry = time.Now().Add(every), false
			}
		case <-ctx.Done():
			if pending == 0 && last != nil {
				return nil, last
			}
			return nil, requestError(subj, ctx.Err())
		}
	}
}
