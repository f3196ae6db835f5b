package registry

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Binding is a TLD bound to a module by the log.
type Binding struct {
	TLD       string `json:"tld"`
	Plugin    string `json:"plugin"`
	Size      int64  `json:"size"`
	Version   string `json:"version"`
	Publisher string `json:"publisher,omitempty"`
	ABI       int    `json:"abi"`
	Seq       uint64 `json:"seq"` // the entry that bound it
}

// Revocation is a module revoked by the log.
type Revocation struct {
	Plugin string `json:"plugin"`
	Reason string `json:"reason"`
	Seq    uint64 `json:"seq"` // the revoking entry
}

// set is a maintainer set and the position from which it is in force.
type set struct {
	from        uint64
	maintainers []string
	threshold   int
}

// Log is a verified registry log and the head accepted for it. Its methods
// never change it: Extend returns a new Log, so a refused head leaves the
// old one whole. A Log is safe to share between goroutines.
type Log struct {
	name     string
	ids      []string // entry IDs by seq
	objs     []string // the CID of the entry object each was accepted from
	sets     []set    // in force from their from, ascending
	bindings map[string]Binding
	revoked  map[string]Revocation
	head     *SignedHead
	headRaw  []byte
}

// NewLog starts a log from its genesis object: the entry must be a genesis
// signed by a threshold of its own maintainers.
func NewLog(genesis *Object) (*Log, error) {
	if genesis.Entry.Op != OpGenesis {
		return nil, fmt.Errorf("%w: the first entry is a %s, not the genesis", ErrChain, genesis.Entry.Op)
	}
	l := &Log{bindings: map[string]Binding{}, revoked: map[string]Revocation{}}
	if err := l.append(genesis); err != nil {
		return nil, err
	}
	return l, nil
}

// Build verifies a whole chain from its genesis: every entry must follow its
// predecessor and carry a threshold of signatures of the maintainer set in
// force at its position.
func Build(objs []*Object) (*Log, error) {
	if len(objs) == 0 {
		return nil, fmt.Errorf("%w: no genesis", ErrChain)
	}
	l, err := NewLog(objs[0])
	if err != nil {
		return nil, err
	}
	for _, o := range objs[1:] {
		if err := l.append(o); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *Log) clone() *Log {
	c := *l
	c.ids = slices.Clip(l.ids)
	c.objs = slices.Clip(l.objs)
	c.sets = slices.Clip(l.sets)
	c.bindings = maps.Clone(l.bindings)
	c.revoked = maps.Clone(l.revoked)
	return &c
}

// setAt returns the maintainer set in force at position seq.
func (l *Log) setAt(seq uint64) set {
	s := l.sets[0]
	for _, x := range l.sets {
		if x.from <= seq {
			s = x
		}
	}
	return s
}

// signed checks the entry's signatures against the set in force at its position.
func (l *Log) signed(o *Object) error {
	s := set{maintainers: o.Entry.Maintainers, threshold: o.Entry.Threshold} // the genesis signs itself
	if o.Entry.Seq > 0 {
		s = l.setAt(o.Entry.Seq)
	}
	if n := countValid(o.Signatures, s.maintainers, o.Entry.Message()); n < s.threshold {
		return fmt.Errorf("%w: entry %d (%s %s) has %d valid maintainer signatures, the threshold is %d of %d",
			ErrThreshold, o.Entry.Seq, o.Entry.Op, o.Entry.ID(), n, s.threshold, len(s.maintainers))
	}
	return nil
}

// append verifies o as the next entry and applies it (l is being built).
func (l *Log) append(o *Object) error {
	e := &o.Entry
	if err := e.Check(); err != nil {
		return err
	}
	if want := uint64(len(l.ids)); e.Seq != want {
		return fmt.Errorf("%w: entry %s has seq %d, the next is %d", ErrChain, e.ID(), e.Seq, want)
	}
	if e.Seq > 0 && e.Prev != l.ids[e.Seq-1] {
		return fmt.Errorf("%w: entry %d names prev %s, entry %d is %s", ErrChain, e.Seq, e.Prev, e.Seq-1, l.ids[e.Seq-1])
	}
	if err := l.signed(o); err != nil {
		return err
	}
	if err := l.apply(e); err != nil {
		return err
	}
	l.ids = append(l.ids, e.ID())
	l.objs = append(l.objs, o.CID())
	return nil
}

// apply checks e's operation against the state and applies it.
func (l *Log) apply(e *Entry) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: entry %d (%s): %s", ErrInvalid, e.Seq, e.Op, fmt.Sprintf(format, args...))
	}
	switch e.Op {
	case OpGenesis:
		l.name = e.Name
		l.sets = []set{{from: 0, maintainers: e.Maintainers, threshold: e.Threshold}}
	case OpRotate:
		l.sets = append(l.sets, set{from: e.Seq + 1, maintainers: e.Maintainers, threshold: e.Threshold})
	case OpBind, OpUpgrade:
		cur, bound := l.bindings[e.TLD]
		switch {
		case e.Op == OpBind && bound:
			return invalid(".%s is already bound (to %s): use upgrade", e.TLD, cur.Plugin)
		case e.Op == OpUpgrade && !bound:
			return invalid(".%s is not bound: use bind", e.TLD)
		case e.Op == OpUpgrade && cur.Plugin == e.Plugin:
			return invalid(".%s is already bound to %s", e.TLD, e.Plugin)
		}
		if r, ok := l.revoked[e.Plugin]; ok {
			return invalid("%s was revoked by entry %d (%s)", e.Plugin, r.Seq, r.Reason)
		}
		l.bindings[e.TLD] = Binding{TLD: e.TLD, Plugin: e.Plugin, Size: e.Size, Version: e.Version,
			Publisher: e.Publisher, ABI: e.ABI, Seq: e.Seq}
	case OpRevoke:
		if r, ok := l.revoked[e.Plugin]; ok {
			return invalid("%s was already revoked by entry %d", e.Plugin, r.Seq)
		}
		l.revoked[e.Plugin] = Revocation{Plugin: e.Plugin, Reason: e.Reason, Seq: e.Seq}
	}
	return nil
}

// ID is the registry's identity: its genesis entry's ID.
func (l *Log) ID() string { return l.ids[0] }

// Name is the registry's name (from its genesis).
func (l *Log) Name() string { return l.name }

// Len is the number of entries.
func (l *Log) Len() uint64 { return uint64(len(l.ids)) }

// EntryID returns the ID of the entry at seq.
func (l *Log) EntryID(seq uint64) string { return l.ids[seq] }

// ObjectCID returns the CID of the object the entry at seq was accepted from.
func (l *Log) ObjectCID(seq uint64) string { return l.objs[seq] }

// Objects returns the CIDs of the entry objects, in order.
func (l *Log) Objects() []string { return slices.Clone(l.objs) }

// Maintainers returns the maintainer set in force for the next entry and
// its threshold.
func (l *Log) Maintainers() ([]string, int) {
	s := l.setAt(l.Len())
	return slices.Clone(s.maintainers), s.threshold
}

// Bindings returns the TLDs bound, with their current module.
func (l *Log) Bindings() map[string]Binding { return maps.Clone(l.bindings) }

// Revoked returns the revoked modules.
func (l *Log) Revoked() map[string]Revocation { return maps.Clone(l.revoked) }

// Head returns the accepted head and its bytes (nil before one is).
func (l *Log) Head() (*SignedHead, []byte) { return l.head, l.headRaw }

// Next returns the entry that would follow the log (seq, prev, and time
// from now), for a proposal to fill in.
func (l *Log) Next(op string, now time.Time) Entry {
	return Entry{V: 1, Seq: l.Len(), Prev: l.ids[len(l.ids)-1], Time: now.UTC().Format(time.RFC3339), Op: op}
}

// Precheck refuses a head without fetching anything: another registry,
// older than (or conflicting with) the accepted one, fewer entries than the
// log has, or past its expiry at now. ErrDuplicate: it is the accepted head.
func (l *Log) Precheck(sh *SignedHead, raw []byte, now time.Time) error {
	h := &sh.Head
	if h.Registry != l.ID() {
		return fmt.Errorf("%w: head of %s, this log is %s", ErrOtherRegistry, h.Registry, l.ID())
	}
	if l.head != nil {
		cur := &l.head.Head
		switch {
		case h.Seq == cur.Seq && bytes.Equal(h.Message(), cur.Message()):
			return ErrDuplicate
		case h.Seq < cur.Seq:
			return fmt.Errorf("%w: head %d is older than the accepted head %d", ErrRollback, h.Seq, cur.Seq)
		case h.Seq == cur.Seq:
			return fmt.Errorf("%w: another head numbered %d was accepted", ErrConflict, h.Seq)
		}
	}
	if h.Entries < l.Len() {
		return fmt.Errorf("%w: head %d names %d entries, the log has %d", ErrRollback, h.Seq, h.Entries, l.Len())
	}
	if !now.Before(h.ExpiresAt()) {
		return fmt.Errorf("%w: head %d expired at %s", ErrExpired, h.Seq, h.Expires)
	}
	return nil
}

// ErrDuplicate: the head is the one already accepted (nothing to do).
var ErrDuplicate = errors.New("registry: head already accepted")

// Extend returns the log with the entries of objs appended and sh accepted
// as its head, or an error and no change. objs are the head's entries
// from some position up to its last, in order; those the log already holds
// are compared with its own: a different entry with the same predecessor
// and a threshold of valid signatures is a fork (ErrFork, naming both
// entries; the caller should halt the log). The head must name the last
// entry and be signed by a threshold of the maintainers in force after it.
func (l *Log) Extend(sh *SignedHead, raw []byte, objs []*Object, now time.Time) (*Log, error) {
	if err := l.Precheck(sh, raw, now); err != nil {
		return nil, err
	}
	n := l.clone()
	for _, o := range objs {
		e := &o.Entry
		if e.Seq < n.Len() {
			if id := e.ID(); id != n.ids[e.Seq] {
				if e.Seq == 0 {
					return nil, fmt.Errorf("%w: genesis %s", ErrOtherRegistry, id)
				}
				if e.Check() != nil || e.Prev != n.ids[e.Seq-1] {
					return nil, fmt.Errorf("%w: entry %d (%s) does not follow entry %d", ErrChain, e.Seq, id, e.Seq-1)
				}
				if err := n.signed(o); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("%w: entries %s and %s both follow entry %d (%s)", ErrFork, n.ids[e.Seq], id, e.Seq-1, e.Prev)
			}
			continue
		}
		if err := n.append(o); err != nil {
			return nil, err
		}
	}
	h := &sh.Head
	if n.Len() != h.Entries || n.ids[h.Entries-1] != h.Entry {
		return nil, fmt.Errorf("%w: head %d names entry %d %s, the log has %d entries ending in %s",
			ErrChain, h.Seq, h.Entries-1, h.Entry, n.Len(), n.ids[len(n.ids)-1])
	}
	s := n.setAt(h.Entries)
	if c := countValid(sh.Signatures, s.maintainers, h.Message()); c < s.threshold {
		return nil, fmt.Errorf("%w: head %d has %d valid maintainer signatures, the threshold is %d of %d",
			ErrThreshold, h.Seq, c, s.threshold, len(s.maintainers))
	}
	n.head, n.headRaw = sh, slices.Clone(raw)
	return n, nil
}

// Restore returns the log with sh as its head, checked as Extend checks it
// but not for expiry: a node restarting keeps the head it had accepted even
// if it expired meanwhile (its registry is then frozen until a new head).
func (l *Log) Restore(sh *SignedHead, raw []byte) (*Log, error) {
	return l.Extend(sh, raw, nil, sh.Head.ExpiresAt().Add(-time.Nanosecond))
}
