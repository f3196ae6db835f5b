package aitld

import (
	"strings"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// licenses are the SPDX identifiers an .ai card may use, by lowercase
// spelling: the software, Creative Commons and data licenses models and
// datasets are published under. Others (model licenses outside SPDX's list)
// are written LicenseRef-<name>.
var licenses = map[string]string{
	"apache-2.0":          "Apache-2.0",
	"mit":                 "MIT",
	"bsd-2-clause":        "BSD-2-Clause",
	"bsd-3-clause":        "BSD-3-Clause",
	"mpl-2.0":             "MPL-2.0",
	"gpl-3.0-only":        "GPL-3.0-only",
	"gpl-3.0-or-later":    "GPL-3.0-or-later",
	"lgpl-3.0-only":       "LGPL-3.0-only",
	"agpl-3.0-only":       "AGPL-3.0-only",
	"cc0-1.0":             "CC0-1.0",
	"cc-by-4.0":           "CC-BY-4.0",
	"cc-by-sa-4.0":        "CC-BY-SA-4.0",
	"cc-by-nc-4.0":        "CC-BY-NC-4.0",
	"cc-by-nc-sa-4.0":     "CC-BY-NC-SA-4.0",
	"cc-by-nd-4.0":        "CC-BY-ND-4.0",
	"cc-by-nc-nd-4.0":     "CC-BY-NC-ND-4.0",
	"cdla-permissive-1.0": "CDLA-Permissive-1.0",
	"cdla-permissive-2.0": "CDLA-Permissive-2.0",
	"cdla-sharing-1.0":    "CDLA-Sharing-1.0",
	"odbl-1.0":            "ODbL-1.0",
	"odc-by-1.0":          "ODC-By-1.0",
	"pddl-1.0":            "PDDL-1.0",
	"unlicense":           "Unlicense",
}

// normalizeLicense checks an SPDX license expression of the simple form
// ID [(AND|OR) ID]... (no parentheses, no WITH) with ron.NormalizeLicense:
// identifiers from the list above in their canonical case,
// LicenseRef-[A-Za-z0-9.-]+, operators upper case, single spaces.
func normalizeLicense(s string) (string, *ron.FieldError) {
	if strings.TrimSpace(s) == "" {
		return "", &ron.FieldError{Code: ron.CodeRequired, Message: "a license is required (an SPDX identifier such as Apache-2.0, or LicenseRef-<name>)"}
	}
	return ron.NormalizeLicense(s, func(id string) (string, bool) {
		canon, ok := licenses[strings.ToLower(id)]
		return canon, ok
	})
}
