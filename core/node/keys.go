package node

import (
	"crypto/ed25519"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ronhost/ronhost/core/names"
	"github.com/ronhost/ronhost/core/token"
)

// Files of the data directory the node owns (besides store/, index/,
// ledger/, plugins/ and config.toml).
const (
	nodeKeyFile   = "keys/node.key"  // the node's ed25519 identity
	tokenKeyFile  = "keys/token.key" // the root key of capability tokens
	OperatorToken = "operator.token" // a token for the local operator's CLI, rewritten at each start
	RunFile       = "node.json"      // where a running node serves, removed at Close
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
// key, and writes the operator's token.
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
	t, err := token.Mint(n.tokenKey)
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, OperatorToken), []byte(t.String()+"\n"), 0o600)
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
	return writeFileAtomic(runFile(n.opts.DataDir), append(b, '\n'), 0o644)
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
		return fmt.Errorf("node: writing %s: %w", path, err)
	}
	return nil
}
