// Package c holds the C side of the SDK: ron_plugin.h, the ABI's
// declarations, and ron_sdk.h, a small SDK of our own (a JSON reader and
// writer, field errors, the exact split helpers and the entry points), so a
// C plugin holds only its namespace's rules. `ronhost plugin new --lang c`
// writes both beside a new plugin; Headers is how the template gets them.
package c

import "embed"

// Headers holds ron_plugin.h and ron_sdk.h.
//
//go:embed ron_plugin.h ron_sdk.h
var Headers embed.FS
