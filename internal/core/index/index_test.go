package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/core/store"
)

// testValidator stands in for the plugins role: it owns .note, whose table
// [note] needs a "text" string, and normalizes by lowercasing it. mode
// "meddle" makes it change the host-owned title.
type testValidator struct {
	mode  string
	calls int
}

func (v *testValidator) Validate(ctx context.Context, tld string, m json.RawMessage, size int64) (json.RawMessage, json.RawMessage, error) {
	v.calls++
	if tld != "note" {
		return nil, nil, bus.Errorf(codes.NotFound, "no plugin owns .%s", tld)
	}
	var doc map[string]any
	if err := json.Unmarshal(m, &doc); err != nil {
		return nil, nil, err
	}
	note, _ := doc["note"].(map[string]any)
	text, ok := note["text"].(string)
	if !ok {
		e := bus.Errorf(codes.Rejected, "rejected")
		e.Errors = json.RawMessage(`[{"path":"note.text","code":"required","message":"is required"}]`)
		return nil, nil, e
	}
	note["text"] = strings.ToLower(text)
	if v.mode == "meddle" {
		doc["meta"].(map[string]any)["title"] = "mine now"
	}
	out, _ := json.Marshal(doc)
	return out, json.RawMessage(`{"title":"t","tags":[]}`), nil
}

func setup(t *testing.T) (*store.Store, *Index, *testValidator, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	v := &testValidator{}
	x, err := Open(ctx, filepath.Join(dir, "index"), Options{}, s, v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return s, x, v, dir
}

func putPayload(t *testing.T, s *store.Store, b []byte) store.PutResult {
	t.Helper()
	r, err := s.Put(context.Background(), bytes.NewReader(b), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const noteTOML = "[meta]\ntld = \"note\"\ntitle = \"Hello\"\nprice = 7\n[note]\ntext = \"HeLLo\"\n"

func TestPublishLookupList(t *testing.T) {
	ctx := context.Background()
	s, x, _, dir := setup(t)
	p := putPayload(t, s, bytes.Repeat([]byte("payload "), 2000))
	e, err := x.Publish(ctx, Request{Manifest: []byte(noteTOML), Payload: p.CID, Size: p.Size, Filename: "a.txt", MediaType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	if e.TLD != "note" || e.Payload != p.CID || e.Size != p.Size || e.Price != 7 || e.MediaType != "text/plain" ||
		!strings.HasPrefix(e.Address, "crab://"+e.Manifest.Hex()+".note") {
		t.Fatalf("entry %+v", e)
	}
	// The stored manifest is the plugin's normalized form, pinned, and
	// references the payload, so GC keeps both.
	if !bytes.Contains(e.Doc, []byte(`"text":"hello"`)) || cid.Sum(e.Doc) != e.Manifest {
		t.Fatalf("doc %s", e.Doc)
	}
	info, err := s.Info(ctx, e.Manifest)
	if err != nil || !info.Pinned {
		t.Fatalf("manifest stored %+v %v", info, err)
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Info(ctx, p.CID); err != nil {
		t.Fatalf("GC removed the published payload: %v", err)
	}
	got, err := x.Lookup(ctx, e.Manifest)
	if err != nil || got.Address != e.Address || !bytes.Equal(got.Doc, e.Doc) {
		t.Fatalf("lookup %+v %v", got, err)
	}
	for _, tld := range []string{"", "note"} {
		l, err := x.List(ctx, tld, 0)
		if err != nil || len(l) != 1 || l[0].Manifest != e.Manifest {
			t.Fatalf("list %q: %+v %v", tld, l, err)
		}
	}
	if l, _ := x.List(ctx, "map", 0); len(l) != 0 {
		t.Fatalf("list map: %+v", l)
	}
	// Idempotent, and it survives a reopen.
	if e2, err := x.Publish(ctx, Request{Manifest: []byte(noteTOML), Payload: p.CID, Size: p.Size, Filename: "a.txt", MediaType: "text/plain"}); err != nil || e2.Manifest != e.Manifest {
		t.Fatalf("publish again: %+v %v", e2, err)
	}
	x.Close()
	x2, err := Open(ctx, filepath.Join(dir, "index"), Options{}, s, &testValidator{})
	if err != nil {
		t.Fatal(err)
	}
	defer x2.Close()
	if got, err := x2.Lookup(ctx, e.Manifest); err != nil || got.Address != e.Address {
		t.Fatalf("after reopen %+v %v", got, err)
	}
}

func TestPublishRefusals(t *testing.T) {
	ctx := context.Background()
	s, x, v, _ := setup(t)
	p := putPayload(t, s, []byte("tiny"))
	pins := func() int { l, _ := s.Pins(ctx); return len(l) }
	for _, tc := range []struct {
		name, toml string
		payload    cid.CID
		want       codes.Code
		field      string
	}{
		{"syntax", "[meta\n", p.CID, codes.Rejected, ""},
		{"host table", "[meta]\ntld = \"note\"\nprice = -5\n[note]\ntext = \"x\"\n", p.CID, codes.Rejected, "meta.price"},
		{"payload mismatch", "[meta]\ntld = \"note\"\n[payload]\nsize = 99\n[note]\ntext = \"x\"\n", p.CID, codes.Rejected, "payload.size"},
		{"plugin rejects", "[meta]\ntld = \"note\"\n", p.CID, codes.Rejected, "note.text"},
		{"unknown tld", "[meta]\ntld = \"nope\"\n", p.CID, codes.NotFound, ""},
		{"no payload", noteTOML, cid.Sum([]byte("never stored")), codes.NotFound, ""},
	} {
		_, err := x.Publish(ctx, Request{Manifest: []byte(tc.toml), Payload: tc.payload, Size: 4})
		if code(err) != tc.want {
			t.Errorf("%s: err %v, want %s", tc.name, err, tc.want)
			continue
		}
		if tc.field != "" {
			var be *bus.Error
			errors.As(err, &be)
			var fes []manifest.FieldError
			if json.Unmarshal(be.Errors, &fes) != nil || len(fes) == 0 || fes[0].Path != tc.field {
				t.Errorf("%s: errors %s, want %s", tc.name, be.Errors, tc.field)
			}
		}
	}
	v.mode = "meddle"
	if _, err := x.Publish(ctx, Request{Manifest: []byte(noteTOML), Payload: p.CID, Size: 4}); code(err) != codes.PluginFault {
		t.Fatalf("a plugin changing [meta]: %v", err)
	}
	if n := pins(); n != 0 {
		t.Fatalf("refused publications left %d pins", n)
	}
	if l, _ := x.List(ctx, "", 0); len(l) != 0 {
		t.Fatalf("refused publications were indexed: %+v", l)
	}
}

// TestAdoptStoredManifests: a manifest stored without the index (put
// --manifest, or fetched from a peer) is found only once Adopt has
// validated and indexed it; what is not a manifest, or not in its plugin's
// normal form, is not adopted.
func TestAdoptStoredManifests(t *testing.T) {
	ctx := context.Background()
	s, x, v, _ := setup(t)
	p := putPayload(t, s, []byte("offline payload"))
	// What `ronhost put --manifest` does without a node: host checks only.
	doc, _ := manifest.DecodeTOML([]byte("[meta]\ntld = \"note\"\n[note]\ntext = \"offline\"\n"))
	if err := manifest.SetPayload(doc, p.CID, p.Size, "", ""); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Normalize(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(m.Canonical()), store.PutOptions{Pin: true, Refs: []cid.CID{p.CID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Lookup(ctx, m.CID()); code(err) != codes.NotFound || v.calls != 0 {
		t.Fatalf("a lookup of a manifest not adopted: %v, %d validations", err, v.calls)
	}
	e, err := x.Adopt(ctx, m.CID())
	if err != nil || e.Payload != p.CID || e.TLD != "note" || v.calls != 1 {
		t.Fatalf("adopt: %+v %v (%d validations)", e, err, v.calls)
	}
	if got, err := x.Lookup(ctx, m.CID()); err != nil || got.Address != e.Address {
		t.Fatalf("a lookup after adopting: %+v %v", got, err)
	}
	if again, err := x.Adopt(ctx, m.CID()); err != nil || again.Published != e.Published || v.calls != 1 {
		t.Fatalf("a second adoption validated again (%d calls) or changed the entry: %+v %v", v.calls, again, err)
	}
	// Not a manifest, or not stored: not found.
	if _, err := x.Adopt(ctx, p.CID); code(err) != codes.NotFound {
		t.Fatalf("payload as manifest: %v", err)
	}
	if _, err := x.Adopt(ctx, cid.Sum([]byte("x"))); code(err) != codes.NotFound {
		t.Fatalf("missing: %v", err)
	}
	// A manifest not in its plugin's normal form cannot be adopted under that address.
	doc2, _ := manifest.DecodeTOML([]byte("[meta]\ntld = \"note\"\n[note]\ntext = \"UPPER\"\n"))
	_ = manifest.SetPayload(doc2, p.CID, p.Size, "", "")
	m2, _ := manifest.Normalize(doc2)
	if _, err := s.Put(ctx, bytes.NewReader(m2.Canonical()), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Adopt(ctx, m2.CID()); code(err) != codes.Rejected {
		t.Fatalf("non-normal manifest: %v", err)
	}
	if _, err := x.Lookup(ctx, m2.CID()); code(err) != codes.NotFound {
		t.Fatalf("a rejected manifest was indexed: %v", err)
	}
}

// countingObjects counts the index's reads and writes of the store.
type countingObjects struct {
	*store.Store
	n int
}

func (o *countingObjects) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	o.n++
	return o.Store.Info(ctx, c)
}

func (o *countingObjects) Get(ctx context.Context, c cid.CID) (io.ReadCloser, error) {
	o.n++
	return o.Store.Get(ctx, c)
}

func (o *countingObjects) Put(ctx context.Context, r io.Reader, opts store.PutOptions) (store.PutResult, error) {
	o.n++
	return o.Store.Put(ctx, r, opts)
}

// TestLookupOnlyReads: a lookup of what is not indexed (nothing, a payload,
// a valid manifest stored offline, a forged one, one its plugin would
// change) is not_found and changes nothing: the index's database is the
// same, the store is neither read nor written, no plugin is asked.
func TestLookupOnlyReads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs := &countingObjects{Store: s}
	v := &testValidator{}
	x, err := Open(ctx, filepath.Join(dir, "index"), Options{}, objs, v)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	p := putPayload(t, s, []byte("a payload"))
	if _, err := x.Publish(ctx, Request{Manifest: []byte(noteTOML), Payload: p.CID, Size: p.Size}); err != nil {
		t.Fatal(err)
	}
	stored := func(text string) cid.CID {
		doc, _ := manifest.DecodeTOML([]byte("[meta]\ntld = \"note\"\n[note]\ntext = \"" + text + "\"\n"))
		_ = manifest.SetPayload(doc, p.CID, p.Size, "", "")
		m, err := manifest.Normalize(doc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, bytes.NewReader(m.Canonical()), store.PutOptions{Pin: true}); err != nil {
			t.Fatal(err)
		}
		return m.CID()
	}
	// A forged manifest: canonical-looking JSON whose payload the store
	// lacks and whose tld no plugin owns.
	forged, err := s.Put(ctx, strings.NewReader(`{"meta":{"tld":"evil"},"payload":{"cid":"`+cid.Sum([]byte("none")).String()+`","size":1}}`), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hashes := []cid.CID{cid.Sum([]byte("unknown")), p.CID, stored("offline"), stored("UPPER"), forged.CID}

	dump := func() string {
		var b strings.Builder
		it, err := x.db.NewIter(nil)
		if err != nil {
			t.Fatal(err)
		}
		for it.First(); it.Valid(); it.Next() {
			fmt.Fprintf(&b, "%q=%q\n", it.Key(), it.Value())
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		u, err := s.Stat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "store %+v\n", u)
		return b.String()
	}
	before, calls, reads := dump(), v.calls, objs.n
	for _, h := range hashes {
		if e, err := x.Lookup(ctx, h); code(err) != codes.NotFound {
			t.Fatalf("lookup of %s: %+v %v, want not_found", h, e, err)
		}
	}
	if after := dump(); after != before || v.calls != calls || objs.n != reads {
		t.Fatalf("lookups changed state: %d validations, %d store calls; before\n%s\nafter\n%s", v.calls-calls, objs.n-reads, before, after)
	}
	// The same hashes adopted: only the valid one is indexed.
	for i, h := range hashes {
		_, err := x.Adopt(ctx, h)
		if (err == nil) != (i == 2) {
			t.Fatalf("adopt of hash %d: %v", i, err)
		}
	}
}
