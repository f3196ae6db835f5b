// Package tlds holds the built-in TLD plugins and embeds their modules.
//
// Each built-in is a Go program under tlds/NAME (its logic in tlds/NAME/NAMEtld),
// built with the SDK for GOOS=wasip1 into tlds/build/NAME.wasm by `make build`.
// This package embeds whatever modules that build produced, so the ronhost
// binary installs them by default with nothing on disk. The modules are not
// committed (docs/RATIONALE.md), so a binary built without `make build` (go
// install, go build) embeds none, and `ronhost serve` and `ronhost version`
// say so at every start; release archives and the Debian package (`make
// dist`) carry them. Beside each module the build writes its plugin hash
// (NAME.wasm.b3, by hashgen.go), so that a node registers its built-ins
// without reading them: a module's bytes are read (and copied out of the
// binary) only when its plugin loads, at the first request for its TLD.
//
// It must not import the host (plugins/) or the node (core/): it only hands
// out bytes.
package tlds
