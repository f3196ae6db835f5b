package mailbox

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/pebbledb"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Sentinel errors callers test with errors.Is.
var (
	ErrTooLarge    = codes.New(codes.TooLarge, "mailbox: too large")
	ErrInboxFull   = codes.New(codes.Quota, "mailbox: the recipient's inbox is full")
	ErrNotFound    = codes.New(codes.NotFound, "mailbox: no such message")
	ErrBadEnvelope = codes.New(codes.Invalid, "mailbox: bad envelope")
	ErrNotForUs    = codes.New(codes.Invalid, "mailbox: not addressed to this mailbox")
	ErrExpired     = codes.New(codes.Invalid, "mailbox: message expired")
	ErrBadAddress  = codes.New(codes.Invalid, "mailbox: bad address")
	ErrBadReceipt  = errors.New("mailbox: bad receipt")
	ErrClosed      = codes.New(codes.Unavailable, "mailbox: closed")
	ErrCorrupt     = errors.New("mailbox: corrupt record")
	// ErrDiskFull: a message did not fit the disk (with the reserve
	// Options.MinFree kept free); reading the inbox still works. The same
	// sentinel as the store's.
	ErrDiskFull = pebbledb.ErrDiskFull
)

// Disk reports the database's state on its filesystem.
func (m *Mailbox) Disk() pebbledb.State { return m.db.State() }

// Recover makes the mailbox writable again if it opened read-only on a
// full disk and space has returned.
func (m *Mailbox) Recover() error { return m.db.Recover() }

// Dialer is how a mailbox reaches other mailboxes: core/tor's SOCKS5
// dialer in a node (addr "xxx.onion:port"), any net.Dialer in tests.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Defaults of Options.
const (
	DefaultRetention      = 7 * 24 * time.Hour
	DefaultTTL            = 7 * 24 * time.Hour
	DefaultMaxInbox       = 10000
	DefaultRetryMin       = 5 * time.Second
	DefaultRetryMax       = 15 * time.Minute
	DefaultDeliverTimeout = 2 * time.Minute
	DefaultSweepEvery     = 10 * time.Minute
	DefaultConcurrency    = 4
)

// Options configure a Mailbox. Identity is required; Dialer is required to
// send (Start refuses to run without one).
type Options struct {
	FS       vfs.FS    // the database's filesystem; nil is the real disk
	Identity *Identity // the mailbox's keys
	// Host is where this mailbox is reached ("xxx.onion:port"), written as
	// the sender address of what it sends; Send fails while it is empty.
	Host   string
	Dialer Dialer
	// Retention is how long a received message stays in the inbox
	// unacknowledged, and a finished outbox entry in the outbox.
	Retention time.Duration
	// TTL is how long a sent message is tried (its expiry).
	TTL            time.Duration
	MaxInbox       int // messages; default 10000
	MaxBody        int // bytes; default 64 KiB
	RetryMin       time.Duration
	RetryMax       time.Duration
	DeliverTimeout time.Duration // one delivery attempt
	SweepEvery     time.Duration // retention sweeps by the worker
	Concurrency    int           // deliveries in flight
	Logger         *slog.Logger
	Now            func() time.Time
	// MinFree is the free space, in bytes, that writes leave on the
	// database's filesystem; a message that does not fit is refused with an
	// error wrapping ErrDiskFull (the sender retries). 0 means no check.
	MinFree int64
	// ServeTimeout bounds, on Server, reading one request (header and
	// body), writing its answer and a kept-alive connection's wait for the
	// next request; 0: DefaultServeTimeout (1 min).
	ServeTimeout time.Duration
	// MaxConns is how many connections Server keeps open at once (more are
	// closed as they arrive); 0: DefaultMaxConns (128).
	MaxConns int
	// OnEvent is called (synchronously, outside the mailbox's locks) with
	// "mailbox.received" (Event), "mailbox.delivered" (Event),
	// "mailbox.acked" (Event) and "mailbox.failed" (Event: expired or
	// refused for good).
	OnEvent func(kind string, v any)
}

// The kinds of OnEvent's events.
const (
	EventReceived  = "mailbox.received"
	EventDelivered = "mailbox.delivered"
	EventAcked     = "mailbox.acked"
	EventFailed    = "mailbox.failed"
)

// Event is the value of OnEvent's events.
type Event struct {
	ID       string  `json:"id"`
	From     Address `json:"from,omitzero"`
	To       Address `json:"to,omitzero"`
	Attempts int     `json:"attempts,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// Message is a received message, opened.
type Message struct {
	ID          string    `json:"id"`
	From        Address   `json:"from"`
	ContentType string    `json:"content_type"`
	Body        []byte    `json:"body"`
	Created     time.Time `json:"created"` // the sender's clock
	Expires     time.Time `json:"expires"`
	Received    time.Time `json:"received"`
}

// Outbox statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusExpired   = "expired" // not delivered before it expired
	StatusFailed    = "failed"  // the recipient refused it for good (400, 413)
)

// OutboxEntry is a sent message's delivery state.
type OutboxEntry struct {
	ID          string    `json:"id"`
	To          Address   `json:"to"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	Size        int       `json:"size"` // the envelope's bytes
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Finished    time.Time `json:"finished,omitzero"` // delivered, expired or failed
	Receipt     *Receipt  `json:"receipt,omitempty"`
}

// Mailbox is one mailbox: its inbox (what others delivered to it, served by
// Handler) and its outbox (what it sends, delivered by the worker Start
// runs), in its own Pebble database.
type Mailbox struct {
	o      Options
	id     *Identity
	db     *pebbledb.DB
	log    *slog.Logger
	now    func() time.Time
	maxEnv int
	client *http.Client

	mu      sync.Mutex // inbox writes and count; outbox read-modify-writes
	inboxN  int
	closed  bool
	started bool

	wake     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// Open opens (creating it if needed) the mailbox database in dir. It does
// not start the outbox worker (Start).
func Open(ctx context.Context, dir string, o Options) (*Mailbox, error) {
	if o.Identity == nil {
		return nil, errors.New("mailbox: Options.Identity is required")
	}
	if o.Host != "" {
		if err := checkHostPort(o.Host); err != nil {
			return nil, fmt.Errorf("mailbox: Options.Host: %w", err)
		}
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	setDefault(&o.Retention, DefaultRetention)
	setDefault(&o.TTL, DefaultTTL)
	setDefault(&o.RetryMin, DefaultRetryMin)
	setDefault(&o.RetryMax, DefaultRetryMax)
	setDefault(&o.DeliverTimeout, DefaultDeliverTimeout)
	setDefault(&o.SweepEvery, DefaultSweepEvery)
	setDefault(&o.MaxInbox, DefaultMaxInbox)
	setDefault(&o.MaxBody, DefaultMaxBody)
	setDefault(&o.Concurrency, DefaultConcurrency)
	setDefault(&o.ServeTimeout, DefaultServeTimeout)
	setDefault(&o.MaxConns, DefaultMaxConns)
	if o.RetryMax < o.RetryMin {
		o.RetryMax = o.RetryMin
	}
	m := &Mailbox{
		o: o, id: o.Identity, log: o.Logger, now: o.Now, maxEnv: maxEnvelope(o.MaxBody),
		wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	db, err := pebbledb.Open(dir, pebbledb.Options{FS: o.FS, Logger: o.Logger, MinFree: o.MinFree})
	if err != nil {
		return nil, fmt.Errorf("mailbox: opening the database in %s: %w", dir, err)
	}
	m.db = db
	if err := m.scan(ctx, prefixInbox, func(_, _ []byte) error { m.inboxN++; return nil }); err != nil {
		db.Close()
		return nil, err
	}
	if o.Dialer != nil {
		m.client = &http.Client{
			Transport: &http.Transport{
				DialContext:           o.Dialer.DialContext,
				MaxIdleConnsPerHost:   1,
				IdleConnTimeout:       time.Minute,
				ResponseHeaderTimeout: o.DeliverTimeout,
				DisableCompression:    true,
			},
			Timeout:       o.DeliverTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return m, nil
}

func setDefault[T comparable](p *T, d T) {
	var zero T
	if *p == zero {
		*p = d
	}
}

// Identity returns the mailbox's identity.
func (m *Mailbox) Identity() *Identity { return m.id }

// Address returns the mailbox's address (zero while Options.Host is empty).
func (m *Mailbox) Address() Address {
	if m.o.Host == "" {
		return Address{}
	}
	return Address{Keys: m.id.keys, Host: m.o.Host}
}

// Close stops the worker, waits for it and its deliveries, and closes the
// database. The Handler answers 503 after it.
func (m *Mailbox) Close() error {
	m.stopOnce.Do(func() { close(m.stop) })
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if m.client != nil {
		m.client.CloseIdleConnections()
	}
	if err := m.db.Close(); err != nil {
		return fmt.Errorf("mailbox: closing the database: %w", err)
	}
	return nil
}

// Database keys: 'i' id -> inbox entry (8-byte received unix ns, then the
// envelope JSON, sealed as it arrived); 'r' id -> receipt record (JSON
// seenRecord: the message's sender, its receipt and when to forget it);
// 'o' id -> outbox entry (JSON OutboxEntry); 'e' id -> the outgoing
// envelope's JSON.
const (
	prefixInbox    = 'i'
	prefixReceipt  = 'r'
	prefixOutbox   = 'o'
	prefixEnvelope = 'e'
)

func key(p byte, id string) []byte { return append([]byte{p}, id...) }

type seenRecord struct {
	From    string  `json:"from"` // the sender's keys
	Receipt Receipt `json:"receipt"`
	Drop    int64   `json:"drop"` // unix s: forget it from then on
}

// Send seals body to to and stores it in the outbox (one synced batch)
// before it returns the message id: the worker then delivers it, retrying
// until the recipient's signed receipt verifies or the message expires.
func (m *Mailbox) Send(ctx context.Context, to Address, body []byte, contentType string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("mailbox: send: %w", err)
	}
	if m.o.Host == "" {
		return "", errors.New("mailbox: send: this mailbox has no address (Options.Host is empty)")
	}
	if len(body) > m.o.MaxBody {
		return "", fmt.Errorf("%w: body of %d bytes (at most %d)", ErrTooLarge, len(body), m.o.MaxBody)
	}
	if err := checkHostPort(to.Host); err != nil {
		return "", fmt.Errorf("mailbox: send: %w", err)
	}
	id, err := newID()
	if err != nil {
		return "", err
	}
	now := m.now()
	env, err := m.id.Seal(id, m.Address(), to.Keys, now, now.Add(m.o.TTL), contentType, body)
	if err != nil {
		return "", err
	}
	envb := env.Marshal()
	if len(envb) > m.maxEnv {
		return "", fmt.Errorf("%w: envelope of %d bytes (at most %d)", ErrTooLarge, len(envb), m.maxEnv)
	}
	ent := OutboxEntry{
		ID: id, To: to, Created: time.Unix(env.Created, 0).UTC(), Expires: time.Unix(env.Expires, 0).UTC(),
		Size: len(envb), Status: StatusPending, NextAttempt: now,
	}
	entb, err := json.Marshal(ent)
	if err != nil {
		return "", fmt.Errorf("mailbox: send: %w", err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return "", ErrClosed
	}
	b := m.db.NewBatch()
	_ = b.Set(key(prefixEnvelope, id), envb, nil)
	_ = b.Set(key(prefixOutbox, id), entb, nil)
	err = b.Commit(pebble.Sync)
	b.Close()
	m.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("mailbox: send: storing in the outbox: %w", err)
	}
	m.log.Debug("mailbox: queued", "id", id, "to", to.String(), "bytes", len(envb))
	m.kick()
	return id, nil
}

// kick wakes the worker.
func (m *Mailbox) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Inbox returns the messages in the inbox, oldest received first, opened
// (they are stored sealed, as they arrived, and opened on every read).
func (m *Mailbox) Inbox(ctx context.Context) ([]Message, error) {
	var out []Message
	err := m.scan(ctx, prefixInbox, func(k, v []byte) error {
		msg, err := m.openStored(string(k[1:]), v)
		if err != nil {
			return err
		}
		out = append(out, msg)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Message) int {
		if c := a.Received.Compare(b.Received); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *Mailbox) openStored(id string, v []byte) (Message, error) {
	if len(v) < 8 {
		return Message{}, fmt.Errorf("%w: inbox entry %s", ErrCorrupt, id)
	}
	received := time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
	env, err := ParseEnvelope(v[8:], len(v))
	if err == nil && env.ID != id {
		err = fmt.Errorf("stored under id %s", id)
	}
	var op *Opened
	if err == nil {
		op, err = m.id.Open(env)
	}
	if err != nil {
		return Message{}, fmt.Errorf("%w: inbox entry %s: %v", ErrCorrupt, id, err)
	}
	return Message{
		ID: id, From: env.from, ContentType: op.ContentType, Body: op.Body,
		Created: time.Unix(env.Created, 0).UTC(), Expires: time.Unix(env.Expires, 0).UTC(), Received: received,
	}, nil
}

// Get returns one inbox message.
func (m *Mailbox) Get(ctx context.Context, id string) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, fmt.Errorf("mailbox: get: %w", err)
	}
	v, closer, err := m.db.Get(key(prefixInbox, id))
	if errors.Is(err, pebble.ErrNotFound) {
		return Message{}, fmt.Errorf("%w: %.40q", ErrNotFound, id)
	}
	if err != nil {
		return Message{}, fmt.Errorf("mailbox: get: %w", err)
	}
	defer closer.Close()
	return m.openStored(id, v)
}

// Ack removes message id from the inbox (ErrNotFound if it is not there).
// Its receipt record stays until the message expires (at most MaxDedup), so a redelivery is
// still answered with the same receipt and not stored again.
func (m *Mailbox) Ack(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mailbox: ack: %w", err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	k := key(prefixInbox, id)
	_, closer, err := m.db.Get(k)
	if err == nil {
		closer.Close()
		err = m.db.Delete(k, pebble.Sync)
		if err == nil {
			m.inboxN--
		}
	}
	m.mu.Unlock()
	if errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("%w: %.40q", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("mailbox: ack: %w", err)
	}
	m.event(EventAcked, Event{ID: id})
	return nil
}

// Outbox returns every outbox entry, oldest first.
func (m *Mailbox) Outbox(ctx context.Context) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := m.scan(ctx, prefixOutbox, func(k, v []byte) error {
		var e OutboxEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("%w: outbox entry %s: %v", ErrCorrupt, k[1:], err)
		}
		out = append(out, e)
		return nil
	})
	slices.SortFunc(out, func(a, b OutboxEntry) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, err
}

func (m *Mailbox) event(kind string, v any) {
	if m.o.OnEvent != nil {
		m.o.OnEvent(kind, v)
	}
}

// scan calls fn for every key with prefix p.
func (m *Mailbox) scan(ctx context.Context, p byte, fn func(k, v []byte) error) error {
	it, err := m.db.NewIter(&pebble.IterOptions{LowerBound: []byte{p}, UpperBound: []byte{p + 1}})
	if err != nil {
		return fmt.Errorf("mailbox: database: %w", err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("mailbox: %w", err)
			}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("mailbox: database: %w", err)
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("mailbox: database: %w", err)
	}
	return nil
}

// Sweep applies retention at the mailbox's clock: it drops inbox messages
// received Retention ago or more, receipt records past their drop time,
// outbox entries finished Retention ago or more, and marks pending outbox
// entries past their expiry as expired. It returns how many records it
// dropped. The worker calls it every SweepEvery.
func (m *Mailbox) Sweep(ctx context.Context) (int, error) {
	now := m.now()
	cutoff := now.Add(-m.o.Retention)
	var expired []OutboxEntry
	m.mu.Lock()
	dropped, inboxDropped, err := m.sweepLocked(ctx, now, cutoff, &expired)
	m.mu.Unlock()
	if err != nil {
		return 0, err
	}
	for _, e := range expired {
		m.finish(e.ID, StatusExpired, fmt.Sprintf("%v after %d attempts (last: %s)", ErrExpired, e.Attempts, e.LastError), nil)
	}
	if dropped > 0 {
		m.log.Info("mailbox: retention sweep", "dropped", dropped, "inbox", inboxDropped, "expired", len(expired))
	}
	return dropped, nil
}

func (m *Mailbox) sweepLocked(ctx context.Context, now, cutoff time.Time, expired *[]OutboxEntry) (int, int, error) {
	if m.closed {
		return 0, 0, ErrClosed
	}
	var drop [][]byte
	inboxDropped := 0
	err := m.scan(ctx, prefixInbox, func(k, v []byte) error {
		if len(v) >= 8 && !time.Unix(0, int64(binary.BigEndian.Uint64(v))).After(cutoff) {
			drop = append(drop, slices.Clone(k))
			inboxDropped++
		}
		return nil
	})
	if err == nil {
		err = m.scan(ctx, prefixReceipt, func(k, v []byte) error {
			var s seenRecord
			if json.Unmarshal(v, &s) != nil || now.Unix() >= s.Drop {
				drop = append(drop, slices.Clone(k))
			}
			return nil
		})
	}
	if err == nil {
		err = m.scan(ctx, prefixOutbox, func(k, v []byte) error {
			var e OutboxEntry
			if json.Unmarshal(v, &e) != nil {
				return nil
			}
			switch {
			case e.Status != StatusPending && !e.Finished.After(cutoff):
				drop = append(drop, slices.Clone(k), key(prefixEnvelope, e.ID))
			case e.Status == StatusPending && !now.Before(e.Expires):
				*expired = append(*expired, e)
			}
			return nil
		})
	}
	if err != nil || len(drop) == 0 {
		return 0, 0, err
	}
	b := m.db.NewBatch()
	defer b.Close()
	for _, k := range drop {
		_ = b.Delete(k, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, 0, fmt.Errorf("mailbox: sweep: %w", err)
	}
	m.inboxN -= inboxDropped
	return len(drop), inboxDropped, nil
}
