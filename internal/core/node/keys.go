package node

import (
	"context"
	"crypto/ed25519"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ronhost/ronhost/internal/core/names"
	"github.com/ronhost/ronhost/internal/core/token"
	"github.com/ronhost/ronhost/internal/pebbledb"
)

// Files of the data directory the node owns (besides store/, index/,
// ledger/, plugins/ and config.toml).
const (
	nodeKeyFile   = "keys/node.key"  // the node's ed25519 identity
	tokenKeyFile  = "keys/token.key" // the root key of capability tokens
	OperatorToken = "operator.token" // a token for the local operator's CLI, rewritten at each start
	RunFile       = "node.json"      // where a running node serves, removed at Close
	// RevokedFile is the revocation list of capability tokens (ronhost token
	// revoke; the node adds each operator token it replaces at start).
	RevokedFile = "keys/revoked"
)

// RunInfo is DATA/node.json: how the CLI finds a running node.
type RunInfo struct {
	API     string `json:"api"` // http://host:port
	PID     int    `json:"pid"`
	ID      string `json:"id"`
	Version string `json:"version"`
	// P2P are the node's overlay addresses (with /p2p/<peer id>), for
	// another node's [overlay] bootstrap; empty with the overlay off.
	P2P []string `json:"p2p,omitempty"`
}

func runFile(dir string) string { return filepath.Join(dir, RunFile) }

// ReadRunInfo reads DATA/node.json; os.ErrNotExist when no node runs there.
func ReadRunInfo(dir string) (RunInfo, error) {
	var ri RunInfo
	b, err := os.ReadFile(runFile(dir))
	if err != nil {
		return ri, err
	}
	if err := json.Unmarshal(b, &ri); err != nil {
		return ri, fmt.Errorf("node: %s: %w", runFile(dir), err)
	}
	return ri, nil
}

// keys loads (creating on first start) the node's identity and token root
// key. The operator's token is written later (operatorToken), once the
// node holds its data directory's locks.
func (n *Node) keys() error {
	dir := n.opts.DataDir
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	priv, err := names.LoadOrCreateKey(filepath.Join(dir, nodeKeyFile))
	if err != nil {
		return fmt.Errorf("node: identity: %w", err)
	}
	n.id = NodeID(priv.Public().(ed25519.PublicKey))
	n.payout = n.opts.Config.Node.Payout
	if n.payout == "" {
		n.payout = n.id
	}
	if n.tokenKey, err = token.LoadOrCreateKey(filepath.Join(dir, tokenKeyFile)); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.revoked = token.NewRevocations(filepath.Join(dir, RevokedFile))
	return nil
}

// operatorToken writes the operator's token for this run. It runs after
// the store, index and ledger have taken their locks: a second node started
// by mistake on a running node's data directory fails there, and must not
// first revoke the token the running node's operator holds.
func (n *Node) operatorToken() error {
	// The operator token of the last run (or of an older version, without
	// an expiry) is revoked at once; the ones it replaced while it ran were
	// revoked when it replaced them.
	err := n.rotateOperatorToken(time.Now(), 0)
	if errors.Is(err, pebbledb.ErrDiskFull) {
		// A full disk must not keep the node from serving reads.
		n.log.Warn("disk full: the operator token was not rotated; the previous one stays valid", "err", err)
		return nil
	}
	return err
}

// operatorTokenTTL is how long an operator token is valid.
func (n *Node) operatorTokenTTL() time.Duration {
	if d := n.opts.Config.Node.OperatorTokenTTL.D(); d > 0 {
		return d
	}
	return 24 * time.Hour
}

// operatorTokenGrace is how long a replaced operator token stays valid
// while the node runs (a CLI may have read it just before).
const operatorTokenGrace = 5 * time.Minute

// rotateOperatorToken writes DATA/operator.token afresh: a full token that
// expires operatorTokenTTL after now. The token it replaces is revoked,
// grace after now (0: at once). The node rotates every half TTL, so the file
// always holds a token valid for at least half of it.
func (n *Node) rotateOperatorToken(now time.Time, grace time.Duration) error {
	path := filepath.Join(n.opts.DataDir, OperatorToken)
	var old *token.Token
	if b, err := os.ReadFile(path); err == nil {
		if t, err := token.Parse(strings.TrimSpace(string(b))); err == nil {
			old = &t
		}
	}
	t, err := token.Mint(n.tokenKey, token.Expires(now.Add(n.operatorTokenTTL())))
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	// The new token first: on a full disk the old one stays in the file
	// and valid (not revoked), so the operator's CLI keeps working.
	if err := writeFileAtomic(path, []byte(t.String()+"\n"), 0o600); err != nil {
		return err
	}
	if old != nil {
		until, _ := old.Expiry()
		if err := n.revoked.RevokeFrom(old.IDBytes(), now.Add(grace), until); err != nil {
			return pebbledb.NoSpace(fmt.Errorf("node: %w", err))
		}
	}
	return nil
}

// operatorTokenLoop rotates the operator token every half TTL until ctx ends.
func (n *Node) operatorTokenLoop(ctx context.Context) {
	tick := time.NewTicker(n.operatorTokenTTL() / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if err := n.rotateOperatorToken(now, operatorTokenGrace); err != nil {
				n.log.Error("rotating the operator token", "err", err)
			}
		}
	}
}

// private takes group and other permissions away from the data directory
// and the config file (created by an operator or an older version with a
// wider umask): the directory holds the node's keys, its ledger, its
// mailbox. What the node creates under it is private already (0600 files,
// 0700 directories: explicit modes, and `ronhost` runs under umask 077).
func (n *Node) private(paths ...string) error {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
		if fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		want := fi.Mode().Perm() &^ 0o077
		if err := os.Chmod(p, want); err != nil {
			return fmt.Errorf("node: making %s private: %w", p, err)
		}
		n.log.Info("made private to its owner", "path", p, "was", fi.Mode().Perm(), "now", want)
	}
	return nil
}

// NodeID is the text form of a node's public key: "node-" and the key in
// lowercase base32.
func NodeID(pub []byte) string {
	return "node-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(pub))
}

func (n *Node) writeRunFile() error {
	ri := RunInfo{API: "http://" + n.ln.Addr().String(), PID: os.Getpid(), ID: n.id, Version: n.opts.Version}
	if n.overlay != nil {
		ri.P2P = n.overlay.Addrs()
	}
	b, _ := json.MarshalIndent(ri, "", "  ")
	err := writeFileAtomic(runFile(n.opts.DataDir), append(b, '\n'), 0o600)
	if errors.Is(err, pebbledb.ErrDiskFull) && overwrite(runFile(n.opts.DataDir), append(b, '\n')) == nil {
		return nil // in place, over a previous run's node.json
	}
	if errors.Is(err, pebbledb.ErrDiskFull) {
		n.log.Warn("disk full: node.json could not be written (the CLI will not find this node; use its address)", "api", ri.API, "err", err)
		return nil
	}
	return err
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return pebbledb.NoSpace(fmt.Errorf("node: writing %s: %w", path, err))
	}
	return nil
}

// overwrite writes b over the existing file at path when b fits in it: in
// its blocks, which a full disk still allows on filesystems that do not
// copy on write (not atomic: a reader may see a mix; for node.json only).
func overwrite(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if fi, err := f.Stat(); err != nil || fi.Size() < int64(len(b)) {
		f.Close()
		return fmt.Errorf("node: %s is smaller than what replaces it", path)
	}
	_, err = f.WriteAt(b, 0)
	if err == nil {
		err = f.Truncate(int64(len(b)))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
