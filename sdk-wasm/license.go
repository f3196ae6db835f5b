package ron

import "strings"

// MaxLicenseBytes is the longest license expression [NormalizeLicense]
// accepts.
const MaxLicenseBytes = 256

// CodeLicense is the field error code of a license identifier a plugin does
// not know.
const CodeLicense = "license"

// NormalizeLicense checks and normalizes a license expression of SPDX's
// simple form, ID [(AND|OR) ID]... (no parentheses, no WITH): known gives
// an identifier's canonical spelling (false for one the plugin does not
// know; it may be called with any case), LicenseRef-[A-Za-z0-9.-]+ is kept
// as written with the prefix in SPDX's case, operators become upper case
// and tokens are separated by single spaces ("mit or  apache-2.0" is "MIT
// OR Apache-2.0"). A problem is a field error without a path (the caller
// adds it): [CodeRequired] for an empty expression, [CodeRange] over
// [MaxLicenseBytes], [CodeFormat] for a malformed one, [CodeLicense] for
// an identifier known does not know.
func NormalizeLicense(s string, known func(id string) (string, bool)) (string, *FieldError) {
	toks := strings.Fields(s)
	switch {
	case len(toks) == 0:
		return "", &FieldError{Code: CodeRequired, Message: "a license is required (an SPDX identifier, or LicenseRef-<name>)"}
	case len(s) > MaxLicenseBytes:
		return "", &FieldError{Code: CodeRange, Message: "the license expression is longer than 256 bytes"}
	case len(toks)%2 == 0:
		return "", &FieldError{Code: CodeFormat, Message: "an SPDX expression alternates identifiers and AND/OR: " + s}
	}
	for i, tok := range toks {
		if i%2 == 1 {
			op := strings.ToUpper(tok)
			if op != "AND" && op != "OR" {
				return "", &FieldError{Code: CodeFormat, Message: "expected AND or OR, got " + tok + " (parentheses and WITH are not supported)"}
			}
			toks[i] = op
			continue
		}
		if id, ok := known(tok); ok {
			toks[i] = id
			continue
		}
		if ref, ok := licenseRef(tok); ok {
			toks[i] = ref
			continue
		}
		if strings.ContainsAny(tok, "()") {
			return "", &FieldError{Code: CodeFormat, Message: "parentheses are not supported in a license expression"}
		}
		return "", &FieldError{Code: CodeLicense, Message: tok + " is not an SPDX license identifier this TLD knows; write LicenseRef-<name> for another license"}
	}
	return strings.Join(toks, " "), nil
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
