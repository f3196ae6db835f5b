package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// A hold keeps one object (and what it references) from GC for an
// operation in flight: a publish between storing its payload and the
// durable reference of its manifest, a fetch until its waiters have pinned
// what it brought. Holds live in memory only: a crash ends them with the
// operation they served, which was never acknowledged. Each also expires,
// so a hold taken for another process (which may die) does not last.
type hold struct {
	c       cid.CID
	expires time.Time
}

// holds is the store's set of live holds, guarded by its own mutex so that
// a release never waits for a GC; GC reads it while holding s.mu, and a
// hold is only added while holding s.mu (after the object's existence was
// checked or its commit made), so GC never misses one.
type holds struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]hold
}

// holdLocked holds c for d; s.mu is held and c is stored. It returns the
// release, which is idempotent.
func (s *Store) holdLocked(c cid.CID, d time.Duration) func() {
	h := &s.holds
	h.mu.Lock()
	h.next++
	id := h.next
	if h.m == nil {
		h.m = map[uint64]hold{}
	}
	h.m[id] = hold{c: c, expires: s.now().Add(d)}
	h.mu.Unlock()
	return sync.OnceFunc(func() {
		h.mu.Lock()
		delete(h.m, id)
		h.mu.Unlock()
	})
}

// heldLocked returns the CIDs of the holds that have not expired, and
// forgets the expired ones. s.mu is held (by GC).
func (s *Store) heldLocked() []cid.CID {
	now := s.now()
	h := &s.holds
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]cid.CID, 0, len(h.m))
	for id, x := range h.m {
		if now.After(x.expires) {
			delete(h.m, id)
			continue
		}
		out = append(out, x.c)
	}
	return out
}

// Held returns how many holds are in force (expired ones not counted).
func (s *Store) Held() int {
	now := s.now()
	h := &s.holds
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, x := range h.m {
		if !now.After(x.expires) {
			n++
		}
	}
	return n
}

// Hold keeps the stored object c, and everything it references, from GC
// until the returned release is called or d has passed, whichever is first.
// It fails with ErrNotFound if c is not stored (a GC may just have taken
// it). release is idempotent; every successful Hold must be released.
func (s *Store) Hold(ctx context.Context, c cid.CID, d time.Duration) (release func(), err error) {
	done, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	if d <= 0 {
		return nil, fmt.Errorf("store: a hold of %v: it must be positive", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.record(c); err != nil {
		return nil, err
	}
	return s.holdLocked(c, d), nil
}

// checkRefsLocked fails unless every object refs names is stored, so that a
// reference, once committed, always names an object that was there at its
// commit (and, from then on, stays while the referencing object is
// reachable). s.mu is held.
func (s *Store) checkRefsLocked(c cid.CID, refs []cid.CID) error {
	for _, to := range refs {
		ok, err := s.has(objectKey(to))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s references %s (%w)", ErrMissingRef, c, to, ErrNotFound)
		}
	}
	return nil
}

func (s *Store) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}
