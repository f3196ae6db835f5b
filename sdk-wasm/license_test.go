package ron

import (
	"strings"
	"testing"
)

func TestNormalizeLicense(t *testing.T) {
	ids := map[string]string{"mit": "MIT", "apache-2.0": "Apache-2.0", "cc-by-4.0": "CC-BY-4.0"}
	known := func(id string) (string, bool) { v, ok := ids[strings.ToLower(id)]; return v, ok }
	for in, want := range map[string]string{
		"MIT":                        "MIT",
		" mit ":                      "MIT",
		"mit or  apache-2.0":         "MIT OR Apache-2.0",
		"CC-BY-4.0 and licenseref-X": "CC-BY-4.0 AND LicenseRef-X",
		"LicenseRef-my.model-1":      "LicenseRef-my.model-1",
	} {
		if got, fe := NormalizeLicense(in, known); fe != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, fe, want)
		}
	}
	for in, code := range map[string]string{
		"":                         CodeRequired,
		" \t":                      CodeRequired,
		strings.Repeat("mit ", 70): CodeRange,
		"MIT OR":                   CodeFormat,
		"MIT WITH Classpath":       CodeFormat,
		"(MIT OR Apache-2.0)":      CodeFormat,
		"MIT XOR Apache-2.0":       CodeFormat,
		"GPL-2.0":                  CodeLicense,
		"LicenseRef-":              CodeLicense,
		"LicenseRef-a_b":           CodeLicense,
		"MIT OR Foo":               CodeLicense,
	} {
		if got, fe := NormalizeLicense(in, known); fe == nil || fe.Code != code || fe.Path != "" || got != "" {
			t.Errorf("%q: %q %+v, want code %s", in, got, fe, code)
		}
	}
}
