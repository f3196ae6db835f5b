package indexsvc

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/bustest"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/index"
	"github.com/ronhost/ronhost/internal/core/names"
	"github.com/ronhost/ronhost/internal/core/store"
)

// validator stands in for the plugins role: it owns .note, whose [note]
// table needs a "text" string, and keeps manifests as they are.
type validator struct{}

func (validator) Validate(ctx context.Context, tld string, m json.RawMessage, size int64) (json.RawMessage, json.RawMessage, error) {
	if tld != "note" {
		return nil, nil, bus.Errorf(codes.NotFound, "no plugin owns .%s", tld)
	}
	var doc map[string]any
	if err := json.Unmarshal(m, &doc); err != nil {
		return nil, nil, err
	}
	if note, _ := doc["note"].(map[string]any); note["text"] == nil {
		e := bus.Errorf(codes.Rejected, "the .note plugin rejected the manifest")
		e.Errors = json.RawMessage(`[{"path":"note.text","code":"required","message":"is required"}]`)
		return nil, nil, e
	}
	return m, json.RawMessage(`{"title":"t","tags":[]}`), nil
}

// events keeps what the service emits.
type events struct {
	mu   sync.Mutex
	pubs []bus.ManifestPublished
	upds []bus.NameUpdated
}

func (e *events) emit(kind string, v any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch x := v.(type) {
	case bus.ManifestPublished:
		if kind == bus.KindManifestPublished {
			e.pubs = append(e.pubs, x)
		}
	case bus.NameUpdated:
		if kind == bus.KindNameUpdated {
			e.upds = append(e.upds, x)
		}
	}
}

func (e *events) counts() (int, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pubs), len(e.upds)
}

const noteTOML = "[meta]\ntld = \"note\"\ntitle = \"Hello\"\nprice = 7\n[note]\ntext = \"hello\"\n"

// TestIndexOverTheBus: the index role's verbs on a real index, store and
// bus, called as the gateway calls them (its role key). A publish is
// looked up, adopted (the same entry) and listed, with one
// manifest.published event; a signed name record is set once (an equal
// sequence is a conflict) and read back, with one name.updated event.
// Refused: a manifest its plugin rejects (with the field errors), one of
// an unknown TLD or for a payload not stored, a manifest over its cap,
// malformed requests, a forged name record; the store's key may not
// publish (its bus refuses; the server drops a forged publish, which
// indexes nothing).
func TestIndexOverTheBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, filepath.Join(dir, "store"), store.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	x, err := index.Open(ctx, filepath.Join(dir, "index"), index.Options{Logger: log}, st, validator{})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var ev events
	bn := bustest.Start(t, contract.Index)
	if err := bn.Bus.Serve(contract.Index, "1.0.0", "", Endpoints(x, ev.emit)...); err != nil {
		t.Fatal(err)
	}
	gw := bn.Client(t, contract.Gateway)

	body := bytes.Repeat([]byte("a note "), 100)
	p, err := st.Put(ctx, bytes.NewReader(body), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	payload := contract.Payload{CID: p.CID, Size: p.Size}
	pub, err := bus.Call(ctx, gw, contract.IndexPublish, contract.PublishReq{Manifest: noteTOML, Payload: payload})
	if err != nil || pub.TLD != "note" || pub.Payload != p.CID || !strings.HasPrefix(pub.Address, "crab://"+pub.Manifest.Hex()+".note") {
		t.Fatalf("publish: %+v %v", pub, err)
	}
	e, err := bus.Call(ctx, gw, contract.IndexLookup, contract.LookupReq{Hash: pub.Manifest})
	if err != nil || e.Address != pub.Address || e.Price != 7 || e.Size != p.Size {
		t.Fatalf("lookup: %+v %v", e, err)
	}
	a, err := bus.Call(ctx, gw, contract.IndexAdopt, contract.LookupReq{Hash: pub.Manifest})
	if err != nil || a.Address != e.Address || !bytes.Equal(a.Doc, e.Doc) {
		t.Fatalf("adopt of an indexed manifest: %+v %v", a, err)
	}
	list, err := bus.Call(ctx, bn.Bus, contract.IndexList, contract.ListReq{TLD: "note"})
	if err != nil || len(list.Entries) != 1 || list.Entries[0].Manifest != pub.Manifest {
		t.Fatalf("list: %+v %v", list, err)
	}

	key, err := names.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := names.Sign(key, "home", pub.Address, 1, time.Now().Add(time.Hour).Unix())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rec)
	set, err := bus.Call(ctx, gw, contract.IndexNameSet, contract.NameSetReq{Record: raw})
	if err != nil || set.Name != rec.Name || set.Seq != 1 {
		t.Fatalf("name_set: %+v %v", set, err)
	}
	if _, err := bus.Call(ctx, gw, contract.IndexNameSet, contract.NameSetReq{Record: raw}); codes.Of(err) != codes.Conflict {
		t.Fatalf("the same record again: %v, want conflict", err)
	}
	got, err := bus.Call(ctx, gw, contract.IndexNameGet, contract.NameGetReq{Name: rec.Name})
	if err != nil || got.Address != pub.Address || got.Seq != 1 || !bytes.Equal(got.Sig, rec.Sig) {
		t.Fatalf("name_get: %+v %v", got, err)
	}
	other, err := names.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	forged := rec
	forged.Address = "crab://" + strings.Repeat("0", 64) + ".note"
	forged.Seq = 2
	fraw, _ := json.Marshal(forged)

	var rejected *bus.Error
	for name, c := range map[string]struct {
		v    bus.Spec
		req  any
		code codes.Code
	}{
		"a manifest its plugin rejects": {contract.IndexPublish.Spec, contract.PublishReq{Manifest: strings.Replace(noteTOML, "text", "txt", 1), Payload: payload}, codes.Rejected},
		"a manifest of an unknown TLD":  {contract.IndexPublish.Spec, contract.PublishReq{Manifest: strings.Replace(noteTOML, `"note"`, `"nope"`, 1), Payload: payload}, codes.NotFound},
		"a payload not stored": {contract.IndexPublish.Spec, contract.PublishReq{Manifest: noteTOML,
			Payload: contract.Payload{CID: cid.Sum([]byte("not stored")), Size: 1}}, codes.NotFound},
		"a manifest over its cap":     {contract.IndexPublish.Spec, contract.PublishReq{Manifest: noteTOML + "# " + strings.Repeat("x", 300<<10) + "\n", Payload: payload}, codes.TooLarge},
		"a manifest that is not TOML": {contract.IndexPublish.Spec, contract.PublishReq{Manifest: "[meta", Payload: payload}, codes.Rejected},
		"an unknown field":            {contract.IndexPublish.Spec, map[string]any{"manifest": noteTOML, "payload": payload, "owner": "me"}, codes.Invalid},
		"a lookup of a bad hash":      {contract.IndexLookup.Spec, map[string]string{"hash": "b3:xyz"}, codes.Invalid},
		"a lookup of an unknown hash": {contract.IndexLookup.Spec, contract.LookupReq{Hash: p.CID}, codes.NotFound},
		"an adopt of a payload":       {contract.IndexAdopt.Spec, contract.LookupReq{Hash: p.CID}, codes.NotFound},
		"a forged name record":        {contract.IndexNameSet.Spec, contract.NameSetReq{Record: fraw}, codes.Invalid},
		"a name record that is not":   {contract.IndexNameSet.Spec, contract.NameSetReq{Record: json.RawMessage(`"hello"`)}, codes.Invalid},
		"a malformed name":            {contract.IndexNameGet.Spec, contract.NameGetReq{Name: "nobody"}, codes.Invalid},
		"an unknown name":             {contract.IndexNameGet.Spec, contract.NameGetReq{Name: names.NameFor(other.Public().(ed25519.PublicKey), "home")}, codes.NotFound},
	} {
		err := gw.Request(ctx, c.v, c.req, nil)
		if codes.Of(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
		if c.code == codes.Rejected && strings.Contains(name, "plugin") {
			rejected = bus.AsError(err)
		}
	}
	if rejected == nil || !strings.Contains(string(rejected.Errors), `"note.text"`) {
		t.Errorf("the plugin's rejection: %+v, want its field errors", rejected)
	}
	if pubs, upds := ev.counts(); pubs != 1 || upds != 1 {
		t.Fatalf("%d manifest.published and %d name.updated events, want one each", pubs, upds)
	}

	store := bn.Client(t, contract.Store)
	req := contract.PublishReq{Manifest: strings.Replace(noteTOML, "hello", "another", 1), Payload: payload}
	if _, err := bus.Call(ctx, store, contract.IndexPublish, req); codes.Of(err) != codes.Forbidden {
		t.Fatalf("the store's key publishing: %v, want forbidden", err)
	}
	fb, _ := json.Marshal(req)
	bn.Forge(t, "ron.index.publish", fb, contract.Store)
	if list, err := bus.Call(ctx, bn.Bus, contract.IndexList, contract.ListReq{}); err != nil || len(list.Entries) != 1 {
		t.Fatalf("after a forged publish: %+v %v, want the one entry", list, err)
	}
}
