package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/bus"
	"github.com/ronhost/ronhost/core/cid"
	"github.com/ronhost/ronhost/core/manifest"
	"github.com/ronhost/ronhost/core/store"
	"github.com/ronhost/ronhost/internal/codes"
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

func code(err error) codes.Code {
	var be *bus.Error
	if errors.As(err, &be) {
		return be.Code
	}
	return ""
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

func TestLookupAdoptsStoredManifests(t *testing.T) {
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
	e, err := x.Lookup(ctx, m.CID())
	if err != nil || e.Payload != p.CID || e.TLD != "note" {
		t.Fatalf("adopt: %+v %v", e, err)
	}
	calls := v.calls
	if _, err := x.Lookup(ctx, m.CID()); err != nil || v.calls != calls {
		t.Fatalf("a second lookup validated again (%d calls) or failed: %v", v.calls-calls, err)
	}
	// Not a manifest, or not stored: not found.
	if _, err := x.Lookup(ctx, p.CID); code(err) != codes.NotFound {
		t.Fatalf("payload as manifest: %v", err)
	}
	if _, err := x.Lookup(ctx, cid.Sum([]byte("x"))); code(err) != codes.NotFound {
		t.Fatalf("missing: %v", err)
	}
	// A manifest not in its plugin's normal form cannot be adopted under that address.
	doc2, _ := manifest.DecodeTOML([]byte("[meta]\ntld = \"note\"\n[note]\ntext = \"UPPER\"\n"))
	_ = manifest.SetPayload(doc2, p.CID, p.Size, "", "")
	m2, _ := manifest.Normalize(doc2)
	if _, err := s.Put(ctx, bytes.NewReader(m2.Canonical()), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Lookup(ctx, m2.CID()); code(err) != codes.Rejected {
		t.Fatalf("non-normal manifest: %v", err)
	}
}
