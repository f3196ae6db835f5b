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
// ID [(AND|OR) ID]... (no parentheses, no WITH): identifiers from the list
// above in their canonical case, LicenseRef-[A-Za-z0-9.-]+ kept as written,
// operators in upper case, single spaces. It reports whether any of the
// licenses requires attribution.
func normalizeLicense(s string) (string, bool, *ron.FieldError) {
	toks := strings.Fields(s)
	switch {
	case len(toks) == 0:
		return "", false, &ron.FieldError{Code: ron.CodeRequired, Message: "a license is required (an SPDX identifier such as ODbL-1.0 or CC-BY-4.0)"}
	case len(s) > MaxLicenseBytes:
		return "", false, &ron.FieldError{Code: ron.CodeRange, Message: "the license expression is longer than 256 bytes"}
	case len(toks)%2 == 0:
		return "", false, &ron.FieldError{Code: ron.CodeFormat, Message: "an SPDX expression alternates identifiers and AND/OR: " + s}
	}
	attribution := false
	for i, tok := range toks {
		if i%2 == 1 {
			op := strings.ToUpper(tok)
			if op != "AND" && op != "OR" {
				return "", false, &ron.FieldError{Code: ron.CodeFormat, Message: "expected AND or OR, got " + tok + " (parentheses and WITH are not supported)"}
			}
			toks[i] = op
			continue
		}
		if l, ok := licenses[strings.ToLower(tok)]; ok {
			toks[i] = l.id
			attribution = attribution || l.attribution
			continue
		}
		if ref, ok := licenseRef(tok); ok {
			toks[i] = ref
			continue
		}
		if strings.ContainsAny(tok, "()") {
			return "", false, &ron.FieldError{Code: ron.CodeFormat, Message: "parentheses are not supported in a license expression"}
		}
		return "", false, &ron.FieldError{Code: CodeLicense, Message: tok + " is not an SPDX license identifier this TLD knows; write LicenseRef-<name> for another license"}
	}
	return strings.Join(toks, " "), attribution, nil
}

// licenseRef accepts LicenseRef-<idstring> (any case of the prefix) and
// returns it with the canonical prefix.
func licenseRef(tok string) (string, bool) {
	const prefix = "licenseref-"
	if len(tok) <= len(prefix) || strings.ToLower(tok[:len(prefix)]) != prefix {
		return "", false
	}
	rest := tok[len(prefix):]
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return "", false
		}
	}
	return "LicenseRef-" + rest, true
}
