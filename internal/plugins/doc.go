// Package plugins is the wazero host that runs TLD plugins under ABI v1
// (docs/ABI.md).
//
// It owns loading (size cap, import allowlist, ABI marker, describe checked at
// load), the sandbox (no filesystem, environment, arguments or network; a
// fixed clock and random seed; memory, time, input and output caps), fault
// containment and quarantine, pools of warm instances, the compilation cache,
// memoization of pure results, the TLD router with hot reload, publisher
// signatures, and the on-disk catalog of installed plugins.
//
// A Host is one wazero runtime; a Plugin is one compiled module with its pool
// of instances; a Router maps TLDs to Plugins. Every call goes through
// Plugin.Call, which borrows an instance, runs one entry point under the
// entry's deadline and returns the instance, or discards it after a fault.
// The typed calls (Validate, Split, Resolve) hand a plugin that declared the
// ABI v1.1 feature "dates" its manifest with dates and times tagged, and
// take its normalized manifest back untagged (dates.go); raw calls send the
// input as given.
//
// It must not import core/, bus/ or cmd/: the node wires it, not the reverse.
package plugins
