package names

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ronhost/ronhost/internal/pebbledb"
)

// Registry keeps the newest record per name in a Pebble database, under a
// key prefix (key: prefix + name; value: the record's JSON). The caller
// owns the database: it opens it before NewRegistry and closes it after
// the last call.
type Registry struct {
	db     *pebbledb.DB
	prefix []byte
	mu     sync.Mutex // serializes Put's read-compare-write
}

// NewRegistry returns a registry over db under prefix. It does no I/O.
func NewRegistry(db *pebbledb.DB, prefix []byte) *Registry {
	return &Registry{db: db, prefix: append([]byte(nil), prefix...)}
}

func (g *Registry) key(name string) []byte {
	return append(append(make([]byte, 0, len(g.prefix)+len(name)), g.prefix...), name...)
}

// Put verifies rec at now and stores it if it is Newer than the stored
// record for its name; otherwise it returns an error wrapping ErrStale. The
// write is one synced batch.
func (g *Registry) Put(ctx context.Context, rec Record, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("names: put: %w", err)
	}
	if err := rec.Verify(now); err != nil {
		return err
	}
	val, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("names: put: %w", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	old, err := g.load(rec.Name)
	switch {
	case err == nil:
		if !Newer(rec, old) {
			return fmt.Errorf("%w: %s is at seq %d (a record wins with a higher seq)", ErrStale, rec.Name, old.Seq)
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	b := g.db.NewBatch()
	defer b.Close()
	if err := b.Set(g.key(rec.Name), val, nil); err != nil {
		return fmt.Errorf("names: put: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("names: put: %w", err)
	}
	return nil
}

// load reads and decodes the stored record for name, checking its
// signature (not its expiry).
func (g *Registry) load(name string) (Record, error) {
	v, closer, err := g.db.Get(g.key(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return Record{}, fmt.Errorf("names: get %s: %w", name, err)
	}
	defer closer.Close()
	return g.decode(name, v)
}

func (g *Registry) decode(name string, v []byte) (Record, error) {
	rec, err := ParseRecord(v)
	if err == nil && rec.Name != name {
		err = fmt.Errorf("%w: stored under another name (%s)", ErrMalformed, rec.Name)
	}
	if err == nil {
		err = rec.verifySig()
	}
	if err != nil {
		return Record{}, fmt.Errorf("%w: the record for %q: %v", ErrCorrupt, name, err)
	}
	return rec, nil
}

// Get returns the record for name; it is GetAt(ctx, name, time.Now()).
func (g *Registry) Get(ctx context.Context, name string) (Record, error) {
	return g.GetAt(ctx, name, time.Now())
}

// GetAt returns the stored record for name, re-verified. Errors wrap
// ErrMalformed (not a name), ErrNotFound, or ErrExpired (the stored record
// has expired at now).
func (g *Registry) GetAt(ctx context.Context, name string, now time.Time) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("names: get: %w", err)
	}
	if _, _, err := ParseName(name); err != nil {
		return Record{}, err
	}
	rec, err := g.load(name)
	if err != nil {
		return Record{}, err
	}
	if rec.Expired(now) {
		return Record{}, fmt.Errorf("%w: the record for %s expired at %s", ErrExpired, name, time.Unix(rec.Expires, 0).UTC().Format(time.RFC3339))
	}
	return rec, nil
}

// List returns every stored record in name order, re-verified, expired ones
// included (check Record.Expired): an expired record still holds its
// name's sequence number.
func (g *Registry) List(ctx context.Context) ([]Record, error) {
	it, err := g.db.NewIter(&pebble.IterOptions{LowerBound: g.prefix, UpperBound: upperBound(g.prefix)})
	if err != nil {
		return nil, fmt.Errorf("names: list: %w", err)
	}
	defer it.Close()
	var out []Record
	for ok := it.First(); ok; ok = it.Next() {
		if len(out)%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("names: list: %w", err)
			}
		}
		name := string(it.Key()[len(g.prefix):])
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("names: list: %w", err)
		}
		rec, err := g.decode(name, v)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("names: list: %w", err)
	}
	return out, nil
}

// upperBound returns the first key after every key starting with p, or nil
// (no bound) when there is none.
func upperBound(p []byte) []byte {
	u := append([]byte(nil), p...)
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] != 0xff {
			u[i]++
			return u[:i+1]
		}
	}
	return nil
}
