package store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/core/cid"
)

// Damage kinds a scrub reports (the bus contract's, which carries the
// report as it is).
const (
	DamageMissing    = contract.DamageMissing    // the object's file is gone
	DamageSize       = contract.DamageSize       // the file's length differs from the index
	DamageData       = contract.DamageData       // bytes [Offset, Offset+Length) fail verification
	DamageOutboard   = contract.DamageOutboard   // the data hashes to the CID but the outboard is wrong
	DamageInline     = contract.DamageInline     // an inline object does not hash to its CID
	DamageRecord     = contract.DamageRecord     // the index record cannot be decoded
	DamageOrphan     = contract.DamageOrphan     // a file under objects/ that the index does not name
	DamageAccounting = contract.DamageAccounting // the usage counters disagree with the objects
	DamageRef        = contract.DamageRef        // an object references one that is not stored (CID: the missing one)
	DamagePin        = contract.DamagePin        // a pin names an object that is not stored
)

// Damage is one problem a scrub found: ReferencedBy is the referencing
// object of a DamageRef; Repaired says Scrub fixed it (with
// ScrubOptions.Repair). Its shape is declared once, in the bus contract.
type Damage = contract.Damage

// ScrubOptions tune a scrub.
type ScrubOptions struct {
	// Repair rebuilds outboards from intact data, removes orphan files and
	// corrects the usage counters. Damaged payload bytes cannot be repaired
	// here; they are reported (a node refetches them from peers).
	Repair bool
}

// ScrubReport is what a scrub found (the bus contract's store.scrub
// reply, declared there once).
type ScrubReport = contract.ScrubReport

// Scrub re-verifies every stored byte against its CID and reports each
// problem precisely: the object, what is wrong and, for payload damage, the
// exact chunk-group byte ranges that fail. It also checks every reference
// and pin: each must name a stored object (DamageRef, DamagePin).
func (s *Store) Scrub(ctx context.Context, o ScrubOptions) (ScrubReport, error) {
	done, err := s.enter()
	if err != nil {
		return ScrubReport{}, err
	}
	defer done()
	// Take a snapshot of the object list; objects put meanwhile are new and
	// were verified as they were written.
	type obj struct {
		c   cid.CID
		rec record
		err error
	}
	var objs []obj
	if err := s.scan(ctx, []byte{kObject}, func(k, v []byte) error {
		r, err := decodeRecord(v)
		objs = append(objs, obj{cid.CID(k[1:]), r, err})
		return nil
	}); err != nil {
		return ScrubReport{}, err
	}
	var rep ScrubReport
	indexed := map[cid.CID]bool{}
	var sum usage
	for _, ob := range objs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		indexed[ob.c] = true
		rep.Objects++
		if ob.err != nil {
			rep.Damage = append(rep.Damage, Damage{CID: ob.c, Kind: DamageRecord, Detail: ob.err.Error()})
			continue
		}
		rep.Bytes += ob.rec.size
		sum.Objects++
		sum.Bytes += ob.rec.size
		if ob.rec.kind == kindInline {
			if cid.Sum(ob.rec.inline) != ob.c {
				rep.Damage = append(rep.Damage, Damage{CID: ob.c, Kind: DamageInline, Length: ob.rec.size, Detail: "the inline bytes do not hash to the CID"})
			}
			continue
		}
		sum.Outboard += outboardSize(ob.rec.size)
		ds, err := s.scrubFile(ctx, ob.c, ob.rec.size, o.Repair)
		if err != nil {
			return rep, err
		}
		rep.Damage = append(rep.Damage, ds...)
	}
	orphans, err := s.findOrphans(indexed)
	if err != nil {
		return rep, err
	}
	for _, c := range orphans {
		d := Damage{CID: c, Kind: DamageOrphan, Detail: "a file the index does not name"}
		if o.Repair {
			s.mu.Lock()
			if ok, _ := s.has(objectKey(c)); !ok {
				d.Repaired = s.fs.Remove(s.objectPath(c)) == nil
			}
			s.mu.Unlock()
		}
		rep.Damage = append(rep.Damage, d)
	}
	refs, err := s.scrubRefs(ctx)
	if err != nil {
		return rep, err
	}
	rep.Damage = append(rep.Damage, refs...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resMu.Lock()
	used := s.used
	s.resMu.Unlock()
	// Only compare when nothing was committed since the snapshot.
	if n, _ := s.countObjects(ctx); n == int64(len(objs)) && used != sum {
		d := Damage{Kind: DamageAccounting, Detail: fmt.Sprintf("counters say %+v, objects add up to %+v", used, sum)}
		if o.Repair {
			b := s.db.NewBatch()
			b.Set([]byte{kUsage}, sum.encode(), nil)
			if err := b.Commit(pebble.Sync); err == nil {
				s.resMu.Lock()
				s.used = sum
				s.resMu.Unlock()
				d.Repaired = true
			}
			b.Close()
		}
		rep.Damage = append(rep.Damage, d)
	}
	return rep, nil
}

// scrubRefs checks every reference and every pin, in one consistent view
// of the index: each must name a stored object. Such damage cannot be
// repaired here (the object must come back from a peer or a backup).
func (s *Store) scrubRefs(ctx context.Context) ([]Damage, error) {
	snap, err := s.db.NewSnapshot()
	if err != nil {
		return nil, fmt.Errorf("store: index: %w", err)
	}
	defer snap.Close()
	stored := func(c cid.CID) (bool, error) {
		_, closer, err := snap.Get(objectKey(c))
		if errors.Is(err, pebble.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("store: index: %w", err)
		}
		closer.Close()
		return true, nil
	}
	scan := func(prefix byte, fn func(k []byte) error) error {
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
		if err != nil {
			return fmt.Errorf("store: index: %w", err)
		}
		defer it.Close()
		n := 0
		for it.First(); it.Valid(); it.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := fn(it.Key()); err != nil {
				return err
			}
		}
		if err := it.Error(); err != nil {
			return fmt.Errorf("store: index: %w", err)
		}
		return nil
	}
	var out []Damage
	pinned := map[cid.CID]bool{}
	if err := scan(kPin, func(k []byte) error {
		c := cid.CID(k[1:])
		pinned[c] = true
		ok, err := stored(c)
		if err == nil && !ok {
			out = append(out, Damage{CID: c, Kind: DamagePin, Detail: "pinned, but not stored"})
		}
		return err
	}); err != nil {
		return nil, err
	}
	err = scan(kRef, func(k []byte) error {
		if len(k) != 1+2*cid.Size {
			out = append(out, Damage{Kind: DamageRecord, Detail: fmt.Sprintf("a reference key of %d bytes", len(k))})
			return nil
		}
		from, to := cid.CID(k[1:1+cid.Size]), cid.CID(k[1+cid.Size:])
		ok, err := stored(to)
		if err != nil || ok {
			return err
		}
		what := "referenced by " + from.String()
		if pinned[from] {
			what += " (pinned)"
		}
		out = append(out, Damage{CID: to, Kind: DamageRef, ReferencedBy: from, Detail: what + ", but not stored"})
		return nil
	})
	return out, err
}

func (s *Store) countObjects(ctx context.Context) (int64, error) {
	var n int64
	err := s.scan(ctx, []byte{kObject}, func(_, _ []byte) error { n++; return nil })
	return n, err
}

// scrubFile verifies one file object group by group.
func (s *Store) scrubFile(ctx context.Context, c cid.CID, size int64, repair bool) ([]Damage, error) {
	f, err := s.fs.Open(s.objectPath(c))
	if err != nil {
		if _, rerr := s.record(c); errors.Is(rerr, ErrNotFound) {
			return nil, nil // collected since the scrub began
		}
		return []Damage{{CID: c, Kind: DamageMissing, Length: size, Detail: err.Error()}}, nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: stat %s: %w", c, err)
	}
	if st.Size() != size {
		return []Damage{{CID: c, Kind: DamageSize, Length: size, Detail: fmt.Sprintf("the file has %d bytes, the index says %d", st.Size(), size)}}, nil
	}
	s.cache.drop(c)
	ob, err := s.outboard(c, size)
	if err != nil {
		ob = nil // judged below against the data
	}
	var bad []Damage
	buf := make([]byte, readBatch)
	for start := int64(0); start < size; start += readBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+readBatch, size)
		if ob != nil {
			if _, err := verifiedSpan(f, ob, c, buf, start, end); err == nil {
				continue
			}
		}
		// Locate the bad groups in this batch.
		for g := start; g < end; g += GroupSize {
			ge := min(g+GroupSize, end)
			if ob != nil {
				if _, err := verifiedSpan(f, ob, c, buf, g, ge); err == nil {
					continue
				}
			}
			if n := len(bad); n > 0 && bad[n-1].Offset+bad[n-1].Length == g {
				bad[n-1].Length += ge - g
			} else {
				bad = append(bad, Damage{CID: c, Kind: DamageData, Offset: g, Length: ge - g, Detail: "fails verification against the outboard and CID"})
			}
		}
	}
	if len(bad) == 0 {
		return nil, nil
	}
	// Is it the data or the outboard? Hash the whole file.
	obNew := make([]byte, bao.EncodedSize(int(size), Group, true))
	root, err := bao.Encode(&bufferAt{obNew}, &ctxReader{ctx, io.NewSectionReader(f, 0, size)}, size, Group, true)
	if err != nil {
		return nil, fmt.Errorf("store: rehashing %s: %w", c, err)
	}
	if cid.CID(root) != c {
		return bad, nil
	}
	d := Damage{CID: c, Kind: DamageOutboard, Length: size, Detail: "the data is intact; the stored outboard is wrong"}
	if repair && size > GroupSize {
		s.mu.Lock()
		err := s.db.Set(outboardKey(c), obNew, pebble.Sync)
		s.mu.Unlock()
		d.Repaired = err == nil
		s.cache.drop(c)
	}
	return []Damage{d}, nil
}

// findOrphans lists files under objects/ that name no indexed object.
func (s *Store) findOrphans(indexed map[cid.CID]bool) ([]cid.CID, error) {
	root := s.fs.PathJoin(s.dir, "objects")
	dirs, err := s.fs.List(root)
	if err != nil {
		return nil, fmt.Errorf("store: listing objects: %w", err)
	}
	var out []cid.CID
	for _, d := range dirs {
		names, err := s.fs.List(s.fs.PathJoin(root, d))
		if err != nil {
			continue
		}
		for _, n := range names {
			c, err := cid.Parse(cid.Prefix + n)
			if err != nil || indexed[c] {
				continue
			}
			s.mu.Lock()
			ok, _ := s.has(objectKey(c))
			s.mu.Unlock()
			if !ok {
				out = append(out, c)
			}
		}
	}
	return out, nil
}
