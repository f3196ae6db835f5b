package conformance_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
)

var _ rontest.Caller = (*conformance.PluginCaller)(nil)

// The SDK's own checks, written against rontest.Caller, run unchanged on
// plugins built to .wasm and loaded in the real host: the reference (Go,
// raw glue) and the C plugin.
func TestCallerRunsSDKChecksOnWasm(t *testing.T) {
	for _, tc := range []struct {
		name string
		wasm func(t testing.TB) []byte
	}{
		{"reference", func(t testing.TB) []byte { return goPlugin(t, "reference") }},
		{"cplugin", cPlugin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := conformance.LoadCaller(t.Context(), tc.wasm(t), roomyOpts())
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := c.Close(context.Background()); err != nil {
					t.Error(err)
				}
			}()
			rontest.CheckPlugin(t, c)
			c.Fresh = true
			rontest.CheckDescribe(t, c)
		})
	}
}

// A fault reaches the caller as the host's error, never as a status.
func TestCallerReportsFaults(t *testing.T) {
	c, err := conformance.LoadCaller(t.Context(), goPlugin(t, "hostile/trap"), roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	status, out, err := c.Call(t.Context(), string(plugins.EntryValidate), []byte("not json"), nil)
	var fe *plugins.FaultError
	if !errors.As(err, &fe) || fe.Entry != plugins.EntryValidate {
		t.Fatalf("Call = %d %q %v, want a fault in ron_validate", status, out, err)
	}
	// The instance was replaced: the next call answers.
	status, _, err = c.Call(t.Context(), string(plugins.EntryDescribe), []byte(`{"abi":1,"host":{"name":"t","version":"0"}}`), nil)
	if err != nil || status != 0 {
		t.Fatalf("describe after a fault: %d %v", status, err)
	}
}

// ron_resolve reads the payload through object_read: the object handed to
// Call is the one the plugin sees, and the answer is the plugin's own bytes.
func TestCallerResolvesWithTheObject(t *testing.T) {
	c, err := conformance.LoadCaller(t.Context(), goPlugin(t, "reference"), roomyOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	in := []byte(`{"manifest":{"meta":{"tld":"refdemo","title":"t"},"creator":"a"},"path":"/magic","payload_size":10}`)
	for obj, want := range map[string]string{
		"RON1abcdef": `{"status":200,"content_type":"application/octet-stream","offset":4,"length":6}`,
		"XXXXabcdef": `{"status":404}`,
	} {
		status, out, err := c.Call(t.Context(), string(plugins.EntryResolve), in, strings.NewReader(obj))
		if err != nil || status != 0 || string(out) != want {
			t.Errorf("resolve /magic on %q = %d %s %v, want 0 %s", obj, status, out, err, want)
		}
	}
}
