package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/core/node"
)

// TestDataDirIsPrivate runs `ronhost serve` twice on a data directory an
// operator left open to other local users (0755, config.toml 0644), stores
// objects, mints and revokes tokens: a revoked token and the first run's
// operator token are refused (401), and after the runs every directory
// under DATA is 0700 and every file 0600 (keys, Pebble's databases and
// WALs, payload files, the ledger, the mailbox, the config, the lists).
func TestDataDirIsPrivate(t *testing.T) {
	c := newCLI(t)
	useTestCache(t, c.data, "")
	if err := os.Chmod(c.data, 0o755); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, c)
	opTok := func() string {
		b, err := os.ReadFile(filepath.Join(c.data, node.OperatorToken))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	first := opTok()
	status := func(method, path, tok string, body []byte) int {
		t.Helper()
		code, _, _ := request(t, method, s.api+path, tok, "application/octet-stream", bytes.NewReader(body), nil)
		return code
	}
	for _, size := range []int{100, 200 << 10} { // inline, and a payload file
		if got := status("POST", "/v1/objects", first, bytes.Repeat([]byte{byte(size)}, size)); got != 201 {
			t.Fatalf("storing %d bytes: %d", size, got)
		}
	}

	var minted struct{ Token, ID string }
	c.json(&minted, "token", "mint", "--methods", "GET")
	var other struct{ Token, ID string }
	c.json(&other, "token", "mint")
	if status("GET", "/v1/payouts", minted.Token, nil) != 200 || status("GET", "/v1/payouts", other.Token, nil) != 200 {
		t.Fatal("freshly minted tokens were refused")
	}
	c.ok("token", "revoke", minted.Token)
	c.ok("token", "revoke", other.ID)
	if got := status("GET", "/v1/payouts", minted.Token, nil); got != 401 {
		t.Fatalf("a token revoked by value: %d, want 401", got)
	}
	if got := status("GET", "/v1/payouts", other.Token, nil); got != 401 {
		t.Fatalf("a token revoked by id: %d, want 401", got)
	}
	if _, errs, code := c.run("", "token", "revoke", "not-a-token"); code != 2 || !strings.Contains(errs, "token id") {
		t.Fatalf("revoking garbage: exit %d: %s", code, errs)
	}
	s.stop()

	s = startServe(t, c)
	if got := status("GET", "/v1/payouts", first, nil); got != 401 {
		t.Fatalf("the first run's operator token after a restart: %d, want 401", got)
	}
	if got := status("GET", "/v1/payouts", opTok(), nil); got != 200 {
		t.Fatalf("the second run's operator token: %d", got)
	}
	s.stop()

	var bad []string
	err := filepath.WalkDir(c.data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			rel, _ := filepath.Rel(c.data, path)
			bad = append(bad, rel+" "+fi.Mode().String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("not private to the node's user:\n%s", strings.Join(bad, "\n"))
	}
}
