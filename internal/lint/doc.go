// Package lint holds checks of the source tree itself, run by go test like any
// other test (pebble's internal/lint is the model).
//
// TestArchitecture reads the package table of docs/ARCHITECTURE.md and fails
// when a package imports what its row's "must not import" column forbids,
// when a package has no row (so the table cannot drift behind a new
// package), when a row names no package, or when a package has no package
// documentation. The column is prose for people and also a small language
// for this check; its grammar is in [ParseRules] and at the top of the
// table. The rules are checked against the imports of each package's
// non-test files for the platforms ronhost ships (linux, darwin and the
// wasip1 plugins), read with go list: tests may import more (test support,
// the host that runs a plugin). The check runs on a tiny module in
// testdata/violations too, so it is shown failing on deliberate violations.
//
// The other lint checks (staticcheck, gofmt, go mod tidy) run in make vet.
//
// It imports no other ronhost package, and nothing imports it.
package lint
