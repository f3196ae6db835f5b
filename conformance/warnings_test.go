package conformance_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/conformance"
)

// A plugin that accepts input the host never sends (trailing bytes, a
// context of another type, a wrong-typed [meta] key, a 900 KiB key, invalid
// UTF-8 in a key) passes, with warnings that name each input and give
// advice; the text and JUnit reports show them.
func TestLenientPluginPassesWithWarnings(t *testing.T) {
	rep, err := conformance.Run(t.Context(), goPlugin(t, "lenient"), roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	out := text(rep)
	if rep.Failed() != 0 || rep.Skipped() != 0 {
		t.Fatalf("the lenient plugin must pass:\n%s", out)
	}
	for id, want := range map[string][]string{
		"validate.garbage":   {"a valid input followed by garbage", "not one well-formed JSON value", "advice: "},
		"validate.truncated": {"cut to"},
		"validate.huge":      {"900 KiB key", "larger than the host's 256 KiB"},
		"validate.utf8":      {"member name", "not valid UTF-8"},
		"validate.types":     {"context as a string", "meta.title: a number instead of a string", "[meta] breaks meta.schema.json"},
	} {
		c, ok := rep.Check(id)
		if !ok || c.Status != conformance.Warn {
			t.Errorf("%s: %+v, want a warning", id, c)
			continue
		}
		for _, w := range want {
			if !strings.Contains(c.Message, w) {
				t.Errorf("%s's warning lacks %q:\n%s", id, w, c.Message)
			}
		}
	}
	t.Log("\n" + out)
	if rep.Warned() < 5 || !strings.Contains(out, "WARN validate.garbage") || !strings.Contains(out, "passed with warnings") {
		t.Errorf("the text report does not show the warnings:\n%s", out)
	}
	var junit bytes.Buffer
	if err := rep.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	if j := junit.String(); !strings.Contains(j, "<system-out>WARN validate.types: ") || strings.Contains(j, "<failure") {
		t.Errorf("the JUnit report does not show the warnings as passing cases:\n%s", j)
	}
	js, err := json.Marshal(rep)
	if err != nil || !bytes.Contains(js, []byte(`"status":"warn"`)) || !bytes.Contains(js, []byte(`"warned":`)) {
		t.Errorf("JSON report: %v %s", err, js)
	}
}

// The same plugin, crashing on a context that is a string: input the host
// never sends, but a fault on any input fails.
func TestFaultOnInputTheHostNeverSendsFails(t *testing.T) {
	rep, err := conformance.Run(t.Context(), goPlugin(t, "lenientfault"), roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := rep.Check("validate.types")
	if c.Status != conformance.Fail || !strings.Contains(c.Message, "context as a string") || !strings.Contains(c.Message, "never a fault") {
		t.Fatalf("validate.types: %+v\n%s", c, text(rep))
	}
	if rep.Failed() != 1 {
		t.Errorf("only validate.types should fail:\n%s", text(rep))
	}
}

// Every failing input of a check is listed in one run, not the first only.
func TestEveryFailingInputListed(t *testing.T) {
	rep, err := conformance.Run(t.Context(), goPlugin(t, "hostile/trap"), roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := rep.Check("validate.garbage")
	if c.Status != conformance.Fail || strings.Count(c.Message, "\n- ") < 10 ||
		!strings.Contains(c.Message, "input (empty input)") || !strings.Contains(c.Message, "input (a lone })") {
		t.Fatalf("validate.garbage does not list every failing input:\n%s", c.Message)
	}
}
