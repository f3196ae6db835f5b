package ron

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidPayout(t *testing.T) {
	for _, s := range []string{
		"abc", "ron1ada", "0xdeadbeef", "lightning:ada.example", "acct_1-2.3:4",
		"a--", strings.Repeat("a", 128),
	} {
		if !ValidPayout(s) {
			t.Errorf("ValidPayout(%q) = false, want true", s)
		}
	}
	for _, s := range []string{
		"", "a", "ab", "Abc", "abC", "-ab", ":ab", ".ab", "_ab", "ab c", " abc", "abc ",
		"ab/c", "ab@c", "ab\x00", "abé", strings.Repeat("a", 129),
	} {
		if ValidPayout(s) {
			t.Errorf("ValidPayout(%q) = true, want false", s)
		}
	}
}

// TestValidPayoutMatchesRegexp checks the documented pattern on every string
// of one to three bytes over an alphabet covering each class, plus long ones.
func TestValidPayoutMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9][a-z0-9:._-]{2,127}$`)
	alphabet := []byte("az09:._-AZ /@\x00\xff")
	var check func(prefix []byte)
	check = func(prefix []byte) {
		s := string(prefix)
		if got, want := ValidPayout(s), re.MatchString(s); got != want {
			t.Fatalf("ValidPayout(%q) = %v, regexp says %v", s, got, want)
		}
		if len(prefix) == 4 {
			return
		}
		for _, c := range alphabet {
			check(append(prefix, c))
		}
	}
	check(nil)
	for _, n := range []int{127, 128, 129, 200} {
		for _, s := range []string{strings.Repeat("a", n), "a" + strings.Repeat(":", n-1), "a" + strings.Repeat("B", n-1)} {
			if got, want := ValidPayout(s), re.MatchString(s); got != want {
				t.Fatalf("ValidPayout(len %d) = %v, regexp says %v", n, got, want)
			}
		}
	}
}

func FuzzValidPayout(f *testing.F) {
	re := regexp.MustCompile(`^[a-z0-9][a-z0-9:._-]{2,127}$`)
	for _, s := range []string{"abc", "ron1ada", "-ab", "", "ABC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidPayout(s), re.MatchString(s); got != want {
			t.Fatalf("ValidPayout(%q) = %v, regexp says %v", s, got, want)
		}
	})
}
