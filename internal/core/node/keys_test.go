package node

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/token"
)

// TestOperatorTokenExpiresRotatesAndIsRevoked: the operator token a node
// writes expires; an expired token is refused; a rotation revokes the
// replaced token after its grace; a restart revokes the last run's token at
// once; `token revoke`'s list is honoured at the next request. The data
// directory and the config file are made private at start.
func TestOperatorTokenExpiresRotatesAndIsRevoked(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgFile, []byte("# written by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n1, api, tok1 := startNodeAt(t, dir, nil)
	for path, want := range map[string]os.FileMode{dir: 0o700, cfgFile: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
		}
	}
	status := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", api+"/v1/payouts", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	parsed, err := token.Parse(tok1)
	if err != nil {
		t.Fatal(err)
	}
	exp, ok := parsed.Expiry()
	if !ok || exp.Before(time.Now().Add(23*time.Hour)) || exp.After(time.Now().Add(25*time.Hour)) {
		t.Fatalf("the operator token expires at %v (ok %v), want in 24h", exp, ok)
	}
	if got := status(tok1); got != 200 {
		t.Fatalf("the operator token: %d", got)
	}

	// Expired: a token minted to expire a minute ago, and the operator
	// token itself on a clock past its expiry.
	old, _ := token.Mint(n1.tokenKey, token.Expires(time.Now().Add(-time.Minute)))
	if got := status(old.String()); got != 401 {
		t.Fatalf("an expired token: %d, want 401", got)
	}
	late := n1.auth()
	late.now = func() time.Time { return exp.Add(time.Second) }
	req, _ := http.NewRequest("GET", "/v1/payouts", nil)
	req.Header.Set("Authorization", "Bearer "+tok1)
	if _, err := late.Authorize(req); bus.AsError(err) == nil || bus.AsError(err).Code != codes.Unauthorized {
		t.Fatalf("the operator token past its expiry: %v", err)
	}

	// A rotation: the new token works, the replaced one until its grace ends.
	rotated := time.Now()
	if err := n1.rotateOperatorToken(rotated, operatorTokenGrace); err != nil {
		t.Fatal(err)
	}
	tok1b := readToken(t, dir)
	if tok1b == tok1 || status(tok1b) != 200 || status(tok1) != 200 {
		t.Fatalf("after a rotation: new %d, replaced %d", status(tok1b), status(tok1))
	}
	graceOver := n1.auth()
	graceOver.now = func() time.Time { return rotated.Add(operatorTokenGrace + time.Second) }
	if _, err := graceOver.Authorize(req); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("the replaced token after its grace: %v", err)
	}

	// `ronhost token revoke` appends to the list the node reads.
	minted, _ := token.Mint(n1.tokenKey)
	child := minted.Attenuate(token.Methods("GET"))
	if status(child.String()) != 200 {
		t.Fatal("a minted token was refused")
	}
	if err := token.NewRevocations(filepath.Join(dir, RevokedFile)).Revoke(minted.IDBytes(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := status(child.String()); got != 401 {
		t.Fatalf("a token attenuated from a revoked one: %d, want 401", got)
	}

	// A restart revokes the last run's operator token at once.
	if err := n1.Close(); err != nil {
		t.Fatal(err)
	}
	_, api, tok2 := startNodeAt(t, dir, nil)
	if got := status(tok2); got != 200 {
		t.Fatalf("the new run's token: %d", got)
	}
	if got := status(tok1b); got != 401 {
		t.Fatalf("the previous run's operator token after a restart: %d, want 401", got)
	}
}

func readToken(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, OperatorToken))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
