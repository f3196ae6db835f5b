package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// TestPluginNewTemplatesPass generates each language's template with
// `ronhost plugin new NAME --lang L`, builds it as its README says, and runs
// the conformance suite with the template's own cases on it: every check
// and every case passes, as generated, under the ABI's limits (time is
// judged by fuel, the same under any load). The Rust one's native tests (cargo
// test, the SDK's harness) pass too.
func TestPluginNewTemplatesPass(t *testing.T) {
	sdk, err := filepath.Abs("../../sdk-wasm")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range tldtest.TemplateLangs {
		t.Run(lang, func(t *testing.T) {
			tldtest.NeedToolchain(t, lang)
			c := newCLI(t)
			useTestCache(t, c.data, "")
			tld := "new-" + lang
			dir := filepath.Join(t.TempDir(), "ron-"+tld)
			args := []string{"plugin", "new", tld, "--lang", lang, "--dir", dir}
			if lang == "go" {
				args = append(args, "--sdk-replace", sdk)
			}
			if out := c.ok(args...); !strings.Contains(out, "wrote a ."+tld+" plugin") {
				t.Fatalf("plugin new: %s", out)
			}
			if _, errs, code := c.run("", args...); code == 0 || !strings.Contains(errs, "exists") {
				t.Fatalf("a second plugin new over the same directory: exit %d: %s", code, errs)
			}
			if _, err := tldtest.BuildTemplate(context.Background(), lang, dir, tld); err != nil {
				t.Fatal(err)
			}
			if lang == "rust" {
				out, err := wasmbuild.Cargo(t.Context(), dir, "test")
				if err != nil || !strings.Contains(string(out), "test result: ok. 4 passed") {
					t.Fatalf("cargo test: %v\n%s", err, out)
				}
			}
			wasm := mustRead(t, filepath.Join(dir, "plugin.wasm"))
			rep, err := conformance.Run(t.Context(), wasm, conformance.Options{
				CasesDir: filepath.Join(dir, "testdata", "cases"), CacheDir: testCache})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			_ = rep.WriteText(&text)
			if rep.Failed() != 0 || rep.TLD != tld {
				t.Fatalf("plugin test:\n%s", text.String())
			}
			ids := []string{"cases.accepted", "cases.required", "cases.owner-format", "cases.unknown-key",
				"cases.split-servers", "cases.split-no-servers", "cases.resolve-root", "cases.resolve-not-found"}
			if lang == "c" { // the C template declares "dates" (ABI v1.1)
				ids = append(ids, "cases.dates", "cases.dollar-key")
			}
			for _, id := range ids {
				if c, ok := rep.Check(id); !ok || c.Status != conformance.Pass {
					t.Errorf("%s: %+v\n%s", id, c, text.String())
				}
			}
			if _, err := os.Stat(filepath.Join(dir, ".github", "workflows", "conformance.yml")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCSDKDates checks ron_sdk.h's helpers for ABI v1.1 dates against the
// host's forms (docs/ABI.md, "Dates and times"): a plugin built with
// RON_PLUGIN_DATES declares the feature; ron_json_date reads each of the
// four tags, ron_date_ymd and ron_date_hms their parts, ron_json_text a
// string or a tag's text (and nothing else); ron_user_key reads "$$x" as
// "$x" and ron_buf_user_key writes it back escaped, ron_buf_date a tag as
// the host wrote it. The template's own use (title and tags as text, an
// unknown "$" key named as the user wrote it) is in its cases (dates.json,
// dollar-key.json), which TestPluginNewTemplatesPass runs.
func TestCSDKDates(t *testing.T) {
	c, dir := newCTemplate(t, "probe")
	src, err := os.ReadFile(filepath.Join("testdata", "cdates", "probe.c"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe.c"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	wasm := filepath.Join(dir, "probe.wasm")
	if err := wasmbuild.BuildC(t.Context(), dir, wasm, "probe.c"); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("plugin", "call", wasm, "describe"); !strings.Contains(out, `"features":["dates"]`) {
		t.Fatalf("describe: %s", out)
	}
	in := `{"manifest":{"meta":{"tld":"probe","created":{"$datetime":"2025-08-25T12:34:56Z"}},"probe":{` +
		`"a":{"$datetime":"1979-05-27T00:32:00.999-07:00"},"b":{"$datetime_local":"1979-05-27T07:32:00"},` +
		`"c":{"$date":"1979-05-27"},"d":{"$time":"07:32:09.5"},"$$e":{"$$date":"1979-05-27"},"f":"2025-01-01",` +
		`"h":7}},"context":{"tld":"probe","payload_size":0}}`
	var r struct {
		Status int32
		Output struct {
			Manifest json.RawMessage
			Index    struct{ Tags []string }
		}
	}
	out, errs, code := c.run(in, "--json", "plugin", "call", wasm, "validate", "-")
	if code != 0 {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errs)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Status != 0 {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	want := []string{
		"a $datetime 1979-5-27 0:32:0", "b $datetime_local 1979-5-27 7:32:0", "c $date 1979-5-27", "d $time 7:32:9",
		"$e text=none", "f text=2025-01-01", "h text=none",
	}
	if !slices.Equal(r.Output.Index.Tags, want) {
		t.Errorf("index tags:\n got %q\nwant %q", r.Output.Index.Tags, want)
	}
	// The table comes back as it came, canonical: tags, "$$" keys and all.
	const table = `"probe":{"$$e":{"$$date":"1979-05-27"},"a":{"$datetime":"1979-05-27T00:32:00.999-07:00"},` +
		`"b":{"$datetime_local":"1979-05-27T07:32:00"},"c":{"$date":"1979-05-27"},"d":{"$time":"07:32:09.5"},` +
		`"f":"2025-01-01","h":7}`
	var m bytes.Buffer
	if err := json.Compact(&m, r.Output.Manifest); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.String(), table) || !strings.Contains(m.String(), `"created":{"$datetime":"2025-08-25T12:34:56Z"}`) {
		t.Errorf("manifest: %s\nwant the table %s", m.String(), table)
	}
}

// TestCTemplateHostileInput sends the C template (ron_sdk.h's reader, which
// reads in place with zero padding after the input) inputs that end inside
// every kind of token, malformed and oversized ones, through the real host:
// each gets a status, 1 for every malformed one, never a fault. The
// conformance suite's garbage probes send few inputs cut at the end of a
// string's escape or a UTF-8 sequence, where a reader that trusts its
// padding would read past it.
func TestCTemplateHostileInput(t *testing.T) {
	_, dir := newCTemplate(t, "hostile")
	if _, err := tldtest.BuildTemplate(t.Context(), "c", dir, "hostile"); err != nil {
		t.Fatal(err)
	}
	wasm := filepath.Join(dir, "plugin.wasm")
	valid := `{"manifest":{"meta":{"tld":"hostile"},"hostile":{"title":"T\u00e9\n","owner":"ron1alice","tags":["a\ud83d\ude00"]}},` +
		`"context":{"tld":"hostile","payload_size":0},"n":[-0.5e+10,true,false,null]}`
	malformed := []string{"", " ", "\x00", "[]", `"x"`, "{}}", "{} x", `{"a":1,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":01}`,
		`{"a":"\x01"}`, `{"a":"x` + "\x00" + `y"}`, `{"a":"\ud800"}`, `{"a":"\udc00\ud800"}`, `{"a":"\x"}`, "{\"a\":\"\xff\"}",
		"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xc0\xaf\"}", `{"a":1,"a":2}`, `{"a":{"b":1,"c":2,"d":3,"e":4,"f":5,"g":6,"h":7,"i":8,"b":9}}`}
	// The valid input cut at every byte: each ends inside some token.
	for i := range len(valid) {
		malformed = append(malformed, valid[:i])
	}
	for _, tail := range []string{`\`, `\u`, `\u12`, `\ud83d`, `\ud83d\`, `\ud83d\u`, `\ud83d\ude0`, "\xc3", "\xe2\x80", "\xf0\x9f\x98"} {
		malformed = append(malformed, `{"a":"`+tail, `{"a":"`+tail+`"}`)
	}
	var many strings.Builder
	many.WriteString(`{"manifest":{"meta":{"tld":"hostile"},"hostile":{`)
	for i := range 20000 {
		fmt.Fprintf(&many, `"k%d":%d,`, i%19999, i) // one duplicate among 20000 keys
	}
	many.WriteString(`"z":0}}}`)
	malformed = append(malformed,
		strings.Repeat("[", 100000),
		`{"manifest":`+strings.Repeat(`{"a":`, 65)+"1"+strings.Repeat("}", 65)+"}",
		`{"manifest":"`+strings.Repeat(`\n\u00e9`, 80000)+`"}`+"x",
		many.String(),
		`{"manifest":{"meta":{"tld":"hostile"}},"k":"`+strings.Repeat("a", 1<<20-60)+`"`) // just under 1 MiB, unterminated
	// The real host with the ABI's limits, and the suite's wall-clock net
	// (conformance.SuiteNet times a node's): time is judged by fuel, and a
	// saturated machine must not turn a slow call into a fault here.
	lim := plugins.DefaultLimits()
	lim.Validate, lim.Split, lim.Resolve = conformance.SuiteNet*lim.Validate, conformance.SuiteNet*lim.Split, conformance.SuiteNet*lim.Resolve
	h := plugins.New(plugins.Config{PoolSize: 1, MemoEntries: -1, Limits: lim, CacheDir: testCache})
	defer h.Close(context.WithoutCancel(t.Context()))
	p, err := h.Load(t.Context(), mustRead(t, wasm))
	if err != nil {
		t.Fatal(err)
	}
	call := func(e plugins.Entry, in string) int32 {
		t.Helper()
		res, err := p.Call(t.Context(), e, []byte(in))
		if err != nil {
			t.Fatalf("%s %.80q: %v (want a status, not a fault)", e, in, err)
		}
		return res.Status
	}
	for _, in := range malformed {
		for _, e := range []plugins.Entry{plugins.EntryValidate, plugins.EntrySplit, plugins.EntryResolve} {
			if st := call(e, in); st != 1 {
				t.Errorf("%s %.80q: status %d, want 1 (rejected)", e, in, st)
			}
		}
	}
	// Well-formed, hostile in size: a status either way, never a fault.
	for _, in := range []string{
		valid,
		`{"manifest":[` + strings.Repeat("1,", 300000) + `1]}`,
		`{"manifest":{"meta":{"tld":"hostile"},"hostile":{"title":"` + strings.Repeat(`\"\u2028`, 80000) + `","owner":"ron1alice"}}}`,
		`{"manifest":{"meta":{"tld":"hostile"},"hostile":{"title":"x","owner":"ron1alice"},"z":"` + strings.Repeat("é", 400000) + `"}}`,
	} {
		call(plugins.EntryValidate, in)
	}
}

// TestCTemplateMakeTest runs the C template's `make test` as
// docs/PLUGIN-AUTHORS.md tells an author to, with RONHOST naming a ronhost
// that is not on the PATH: clang builds plugin.wasm, and the suite passes on
// it with the template's cases.
func TestCTemplateMakeTest(t *testing.T) {
	tldtest.NeedToolchain(t, "c")
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip(err)
	}
	bin := ronhostBinary(t)
	c, dir := newCTemplate(t, "maker")
	cmd := exec.CommandContext(t.Context(), "make", "test", "RONHOST="+bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RON_DATA="+c.data)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed, 0 failed") || !strings.Contains(string(out), "PASS cases.dates") {
		t.Fatalf("make test: %v\n%s", err, out)
	}
}

// newCTemplate runs `ronhost plugin new NAME --lang c` for a fresh CLI
// (with the tests' compilation cache) in a temporary directory, and
// returns the CLI and the plugin's directory. It skips without clang.
func newCTemplate(t *testing.T, name string) (*cli, string) {
	t.Helper()
	tldtest.NeedToolchain(t, "c")
	c := newCLI(t)
	useTestCache(t, c.data, "")
	dir := filepath.Join(t.TempDir(), "ron-"+name)
	c.ok("plugin", "new", name, "--lang", "c", "--dir", dir)
	return c, dir
}
