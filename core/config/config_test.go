package config

import (
	"os"
	"strings"
	"testing"
)

func TestMissingFileGivesDefaults(t *testing.T) {
	c, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.Listen != "127.0.0.1:8470" || !c.Plugins.Builtins || c.Plugins.MemoryMiB != 64 {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestRoundTripAndOverrides(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.Plugins.TrustedPublishers = []string{"ed25519:" + strings.Repeat("ab", 32)}
	c.Plugins.ValidateMillis = 20
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "# HTTP API address") {
		t.Fatalf("no comments in:\n%s", b)
	}
	if err := os.WriteFile(Path(dir), b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Plugins.ValidateMillis != 20 || len(got.Plugins.TrustedPublishers) != 1 {
		t.Fatalf("loaded = %+v", got.Plugins)
	}
}

func TestBadFilesAreRefusedClearly(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"[plugins]\nvalidate_ms = 500\n", "validate_ms 500 is outside 1..100"},
		{"[plugins]\nvalidat_ms = 50\n", "validat_ms"},
		{"[node]\nlog_level = \"loud\"\n", "log_level"},
		{"[node\n", "config:"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(Path(dir), []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.body, err, c.want)
		}
	}
}
