package registry

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func key(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

func pub(k ed25519.PrivateKey) string { return ronsig.FormatKey(k.Public().(ed25519.PublicKey)) }

func module(s string) string { return cid.Sum([]byte(s)).String() }

// fixture is a 2-of-3 registry and its maintainers' keys.
type fixture struct {
	t    tb
	keys []ed25519.PrivateKey
	log  *Log
	objs []*Object
}

// tb is what a fixture needs of *testing.T or *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
}

func newFixture(t tb) *fixture {
	t.Helper()
	f := &fixture{t: t, keys: []ed25519.PrivateKey{key(1), key(2), key(3)}}
	p, err := Genesis("test registry", []string{pub(f.keys[0]), pub(f.keys[1]), pub(f.keys[2])}, 2, t0, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p.Sign(f.keys[0])
	p.Sign(f.keys[2])
	obj, head := p.Finish()
	o, err := ParseObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLog(o)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := ParseHead(head)
	if err != nil {
		t.Fatal(err)
	}
	if f.log, err = l.Extend(sh, head, nil, t0); err != nil {
		t.Fatal(err)
	}
	f.objs = []*Object{o}
	return f
}

// propose makes the next entry signed by signers, and its head.
func (f *fixture) propose(e *Entry, signers ...int) (*Object, *SignedHead, []byte) {
	f.t.Helper()
	p, err := f.log.Propose(e, t0.Add(time.Minute), 24*time.Hour)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range signers {
		p.Sign(f.keys[s])
	}
	obj, head := p.Finish()
	var o *Object
	if obj != nil {
		if o, err = ParseObject(obj); err != nil {
			f.t.Fatal(err)
		}
	}
	sh, err := ParseHead(head)
	if err != nil {
		f.t.Fatal(err)
	}
	return o, sh, head
}

// extend proposes e signed by signers and extends the log with it.
func (f *fixture) extend(e *Entry, signers ...int) error {
	f.t.Helper()
	o, sh, raw := f.propose(e, signers...)
	var objs []*Object
	if o != nil {
		objs = append(objs, o)
	}
	n, err := f.log.Extend(sh, raw, objs, t0.Add(2*time.Minute))
	if err == nil {
		f.log = n
		if o != nil {
			f.objs = append(f.objs, o)
		}
	}
	return err
}

func bind(tld, plugin, version string) *Entry {
	return &Entry{Op: OpBind, TLD: tld, Plugin: module(plugin), Size: 100, Version: version, ABI: 1}
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	if f.log.ID() != f.objs[0].Entry.ID() || f.log.Name() != "test registry" {
		t.Fatalf("id %s name %q", f.log.ID(), f.log.Name())
	}
	if err := f.extend(bind("blog", "v1", "1.0.0"), 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.extend(&Entry{Op: OpUpgrade, TLD: "blog", Plugin: module("v2"), Size: 100, Version: "2.0.0", ABI: 1}, 1, 2); err != nil {
		t.Fatal(err)
	}
	if b := f.log.Bindings()["blog"]; b.Plugin != module("v2") || b.Version != "2.0.0" || b.Seq != 2 {
		t.Fatalf("binding %+v", b)
	}
	if err := f.extend(&Entry{Op: OpRevoke, Plugin: module("v2"), Reason: "steals payouts"}, 0, 2); err != nil {
		t.Fatal(err)
	}
	if r := f.log.Revoked()[module("v2")]; r.Reason != "steals payouts" || r.Seq != 3 {
		t.Fatalf("revocation %+v", r)
	}
	// A revoked module can never be bound again.
	if _, err := f.log.Propose(&Entry{Op: OpUpgrade, TLD: "blog", Plugin: module("v2"), Size: 1, Version: "3", ABI: 1}, t0, time.Hour); !errors.Is(err, ErrInvalid) {
		t.Fatalf("upgrade to a revoked module: %v", err)
	}
	// Rotate to a 1-of-1 set of key 3 (signed by the old set), then only
	// key 3 counts.
	// A rotation's entry counts with the old set's signatures, its head
	// with the new set's: both sign the proposal.
	f.keys = append(f.keys, key(9))
	if err := f.extend(&Entry{Op: OpRotate, Maintainers: []string{pub(key(9))}, Threshold: 1}, 0, 1); !errors.Is(err, ErrThreshold) {
		t.Fatalf("a rotation's head signed by the old set only: %v", err)
	}
	if err := f.extend(&Entry{Op: OpRotate, Maintainers: []string{pub(key(9))}, Threshold: 1}, 0, 1, 3); err != nil {
		t.Fatal(err)
	}
	if err := f.extend(bind("news", "n1", "1"), 0, 1); !errors.Is(err, ErrThreshold) {
		t.Fatalf("old maintainers after a rotation: %v", err)
	}
	if err := f.extend(bind("news", "n1", "1"), 3); err != nil {
		t.Fatal(err)
	}
	// The whole chain verifies from its genesis alone.
	l, err := Build(f.objs)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 6 || l.EntryID(5) != f.log.EntryID(5) {
		t.Fatalf("rebuilt %d entries", l.Len())
	}
}

func TestOneSignatureIsRefused(t *testing.T) {
	f := newFixture(t)
	err := f.extend(bind("blog", "v1", "1"), 1)
	if !errors.Is(err, ErrThreshold) || !strings.Contains(err.Error(), "1 valid maintainer signatures, the threshold is 2 of 3") {
		t.Fatalf("one signature: %v", err)
	}
	// A stranger's signatures and a forged one do not count either.
	o, sh, raw := f.propose(bind("blog", "v1", "1"), 1)
	o.Sign(key(77))
	o.Signatures = append(o.Signatures, Signature{Key: pub(f.keys[2]), Sig: strings.Repeat("ab", 64)})
	sortSigs(o.Signatures)
	if _, err := f.log.Extend(sh, raw, []*Object{o}, t0); !errors.Is(err, ErrThreshold) {
		t.Fatalf("a stranger's and a forged signature counted: %v", err)
	}
	// An entry signed enough but a head signed once is refused too.
	o, sh, raw = f.propose(bind("blog", "v1", "1"), 0, 1)
	sh.Signatures = sh.Signatures[:1]
	if _, err := f.log.Extend(sh, raw, []*Object{o}, t0); !errors.Is(err, ErrThreshold) {
		t.Fatalf("a head with one signature: %v", err)
	}
	if f.log.Len() != 1 {
		t.Fatal("a refused head changed the log")
	}
}

func sortSigs(s []Signature) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j].Key < s[i].Key {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

func TestForkIsRefused(t *testing.T) {
	f := newFixture(t)
	if err := f.extend(bind("blog", "v1", "1"), 0, 1); err != nil {
		t.Fatal(err)
	}
	// Maintainers 2 and 3 sign another entry after the genesis: a fork.
	other := *f.objs[0]
	old := f.log
	g, err := Build([]*Object{&other})
	if err != nil {
		t.Fatal(err)
	}
	h0, _ := f.log.Head()
	g.head = h0
	f.log = g
	o, sh, raw := f.propose(bind("blog", "evil", "1"), 1, 2)
	f.log = old
	sh.Head.Seq = 3
	_, err = f.log.Extend(sh, raw, []*Object{o}, t0)
	if !errors.Is(err, ErrFork) || !strings.Contains(err.Error(), f.log.EntryID(1)) || !strings.Contains(err.Error(), o.Entry.ID()) {
		t.Fatalf("fork: %v", err)
	}
	// A fork entry with one signature is only under-signed: no incident.
	o.Signatures = o.Signatures[:1]
	if _, err := f.log.Extend(sh, raw, []*Object{o}, t0); !errors.Is(err, ErrThreshold) {
		t.Fatalf("under-signed fork: %v", err)
	}
}

func TestRollbackConflictExpiry(t *testing.T) {
	f := newFixture(t)
	_, oldHead, oldRaw := f.propose(nil, 0, 1) // head 2, same entries
	if err := f.extend(bind("blog", "v1", "1"), 0, 1); err != nil {
		t.Fatal(err)
	}
	// Head 2 is taken by the bind; an old head replayed is refused.
	h1, raw1 := f.log.Head()
	if _, err := f.log.Extend(oldHead, oldRaw, nil, t0); !errors.Is(err, ErrConflict) {
		t.Fatalf("another head 2: %v", err)
	}
	if err := f.extend(nil, 1, 2); err != nil { // head 3
		t.Fatal(err)
	}
	if _, err := f.log.Extend(h1, raw1, nil, t0); !errors.Is(err, ErrRollback) {
		t.Fatalf("replayed head 2: %v", err)
	}
	cur, curRaw := f.log.Head()
	if _, err := f.log.Extend(cur, curRaw, nil, t0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("the same head again: %v", err)
	}
	// A new head past its expiry (a frozen registry) is refused.
	_, sh, raw := f.propose(nil, 0, 1)
	if _, err := f.log.Extend(sh, raw, nil, sh.Head.ExpiresAt()); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired head: %v", err)
	}
	if _, err := f.log.Extend(sh, raw, nil, sh.Head.ExpiresAt().Add(-time.Second)); err != nil {
		t.Fatalf("head a second before its expiry: %v", err)
	}
	// A head of another registry.
	g := newFixture(t)
	g.keys[0] = key(50)
	p, _ := Genesis("other", []string{pub(key(50))}, 1, t0, time.Hour)
	p.Sign(key(50))
	_, head := p.Finish()
	osh, _ := ParseHead(head)
	if _, err := f.log.Extend(osh, head, nil, t0); !errors.Is(err, ErrOtherRegistry) {
		t.Fatalf("other registry: %v", err)
	}
}

func TestRulesOfOperations(t *testing.T) {
	f := newFixture(t)
	if err := f.extend(bind("blog", "v1", "1"), 0, 1); err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]*Entry{
		"bind again":          bind("blog", "v9", "9"),
		"upgrade unbound":     {Op: OpUpgrade, TLD: "news", Plugin: module("x"), Size: 1, Version: "1", ABI: 1},
		"upgrade to the same": {Op: OpUpgrade, TLD: "blog", Plugin: module("v1"), Size: 1, Version: "1", ABI: 1},
	} {
		if _, err := f.log.Propose(e, t0, time.Hour); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, e := range map[string]*Entry{
		"bad tld":          {Op: OpBind, TLD: "Blog", Plugin: module("x"), Size: 1, Version: "1", ABI: 1},
		"no abi":           {Op: OpBind, TLD: "blog", Plugin: module("x"), Size: 1, Version: "1"},
		"reason on a bind": {Op: OpBind, TLD: "b", Plugin: module("x"), Size: 1, Version: "1", ABI: 1, Reason: "x"},
		"empty reason":     {Op: OpRevoke, Plugin: module("x")},
		"threshold 0":      {Op: OpRotate, Maintainers: []string{pub(key(1))}},
		"threshold > n":    {Op: OpRotate, Maintainers: []string{pub(key(1))}, Threshold: 2},
		"unsorted set":     {Op: OpRotate, Maintainers: unsorted(pub(key(2)), pub(key(1))), Threshold: 1},
		"control char":     {Op: OpRevoke, Plugin: module("x"), Reason: "a\nb"},
		"genesis again":    {Op: OpGenesis, Name: "x", Maintainers: []string{pub(key(1))}, Threshold: 1},
	} {
		if _, err := f.log.Propose(e, t0, time.Hour); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCanonicalForm(t *testing.T) {
	f := newFixture(t)
	o, sh, raw := f.propose(bind("blog", "v1", "1"), 0, 1)
	b := o.Encode()
	if _, err := ParseObject(b); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"indented":       append([]byte(" "), b...),
		"trailing":       append(append([]byte{}, b...), '{', '}'),
		"unknown member": bytes.Replace(b, []byte(`{"entry":`), []byte(`{"x":1,"entry":`), 1),
		"upper hex":      bytes.Replace(b, []byte(o.Entry.Plugin), []byte(strings.ToUpper(o.Entry.Plugin)), 1),
		"zero member":    bytes.Replace(b, []byte(`"op":"bind"`), []byte(`"op":"bind","reason":""`), 1),
	} {
		if _, err := ParseObject(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseHead(raw); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseHead(sh.Encode()[1:]); !errors.Is(err, ErrMalformed) {
		t.Errorf("cut head: %v", err)
	}
	// The entry's ID is independent of its signatures, the object's CID is not.
	o2 := *o
	o2.Signatures = o.Signatures[:1]
	if o2.Entry.ID() != o.Entry.ID() || o2.CID() == o.CID() {
		t.Fatal("IDs and CIDs")
	}
	// Signatures are domain-separated: an entry's does not verify as a head's.
	if ronsig.Verify(o.Signatures[0].Key, o.Signatures[0].Sig, append([]byte(headDomain), o.Entry.Canonical()...)) {
		t.Fatal("an entry signature verifies under the head domain")
	}
}

func TestProposalRoundTrip(t *testing.T) {
	f := newFixture(t)
	p, err := f.log.Propose(bind("blog", "v1", "1"), t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p.Sign(f.keys[0])
	q, err := ParseProposal(p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	q.Sign(f.keys[1]) // offline co-signing of the file
	obj, head := q.Finish()
	o, _ := ParseObject(obj)
	sh, _ := ParseHead(head)
	if sh.Object != o.CID() {
		t.Fatalf("the head's object %s, the object %s", sh.Object, o.CID())
	}
	if _, err := f.log.Extend(sh, head, []*Object{o}, t0); err != nil {
		t.Fatal(err)
	}
}

func unsorted(a, b string) []string {
	if a < b {
		a, b = b, a
	}
	return []string{a, b}
}
