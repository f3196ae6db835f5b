package conformance_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/conformance"
)

// A file that is not WebAssembly fails the abi checks, is never loaded, and
// every other check is skipped; the report still renders.
func TestNotWasm(t *testing.T) {
	rep, err := conformance.Run(t.Context(), []byte("#!/bin/sh\necho hi\n"), roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := rep.Check("abi.marker")
	if c.Status != conformance.Fail || !strings.Contains(c.Message, "not a WebAssembly core module") {
		t.Fatalf("abi.marker: %+v", c)
	}
	if c, _ := rep.Check("abi.load"); c.Status != conformance.Skip {
		t.Fatalf("abi.load: %+v", c)
	}
	if rep.Passed() != 0 || rep.Failed() != 3 || rep.Skipped() != len(rep.Checks)-3 {
		t.Fatalf("counts: %d passed %d failed %d skipped\n%s", rep.Passed(), rep.Failed(), rep.Skipped(), text(rep))
	}
}

// A module the host would refuse is reported by the static checks, with the
// import or export named, and not loaded.
func TestShapeFailuresStopBeforeLoading(t *testing.T) {
	for dir, want := range map[string]string{
		"hostile/evilimport": "env.evil () -> (i32): forbidden import",
		"hostile/nomarker":   "does not export the ABI marker ron_abi_v1",
	} {
		rep, err := conformance.Run(t.Context(), goPlugin(t, dir), roomyOpts())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text(rep), want) {
			t.Errorf("%s: report lacks %q:\n%s", dir, want, text(rep))
		}
		if c, _ := rep.Check("abi.load"); c.Status != conformance.Skip {
			t.Errorf("%s: abi.load %+v", dir, c)
		}
		if c, _ := rep.Check("abi.exports"); c.Status != conformance.Pass {
			t.Errorf("%s: abi.exports %+v", dir, c)
		}
	}
}

var lastLine = regexp.MustCompile(`\n(\d+) passed, (\d+) failed\n$`)

func TestReportFormats(t *testing.T) {
	good, err := conformance.Run(t.Context(), goPlugin(t, "reference"), roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	bad, err := conformance.Run(t.Context(), goPlugin(t, "hostile/losesmoney"), roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range []*conformance.Report{good, bad} {
		txt := text(rep)
		m := lastLine.FindStringSubmatch(txt)
		if m == nil {
			t.Fatalf("the text report does not end with \"N passed, N failed\":\n%s", txt)
		}
		if m[1] != strconv.Itoa(rep.Passed()) || m[2] != strconv.Itoa(rep.Failed()) {
			t.Fatalf("last line %q for %d passed %d failed", m[0], rep.Passed(), rep.Failed())
		}
		for _, c := range rep.Checks {
			if !strings.Contains(txt, c.Status.String()+" "+c.ID) {
				t.Errorf("the text report lacks %s %s", c.Status, c.ID)
			}
		}

		var buf bytes.Buffer
		if err := rep.WriteJUnit(&buf); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			XMLName xml.Name `xml:"testsuites"`
			Tests   int      `xml:"tests,attr"`
			Fails   int      `xml:"failures,attr"`
			Suites  []struct {
				Name  string `xml:"name,attr"`
				Tests int    `xml:"tests,attr"`
				Cases []struct {
					Name    string `xml:"name,attr"`
					Time    string `xml:"time,attr"`
					Failure *struct {
						Message string `xml:"message,attr"`
						Body    string `xml:",chardata"`
					} `xml:"failure"`
					Skipped *struct{} `xml:"skipped"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatalf("invalid JUnit XML: %v\n%s", err, buf.String())
		}
		if len(doc.Suites) != 1 || doc.Tests != len(rep.Checks) || doc.Fails != rep.Failed() || len(doc.Suites[0].Cases) != len(rep.Checks) {
			t.Fatalf("JUnit counts: %+v", doc)
		}
		for i, tc := range doc.Suites[0].Cases {
			c := rep.Checks[i]
			if tc.Name != c.ID || (tc.Failure != nil) != (c.Status == conformance.Fail) || (tc.Skipped != nil) != (c.Status == conformance.Skip) {
				t.Errorf("testcase %d: %+v for %+v", i, tc, c)
			}
			if tc.Failure != nil && tc.Failure.Body != c.Message {
				t.Errorf("failure body differs from the message of %s", c.ID)
			}
		}
	}
	if bad.Failed() == 0 {
		t.Fatal("losesmoney passed")
	}
}

func TestReportJSON(t *testing.T) {
	rep, err := conformance.Run(t.Context(), goPlugin(t, "hostile/badrole"), roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Plugin, TLD    string
		Passed, Failed int
		Checks         []struct{ ID, Status, Message string }
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Plugin != rep.Plugin || doc.TLD != "hostile" || doc.Failed != rep.Failed() || doc.Passed != rep.Passed() || len(doc.Checks) != len(rep.Checks) {
		t.Fatalf("JSON report: %s", b)
	}
	for _, c := range doc.Checks {
		if c.ID == "split.roles" && c.Status != "fail" {
			t.Fatalf("split.roles in JSON: %+v", c)
		}
	}
}
