package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// testCache is wazero's compilation cache shared by every node and CLI call
// in these tests (set through [plugins] cache_dir in each data directory).
var testCache string

func TestMain(m *testing.M) { os.Exit(wasmbuild.RunWithCache(m, &testCache)) }

// useTestCache writes a config that points the data directory's plugin host
// at the shared compilation cache, plus any extra TOML lines.
func useTestCache(t *testing.T, dataDir string, extra string) {
	t.Helper()
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// No tor in these tests: the private plane has its own (internal/core/node, internal/core/tor).
	body := fmt.Sprintf("[tor]\nmode = \"off\"\n[plugins]\ncache_dir = %q\n%s", testCache, extra)
	if err := os.WriteFile(filepath.Join(dataDir, "config.toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// binary builds ronhost once per test run for tests that need real processes.
var binary = struct {
	sync.Once
	path string
	err  error
	dir  string
}{}

func ronhostBinary(t *testing.T) string {
	t.Helper()
	binary.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "ronhost-bin-")
		if binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "ronhost")
		binary.err = goBuild(context.Background(), binary.path)
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}
