package notes_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/examples/notes"
	"github.com/ronhost/ronhost/sdk-wasm/internal/wasmfile"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
)

var ctx = context.Background()

func TestConformance(t *testing.T) {
	rontest.CheckPlugin(t, rontest.New(notes.Plugin{}))
}

func TestValidateNormalizes(t *testing.T) {
	h := rontest.New(notes.Plugin{})
	out, err := h.Validate(ctx, ron.MustManifest(notes.Example), ron.Context{TLD: "notes", PayloadSize: 1234})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := out.Manifest.MarshalJSON()
	want := `{"meta":{"created":"2026-01-02T03:04:05Z","tld":"notes"},` +
		`"notes":{"authors":[{"name":"Ada","payout":"ron1ada","share":6000},{"name":"Grace","payout":"ron1grace","share":4000}],` +
		`"language":"en","license":"CC-BY-4.0","operator_bps":2000,"price":1200,"tags":["go","wasm"],"title":"Field notes on WebAssembly"},` +
		`"payload":{"cid":"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262","media_type":"text/markdown","size":1234}}`
	if string(got) != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if out.Index.Title != "Field notes on WebAssembly" || strings.Join(out.Index.Tags, ",") != "go,wasm" {
		t.Fatalf("index %+v", out.Index)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	h := rontest.New(notes.Plugin{})
	m := ron.MustManifest(`{"meta":{"tld":"notes"},"payload":{"cid":"b3:00","size":1,"media_type":"image/png"},"notes":{
		"title":"  ","license":"wtfpl","tags":["ok","Not OK"],"language":"EN_us","operator_bps":9000,
		"authors":[{"name":"A","payout":"ron1a","share":7000},{"name":"","payout":"ron1a","share":0},{"name":"C","payout":"X!","share":20000}]}}`)
	_, err := h.Validate(ctx, m, ron.Context{TLD: "notes"})
	r, ok := ron.AsRejection(err)
	if !ok {
		t.Fatalf("want a rejection, got %v", err)
	}
	var got []string
	for _, e := range r.Errors {
		got = append(got, e.Path+" "+e.Code)
	}
	want := []string{
		"notes.authors invalid",
		"notes.authors[1].name required", "notes.authors[1].payout duplicate", "notes.authors[1].share range",
		"notes.authors[2].payout format", "notes.authors[2].share range",
		"notes.language format", "notes.license invalid", "notes.operator_bps range",
		"notes.tags[1] format", "notes.title required", "payload.media_type invalid",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Strict decoding: a misspelt key and a wrong type.
	for in, path := range map[string]string{
		`{"meta":{"tld":"notes"},"notes":{"title":"x","autors":[]}}`: "notes.autors",
		`{"meta":{"tld":"notes"},"notes":{"title":"x","price":-5}}`:  "notes.price",
		`{"meta":{"tld":"notes"},"notes":{"title":"x","price":1.5}}`: "notes.price",
		`{"meta":{"tld":"notes"}}`:                                   "notes",
		`{"meta":{"tld":"map"},"notes":{}}`:                          "meta.tld",
	} {
		_, err := h.Validate(ctx, ron.MustManifest(in), ron.Context{TLD: "notes"})
		if r, ok := ron.AsRejection(err); !ok || r.Errors[0].Path != path {
			t.Errorf("%s: got %v, want path %s", in, err, path)
		}
	}
}

func normalized(t *testing.T) *ron.Manifest {
	t.Helper()
	out, err := rontest.New(notes.Plugin{}).Validate(ctx, ron.MustManifest(notes.Example), ron.Context{TLD: "notes", PayloadSize: 1234})
	if err != nil {
		t.Fatal(err)
	}
	return out.Manifest
}

func TestSplitPaysAuthorsAndOperators(t *testing.T) {
	h := rontest.New(notes.Plugin{})
	m := normalized(t)
	usage := ron.Usage{Servers: []ron.Server{
		{Node: "n1", Payout: "op-b", Bytes: 300},
		{Node: "n2", Payout: "op-a", Bytes: 100},
		{Node: "n3", Payout: "", Bytes: 999}, // no payout address: not paid
		{Node: "n4", Payout: "op-a", Bytes: 0},
	}}
	got := rontest.CheckSplit(t, h, ron.SplitInput{Manifest: m, Epoch: "e1", Amount: 10001, Usage: usage})
	// operators: floor(10001*2000/10000) = 2000, 1:3 by bytes -> 500/1500;
	// authors: 8001 at 60/40 -> 4800.6/3200.4 -> 4801/3200.
	want := []ron.Allocation{
		{Payee: "op-a", Role: "operator", Amount: 500}, {Payee: "op-b", Role: "operator", Amount: 1500},
		{Payee: "ron1ada", Role: "author", Amount: 4801}, {Payee: "ron1grace", Role: "author", Amount: 3200},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	// Nobody served: everything goes to the authors.
	got = rontest.CheckSplit(t, h, ron.SplitInput{Manifest: m, Epoch: "e1", Amount: ron.MaxAmount})
	if len(got) != 2 || got[0].Amount+got[1].Amount != ron.MaxAmount {
		t.Fatalf("got %v", got)
	}
}

func TestResolve(t *testing.T) {
	h := rontest.New(notes.Plugin{})
	m := normalized(t)
	body := []byte("# Title\nfirst paragraph, ünïcode\n\nsecond paragraph\n")
	cases := map[string]ron.ResolveOutput{
		"/":        ron.Serve("text/markdown", 0, uint64(len(body))),
		"/excerpt": ron.Serve("text/markdown", 0, uint64(bytes.Index(body, []byte("\n\n")))),
		"/nope":    {Status: 404},
	}
	for path, want := range cases {
		got, err := h.Resolve(ctx, ron.ResolveInput{Manifest: m, Path: path, PayloadSize: uint64(len(body))}, bytes.NewReader(body))
		if err != nil || got != want {
			t.Errorf("%s: got %+v %v, want %+v", path, got, err, want)
		}
	}
	// An excerpt cut by the size limit ends on a character boundary.
	long := bytes.Repeat([]byte("é"), notes.ExcerptBytes) // 2 bytes each
	long = append([]byte("x"), long...)
	got, err := h.Resolve(ctx, ron.ResolveInput{Manifest: m, Path: "/excerpt", PayloadSize: uint64(len(long))}, bytes.NewReader(long))
	if err != nil || got.Length != notes.ExcerptBytes-1 {
		t.Fatalf("got %+v %v", got, err)
	}
}

// TestWasmModule builds the wasm main package and checks the module's shape:
// the ABI marker and entry points exported, only ron and WASI imported.
func TestWasmModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm module")
	}
	out := filepath.Join(t.TempDir(), "notes.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = "wasm"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := wasmfile.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"_initialize", "ron_abi_v1", "ron_describe", "ron_validate", "ron_split", "ron_resolve"} {
		if !m.HasExport(name, 0) {
			t.Errorf("missing export %s", name)
		}
	}
	if !m.HasExport("memory", 2) {
		t.Error("missing export memory")
	}
	ron := map[string]bool{}
	for _, imp := range m.Imports {
		switch imp.Module {
		case "ron":
			ron[imp.Name] = true
		case "wasi_snapshot_preview1":
		default:
			t.Errorf("forbidden import %s.%s", imp.Module, imp.Name)
		}
	}
	for _, name := range []string{"input_len", "input_read", "output_set", "log", "object_read"} {
		if !ron[name] {
			t.Errorf("missing import ron.%s", name)
		}
	}
	if len(ron) != 5 {
		t.Errorf("ron imports %v", ron)
	}
}

func BenchmarkValidateNative(b *testing.B) {
	h := rontest.New(notes.Plugin{})
	in := []byte(`{"manifest":` + notes.Example + `,"context":{"tld":"notes","payload_size":1234}}`)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if status, _, _ := h.Call(ctx, ron.EntryValidate, in, nil); status != 0 {
			b.Fatal(status)
		}
	}
}
