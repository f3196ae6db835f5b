package plugins

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Catalog is the on-disk record of the plugins an operator installed, in a
// directory of the node's data directory:
//
//	modules/<hex>.wasm   each module, named by its BLAKE3
//	modules/<hex>.sig    its publisher's signature, when it has one
//	installed.json       which plugin owns which TLD, and built-ins removed
//
// Every write goes to a temporary file that is fsynced and renamed, under an
// exclusive lock, so a crash leaves the old or the new catalog, never half.
// The node reconciles its Router with the catalog; the CLI edits it.
type Catalog struct {
	dir string
}

// CatalogEntry records the plugin installed for one TLD.
type CatalogEntry struct {
	TLD       string    `json:"tld"`
	Plugin    string    `json:"plugin"`              // b3:<hex>
	Publisher string    `json:"publisher,omitempty"` // ed25519:<hex> of a verified signature
	Installed time.Time `json:"installed"`
	// For the plugins registries provide (Catalog.Registry): the registry
	// ("b3:<id>"), the version it names, and, for a module not served, why
	// (Status "refused" or "revoked", Reason).
	Origin  string `json:"origin,omitempty"`
	Version string `json:"version,omitempty"`
	Status  string `json:"status,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

type catalogFile struct {
	Version         int                     `json:"version"`
	TLDs            map[string]CatalogEntry `json:"tlds"`
	RemovedBuiltins []string                `json:"removed_builtins,omitempty"`
	Registry        []CatalogEntry          `json:"registry,omitempty"` // written by the node's registry follower
}

// NewCatalog returns the catalog kept in dir. It does no I/O.
func NewCatalog(dir string) *Catalog { return &Catalog{dir: dir} }

// Dir returns the catalog's directory.
func (c *Catalog) Dir() string { return c.dir }

func (c *Catalog) indexPath() string { return filepath.Join(c.dir, "installed.json") }

func (c *Catalog) modulePath(hash string) string {
	return filepath.Join(c.dir, "modules", strings.TrimPrefix(hash, "b3:")+".wasm")
}

func (c *Catalog) read() (catalogFile, error) {
	f := catalogFile{Version: 1, TLDs: map[string]CatalogEntry{}}
	b, err := os.ReadFile(c.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("plugins: reading catalog: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("plugins: catalog %s is damaged: %w", c.indexPath(), err)
	}
	if f.TLDs == nil {
		f.TLDs = map[string]CatalogEntry{}
	}
	return f, nil
}

// Entries returns the installed plugins by TLD and the built-in TLDs the
// operator removed.
func (c *Catalog) Entries() (map[string]CatalogEntry, []string, error) {
	f, err := c.read()
	return f.TLDs, f.RemovedBuiltins, err
}

// Module reads an installed module and checks its hash.
func (c *Catalog) Module(hash string) ([]byte, error) {
	b, err := os.ReadFile(c.modulePath(hash))
	if err != nil {
		return nil, fmt.Errorf("plugins: module %s: %w", hash, err)
	}
	if got := HashBytes(b); got != hash {
		return nil, fmt.Errorf("plugins: module file %s is damaged: its hash is %s", c.modulePath(hash), got)
	}
	return b, nil
}

// Put records wasm as the plugin for tld (with its signature, if any).
func (c *Catalog) Put(tld string, wasm []byte, sig *Signature) (CatalogEntry, error) {
	e := CatalogEntry{TLD: tld, Plugin: HashBytes(wasm), Installed: time.Now().UTC().Truncate(time.Second)}
	if sig != nil {
		e.Publisher = sig.Publisher
	}
	err := c.update(func(f *catalogFile) error {
		if err := writeAtomic(c.modulePath(e.Plugin), wasm, 0o644); err != nil {
			return err
		}
		if sig != nil {
			if err := writeAtomic(strings.TrimSuffix(c.modulePath(e.Plugin), ".wasm")+".sig", sig.Marshal(), 0o644); err != nil {
				return err
			}
		}
		f.TLDs[tld] = e
		f.RemovedBuiltins = without(f.RemovedBuiltins, tld)
		return nil
	})
	return e, err
}

// Remove forgets the plugin installed for tld; builtin says whether tld is
// also a built-in, which is then recorded as removed so it stays off.
func (c *Catalog) Remove(tld string, builtin bool) error {
	return c.update(func(f *catalogFile) error {
		_, had := f.TLDs[tld]
		if !had && !builtin {
			return fmt.Errorf("%w: no plugin is installed for .%s", ErrUnknownTLD, tld)
		}
		delete(f.TLDs, tld)
		if builtin && !containsString(f.RemovedBuiltins, tld) {
			f.RemovedBuiltins = append(f.RemovedBuiltins, tld)
			sort.Strings(f.RemovedBuiltins)
		}
		return nil
	})
}

// update runs f on the catalog under an exclusive lock and writes the result.
func (c *Catalog) update(f func(*catalogFile) error) error {
	if err := os.MkdirAll(filepath.Join(c.dir, "modules"), 0o755); err != nil {
		return fmt.Errorf("plugins: catalog: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(c.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("plugins: catalog lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("plugins: catalog lock: %w", err)
	}
	cf, err := c.read()
	if err != nil {
		return err
	}
	if err := f(&cf); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return fmt.Errorf("plugins: catalog: %w", err)
	}
	return writeAtomic(c.indexPath(), append(b, '\n'), 0o644)
}

// writeAtomic writes b to path through a fsynced temporary file and a rename.
func writeAtomic(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("plugins: writing %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("plugins: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("plugins: syncing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("plugins: syncing %s: %w", dir, err)
	}
	return nil
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func without(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
