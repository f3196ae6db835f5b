package supervise

import (
	"strings"
	"sync"
	"testing"
)

func TestLineWriter(t *testing.T) {
	var b strings.Builder
	w := &lineWriter{mu: &sync.Mutex{}, w: &b, prefix: "p | "}
	for _, s := range []string{"", "a", "b\nc\n\nd", "", "\n", "tail"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	w.Close()
	w.Close()
	if want := "p | ab\np | c\np | \np | d\np | tail\n"; b.String() != want {
		t.Fatalf("%q, want %q", b.String(), want)
	}

	b.Reset()
	long := strings.Repeat("x", maxLine+10)
	w.Write([]byte(long + "\nend\n"))
	if want := "p | " + long[:maxLine] + "\np | " + long[maxLine:] + "\np | end\n"; b.String() != want {
		t.Fatalf("a line longer than maxLine: got %d bytes", b.Len())
	}
}
