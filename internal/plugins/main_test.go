package plugins

import (
	"os"
	"testing"

	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// cacheDir is the compilation cache every Host in these tests shares:
// compiling a Go plugin under the race detector takes seconds, loading it
// from the cache milliseconds.
var cacheDir string

func TestMain(m *testing.M) { os.Exit(wasmbuild.RunWithCache(m, &cacheDir)) }
