package maptld

import (
	"strings"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// licenses are the SPDX identifiers a .map license may use, by lowercase
// spelling: open data, Creative Commons and government licenses common for
// map data, and the usual software licenses for styles and code. Any other
// license is written LicenseRef-<name> (SPDX's form for licenses outside its
// list). The value tells whether the license requires attribution.
var licenses = map[string]struct {
	id          string
	attribution bool
}{
	"odbl-1.0":        {"ODbL-1.0", true},
	"odc-by-1.0":      {"ODC-By-1.0", true},
	"pddl-1.0":        {"PDDL-1.0", false},
	"cc0-1.0":         {"CC0-1.0", false},
	"cc-by-2.0":       {"CC-BY-2.0", true},
	"cc-by-3.0":       {"CC-BY-3.0", true},
	"cc-by-4.0":       {"CC-BY-4.0", true},
	"cc-by-sa-2.0":    {"CC-BY-SA-2.0", true},
	"cc-by-sa-3.0":    {"CC-BY-SA-3.0", true},
	"cc-by-sa-4.0":    {"CC-BY-SA-4.0", true},
	"cc-by-nc-4.0":    {"CC-BY-NC-4.0", true},
	"cc-by-nc-sa-4.0": {"CC-BY-NC-SA-4.0", true},
	"cc-by-nd-4.0":    {"CC-BY-ND-4.0", true},
	"ogl-uk-3.0":      {"OGL-UK-3.0", true},
	"ogl-canada-2.0":  {"OGL-Canada-2.0", true},
	"etalab-2.0":      {"etalab-2.0", true},
	"dl-de-by-2.0":    {"DL-DE-BY-2.0", true},
	"dl-de-zero-2.0":  {"DL-DE-ZERO-2.0", false},
	"nlod-2.0":        {"NLOD-2.0", true},
	"mit":             {"MIT", true},
	"apache-2.0":      {"Apache-2.0", true},
	"bsd-3-clause":    {"BSD-3-Clause", true},
	"unlicense":       {"Unlicense", false},
}

// normalizeLicense checks an SPDX license expression of the simple form
// ID [(AND|OR) ID]... (no parentheses, no WITH) with ron.NormalizeLicense:
// identifiers from the list above in their canonical case,
// LicenseRef-[A-Za-z0-9.-]+ kept as written, operators in upper case,
// single spaces. It reports whether any of the licenses requires
// attribution.
func normalizeLicense(s string) (string, bool, *ron.FieldError) {
	if strings.TrimSpace(s) == "" {
		return "", false, &ron.FieldError{Code: ron.CodeRequired, Message: "a license is required (an SPDX identifier such as ODbL-1.0 or CC-BY-4.0)"}
	}
	attribution := false
	expr, fe := ron.NormalizeLicense(s, func(id string) (string, bool) {
		l, ok := licenses[strings.ToLower(id)]
		attribution = attribution || l.attribution
		return l.id, ok
	})
	if fe != nil {
		return "", false, fe
	}
	return expr, attribution, nil
}
