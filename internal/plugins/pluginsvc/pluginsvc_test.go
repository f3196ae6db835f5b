package pluginsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
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
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/plugins"
)

// hostile is an ABI v1 module whose ron_validate loops for ever in a host
// call (plugins' TestHostileFileIsCurrent keeps it): it runs out of fuel.
const hostile = "../testdata/hostile-validate-output_set.wasm"

type faults struct {
	mu sync.Mutex
	ev []bus.PluginFaulted
}

func (f *faults) emit(kind string, v any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := v.(bus.PluginFaulted); ok && kind == bus.KindPluginFaulted {
		f.ev = append(f.ev, e)
	}
}

func (f *faults) list() []bus.PluginFaulted {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bus.PluginFaulted{}, f.ev...)
}

// liar answers for one object with bytes that are not it, as a store role
// in another process could.
type liar struct {
	Objects
	c   cid.CID
	lie []byte
}

func (l liar) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	if c == l.c {
		return store.Object{CID: c, Size: int64(len(l.lie))}, nil
	}
	return l.Objects.Info(ctx, c)
}

func (l liar) Get(ctx context.Context, c cid.CID) (io.ReadCloser, error) {
	if c == l.c {
		return io.NopCloser(bytes.NewReader(l.lie)), nil
	}
	return l.Objects.Get(ctx, c)
}

// TestPluginsOverTheBus: the plugins role's verbs on a real plugin host
// (one hostile module installed), a real store and a real bus, called with
// the role keys of the index (validate) and the gateway (resolve). The
// hostile module's validate faults, once, with one plugin.faulted event;
// an unknown TLD is not_found, one a registry revoked unavailable with the
// reason, a negative payload size invalid; a resolve of a manifest not
// stored is not_found, of an object too big to be a manifest invalid, and
// of bytes the store answers that do not hash to the manifest's CID
// internal; the gateway may not validate (its bus refuses, the server
// drops the forged request).
func TestPluginsOverTheBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	wasm, err := os.ReadFile(hostile)
	if err != nil {
		t.Fatal(err)
	}
	h := plugins.New(plugins.Config{PoolSize: 1, Logger: log, CacheDir: t.TempDir()})
	defer h.Close(context.Background())
	r := plugins.NewRouter(h)
	if _, err := r.Install(ctx, "hostile", wasm); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "store"), store.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var f faults
	s := &Service{Router: r, Objects: st, List: func() any { return r.TLDs() }, Emit: f.emit,
		Blocked: func(tld string) string {
			if tld == "gone" {
				return "a registry revoked .gone"
			}
			return ""
		}}
	bn := bustest.Start(t, contract.Plugins)
	if err := bn.Bus.Serve(contract.Plugins, "1.0.0", "", s.Endpoints()...); err != nil {
		t.Fatal(err)
	}
	idx, gw := bn.Client(t, contract.Index), bn.Client(t, contract.Gateway)

	list, err := bus.Call(ctx, bn.Bus, contract.PluginsList, contract.Empty{})
	if err != nil || string(list.Plugins) != `["hostile"]` {
		t.Fatalf("list: %s %v", list.Plugins, err)
	}
	doc := json.RawMessage(`{"meta":{"tld":"hostile","title":"x"}}`)
	_, err = bus.Call(ctx, idx, contract.PluginsValidate, contract.ValidateReq{TLD: "hostile", Manifest: doc, PayloadSize: 1})
	if c := codes.Of(err); c != codes.ContentFault && c != codes.PluginFault {
		t.Fatalf("validate by a module that loops: %v, want a fault", err)
	}
	if ev := f.list(); len(ev) != 1 || ev[0].TLD != "hostile" || ev[0].Entry != "ron_validate" || ev[0].Kind != "timeout" {
		t.Fatalf("plugin.faulted events: %+v, want one timeout in validate", ev)
	}
	for name, c := range map[string]struct {
		req  contract.ValidateReq
		code codes.Code
	}{
		"an unknown TLD":          {contract.ValidateReq{TLD: "nope", Manifest: doc}, codes.NotFound},
		"a revoked TLD":           {contract.ValidateReq{TLD: "gone", Manifest: doc}, codes.Unavailable},
		"a negative payload size": {contract.ValidateReq{TLD: "hostile", Manifest: doc, PayloadSize: -1}, codes.Invalid},
	} {
		_, err := bus.Call(ctx, idx, contract.PluginsValidate, c.req)
		if codes.Of(err) != c.code {
			t.Errorf("validate of %s: %v, want %s", name, err, c.code)
		}
		if c.code == codes.Unavailable && !strings.Contains(err.Error(), "a registry revoked .gone") {
			t.Errorf("the revoked TLD's error does not say why: %v", err)
		}
	}
	if err := idx.Request(ctx, contract.PluginsValidate.Spec, map[string]any{"tld": "hostile", "manifest": doc, "fuel": 1}, nil); codes.Of(err) != codes.Invalid {
		t.Errorf("validate with an unknown field: %v, want invalid", err)
	}

	big, err := st.Put(ctx, bytes.NewReader(bytes.Repeat([]byte{'x'}, manifest.MaxSize+1)), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		m    cid.CID
		code codes.Code
	}{
		"a manifest not stored":     {cid.Sum([]byte("nowhere")), codes.NotFound},
		"an object too big for one": {big.CID, codes.Invalid},
	} {
		if _, err := bus.Call(ctx, gw, contract.PluginsResolve, contract.ResolveReq{Manifest: c.m, Path: "/"}); codes.Of(err) != c.code {
			t.Errorf("resolve of %s: %v, want %s", name, err, c.code)
		}
	}
	m := cid.Sum(doc)
	lied := &Service{Router: r, Objects: liar{Objects: st, c: m, lie: []byte(`{"meta":{"tld":"hostile","title":"forged"}}`)}}
	if _, err := lied.manifestOf(ctx, m); codes.Of(err) != codes.Internal || !strings.Contains(err.Error(), "do not hash") {
		t.Errorf("a manifest whose bytes do not hash to its CID: %v, want internal", err)
	}

	if _, err := bus.Call(ctx, gw, contract.PluginsValidate, contract.ValidateReq{TLD: "hostile", Manifest: doc}); codes.Of(err) != codes.Forbidden {
		t.Fatalf("the gateway's key calling plugins.validate: %v, want forbidden", err)
	}
	bn.Forge(t, "ron.plugins.validate", []byte(`{"tld":"hostile","manifest":{},"payload_size":0}`), contract.Gateway)
	if ev := f.list(); len(ev) != 1 {
		t.Fatalf("after a forged validate: %d plugin.faulted events, want the one", len(ev))
	}
}

// TestErr: each error of the plugin host has its code, the same for the
// node's roles and the CLI's offline commands; a rejection carries its
// field errors; other errors pass through as they are.
func TestErr(t *testing.T) {
	other := errors.New("disk on fire")
	for _, c := range []struct {
		err  error
		code codes.Code
	}{
		{&plugins.RejectedError{TLD: "map", Errors: []plugins.FieldError{{Path: "map.zoom", Code: "range", Message: "too deep"}}}, codes.Rejected},
		{&plugins.FaultError{TLD: "map", Entry: plugins.EntryValidate, Kind: plugins.FaultTrap, Err: other, Content: true}, codes.ContentFault},
		{&plugins.FaultError{TLD: "map", Entry: plugins.EntryValidate, Kind: plugins.FaultTimeout, Err: other}, codes.PluginFault},
		{plugins.ErrUnknownTLD, codes.NotFound},
		{plugins.ErrNotSupported, codes.NotFound},
		{plugins.ErrQuarantined, codes.Unavailable},
		{plugins.ErrClosed, codes.Unavailable},
		{plugins.ErrInputTooLarge, codes.TooLarge},
	} {
		err := Err("map", c.err)
		if codes.Of(err) != c.code {
			t.Errorf("%v: %v, want %s", c.err, err, c.code)
		}
		if c.code == codes.Rejected {
			if be := bus.AsError(err); be == nil || !strings.Contains(string(be.Errors), `"map.zoom"`) {
				t.Errorf("a rejection's field errors: %+v", be)
			}
		}
	}
	if err := Err("map", other); err != other {
		t.Errorf("another error: %v, want it as it is", err)
	}
}
