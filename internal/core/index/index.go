package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/ronhost/ronhost/internal/pebbledb"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/core/names"
	"github.com/ronhost/ronhost/internal/core/store"
)

// ErrClosed is returned after Close.
var ErrClosed = codes.New(codes.Unavailable, "index: closed")

// ErrDiskFull: a publish or name record did not fit the disk (with the
// reserve Options.MinFree kept free); lookups still work. It is the same
// sentinel as the store's.
var ErrDiskFull = pebbledb.ErrDiskFull

// Validator runs a TLD plugin's ron_validate. A rejection is a *bus.Error
// with CodeRejected and the plugin's field errors; a TLD without a plugin is
// CodeNotFound.
type Validator interface {
	Validate(ctx context.Context, tld string, manifest json.RawMessage, payloadSize int64) (normalized, index json.RawMessage, err error)
}

// Objects is the part of the store the index uses. *store.Store satisfies it.
type Objects interface {
	Info(ctx context.Context, c cid.CID) (store.Object, error)
	Get(ctx context.Context, c cid.CID) (io.ReadCloser, error)
	Put(ctx context.Context, r io.Reader, o store.PutOptions) (store.PutResult, error)
}

// Entry is a published manifest as the gateway serves it: the index.lookup
// reply, declared once in bus/contract (and stored as its JSON).
type Entry = contract.Entry

// Request is one publication: a Manifest.toml for a payload already stored.
type Request struct {
	Manifest  []byte          `json:"manifest"`      // Manifest.toml text, when Doc is absent
	Doc       json.RawMessage `json:"doc,omitempty"` // the manifest already decoded from TOML (manifest.MarshalTree)
	Payload   cid.CID         `json:"payload"`
	Size      int64           `json:"size"`
	Filename  string          `json:"filename,omitempty"`
	MediaType string          `json:"media_type,omitempty"`
}

// Options configure an Index.
type Options struct {
	FS     vfs.FS // nil: the real disk
	Logger *slog.Logger
	Now    func() time.Time
	// MinFree is the free space, in bytes, that writes leave on the
	// database's filesystem (see internal/pebbledb); 0 means no check.
	MinFree int64
}

// Index is the open index.
type Index struct {
	db    *pebbledb.DB
	objs  Objects
	val   Validator
	names *names.Registry
	now   func() time.Time
	log   *slog.Logger

	mu     sync.RWMutex // held for reading by operations, for writing by Close
	closed bool
}

const (
	prefixEntry = "e/" // e/<32-byte hash> -> Entry JSON
	prefixTLD   = "t/" // t/<tld>/<32-byte hash> -> nothing
	prefixName  = "n/" // the names registry
)

// Open opens (creating if needed) the index database in dir.
func Open(ctx context.Context, dir string, o Options, objs Objects, v Validator) (*Index, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	db, err := pebbledb.Open(dir, pebbledb.Options{FS: o.FS, Logger: o.Logger, MinFree: o.MinFree})
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", dir, err)
	}
	return &Index{db: db, objs: objs, val: v, names: names.NewRegistry(db, []byte(prefixName)),
		now: o.Now, log: o.Logger}, nil
}

// Disk reports the database's state on its filesystem.
func (x *Index) Disk() pebbledb.State { return x.db.State() }

// Recover makes the index writable again if it opened read-only on a full
// disk and space has returned.
func (x *Index) Recover() error {
	if err := x.enter(); err != nil {
		return err
	}
	defer x.mu.RUnlock()
	return x.db.Recover()
}

// Names returns the registry of name records, kept in the index's database.
func (x *Index) Names() *names.Registry { return x.names }

// Close closes the database; it waits for operations in progress.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	return x.db.Close()
}

func (x *Index) enter() error {
	x.mu.RLock()
	if x.closed {
		x.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Publish validates req's manifest through its TLD's plugin, stores the
// normalized manifest pinned (referencing the payload) and indexes it.
// Publishing the same manifest again returns the same Entry.
func (x *Index) Publish(ctx context.Context, req Request) (Entry, error) {
	if err := x.enter(); err != nil {
		return Entry{}, err
	}
	defer x.mu.RUnlock()
	if len(req.Manifest) > manifest.MaxSize {
		return Entry{}, bus.Errorf(codes.TooLarge, "the manifest is larger than %d bytes", manifest.MaxSize)
	}
	// The gateway parsed the TOML once and sends the tree; a caller that
	// sends the text has it parsed here.
	var doc map[string]any
	var err error
	if len(req.Doc) > 0 {
		doc, err = manifest.DecodeJSON(req.Doc)
	} else {
		doc, err = manifest.DecodeTOML(req.Manifest)
	}
	if err != nil {
		return Entry{}, rejected(err)
	}
	info, err := x.objs.Info(ctx, req.Payload)
	if errors.Is(err, store.ErrNotFound) {
		return Entry{}, bus.Errorf(codes.NotFound, "the payload %s is not stored on this node", req.Payload)
	}
	if err != nil {
		return Entry{}, err
	}
	if err := manifest.SetPayload(doc, info.CID, info.Size, req.Filename, req.MediaType); err != nil {
		return Entry{}, rejected(err)
	}
	m, err := manifest.Normalize(doc)
	if err != nil {
		return Entry{}, rejected(err)
	}
	m2, idx, err := x.validate(ctx, m)
	if err != nil {
		return Entry{}, err
	}
	res, err := x.objs.Put(ctx, bytes.NewReader(m2.Canonical()), store.PutOptions{Pin: true, Refs: []cid.CID{m2.Payload.CID}})
	if err != nil {
		return Entry{}, fmt.Errorf("index: storing the manifest: %w", err)
	}
	e := x.entry(m2, idx)
	if res.CID != e.Manifest {
		return Entry{}, fmt.Errorf("index: the store named the manifest %s, expected %s", res.CID, e.Manifest)
	}
	return e, x.put(e)
}

// validate runs the plugin on m and checks its answer: the normalized
// manifest must parse and keep the host-owned tables as they were.
func (x *Index) validate(ctx context.Context, m *manifest.Manifest) (*manifest.Manifest, json.RawMessage, error) {
	norm, idx, err := x.val.Validate(ctx, m.Meta.TLD, m.Canonical(), m.Payload.Size)
	if err != nil {
		return nil, nil, err
	}
	m2, err := manifest.ParseJSON(norm)
	if err != nil {
		return nil, nil, bus.Errorf(codes.PluginFault, "the .%s plugin returned a manifest the host refuses: %v", m.Meta.TLD, err)
	}
	if !reflect.DeepEqual(m2.Meta, m.Meta) || m2.Payload != m.Payload {
		return nil, nil, bus.Errorf(codes.PluginFault, "the .%s plugin changed the host-owned [meta] or [payload] tables", m.Meta.TLD)
	}
	return m2, idx, nil
}

func (x *Index) entry(m *manifest.Manifest, idx json.RawMessage) Entry {
	return Entry{
		Address: m.Address().String(), Manifest: m.CID(), TLD: m.Meta.TLD,
		Payload: m.Payload.CID, Size: m.Payload.Size, MediaType: m.Payload.MediaType,
		Price: m.Meta.Price, Doc: m.Canonical(), Index: idx, Published: x.now().UTC(),
	}
}

func (x *Index) put(e Entry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	b := x.db.NewBatch()
	defer b.Close()
	_ = b.Set(entryKey(e.Manifest), v, nil)
	_ = b.Set(tldKey(e.TLD, e.Manifest), nil, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// Lookup returns the Entry of the manifest whose CID is hash (the hash of an
// address), if it is indexed: a lookup only reads. A manifest stored but not
// indexed (by `ronhost put --manifest`, or fetched from a peer) is not found
// until Adopt indexes it.
func (x *Index) Lookup(ctx context.Context, hash cid.CID) (Entry, error) {
	if err := x.enter(); err != nil {
		return Entry{}, err
	}
	defer x.mu.RUnlock()
	return x.lookup(hash)
}

// lookup reads hash's entry (x.mu held).
func (x *Index) lookup(hash cid.CID) (Entry, error) {
	v, closer, err := x.db.Get(entryKey(hash))
	if err == nil {
		defer closer.Close()
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return Entry{}, fmt.Errorf("index: entry %s: %w", hash, err)
		}
		return e, nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return Entry{}, fmt.Errorf("index: %w", err)
	}
	return Entry{}, bus.Errorf(codes.NotFound, "no manifest %s is indexed on this node", hash)
}

// Adopt indexes the manifest whose CID is hash, found in the store (which may
// fetch it from a peer), as a publish would: it must be a manifest in
// canonical form that its TLD's plugin validates and leaves as it is. The
// entry of a manifest indexed already is returned as it is. Adopt is the
// explicit step of the fetch path that Lookup never takes.
func (x *Index) Adopt(ctx context.Context, hash cid.CID) (Entry, error) {
	if err := x.enter(); err != nil {
		return Entry{}, err
	}
	defer x.mu.RUnlock()
	if e, err := x.lookup(hash); code(err) != codes.NotFound {
		return e, err
	}
	notFound := bus.Errorf(codes.NotFound, "no manifest %s on this node", hash)
	info, err := x.objs.Info(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Entry{}, notFound
	}
	if err != nil {
		return Entry{}, err
	}
	if info.Size > manifest.MaxSize {
		return Entry{}, notFound
	}
	rc, err := x.objs.Get(ctx, hash)
	if err != nil {
		return Entry{}, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return Entry{}, err
	}
	m, err := manifest.ParseJSON(b)
	if err != nil || m.CID() != hash {
		return Entry{}, bus.Errorf(codes.NotFound, "%s is stored but is not a manifest in canonical form", hash)
	}
	m2, idx, err := x.validate(ctx, m)
	if err != nil {
		return Entry{}, err
	}
	if m2.CID() != hash {
		return Entry{}, bus.Errorf(codes.Rejected, "%s is not in the form its .%s plugin normalizes to (publish it again)", hash, m.Meta.TLD)
	}
	e := x.entry(m2, idx)
	if err := x.put(e); errors.Is(err, ErrDiskFull) {
		// A fetch must not fail for want of space to remember it: serve
		// the entry, index it on a later adoption.
		x.log.Warn("a manifest stored offline is served unindexed", "address", e.Address, "err", err)
		return e, nil
	} else if err != nil {
		return Entry{}, err
	}
	x.log.Info("indexed a manifest stored offline", "address", e.Address)
	return e, nil
}

// List returns the indexed entries, of one TLD when tld is not empty, in
// order of their manifest hashes (at most limit; 0 means 1000).
func (x *Index) List(ctx context.Context, tld string, limit int) ([]Entry, error) {
	if err := x.enter(); err != nil {
		return nil, err
	}
	defer x.mu.RUnlock()
	if limit <= 0 {
		limit = 1000
	}
	lower := []byte(prefixEntry)
	if tld != "" {
		lower = []byte(prefixTLD + tld + "/")
	}
	it, err := x.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper(lower)})
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer it.Close()
	out := []Entry{}
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		var e Entry
		if tld == "" {
			if err := json.Unmarshal(it.Value(), &e); err != nil {
				return nil, fmt.Errorf("index: %w", err)
			}
		} else {
			var h cid.CID
			copy(h[:], it.Key()[len(lower):])
			v, closer, err := x.db.Get(entryKey(h))
			if err != nil {
				return nil, fmt.Errorf("index: %w", err)
			}
			err = json.Unmarshal(v, &e)
			closer.Close()
			if err != nil {
				return nil, fmt.Errorf("index: %w", err)
			}
		}
		out = append(out, e)
	}
	return out, it.Error()
}

func entryKey(h cid.CID) []byte { return append([]byte(prefixEntry), h[:]...) }

func tldKey(tld string, h cid.CID) []byte { return append([]byte(prefixTLD+tld+"/"), h[:]...) }

func upper(p []byte) []byte {
	u := bytes.Clone(p)
	u[len(u)-1]++
	return u
}

// rejected turns a manifest error into the bus's rejection with field errors.
func rejected(err error) error {
	if !errors.As(err, new(*manifest.Error)) {
		return bus.Errorf(codes.Invalid, "%v", err)
	}
	// rejected (422) or too_large (413), with the field errors
	return bus.AsError(fmt.Errorf("the manifest is invalid: %w", err))
}

// code is err's code; nil's is "".
func code(err error) codes.Code {
	if err == nil {
		return ""
	}
	return codes.Of(err)
}
