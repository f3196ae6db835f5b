package ron

import (
	"strings"
	"testing"
)

func TestValidCID(t *testing.T) {
	good := "b3:" + strings.Repeat("0123456789abcdef", 4)
	if !ValidCID(good) {
		t.Fatalf("ValidCID(%q) = false", good)
	}
	for _, s := range []string{
		"", "b3:", good[:len(good)-1], good + "0", "B3:" + good[3:], "b2:" + good[3:],
		"b3:" + strings.Repeat("A", 64), "b3:" + strings.Repeat("g", 64), " " + good[1:], good[:66] + " ",
		"b3;" + good[3:], "sha256:" + good[3:],
	} {
		if ValidCID(s) {
			t.Errorf("ValidCID(%q) = true", s)
		}
	}
}
