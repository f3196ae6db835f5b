package mailbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Start starts the outbox worker: it delivers pending messages (at most
// Concurrency at a time), retries failed attempts with exponential backoff
// and jitter until a message expires, and sweeps retention every
// SweepEvery. It runs until ctx ends or Close.
func (m *Mailbox) Start(ctx context.Context) error {
	if m.client == nil {
		return errors.New("mailbox: start: Options.Dialer is required to deliver")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case m.started:
		return errors.New("mailbox: already started")
	}
	m.started = true
	m.wg.Add(1)
	go m.run(ctx)
	return nil
}

func (m *Mailbox) run(ctx context.Context) {
	defer m.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inflight := map[string]bool{}
	done := make(chan string, m.o.Concurrency)
	defer func() {
		cancel()
		for range inflight {
			<-done
		}
	}()
	if _, err := m.Sweep(ctx); err != nil && ctx.Err() == nil {
		m.log.Error("mailbox: sweep", "err", err)
	}
	sweep := time.NewTicker(m.o.SweepEvery)
	defer sweep.Stop()
	for {
		wait, err := m.dispatch(ctx, inflight, done)
		if err != nil && ctx.Err() == nil {
			m.log.Error("mailbox: outbox", "err", err)
			wait = m.o.RetryMin
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-m.stop:
			timer.Stop()
			return
		case id := <-done:
			delete(inflight, id)
		case <-m.wake:
		case <-timer.C:
		case <-sweep.C:
			if _, err := m.Sweep(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("mailbox: sweep", "err", err)
			}
		}
		timer.Stop()
	}
}

// dispatch starts deliveries of due pending entries not in flight, and
// returns how long to wait for the next due one (at most RetryMax).
func (m *Mailbox) dispatch(ctx context.Context, inflight map[string]bool, done chan<- string) (time.Duration, error) {
	now := m.now()
	wait := m.o.RetryMax
	var due []string
	err := m.scan(ctx, prefixOutbox, func(k, v []byte) error {
		var e OutboxEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("%w: outbox entry %s: %v", ErrCorrupt, k[1:], err)
		}
		if e.Status != StatusPending || inflight[e.ID] {
			return nil
		}
		if d := e.NextAttempt.Sub(now); d > 0 {
			wait = min(wait, d)
			return nil
		}
		due = append(due, e.ID)
		return nil
	})
	for _, id := range due {
		if len(inflight) >= m.o.Concurrency {
			break
		}
		inflight[id] = true
		go func() {
			m.deliver(ctx, id)
			done <- id
		}()
	}
	return wait, err
}

// deliver makes one delivery attempt of outbox entry id and records its
// outcome.
func (m *Mailbox) deliver(ctx context.Context, id string) {
	var e OutboxEntry
	env, err := m.loadOutgoing(id, &e)
	if err != nil {
		m.log.Error("mailbox: outbox", "id", id, "err", err)
		return
	}
	if e.Status != StatusPending {
		return
	}
	if !m.now().Before(e.Expires) {
		m.finish(id, StatusExpired, fmt.Sprintf("%v after %d attempts (last: %s)", ErrExpired, e.Attempts, e.LastError), nil)
		return
	}
	rc, err := m.post(ctx, e.To, id, env)
	if ctx.Err() != nil {
		return // closing: the attempt does not count
	}
	attempts := e.Attempts + 1
	switch {
	case err == nil:
		m.log.Info("mailbox: delivered", "id", id, "to", e.To.String(), "attempts", attempts)
		m.finish(id, StatusDelivered, "", rc)
	case errors.Is(err, ErrBadEnvelope), errors.Is(err, ErrTooLarge):
		m.log.Warn("mailbox: refused", "id", id, "to", e.To.String(), "err", err)
		m.finish(id, StatusFailed, err.Error(), nil)
	default:
		next := m.now().Add(m.backoff(attempts))
		m.log.Debug("mailbox: attempt failed", "id", id, "to", e.To.String(), "attempts", attempts, "next", next, "err", err)
		m.update(id, func(e *OutboxEntry) bool {
			e.Attempts, e.LastError, e.NextAttempt = attempts, err.Error(), next
			return false
		})
	}
}

// backoff is the wait after the n-th failed attempt: RetryMin doubled per
// attempt up to RetryMax, with jitter (uniform in [d/2, d]).
func (m *Mailbox) backoff(n int) time.Duration {
	d := m.o.RetryMax
	if n < 40 {
		d = min(m.o.RetryMin<<(n-1), m.o.RetryMax)
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

func (m *Mailbox) loadOutgoing(id string, e *OutboxEntry) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if err := m.getJSON(key(prefixOutbox, id), e); err != nil {
		return nil, err
	}
	v, closer, err := m.db.Get(key(prefixEnvelope, id))
	if err != nil {
		return nil, fmt.Errorf("%w: the envelope of %s: %v", ErrCorrupt, id, err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

func (m *Mailbox) getJSON(k []byte, v any) error {
	b, closer, err := m.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, k[1:])
	}
	if err != nil {
		return fmt.Errorf("mailbox: database: %w", err)
	}
	defer closer.Close()
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, k[1:], err)
	}
	return nil
}

// update applies fn to a pending outbox entry and writes it back (synced
// when fn returns true).
func (m *Mailbox) update(id string, fn func(*OutboxEntry) bool) (OutboxEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var e OutboxEntry
	if m.closed || m.getJSON(key(prefixOutbox, id), &e) != nil || e.Status != StatusPending {
		return e, false
	}
	sync := fn(&e)
	b, _ := json.Marshal(e)
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	if err := m.db.Set(key(prefixOutbox, id), b, opt); err != nil {
		m.log.Error("mailbox: outbox", "id", id, "err", err)
		return e, false
	}
	return e, true
}

// finish ends a pending outbox entry (delivered, expired or failed), with
// a synced write, and publishes the event.
func (m *Mailbox) finish(id, status, errText string, rc *Receipt) {
	e, ok := m.update(id, func(e *OutboxEntry) bool {
		if status == StatusDelivered {
			e.Attempts++
		} else if status == StatusFailed {
			e.Attempts++
		}
		e.Status, e.Finished, e.NextAttempt, e.Receipt = status, m.now(), time.Time{}, rc
		if errText != "" {
			e.LastError = errText
		}
		return true
	})
	if !ok {
		return
	}
	ev := Event{ID: id, To: e.To, Attempts: e.Attempts, Error: errText}
	if status == StatusDelivered {
		m.event(EventDelivered, ev)
	} else {
		m.event(EventFailed, ev)
	}
}

// post makes one delivery attempt and returns the verified receipt.
func (m *Mailbox) post(ctx context.Context, to Address, id string, env []byte) (*Receipt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+to.Host+DeliverPath, bytes.NewReader(env))
	if err != nil {
		return nil, fmt.Errorf("mailbox: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mailbox: deliver to %s: %w", to.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReceipt+1))
	if err != nil {
		return nil, fmt.Errorf("mailbox: deliver to %s: reading the answer: %w", to.Host, err)
	}
	if len(body) > maxReceipt {
		return nil, fmt.Errorf("%w: answer over %d bytes", ErrBadReceipt, maxReceipt)
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		_ = json.Unmarshal(body, &eb)
		msg := fmt.Sprintf("the recipient answered %s: %s", resp.Status, eb.Error)
		switch resp.StatusCode {
		case http.StatusBadRequest:
			return nil, fmt.Errorf("%w: %s", ErrBadEnvelope, msg)
		case http.StatusRequestEntityTooLarge:
			return nil, fmt.Errorf("%w: %s", ErrTooLarge, msg)
		case http.StatusInsufficientStorage:
			return nil, fmt.Errorf("%w: %s", ErrInboxFull, msg)
		}
		return nil, fmt.Errorf("mailbox: deliver to %s: %s", to.Host, msg)
	}
	var rc Receipt
	if err := json.Unmarshal(body, &rc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReceipt, err)
	}
	if err := rc.Verify(id, to.Keys); err != nil {
		return nil, err
	}
	return &rc, nil
}
