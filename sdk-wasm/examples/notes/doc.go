// Package notes is an example ronhost plugin for a .notes TLD, written with
// the Go SDK: short texts with authors who share the revenue.
//
// A .notes manifest has a [notes] table:
//
//	[notes]
//	title = "Field notes on WebAssembly"
//	license = "CC-BY-4.0"          # default "all-rights-reserved"
//	tags = ["wasm", "go"]          # lowercased, deduplicated, sorted
//	price = 1200                   # minor units per read, default 0
//	language = "en"                # default "en"
//	operator_bps = 2000            # operators' part of each payment, default 2000, at most 5000
//
//	[[notes.authors]]              # 1 to 32 authors, shares summing to 10000 bps
//	name = "Ada"
//	payout = "ron1ada"
//	share = 6000
//
// Validate normalizes the table (every default written out, tags sorted) and
// indexes the title and tags. Split pays operators_bps of the amount to the
// servers pro rata by bytes served and the rest to the authors by share (all
// of it to the authors when nobody served bytes). Resolve serves "/" (the
// whole note) and "/excerpt" (its first paragraph).
//
// The package is the plugin's logic and is tested natively with rontest; the
// wasm subdirectory is the main package that registers it for the host.
// It imports only the SDK and the standard library.
package notes
