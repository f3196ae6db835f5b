package store

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// Pin makes c a GC root. It fails with ErrNotFound if c is not stored.
func (s *Store) Pin(ctx context.Context, c cid.CID) error {
	done, err := s.enter()
	if err != nil {
		return err
	}
	defer done()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.record(c); err != nil {
		return err
	}
	if err := s.db.Set(pinKey(c), nil, pebble.Sync); err != nil {
		return fmt.Errorf("store: pinning: %w", err)
	}
	return nil
}

// Unpin removes the pin on c; ErrNotPinned if there was none.
func (s *Store) Unpin(ctx context.Context, c cid.CID) error {
	done, err := s.enter()
	if err != nil {
		return err
	}
	defer done()
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, err := s.has(pinKey(c))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotPinned, c)
	}
	if err := s.db.Delete(pinKey(c), pebble.Sync); err != nil {
		return fmt.Errorf("store: unpinning: %w", err)
	}
	return nil
}

// Pins lists the pinned CIDs in order.
func (s *Store) Pins(ctx context.Context) ([]cid.CID, error) {
	done, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	var out []cid.CID
	err = s.scan(ctx, []byte{kPin}, func(k, _ []byte) error {
		out = append(out, cid.CID(k[1:]))
		return nil
	})
	return out, err
}

// Refs lists the objects c references.
func (s *Store) Refs(ctx context.Context, c cid.CID) ([]cid.CID, error) {
	done, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	return s.refs(ctx, c)
}

func (s *Store) refs(ctx context.Context, c cid.CID) ([]cid.CID, error) {
	var out []cid.CID
	err := s.scan(ctx, append([]byte{kRef}, c[:]...), func(k, _ []byte) error {
		out = append(out, cid.CID(k[1+cid.Size:]))
		return nil
	})
	return out, err
}

// GCResult says what a GC removed.
type GCResult struct {
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"` // payload plus outboard bytes freed
}

// GC removes every object not reachable through references from a pin or
// from a hold in force (an operation in flight: a publish, a fetch).
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	done, err := s.enter()
	if err != nil {
		return GCResult{}, err
	}
	defer done()
	s.mu.Lock()
	defer s.mu.Unlock()

	live := map[cid.CID]bool{}
	var stack []cid.CID
	if err := s.scan(ctx, []byte{kPin}, func(k, _ []byte) error {
		c := cid.CID(k[1:])
		if !live[c] {
			live[c] = true
			stack = append(stack, c)
		}
		return nil
	}); err != nil {
		return GCResult{}, err
	}
	// Objects held by operations in flight are roots too (hold.go).
	for _, c := range s.heldLocked() {
		if !live[c] {
			live[c] = true
			stack = append(stack, c)
		}
	}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		to, err := s.refs(ctx, c)
		if err != nil {
			return GCResult{}, err
		}
		for _, t := range to {
			if !live[t] {
				live[t] = true
				stack = append(stack, t)
			}
		}
	}

	type dead struct {
		c    cid.CID
		rec  record
		file bool
	}
	var deads []dead
	if err := s.scan(ctx, []byte{kObject}, func(k, v []byte) error {
		c := cid.CID(k[1:])
		if live[c] {
			return nil
		}
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("%w (object %s)", err, c)
		}
		deads = append(deads, dead{c, record{kind: r.kind, size: r.size}, r.kind == kindFile})
		return nil
	}); err != nil {
		return GCResult{}, err
	}
	if len(deads) == 0 {
		return GCResult{}, nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	var res GCResult
	var sub usage
	for _, d := range deads {
		b.Delete(objectKey(d.c), nil)
		b.DeleteRange(append([]byte{kRef}, d.c[:]...), refUpper(d.c), nil)
		sub.Objects++
		sub.Bytes += d.rec.size
		res.Objects++
		res.Bytes += d.rec.size
		if d.file {
			ob := outboardSize(d.rec.size)
			if ob > 0 {
				b.Delete(outboardKey(d.c), nil)
			}
			sub.Outboard += ob
			res.Bytes += ob
			b.Set(intentKey(d.c), nil, nil) // the file goes after the commit
		}
	}
	if err := s.commitBatch(b, cid.CID{}, PutOptions{}, usage{Objects: -sub.Objects, Bytes: -sub.Bytes, Outboard: -sub.Outboard}); err != nil {
		return GCResult{}, err
	}
	// The index no longer names these files; remove them, then their intents.
	settle := s.db.NewBatch()
	defer settle.Close()
	dirs := map[string]bool{}
	for _, d := range deads {
		if !d.file {
			continue
		}
		s.cache.drop(d.c)
		p := s.objectPath(d.c)
		if err := s.fs.Remove(p); err != nil && !isNotExist(err) {
			return res, fmt.Errorf("store: removing %s: %w", d.c, err)
		}
		dirs[s.fs.PathDir(p)] = true
		settle.Delete(intentKey(d.c), nil)
	}
	for d := range dirs {
		if err := s.syncDir(d); err != nil {
			return res, err
		}
	}
	if err := settle.CommitFreeing(pebble.Sync); err != nil {
		return res, fmt.Errorf("store: committing: %w", err)
	}
	return res, nil
}

func refUpper(c cid.CID) []byte {
	k := append([]byte{kRef}, c[:]...)
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] < 0xff {
			k[i]++
			return k[:i+1]
		}
	}
	return []byte{kRef + 1}
}

// Usage is the store's disk usage.
type Usage struct {
	Objects       int64  `json:"objects"`
	PayloadBytes  int64  `json:"payload_bytes"`
	OutboardBytes int64  `json:"outboard_bytes"`
	Pinned        int64  `json:"pinned"`
	QuotaBytes    int64  `json:"quota_bytes"` // 0: none
	IndexBytes    uint64 `json:"index_bytes"` // Pebble's files on disk
}

// Stat returns the store's usage.
func (s *Store) Stat(ctx context.Context) (Usage, error) {
	done, err := s.enter()
	if err != nil {
		return Usage{}, err
	}
	defer done()
	s.resMu.Lock()
	u := s.used
	s.resMu.Unlock()
	var pins int64
	if err := s.scan(ctx, []byte{kPin}, func(_, _ []byte) error { pins++; return nil }); err != nil {
		return Usage{}, err
	}
	return Usage{
		Objects: u.Objects, PayloadBytes: u.Bytes, OutboardBytes: u.Outboard, Pinned: pins,
		QuotaBytes: s.opts.QuotaBytes, IndexBytes: s.db.Metrics().DiskSpaceUsage(),
	}, nil
}
