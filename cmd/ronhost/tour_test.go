package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Markers around the README's copy of docs/tour/tour.sh.
const (
	tourBegin = "<!-- docs/tour/tour.sh: begin (TestTour checks this copy) -->\n```sh\n"
	tourEnd   = "```\n<!-- docs/tour/tour.sh: end -->"
)

// TestTour: the README's tour is docs/tour/tour.sh, word for word (from its
// `set -eu` line on), and the script runs green against bin/ronhost (`make
// build`; `make test` builds it first) on the files docs/tour ships, its
// two nodes on 127.0.0.1 (the second fetches from the first across the
// overlay and takes a replica): a change that breaks the README breaks the
// build.
func TestTour(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "docs/tour/tour.sh"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), tourBegin)
	shown, _, ok2 := strings.Cut(rest, tourEnd)
	if !ok || !ok2 {
		t.Fatalf("README.md has no block between %q and %q", tourBegin, tourEnd)
	}
	_, body, _ := strings.Cut(string(script), "set -eu\n")
	if body == "" || shown != body {
		t.Fatalf("README.md's tour and docs/tour/tour.sh differ: copy the script from its `set -eu` line on between the markers.\nREADME:\n%s\nscript:\n%s", shown, body)
	}

	bin := filepath.Join(root, "bin/ronhost")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("bin/ronhost: %v (make build; make test builds it)", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "docs/tour/tour.sh")
	cmd.Dir = root
	// The shared plugin compilation cache; tor off (its own tests run it).
	// The overlay is on: the tour's second node fetches from the first
	// across it, on 127.0.0.1.
	cmd.Env = append(os.Environ(), "RON_DATA="+filepath.Join(dir, "data"),
		"TOUR_PORT="+strings.TrimPrefix(freeAddr(t), "127.0.0.1:"), "TOUR_PORT2="+strings.TrimPrefix(freeAddr(t), "127.0.0.1:"),
		"RON_PLUGINS_CACHE_DIR="+testCache, "RON_TOR_MODE=off")
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	began := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("the tour failed: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errs.String())
	}
	t.Logf("the tour ran in %v", time.Since(began).Round(time.Millisecond))
	for _, want := range []string{"hello", "Location: http://", ".map.localhost:", "ront1.", "ron1lyoncycling",
		"1 of 1 replicas placed"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("the tour's output lacks %q:\n%s", want, out.String())
		}
	}
}
