package mailbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ronhost/ronhost/internal/codes"
)

// DeliverPath is the path of the delivery endpoint.
const DeliverPath = "/mailbox/v1/deliver"

// MaxDedup bounds how long a received message's receipt record is kept
// for deduplication past Retention, however late the message expires.
const MaxDedup = 90 * 24 * time.Hour

// maxReceipt bounds a receipt response body.
const maxReceipt = 4 << 10

// Limits of Server.
const (
	// DefaultServeTimeout is Options.ServeTimeout's default.
	DefaultServeTimeout = time.Minute
	// DefaultMaxConns is Options.MaxConns's default.
	DefaultMaxConns = 128
	// maxHeaderBytes bounds a request's header.
	maxHeaderBytes = 16 << 10
)

// Server returns an http.Server of Handler for the listener the onion
// service forwards to, bounded against strangers: reading a request's
// header and its body, writing the answer and waiting for the next request
// on a kept-alive connection each take at most Options.ServeTimeout (a
// sender that trickles its envelope, or keeps a connection open and idle,
// loses it), headers are at most 16 KiB, and connections beyond
// Options.MaxConns open at once are closed as they arrive, so strangers
// cannot hold the node's file descriptors.
func (m *Mailbox) Server() *http.Server {
	var open atomic.Int64
	d := m.o.ServeTimeout
	return &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: d,
		ReadTimeout:       d,
		WriteTimeout:      d,
		IdleTimeout:       d,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelDebug),
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				if open.Add(1) > int64(m.o.MaxConns) {
					m.log.Debug("mailbox: too many connections; one closed", "max", m.o.MaxConns)
					c.Close()
				}
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		},
	}
}

// Handler returns the mailbox's HTTP server: POST DeliverPath with an
// envelope's JSON (Content-Type application/json). See the package doc for
// the answers.
func (m *Mailbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(DeliverPath, m.serveDeliver)
	return mux
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

func (m *Mailbox) serveDeliver(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{"mailbox: POST an envelope"})
		return
	}
	if r.ContentLength > int64(m.maxEnv) {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{fmt.Sprintf("%v: envelope of %d bytes (at most %d)", ErrTooLarge, r.ContentLength, m.maxEnv)})
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(m.maxEnv)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{fmt.Sprintf("%v: envelope over %d bytes", ErrTooLarge, m.maxEnv)})
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("%v: reading: %v", ErrBadEnvelope, err)})
		return
	}
	rc, err := m.Deliver(b)
	if err != nil {
		writeJSON(w, deliverStatus(err), errorBody{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, rc)
}

// deliverStatus is the HTTP status of Deliver's error: that of the code
// its sentinel carries (codes.Of): 413 too large, 507 an inbox or a disk
// full (the sender retries), 400 a bad, misaddressed or expired envelope,
// 409 another sender's message id, 503 closed, 500 anything else.
func deliverStatus(err error) int { return codes.Of(err).Status() }

var errConflict = codes.New(codes.Conflict, "mailbox: another sender's message has that id")

// Deliver is what the Handler does with an envelope: it checks it (size,
// syntax, addressed to this mailbox, not expired, opens and verifies),
// and stores it in the inbox with its receipt in one synced batch,
// returning the receipt. A redelivery of an id already received from the
// same sender (even after Ack) returns the stored receipt and stores
// nothing.
func (m *Mailbox) Deliver(b []byte) (*Receipt, error) {
	env, err := ParseEnvelope(b, m.maxEnv)
	if err != nil {
		return nil, err
	}
	if env.to != m.id.keys {
		return nil, fmt.Errorf("%w: the envelope is addressed to %s", ErrNotForUs, env.To)
	}
	now := m.now()
	m.mu.Lock()
	var rc *Receipt
	if err = ErrClosed; !m.closed {
		rc, err = m.seen(env)
	}
	m.mu.Unlock()
	if rc != nil || err != nil {
		return rc, err
	}
	if env.Expired(now) {
		return nil, fmt.Errorf("%w: at %s", ErrExpired, time.Unix(env.Expires, 0).UTC().Format(time.RFC3339))
	}
	op, err := m.id.Open(env)
	if err != nil {
		return nil, err
	}
	if len(op.Body) > m.o.MaxBody {
		return nil, fmt.Errorf("%w: body of %d bytes (at most %d)", ErrTooLarge, len(op.Body), m.o.MaxBody)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	if rc, err := m.seen(env); rc != nil || err != nil { // a concurrent redelivery won
		m.mu.Unlock()
		return rc, err
	}
	if n := m.inboxN; n >= m.o.MaxInbox {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %d messages", ErrInboxFull, n)
	}
	r := m.id.signReceipt(env.ID, now)
	rc = &r
	// The receipt record deduplicates redeliveries until the message
	// expires, but for at most MaxDedup: a sender's far-off expiry must not
	// keep a record forever.
	drop := max(min(env.Expires, now.Add(MaxDedup).Unix()), now.Add(m.o.Retention).Unix())
	seenb, _ := json.Marshal(seenRecord{From: env.from.Keys.String(), Receipt: r, Drop: drop})
	val := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(b)), uint64(rc.Received.UnixNano()))
	val = append(val, b...)
	batch := m.db.NewBatch()
	_ = batch.Set(key(prefixInbox, env.ID), val, nil)
	_ = batch.Set(key(prefixReceipt, env.ID), seenb, nil)
	err = batch.Commit(pebble.Sync)
	batch.Close()
	if err == nil {
		m.inboxN++
	}
	m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("mailbox: storing a message: %w", err)
	}
	m.log.Info("mailbox: received", "id", env.ID, "from", env.From, "bytes", len(op.Body))
	m.event(EventReceived, Event{ID: env.ID, From: env.from})
	return rc, nil
}

// seen returns the stored receipt of a message already received from the
// same sender, nil if it was not received, or an error.
func (m *Mailbox) seen(env *Envelope) (*Receipt, error) {
	v, closer, err := m.db.Get(key(prefixReceipt, env.ID))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox: database: %w", err)
	}
	defer closer.Close()
	var s seenRecord
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("%w: receipt record %s: %v", ErrCorrupt, env.ID, err)
	}
	if s.From != env.from.Keys.String() {
		return nil, fmt.Errorf("%w: %s", errConflict, env.ID)
	}
	return &s.Receipt, nil
}
