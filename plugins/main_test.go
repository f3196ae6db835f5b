package plugins

import (
	"fmt"
	"os"
	"testing"

	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// cacheDir is the compilation cache every Host in these tests shares:
// compiling a Go plugin under the race detector takes seconds, loading it
// from the cache milliseconds.
var cacheDir string

func TestMain(m *testing.M) {
	dir, cleanup, err := wasmbuild.TestCacheDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}
