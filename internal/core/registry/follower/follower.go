package follower

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/registry"
	"github.com/ronhost/ronhost/internal/plugins"
)

// HeadProtocol serves a follower's accepted head of a registry: the asker
// writes the registry's ID and a newline, the answer is the signed head
// (at most registry.MaxObject bytes; empty when there is none).
const HeadProtocol = protocol.ID("/ronhost/registry/head/1.0.0")

// Topic is the gossip topic of a registry.
func Topic(id string) string { return "/ronhost/registry/1/" + strings.TrimPrefix(id, cid.Prefix) }

// MessageID names a gossip message by its bytes, so one head sent by many
// peers is one message. Every gossip participant of a registry topic must
// use it (pubsub.WithMessageIdFn).
func MessageID(m *pb.Message) string { return cid.Sum(m.Data).String() }

// ErrNotFollowed: a head of a registry this node does not follow.
var ErrNotFollowed = codes.New(codes.NotFound, "follower: registry not followed")

// Objects is how the follower reads and keeps content objects.
type Objects interface {
	// Fetch returns object c, from the store or fetched from peers and
	// verified against c; an object over max bytes is an error.
	Fetch(ctx context.Context, c cid.CID, max int64) ([]byte, error)
	// Keep stores b pinned and provides it.
	Keep(ctx context.Context, b []byte) error
}

// Network is the overlay the follower gossips and finds peers on.
type Network interface {
	Host() host.Host
	Provide(ctx context.Context, c cid.CID) error
	FindProviders(ctx context.Context, c cid.CID, max int) ([]peer.AddrInfo, error)
}

// Activator applies the catalog's registry rows to the node's router.
type Activator interface {
	Apply(ctx context.Context)
}

// Config configures a Follower.
type Config struct {
	// Registries are the registries' IDs (b3:<hex>), in order of
	// preference: for a TLD two registries bind, the first one wins.
	Registries []string
	// FollowFile lists more IDs, one a line, after Registries (written by
	// `ronhost registry follow`); it is reread every Poll.
	FollowFile string
	// Dir keeps each registry's state (Dir/<hex>/state.json) and the
	// conformance verdicts.
	Dir string
	// Poll is how often heads are asked of peers; 0: one minute.
	Poll time.Duration
	// Heartbeat is gossipsub's heartbeat; 0: its default (1 s).
	Heartbeat time.Duration
	// Conformance configures the suite run on each new module.
	Conformance conformance.Options
	// Logger receives the follower's log lines; nil discards them.
	Logger *slog.Logger
	// Now is the clock heads' expiries are judged by; nil: time.Now.
	Now func() time.Time
}

// Follower follows registries on behalf of a node.
type Follower struct {
	cfg     Config
	log     *slog.Logger
	net     Network
	objs    Objects
	catalog *plugins.Catalog
	act     Activator

	ps     *pubsub.PubSub
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}

	mu       sync.Mutex
	regs     []*reg // in order of preference
	verdicts map[string]verdict
}

// verdict is the outcome of the node's checks of a module.
type verdict struct {
	OK     bool      `json:"ok"`
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"time"`
}

// New returns a follower. It does no I/O.
func New(cfg Config, net Network, objs Objects, catalog *plugins.Catalog, act Activator) *Follower {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Follower{cfg: cfg, log: cfg.Logger, net: net, objs: objs, catalog: catalog, act: act,
		kick: make(chan struct{}, 1), verdicts: map[string]verdict{}}
}

// Start restores each registry's state, joins the gossip, serves heads and
// starts the loops. It fails only when gossip cannot start.
func (f *Follower) Start(ctx context.Context) error {
	h := f.net.Host()
	opts := []pubsub.Option{pubsub.WithMessageIdFn(MessageID), pubsub.WithMaxMessageSize(2 * registry.MaxObject),
		pubsub.WithValidateWorkers(2)}
	if f.cfg.Heartbeat > 0 {
		gp := pubsub.DefaultGossipSubParams()
		gp.HeartbeatInterval = f.cfg.Heartbeat
		gp.HeartbeatInitialDelay = min(gp.HeartbeatInitialDelay, f.cfg.Heartbeat)
		opts = append(opts, pubsub.WithGossipSubParams(gp))
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ps, err := pubsub.NewGossipSub(rctx, h, opts...)
	if err != nil {
		cancel()
		return fmt.Errorf("follower: starting gossip: %w", err)
	}
	f.ps, f.cancel = ps, cancel
	if b, err := os.ReadFile(filepath.Join(f.cfg.Dir, "verdicts.json")); err == nil {
		_ = json.Unmarshal(b, &f.verdicts)
	}
	h.SetStreamHandler(HeadProtocol, f.serveHead)
	for _, id := range f.following() {
		f.add(rctx, id)
	}
	f.wg.Go(func() { f.pollLoop(rctx) })
	f.wg.Go(func() { f.syncLoop(rctx) })
	f.trigger()
	return nil
}

// Close stops gossip and the loops and waits for them.
func (f *Follower) Close() error {
	if f.cancel == nil {
		return nil
	}
	f.net.Host().RemoveStreamHandler(HeadProtocol)
	f.cancel()
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.regs {
		if r.sub != nil {
			r.sub.Cancel()
		}
		_ = f.ps.UnregisterTopicValidator(r.topic.String())
		_ = r.topic.Close()
	}
	return nil
}

// following returns the registries to follow, config first, without repeats.
func (f *Follower) following() []string {
	ids := slices.Clone(f.cfg.Registries)
	if f.cfg.FollowFile != "" {
		if b, err := os.ReadFile(f.cfg.FollowFile); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					ids = append(ids, l)
				}
			}
		}
	}
	var out []string
	for _, id := range ids {
		if c, err := cid.Parse(id); err == nil && !slices.Contains(out, c.String()) {
			out = append(out, c.String())
		}
	}
	return out
}

// add starts following id (if not yet): its state, its topic, its validator.
func (f *Follower) add(ctx context.Context, id string) {
	f.mu.Lock()
	for _, r := range f.regs {
		if r.id == id {
			f.mu.Unlock()
			return
		}
	}
	f.mu.Unlock()
	r := &reg{id: id, dir: filepath.Join(f.cfg.Dir, strings.TrimPrefix(id, cid.Prefix)), refused: map[string]uint64{}}
	r.restore(ctx, f)
	t, err := f.ps.Join(Topic(id))
	if err != nil {
		f.log.Error("joining a registry's gossip", "registry", id, "err", err)
		return
	}
	if err := f.ps.RegisterTopicValidator(Topic(id), f.validate(r), pubsub.WithValidatorTimeout(2*time.Minute), pubsub.WithValidatorConcurrency(4)); err != nil {
		f.log.Error("registering a registry's validator", "registry", id, "err", err)
		_ = t.Close()
		return
	}
	sub, err := t.Subscribe()
	if err != nil {
		f.log.Error("subscribing to a registry", "registry", id, "err", err)
		_ = f.ps.UnregisterTopicValidator(Topic(id))
		_ = t.Close()
		return
	}
	r.topic, r.sub = t, sub
	f.mu.Lock()
	f.regs = append(f.regs, r)
	f.mu.Unlock()
	f.wg.Go(func() { drain(ctx, sub) })
	if c, err := cid.Parse(id); err == nil {
		f.wg.Go(func() {
			if err := f.net.Provide(ctx, c); err != nil && ctx.Err() == nil {
				f.log.Warn("providing a registry's ID", "registry", id, "err", err)
			}
		})
	}
	f.log.Info("following a registry", "registry", id, "entries", r.entries(), "halted", r.halted != "")
}

// drain reads a subscription: messages reach the validator, which does the
// work; the subscription only keeps the node in the topic's mesh.
func drain(ctx context.Context, sub *pubsub.Subscription) {
	for {
		if _, err := sub.Next(ctx); err != nil {
			return
		}
	}
}

func (f *Follower) find(id string) *reg {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.regs {
		if r.id == id {
			return r
		}
	}
	return nil
}

// validate is a registry topic's gossip validator: a head is delivered and
// forwarded only if this node accepts it (or already has).
func (f *Follower) validate(r *reg) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	return func(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		if m.Local {
			return pubsub.ValidationAccept // Offer already judged it
		}
		err := f.offer(ctx, r, m.Data, from)
		switch {
		case err == nil || errors.Is(err, registry.ErrDuplicate):
			return pubsub.ValidationAccept
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errUnavailable):
			return pubsub.ValidationIgnore
		}
		return pubsub.ValidationReject
	}
}

// Offer judges a head given to the node (by `ronhost registry publish`
// through the API) and, when it is accepted, gossips it.
func (f *Follower) Offer(ctx context.Context, raw []byte) (Status, error) {
	sh, err := registry.ParseHead(raw)
	if err != nil {
		return Status{}, err
	}
	r := f.find(sh.Head.Registry)
	if r == nil {
		return Status{}, fmt.Errorf("%w: %s (ronhost registry follow %s)", ErrNotFollowed, sh.Head.Registry, sh.Head.Registry)
	}
	err = f.offer(ctx, r, raw, "")
	if err != nil && !errors.Is(err, registry.ErrDuplicate) {
		return r.status(f.cfg.Now()), err
	}
	if perr := r.topic.Publish(ctx, raw); perr != nil {
		f.log.Warn("gossiping a head", "registry", r.id, "err", perr)
	}
	return r.status(f.cfg.Now()), nil
}

// errUnavailable: the head could not be judged now (objects not found):
// not the sender's fault as far as the node can tell.
var errUnavailable = errors.New("follower: objects unavailable")

// offer judges one head for r: accepted heads are kept and activated.
func (f *Follower) offer(ctx context.Context, r *reg, raw []byte, from peer.ID) error {
	sh, err := registry.ParseHead(raw)
	if err == nil && sh.Head.Registry != r.id {
		err = fmt.Errorf("%w: head of %s on %s's topic", registry.ErrOtherRegistry, sh.Head.Registry, r.id)
	}
	if err != nil {
		r.refuse(f, "malformed", err, from)
		return err
	}
	r.work.Lock()
	defer r.work.Unlock()
	r.mu.Lock()
	halted, cur := r.halted, r.log
	r.mu.Unlock()
	if halted != "" {
		return fmt.Errorf("%w: %s", registry.ErrHalted, halted)
	}
	now := f.cfg.Now()
	if cur != nil {
		if err := cur.Precheck(sh, raw, now); err != nil {
			if !errors.Is(err, registry.ErrDuplicate) {
				r.refuse(f, reasonOf(err), err, from)
			}
			return err
		}
	} else if !now.Before(sh.Head.ExpiresAt()) {
		err := fmt.Errorf("%w: head %d expired at %s", registry.ErrExpired, sh.Head.Seq, sh.Head.Expires)
		r.refuse(f, reasonOf(err), err, from)
		return err
	}
	objs, err := f.fetchChain(ctx, cur, sh)
	if err != nil {
		if errors.Is(err, errUnavailable) || ctx.Err() != nil {
			f.log.Info("a registry head's entries are not available yet", "registry", r.id, "head", sh.Head.Seq, "from", from, "err", err)
			return err
		}
		r.refuse(f, reasonOf(err), err, from)
		return err
	}
	all, have := objs, uint64(0)
	if cur != nil {
		have = cur.Len()
	}
	base := cur
	if base == nil {
		if len(objs) == 0 || objs[0].Entry.Seq != 0 || objs[0].Entry.ID() != r.id {
			err := fmt.Errorf("%w: the chain does not start at the genesis %s", registry.ErrChain, r.id)
			r.refuse(f, "chain", err, from)
			return err
		}
		if base, err = registry.NewLog(objs[0]); err != nil {
			r.refuse(f, reasonOf(err), err, from)
			return err
		}
		objs = objs[1:]
	}
	next, err := base.Extend(sh, raw, objs, now)
	if err != nil {
		if errors.Is(err, registry.ErrFork) {
			r.mu.Lock()
			r.halted = err.Error()
			r.refused["fork"]++
			r.mu.Unlock()
			f.log.Error("INCIDENT: registry fork; both entries refused and the registry halted (see docs/REGISTRY.md, recovery)",
				"registry", r.id, "err", err, "from", from)
			r.save(f)
			return err
		}
		r.refuse(f, reasonOf(err), err, from)
		return err
	}
	// Keep what was accepted: the new entry objects (pinned, provided: this
	// node mirrors them) and the state.
	for _, o := range all {
		if o.Entry.Seq >= have {
			if err := f.objs.Keep(ctx, o.Encode()); err != nil {
				return fmt.Errorf("follower: keeping entry %d: %w", o.Entry.Seq, err)
			}
		}
	}
	r.mu.Lock()
	r.log = next
	r.accepted++
	r.frozen = false
	r.mu.Unlock()
	r.save(f)
	f.log.Info("registry head accepted", "registry", r.id, "head", sh.Head.Seq, "entries", next.Len(),
		"expires", sh.Head.Expires, "from", from)
	f.trigger()
	return nil
}

// reasonOf names a refusal for the metrics.
func reasonOf(err error) string {
	for _, x := range []struct {
		err    error
		reason string
	}{
		{registry.ErrRollback, "rollback"}, {registry.ErrConflict, "conflict"}, {registry.ErrExpired, "expired"},
		{registry.ErrThreshold, "signatures"}, {registry.ErrFork, "fork"}, {registry.ErrChain, "chain"},
		{registry.ErrInvalid, "invalid"}, {registry.ErrMalformed, "malformed"}, {registry.ErrOtherRegistry, "other-registry"},
	} {
		if errors.Is(err, x.err) {
			return x.reason
		}
	}
	return "other"
}

// maxWalk bounds the entries fetched for one head.
const maxWalk = 4096

// fetchChain fetches the head's entry objects back from its last one to
// the first this log already holds (or the genesis) and returns them in
// order. Each object must carry the entry its successor names as prev.
func (f *Follower) fetchChain(ctx context.Context, l *registry.Log, sh *registry.SignedHead) ([]*registry.Object, error) {
	var known uint64
	if l != nil {
		known = l.Len()
		if sh.Head.Entries == known && l.EntryID(known-1) == sh.Head.Entry {
			return nil, nil // a new head for the same entries
		}
	}
	var out []*registry.Object
	want, wantID := sh.Object, sh.Head.Entry
	for range maxWalk {
		c, err := cid.Parse(want)
		if err != nil {
			return nil, fmt.Errorf("%w: object %q", registry.ErrMalformed, want)
		}
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		b, err := f.objs.Fetch(fctx, c, registry.MaxObject)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%w: entry object %s: %v", errUnavailable, c, err)
		}
		o, err := registry.ParseObject(b)
		if err != nil {
			return nil, err
		}
		if id := o.Entry.ID(); id != wantID {
			return nil, fmt.Errorf("%w: object %s carries entry %s, want %s", registry.ErrChain, c, id, wantID)
		}
		out = append(out, o)
		seq := o.Entry.Seq
		if seq == 0 || (seq < known && l.EntryID(seq) == wantID) {
			break
		}
		want, wantID = o.PrevObject, o.Entry.Prev
		if seq <= known && l.EntryID(seq-1) == wantID {
			break // o follows (or replaces) what the log holds: enough to judge
		}
	}
	slices.Reverse(out)
	if len(out) > 0 && out[0].Entry.Seq > known {
		return nil, fmt.Errorf("%w: more than %d entries to fetch", registry.ErrChain, maxWalk)
	}
	return out, nil
}

// serveHead answers HeadProtocol.
func (f *Follower) serveHead(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReaderSize(io.LimitReader(s, 128), 128).ReadString('\n')
	if err != nil {
		_ = s.Reset()
		return
	}
	if r := f.find(strings.TrimSpace(line)); r != nil {
		if raw := r.headRaw(); raw != nil {
			_, _ = s.Write(raw)
		}
	}
}

// askHead asks p for its head of r.
func (f *Follower) askHead(ctx context.Context, p peer.ID, r *reg) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := f.net.Host().NewStream(network.WithAllowLimitedConn(ctx, "registry"), p, HeadProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	if _, err := io.WriteString(s, r.id+"\n"); err != nil {
		_ = s.Reset()
		return nil, err
	}
	_ = s.CloseWrite()
	return io.ReadAll(io.LimitReader(s, registry.MaxObject))
}

// pollLoop asks peers for heads at start and every Poll, and picks up
// registries added to the follow file.
func (f *Follower) pollLoop(ctx context.Context) {
	t := time.NewTicker(f.cfg.Poll)
	defer t.Stop()
	for {
		for _, id := range f.following() {
			f.add(ctx, id)
		}
		f.mu.Lock()
		regs := slices.Clone(f.regs)
		f.mu.Unlock()
		for _, r := range regs {
			f.poll(ctx, r)
			if st := r.status(f.cfg.Now()); st.Frozen {
				r.mu.Lock()
				warn := !r.frozen
				r.frozen = true
				r.mu.Unlock()
				if warn {
					f.log.Warn("registry frozen: its head expired and no newer one was found; its plugins keep serving, nothing new is accepted until the maintainers sign a new head",
						"registry", r.id, "head", st.Head, "expired", st.Expires)
				}
			}
		}
		f.trigger() // modules that were not available are tried again
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll asks the topic's peers and the ID's providers for their heads of r.
func (f *Follower) poll(ctx context.Context, r *reg) {
	self := f.net.Host().ID()
	peers := f.ps.ListPeers(Topic(r.id))
	if c, err := cid.Parse(r.id); err == nil && len(peers) < 4 {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		provs, _ := f.net.FindProviders(fctx, c, 8)
		cancel()
		for _, p := range provs {
			if p.ID != self && !slices.Contains(peers, p.ID) {
				f.net.Host().Peerstore().AddAddrs(p.ID, p.Addrs, time.Hour)
				peers = append(peers, p.ID)
			}
		}
	}
	if len(peers) > 8 {
		peers = peers[:8]
	}
	for _, p := range peers {
		raw, err := f.askHead(ctx, p, r)
		if err != nil || len(raw) == 0 {
			continue
		}
		// A peer behind this node answers an older head: not an attack,
		// and not counted as one.
		if sh, err := registry.ParseHead(raw); err != nil || sh.Head.Seq <= r.headSeq() {
			continue
		}
		if err := f.offer(ctx, r, raw, p); err == nil {
			if perr := r.topic.Publish(ctx, raw); perr != nil && ctx.Err() == nil {
				f.log.Debug("gossiping a pulled head", "registry", r.id, "err", perr)
			}
		}
	}
}

func (f *Follower) trigger() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// syncLoop applies the registries' state to the catalog whenever it changes.
func (f *Follower) syncLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		}
		f.sync(ctx)
	}
}
