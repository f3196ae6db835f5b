package registry

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Proposal is an entry and the head that would announce it, passed from
// maintainer to maintainer as a file: each signs both offline (Sign), and
// once a threshold has, anyone may publish it. A proposal without an object
// only renews the head (a later expiry, the same entries).
type Proposal struct {
	Object *Object    `json:"object,omitempty"`
	Head   SignedHead `json:"head"`
}

// Genesis proposes a new registry. Its ID will be the genesis entry's ID.
func Genesis(name string, maintainers []string, threshold int, now time.Time, ttl time.Duration) (*Proposal, error) {
	ms := slices.Clone(maintainers)
	slices.Sort(ms)
	ms = slices.Compact(ms)
	o := &Object{Entry: Entry{V: 1, Seq: 0, Time: stamp(now), Op: OpGenesis, Name: name, Maintainers: ms, Threshold: threshold}}
	if err := o.Entry.Check(); err != nil {
		return nil, err
	}
	id := o.Entry.ID()
	return &Proposal{Object: o, Head: SignedHead{Head: Head{V: 1, Registry: id, Seq: 1, Entries: 1, Entry: id,
		Issued: stamp(now), Expires: stamp(now.Add(ttl))}}}, nil
}

// Propose proposes e as the log's next entry (nil: only a new head). Seq,
// Prev, V and Time are filled in; the head's sequence number is one more
// than the accepted head's.
func (l *Log) Propose(e *Entry, now time.Time, ttl time.Duration) (*Proposal, error) {
	p := &Proposal{}
	entries, last, lastObj := l.Len(), l.ids[len(l.ids)-1], l.objs[len(l.objs)-1]
	if e != nil {
		next := *e
		base := l.Next(e.Op, now)
		next.V, next.Seq, next.Prev, next.Time = base.V, base.Seq, base.Prev, base.Time
		if err := next.Check(); err != nil {
			return nil, err
		}
		// The entry must apply: check it on a copy of the state.
		if err := l.clone().apply(&next); err != nil {
			return nil, err
		}
		p.Object = &Object{Entry: next, PrevObject: lastObj}
		entries, last = entries+1, next.ID()
	}
	seq := uint64(1)
	if l.head != nil {
		seq = l.head.Head.Seq + 1
	}
	p.Head = SignedHead{Head: Head{V: 1, Registry: l.ID(), Seq: seq, Entries: entries, Entry: last,
		Issued: stamp(now), Expires: stamp(now.Add(ttl))}, Object: lastObj}
	return p, nil
}

func stamp(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// Sign adds priv's signatures of the entry and of the head.
func (p *Proposal) Sign(priv ed25519.PrivateKey) {
	if p.Object != nil {
		p.Object.Sign(priv)
	}
	p.Head.Sign(priv)
}

// Finish returns the proposal's entry object (nil for a head-only one) and
// its head pointing at it, encoded, ready to publish. It does not judge the
// signatures: the log does (Log.Extend).
func (p *Proposal) Finish() (obj []byte, head []byte) {
	sh := p.Head
	if p.Object != nil {
		obj = p.Object.Encode()
		sh.Object = p.Object.CID()
	}
	return obj, sh.Encode()
}

// Encode writes the proposal as indented JSON, for a file a person may read.
func (p *Proposal) Encode() []byte {
	if p.Object != nil && p.Object.Signatures == nil {
		p.Object.Signatures = []Signature{}
	}
	if p.Head.Signatures == nil {
		p.Head.Signatures = []Signature{}
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// ParseProposal reads a proposal file and checks its parts' fields.
func ParseProposal(b []byte) (*Proposal, error) {
	if len(b) > 2*MaxObject {
		return nil, fmt.Errorf("%w: a proposal of %d bytes", ErrMalformed, len(b))
	}
	var p Proposal
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: not a proposal: %v", ErrMalformed, err)
	}
	if p.Object != nil {
		if _, err := ParseObject(p.Object.Encode()); err != nil {
			return nil, err
		}
	}
	if err := p.Head.Head.Check(); err != nil {
		return nil, err
	}
	if err := checkSignatures(p.Head.Signatures); err != nil {
		return nil, err
	}
	return &p, nil
}
