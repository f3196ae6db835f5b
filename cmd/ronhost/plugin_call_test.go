package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// TestPluginCall makes single calls through the real host with `ronhost
// plugin call`: describe with the default input, validate from a file and
// from standard input (status 0, then status 1 for garbage), resolve over a
// payload, and a call that traps (a fault: exit 1, the fault named). Each
// reports fuel, time and memory.
func TestPluginCall(t *testing.T) {
	c, dir := newCTemplate(t, "callme")
	if _, err := tldtest.BuildTemplate(context.Background(), "c", dir, "callme"); err != nil {
		t.Fatal(err)
	}
	wasm := filepath.Join(dir, "plugin.wasm")

	type result struct {
		Status      int32           `json:"status"`
		Output      json.RawMessage `json:"output"`
		Fuel        uint64          `json:"fuel"`
		ElapsedNs   int64           `json:"elapsed_ns"`
		MemoryBytes uint32          `json:"memory_bytes"`
		Fault       string          `json:"fault"`
		FaultKind   string          `json:"fault_kind"`
	}
	var r result
	call := func(args ...string) {
		r = result{}
		c.json(&r, append([]string{"plugin", "call"}, args...)...)
		var b bytes.Buffer
		if err := json.Compact(&b, r.Output); err != nil {
			t.Fatalf("%v: output %q: %v", args, r.Output, err)
		}
		r.Output = b.Bytes()
	}
	call(wasm, "describe")
	if r.Status != 0 || !strings.Contains(string(r.Output), `"tld":"callme"`) || r.Fuel == 0 || r.MemoryBytes == 0 {
		t.Fatalf("describe: %+v %s", r, r.Output)
	}
	call(wasm, "ron_validate", filepath.Join(dir, "testdata", "validate.json"))
	if r.Status != 0 || !strings.Contains(string(r.Output), `"index":{"title":"Hello","tags":["demo"]}`) || r.Fuel == 0 {
		t.Fatalf("validate: %+v %s", r, r.Output)
	}
	out, errs, code := c.run("{\"manifest\": 12}", "plugin", "call", wasm, "validate", "-")
	if code != 0 || !strings.Contains(out, "status   1 (rejected)") || !strings.Contains(out, `"code":"type"`) || !strings.Contains(out, "fuel     ") {
		t.Fatalf("validate garbage: exit %d\n%s%s", code, out, errs)
	}
	payload := writeFile(t, "payload.txt", []byte("hello"))
	in := `{"manifest":{"meta":{"tld":"callme"},"payload":{"cid":"b3:00","size":5,"media_type":"text/plain"}},"path":"/","payload_size":5}`
	call(wasm, "resolve", writeFile(t, "resolve.json", []byte(in)), "--payload", payload)
	if r.Status != 0 || string(r.Output) != `{"status":200,"content_type":"text/plain","offset":0,"length":5}` {
		t.Fatalf("resolve: %+v %s", r, r.Output)
	}
	if _, errs, code := c.run("", "plugin", "call", wasm, "settle", "-"); code != 2 || !strings.Contains(errs, "ENTRY") {
		t.Fatalf("unknown entry: exit %d: %s", code, errs)
	}

	trap := filepath.Join(t.TempDir(), "trap.wasm")
	if err := wasmbuild.Build(context.Background(), "../../conformance/testdata/hostile/trap", trap); err != nil {
		t.Fatal(err)
	}
	out, errs, code = c.run("not json", "plugin", "call", trap, "validate", "-")
	if code != 1 || !strings.Contains(out, "fault    trap") {
		t.Fatalf("a trapping call: exit %d\n%s%s", code, out, errs)
	}
}
