// Package config is the node's TOML configuration file: its schema, its
// defaults and how it is read.
//
// The file lives at DATA/config.toml unless the process is told another path
// (ResolveFile); a missing file means every default.
// Unknown keys are an error, so a typo never silently falls back to a
// default. It must not import the subsystems it configures (only core/cid,
// for the names it checks); the node translates a Config into each
// subsystem's own options.
package config
