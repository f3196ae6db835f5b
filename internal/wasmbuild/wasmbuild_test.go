package wasmbuild

import (
	"os"
	"testing"
)

// cacheDir is set by RunWithCache before any test runs.
var cacheDir string

func TestMain(m *testing.M) { os.Exit(RunWithCache(m, &cacheDir)) }

func TestRunWithCacheSetsADirectory(t *testing.T) {
	if cacheDir == "" {
		t.Fatal("RunWithCache did not set the cache directory")
	}
	if fi, err := os.Stat(cacheDir); err != nil || !fi.IsDir() {
		t.Fatalf("%s: %v", cacheDir, err)
	}
	if env := os.Getenv(CacheDirEnv); env != "" && cacheDir != env {
		t.Fatalf("cache %s, want $%s = %s", cacheDir, CacheDirEnv, env)
	}
}

func TestCacheDirFromEnvironment(t *testing.T) {
	want := t.TempDir() + "/shared/cache"
	t.Setenv(CacheDirEnv, want)
	dir, cleanup, err := TestCacheDir()
	if err != nil || dir != want || cleanup != nil {
		t.Fatalf("got %q %v (cleanup %v), want %q and no cleanup", dir, err, cleanup != nil, want)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("not created: %v", err)
	}
}

func TestCacheDirTemporary(t *testing.T) {
	t.Setenv(CacheDirEnv, "")
	dir, cleanup, err := TestCacheDir()
	if err != nil || cleanup == nil {
		t.Fatalf("%q %v, cleanup %v", dir, err, cleanup != nil)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still there after cleanup: %v", dir, err)
	}
}
