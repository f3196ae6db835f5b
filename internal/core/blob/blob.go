package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// Source is what a node serves: *store.Store satisfies it.
type Source interface {
	// Outboard returns c's size and full outboard; errors.Is(err,
	// store.ErrNotFound) when c is not here.
	Outboard(ctx context.Context, c cid.CID) (size int64, ob []byte, err error)
	// ReadRange returns verified bytes of c.
	ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error)
	// Info returns c's size (and more) without loading its outboard;
	// errors.Is(err, store.ErrNotFound) when c is not here. Reads ask it,
	// not Outboard, which loads, verifies and copies the whole outboard (up
	// to 64 MiB): a peer alternating the CIDs of its one-group reads would
	// make each cost that.
	Info(ctx context.Context, c cid.CID) (store.Object, error)
}

// Sink is where a fetch writes: *store.Ingest satisfies it.
type Sink interface {
	Size() int64
	// Missing lists the [start, end) byte spans not yet written, in order.
	Missing() [][2]int64
	// WriteGroups verifies and writes whole chunk groups at off (a multiple
	// of store.GroupSize); errors.Is(err, store.ErrCorrupt) when the bytes
	// are not c's.
	WriteGroups(off int64, p []byte) error
}

// Replicator is the node: it fetches c (from `from` first, then from the
// providers it finds), pins it and provides it. The Service asks it only for
// peers that Config.Trusted accepts; it may still refuse (an error wrapping
// ErrRefused, such as a quota), which the asker gets as CodeRefused.
type Replicator interface {
	Replicate(ctx context.Context, c cid.CID, from peer.ID) error
}

// Config tunes a Service. Zero values mean the defaults.
type Config struct {
	Span               int64            // bytes per request unit; 0: 4 MiB (rounded up to a multiple of store.GroupSize, at most MaxRead)
	MaxProviders       int              // providers used at once by one Fetch; 0: 4
	StreamsPerProvider int              // streams one Fetch opens to each provider; 0: 2
	MaxInbound         int              // concurrent inbound streams served; 0: 64; over it: answer "busy" and close
	MaxInboundPerPeer  int              // of which, from one peer; 0: 16; over it: answer "busy" and close
	RequestTimeout     time.Duration    // no progress for this long on a request = dead peer; 0: 10s
	MinRate            int64            // bytes/s a provider must average over each read (after RequestTimeout's grace); 0: 16 KiB/s
	IdleTimeout        time.Duration    // an inbound stream with no request for this long is closed; 0: 1m
	BanFor             time.Duration    // a liar is skipped this long; 0: 1h
	AskConnected       int              // connected peers Locate asks before any lookup answers; 0: 8, < 0: none
	Logger             *slog.Logger     // nil: discard
	Now                func() time.Time // the clock for bans; nil: time.Now
	// Trusted says whether a peer may ask this node to replicate (hold a
	// copy). nil trusts nobody: every replicate request is refused before
	// the Replicator sees it. The peer is the one the connection's security
	// handshake authenticated, so it cannot be forged.
	Trusted func(peer.ID) bool
}

// Defaults.
const (
	DefaultSpan               = 4 << 20
	DefaultMaxProviders       = 4
	DefaultStreamsPerProvider = 2
	DefaultMaxInbound         = 64
	DefaultMaxInboundPerPeer  = 16
	DefaultRequestTimeout     = 10 * time.Second
	DefaultIdleTimeout        = time.Minute
	DefaultMinRate            = 16 << 10
	DefaultBanFor             = time.Hour
)

func (c Config) withDefaults() Config {
	if c.Span <= 0 {
		c.Span = DefaultSpan
	}
	c.Span = min((c.Span+store.GroupSize-1)/store.GroupSize*store.GroupSize, MaxRead)
	if c.MaxProviders <= 0 {
		c.MaxProviders = DefaultMaxProviders
	}
	if c.StreamsPerProvider <= 0 {
		c.StreamsPerProvider = DefaultStreamsPerProvider
	}
	if c.MaxInbound <= 0 {
		c.MaxInbound = DefaultMaxInbound
	}
	if c.MaxInboundPerPeer <= 0 {
		c.MaxInboundPerPeer = DefaultMaxInboundPerPeer
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MinRate <= 0 {
		c.MinRate = DefaultMinRate
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.BanFor <= 0 {
		c.BanFor = DefaultBanFor
	}
	if c.AskConnected == 0 {
		c.AskConnected = DefaultAskConnected
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Errors callers test for.
var (
	ErrNoProviders = errors.New("blob: no provider could serve the object")
	ErrNotFound    = errors.New("blob: the peer does not have the object")
	ErrBusy        = errors.New("blob: the peer is busy")
	ErrRefused     = errors.New("blob: the peer refused")
	ErrProtocol    = errors.New("blob: the peer broke the protocol")
	ErrLied        = errors.New("blob: the peer sent bytes that fail verification")
	ErrClosed      = errors.New("blob: closed")
	ErrNotStarted  = errors.New("blob: not started")
)

// RemoteError is an error a peer answered with.
type RemoteError struct {
	Peer    peer.ID
	Code    string // CodeNotFound, CodeBusy, ...
	Message string
}

func (e *RemoteError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("blob: peer %s: %s", e.Peer, e.Code)
	}
	return fmt.Sprintf("blob: peer %s: %s: %s", e.Peer, e.Code, e.Message)
}

// Is maps codes to the package's sentinels: not_found to ErrNotFound, busy
// to ErrBusy, refused to ErrRefused.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == CodeNotFound
	case ErrBusy:
		return e.Code == CodeBusy
	case ErrRefused:
		return e.Code == CodeRefused
	}
	return false
}

// Scores: what a peer's score moves by.
const (
	scoreServed = 1     // a request answered in full and verified
	scoreFailed = -10   // a stream died, stalled or broke the protocol
	scoreLied   = -1000 // bytes failed verification
	maxScore    = 1000
	maxTracked  = 4096 // peers whose score or ban is kept
)

type peerState struct {
	score       int
	bannedUntil time.Time
}

// Service serves the blob and replicate protocols on a host and fetches
// from other hosts. Safe for concurrent use.
type Service struct {
	h   host.Host
	src Source
	rep Replicator
	cfg Config

	mu       sync.Mutex
	started  bool
	closed   bool
	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	streams  map[network.Stream]struct{} // open streams, inbound and outbound, reset by Close
	inbound  int
	perPeer  map[peer.ID]int // inbound streams served, by peer (no zero entries)
	handlers sync.WaitGroup
	peers    map[peer.ID]*peerState
}

// New returns a Service on h serving src (nil: serve nothing) and asking rep
// to replicate (nil: refuse). It does no I/O.
func New(h host.Host, src Source, rep Replicator, cfg Config) *Service {
	return &Service{
		h:       h,
		src:     src,
		rep:     rep,
		cfg:     cfg.withDefaults(),
		streams: map[network.Stream]struct{}{},
		perPeer: map[peer.ID]int{},
		peers:   map[peer.ID]*peerState{},
	}
}

// Start installs the stream handlers for both protocols.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return errors.New("blob: already started")
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.h.SetStreamHandler(ProtocolBlob, s.handleBlob)
	s.h.SetStreamHandler(ProtocolReplicate, s.handleReplicate)
	return nil
}

// Close removes the stream handlers, resets every open stream (inbound, and
// outbound ones of fetches in progress, which then fail with ErrClosed) and
// waits for every handler to return. It leaves the host open.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.started {
		s.h.RemoveStreamHandler(ProtocolBlob)
		s.h.RemoveStreamHandler(ProtocolReplicate)
		s.cancel()
	}
	for st := range s.streams {
		st.Reset()
	}
	s.mu.Unlock()
	s.handlers.Wait()
	return nil
}

// track registers an open stream so that Close resets it; inbound streams
// also count as a running handler. It fails once the service is closed.
func (s *Service) track(st network.Stream, inbound bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if !s.started {
		return ErrNotStarted
	}
	s.streams[st] = struct{}{}
	if inbound {
		s.handlers.Add(1)
	}
	return nil
}

func (s *Service) untrack(st network.Stream, inbound bool) {
	s.mu.Lock()
	delete(s.streams, st)
	s.mu.Unlock()
	if inbound {
		s.handlers.Done()
	}
}

// Banned reports whether p is banned (it sent bad bytes within BanFor).
func (s *Service) Banned(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.peers[p]
	return ps != nil && s.cfg.Now().Before(ps.bannedUntil)
}

// Score returns p's score: up by one per request it served in full, down
// by 10 per failure (dead or stalled stream, protocol error) and by 1000 per
// lie. Unknown peers score 0.
func (s *Service) Score(p peer.ID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ps := s.peers[p]; ps != nil {
		return ps.score
	}
	return 0
}

// adjust moves p's score by d and bans it when ban.
func (s *Service) adjust(p peer.ID, d int, ban bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	ps := s.peers[p]
	if ps == nil {
		if len(s.peers) >= maxTracked {
			s.prune(now)
		}
		ps = &peerState{}
		s.peers[p] = ps
	}
	ps.score = min(ps.score+d, maxScore)
	if ban {
		ps.bannedUntil = now.Add(s.cfg.BanFor)
	}
}

// prune forgets peers that are not banned, the lowest scores last; it
// keeps at most maxTracked/2 of them.
func (s *Service) prune(now time.Time) {
	for p, ps := range s.peers {
		if len(s.peers) < maxTracked/2 {
			return
		}
		if !now.Before(ps.bannedUntil) && ps.score >= 0 {
			delete(s.peers, p)
		}
	}
	for p, ps := range s.peers {
		if len(s.peers) < maxTracked/2 {
			return
		}
		if !now.Before(ps.bannedUntil) {
			delete(s.peers, p)
		}
	}
}
