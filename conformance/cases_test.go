package conformance_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/conformance"
)

// copyCases copies testdata/cases/refdemo into a temporary directory.
func copyCases(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", "cases", "refdemo")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runCases(t *testing.T, opts conformance.Options) (*conformance.Report, error) {
	t.Helper()
	opts.Limits, opts.CacheDir = roomy(), wazeroCache
	return conformance.Run(t.Context(), goPlugin(t, "reference"), opts)
}

func TestCasesPass(t *testing.T) {
	rep, err := runCases(t, conformance.Options{CasesDir: filepath.Join("testdata", "cases", "refdemo")})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"cases.accepted", "cases.two-errors", "cases.wrong-tld",
		"cases.split-servers", "cases.split-no-payout", "cases.resolve-magic", "cases.resolve-missing"} {
		if c, ok := rep.Check(id); !ok || c.Status != conformance.Pass {
			t.Errorf("%s: %+v\n%s", id, c, text(rep))
		}
	}
	if rep.Failed() != 0 {
		t.Fatalf("failures:\n%s", text(rep))
	}
}

func TestCasesReportMismatches(t *testing.T) {
	dir := copyCases(t)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("accepted", `{"manifest":{"meta":{"tld":"refdemo","title":"T"},"creator":"a"},
		"expect":{"manifest":{"meta":{"tld":"refdemo","title":"T","tags":[]},"creator":"a","creator_bps":5000}}}`)
	write("wrong-tld", `{"manifest":{"meta":{"tld":"map","title":"x"},"creator":"a"},
		"expect":{"errors":[{"path":"meta.tld","code":"range"}]}}`)
	write("rejected-not-accepted", `{"manifest":{"meta":{"tld":"map","title":"x"},"creator":"a"},
		"expect":{"manifest":{"meta":{}}}}`)
	write("accepted-not-rejected", `{"manifest":{"meta":{"tld":"refdemo","title":"x"},"creator":"a"},
		"expect":{"errors":[{"path":"creator","code":"required"}]}}`)
	write("no-expect", `{"manifest":{"meta":{"tld":"refdemo","title":"x"},"creator":"a"}}`)
	write("split-servers", `{"entry":"split","manifest":{"meta":{"tld":"refdemo","title":"x"},"creator":"a","creator_bps":6000},"amount":1000,
		"usage":{"servers":[{"node":"n1","payout":"op1","bytes":3},{"node":"n2","payout":"op2","bytes":1}]},
		"expect":{"allocations":[{"payee":"a","role":"creator","amount":600},{"payee":"op1","role":"server","amount":301},{"payee":"op2","role":"server","amount":99}]}}`)
	write("split-unvalidated", `{"entry":"split","manifest":{"meta":{"tld":"map","title":"x"},"creator":"a"},"amount":1,"expect":{"allocations":[]}}`)
	write("resolve-magic", `{"entry":"resolve","manifest":{"meta":{"tld":"refdemo","title":"x"},"creator":"a"},"path":"/magic","payload":"RON0nope",
		"expect":{"resolved":{"status":200,"content_type":"application/octet-stream","offset":4,"length":4}}}`)
	rep, err := runCases(t, conformance.Options{CasesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"cases.accepted":              `"creator_bps":5000`,
		"cases.wrong-tld":             "want: meta.tld:range\n  got:  meta.tld:mismatch",
		"cases.rejected-not-accepted": "expected the manifest to be accepted, but ron_validate rejected it",
		"cases.accepted-not-rejected": "expected a rejection with [creator:required]",
		"cases.no-expect":             "run with Update",
		"cases.split-servers":         "want: a/creator=600, op1/server=301, op2/server=99\n  got:  a/creator=600, op1/server=300, op2/server=100",
		"cases.split-unvalidated":     "a split case needs a manifest validate accepts",
		"cases.resolve-magic":         `got:  {"status":404}`,
	} {
		c, ok := rep.Check(id)
		if !ok || c.Status != conformance.Fail || !strings.Contains(c.Message, want) {
			t.Errorf("%s: want a failure mentioning %q, got %+v", id, want, c)
		}
	}
	if c, _ := rep.Check("cases.two-errors"); c.Status != conformance.Pass {
		t.Errorf("cases.two-errors: %+v", c)
	}
}

// Update rewrites every expectation with what the plugin answers; a second
// run without Update then passes, and the rewritten files read as intended.
func TestCasesUpdate(t *testing.T) {
	dir := copyCases(t)
	if err := os.WriteFile(filepath.Join(dir, "new.json"), []byte(`{"manifest":{"meta":{"tld":"refdemo","title":" New ","tags":["Z","a"]},"creator":"zed"},"payload_size":7}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wrong-tld.json"), []byte(`{"manifest":{"meta":{"tld":"map","title":"x"},"creator":"a"},"expect":{"errors":[{"path":"x","code":"y"}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "new-split.json"), []byte(`{"entry":"split","manifest":{"meta":{"tld":"refdemo","title":"x"},"creator":"zed"},"amount":77}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := runCases(t, conformance.Options{CasesDir: dir, Update: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 0 {
		t.Fatalf("update run failed:\n%s", text(rep))
	}
	b, err := os.ReadFile(filepath.Join(dir, "new.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"payload_size": 7`, `"title": "New"`, `"a",`, `"creator_bps": 10000`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("new.json lacks %q:\n%s", want, b)
		}
	}
	b, _ = os.ReadFile(filepath.Join(dir, "new-split.json"))
	if !strings.Contains(string(b), `"entry": "split"`) || !strings.Contains(string(b), `"payee": "zed"`) || !strings.Contains(string(b), `"amount": 77`) {
		t.Errorf("new-split.json was not given its allocations:\n%s", b)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "wrong-tld.json"))
	if !strings.Contains(string(b), `"path": "meta.tld"`) || !strings.Contains(string(b), `"code": "mismatch"`) || strings.Contains(string(b), "message") {
		t.Errorf("wrong-tld.json was not rewritten to path and code only:\n%s", b)
	}
	rep, err = runCases(t, conformance.Options{CasesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 0 {
		t.Fatalf("after update:\n%s", text(rep))
	}
}

func TestBadCaseFileIsAnError(t *testing.T) {
	for name, body := range map[string]string{
		"typo":     `{"manifest":{},"expcet":{}}`,
		"both":     `{"manifest":{},"expect":{"manifest":{},"errors":[]}}`,
		"notjson":  `{"manifest":`,
		"noobject": `{"manifest":[]}`,
		"entry":    `{"entry":"settle","manifest":{}}`,
		"noamount": `{"entry":"split","manifest":{}}`,
		"nopath":   `{"entry":"resolve","manifest":{},"payload":"x"}`,
		"mixed":    `{"entry":"split","manifest":{},"amount":1,"expect":{"resolved":{"status":404}}}`,
		"stray":    `{"manifest":{},"amount":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := runCases(t, conformance.Options{CasesDir: dir})
			if !errors.Is(err, conformance.ErrBadCases) || !strings.Contains(err.Error(), name+".json") {
				t.Fatalf("err = %v, want ErrBadCases naming the file", err)
			}
		})
	}
	if _, err := runCases(t, conformance.Options{CasesDir: filepath.Join(t.TempDir(), "missing")}); !errors.Is(err, conformance.ErrBadCases) {
		t.Fatalf("missing dir: %v", err)
	}
}
