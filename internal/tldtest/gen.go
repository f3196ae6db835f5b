package tldtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lukechampine.com/blake3"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
)

// DevKey is development key n: ed25519 from a seed of 32 bytes equal to n.
// Generated examples and cases sign with these, so they never change.
func DevKey(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

// CID is the CID of a made-up document s: "b3:" and the BLAKE3 of s in hex.
func CID(s string) string {
	h := blake3.Sum256([]byte(s))
	return "b3:" + hex.EncodeToString(h[:])
}

// Tree turns v into a mutable JSON tree: maps, slices, strings, bools and
// json.Number, so numbers stay exact.
func Tree(tb testing.TB, v any) any {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Obj walks a tree from m by keys, and "[i]" for array elements, to an
// object. It panics when the path does not lead to one.
func Obj(m map[string]any, path ...string) map[string]any {
	var cur any = m
	for _, p := range path {
		if strings.HasPrefix(p, "[") {
			var i int
			fmt.Sscanf(p, "[%d]", &i)
			cur = cur.([]any)[i]
			continue
		}
		cur = cur.(map[string]any)[p]
	}
	return cur.(map[string]any)
}

// Indent is v as JSON indented by two spaces with a final newline, the
// form of every generated file.
func Indent(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return append(b, '\n')
}

// Case is a conformance case defined in Go.
type Case struct {
	Name     string         // the file is Name.json
	Manifest map[string]any // the input
	Errors   []string       // "path:code" for a rejected manifest; nil when accepted
}

// The case file format of conformance (see conformance/doc.go), as written.
type caseErr struct {
	Path string `json:"path"`
	Code string `json:"code"`
}

type caseExpect struct {
	Manifest json.RawMessage `json:"manifest,omitempty"`
	Index    json.RawMessage `json:"index,omitempty"`
	Errors   []caseErr       `json:"errors,omitempty"`
}

type caseFile struct {
	Manifest json.RawMessage `json:"manifest"`
	Expect   caseExpect      `json:"expect"`
}

// CaseFiles validates every case natively with p (its manifest's [payload]
// size as the payload size) and returns the case files by path in
// casesDir. An accepted case expects what the plugin answers (normalized
// manifest and index), which the conformance suite then requires of the
// module through the real host; a rejected one expects exactly its Errors,
// and t fails when the plugin answers otherwise.
func CaseFiles(t *testing.T, p ron.Plugin, tld, casesDir string, cases []Case) map[string][]byte {
	t.Helper()
	h := rontest.New(p)
	files := map[string][]byte{}
	for _, c := range cases {
		raw, err := json.Marshal(c.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		m := ron.MustManifest(string(raw))
		size := uint64(0)
		if p, err := m.Payload(); err == nil {
			size = p.Size
		}
		cf := caseFile{Manifest: raw}
		out, err := h.Validate(context.Background(), m, ron.Context{TLD: tld, PayloadSize: size})
		if c.Errors == nil {
			if err != nil {
				t.Errorf("case %s: want accepted, got %v", c.Name, err)
				continue
			}
			cf.Expect.Manifest, _ = out.Manifest.MarshalJSON()
			cf.Expect.Index, _ = json.Marshal(out.Index)
		} else {
			r, ok := ron.AsRejection(err)
			if !ok {
				t.Errorf("case %s: want rejected with %v, got %v", c.Name, c.Errors, err)
				continue
			}
			var got []string
			for _, e := range r.Errors {
				got = append(got, e.Path+":"+e.Code)
			}
			want := slices.Sorted(slices.Values(c.Errors))
			if slices.Sort(got); !slices.Equal(got, want) {
				t.Errorf("case %s: errors\n got %v\nwant %v\n%v", c.Name, got, want, err)
				continue
			}
			for _, e := range c.Errors {
				p, code, _ := strings.Cut(e, ":")
				cf.Expect.Errors = append(cf.Expect.Errors, caseErr{Path: p, Code: code})
			}
		}
		files[filepath.Join(casesDir, c.Name+".json")] = Indent(t, cf)
	}
	return files
}

// entryCase reports whether the case file at p is a split or resolve case:
// those are written by hand (or with ronhost plugin test --update), not by
// gen_test.go, which generates validate cases.
func entryCase(p string) bool {
	b, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	var c struct{ Entry string }
	return json.Unmarshal(b, &c) == nil && (c.Entry == "split" || c.Entry == "resolve")
}

// CheckGenerated requires the files on disk to be exactly files (by path)
// and casesDir to hold no other validate case (split and resolve cases are
// written by hand), unless regen, which writes them and removes the other
// validate cases instead. pkg is the package whose
// TestGenerated regenerates them, for the message ("./tlds/mod/modtld").
// It does nothing when t has already failed.
func CheckGenerated(t *testing.T, files map[string][]byte, casesDir string, regen bool, pkg string) {
	t.Helper()
	if t.Failed() {
		return
	}
	if regen {
		old, _ := filepath.Glob(filepath.Join(casesDir, "*.json"))
		for _, p := range old {
			if _, keep := files[p]; !keep && !entryCase(p) {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		}
		for p, b := range files {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", p)
		}
		return
	}
	for p, want := range files {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not what gen_test.go generates (%v); run: go test %s -run TestGenerated -args -rewrite", p, err, pkg)
		}
	}
	onDisk, _ := filepath.Glob(filepath.Join(casesDir, "*.json"))
	for _, p := range onDisk {
		if _, ok := files[p]; !ok && !entryCase(p) {
			t.Errorf("%s is not generated by gen_test.go; remove it or add it there (-rewrite removes it)", p)
		}
	}
}
