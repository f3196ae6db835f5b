package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pelletier/go-toml/v2"
)

// FileName is the configuration file's name inside the data directory.
const FileName = "config.toml"

// Config is the node's configuration.
type Config struct {
	Node    Node    `toml:"node"`
	Plugins Plugins `toml:"plugins"`
}

// Node configures the node process.
type Node struct {
	// Listen is the HTTP address of the node's API; it binds to loopback
	// unless the operator says otherwise.
	Listen string `toml:"listen" comment:"HTTP API address (loopback by default)"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level" comment:"debug, info, warn or error"`
}

// Plugins configures the plugin host.
type Plugins struct {
	TrustedPublishers []string `toml:"trusted_publishers" comment:"publisher keys (ed25519:<hex>) whose signed plugins install without --allow-unsigned"`
	Builtins          bool     `toml:"builtins" comment:"install the built-in plugins (.map, .ai, .mod, .alg)"`
	PoolSize          int      `toml:"pool_size" comment:"warm instances per plugin; 0 means one per CPU"`
	MemoEntries       int      `toml:"memo_entries" comment:"memoized validate/split results; negative turns the memo off"`
	QuarantineAfter   int      `toml:"quarantine_after" comment:"faults in a row that quarantine a plugin"`
	MemoryMiB         int      `toml:"memory_mib" comment:"linear memory cap per instance (ABI maximum 64)"`
	ValidateMillis    int      `toml:"validate_ms" comment:"deadline of one validate call (ABI maximum 100)"`
	SplitMillis       int      `toml:"split_ms" comment:"deadline of one split call (ABI maximum 50)"`
	ResolveMillis     int      `toml:"resolve_ms" comment:"deadline of one resolve call (ABI maximum 50)"`
	CacheDir          string   `toml:"cache_dir" comment:"wazero's compilation cache; empty means DATA/cache/wazero"`
}

// Default returns the configuration with every default written out.
func Default() Config {
	return Config{
		Node: Node{Listen: "127.0.0.1:8470", LogLevel: "info"},
		Plugins: Plugins{
			TrustedPublishers: []string{},
			Builtins:          true,
			MemoEntries:       4096,
			QuarantineAfter:   5,
			MemoryMiB:         64,
			ValidateMillis:    100,
			SplitMillis:       50,
			ResolveMillis:     50,
		},
	}
}

// Path returns the configuration file's path in a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Load reads DATA/config.toml over the defaults; a missing file gives the defaults.
func Load(dataDir string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(Path(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return c, fmt.Errorf("config: %s: %s", Path(dataDir), sm.String())
		}
		return c, fmt.Errorf("config: %s: %w", Path(dataDir), err)
	}
	return c, c.Validate()
}

// Validate checks ranges: the ABI's limits are maxima a node may tighten.
func (c Config) Validate() error {
	p := c.Plugins
	switch {
	case p.MemoryMiB < 1 || p.MemoryMiB > 64:
		return fmt.Errorf("config: plugins.memory_mib %d is outside 1..64", p.MemoryMiB)
	case p.ValidateMillis < 1 || p.ValidateMillis > 100:
		return fmt.Errorf("config: plugins.validate_ms %d is outside 1..100", p.ValidateMillis)
	case p.SplitMillis < 1 || p.SplitMillis > 50:
		return fmt.Errorf("config: plugins.split_ms %d is outside 1..50", p.SplitMillis)
	case p.ResolveMillis < 1 || p.ResolveMillis > 50:
		return fmt.Errorf("config: plugins.resolve_ms %d is outside 1..50", p.ResolveMillis)
	case p.PoolSize < 0:
		return fmt.Errorf("config: plugins.pool_size %d is negative", p.PoolSize)
	}
	switch c.Node.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: node.log_level %q is not debug, info, warn or error", c.Node.LogLevel)
	}
	return nil
}

// Marshal renders c as a commented TOML file.
func (c Config) Marshal() ([]byte, error) {
	b, err := toml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return b, nil
}
