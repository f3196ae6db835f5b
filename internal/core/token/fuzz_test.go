package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParse: Parse never panics, accepts only what String prints back
// exactly, and whatever it accepts verifies or fails with a sentinel.
func FuzzParse(f *testing.F) {
	f.Add(mint(f).String())
	f.Add(mint(f, Expires(t0), Methods("GET", "POST"), PathPrefix("/v1/publish"), MaxBytes(10)).String())
	f.Add(mint(f, PathPrefix("/v1")).Attenuate(PathPrefix("/v1/names"), Caveat{kind: 7, body: "x"}).String())
	f.Add(rawText(make([]byte, 16), []byte{1, 0xff, 0xff}, make([]byte, 32)))
	f.Add("ront1.")
	f.Add("ront1.AAAA\n")
	f.Add("")
	f.Add(Prefix + strings.Repeat("_", 100))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) = %v, not ErrMalformed", s, err)
			}
			return
		}
		if got := tok.String(); got != s {
			t.Fatalf("Parse(%q).String() = %q", s, got)
		}
		r := Request{Method: "GET", Path: "/v1/names", Bytes: -1, Now: time.Unix(0, 0)}
		err = testKey.Verify(tok, r)
		if err != nil && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrDenied) && !errors.Is(err, ErrExpired) {
			t.Fatalf("Verify: %v", err)
		}
		for _, c := range tok.Caveats() {
			_ = c.String()
		}
		tok.MaxBytes()
		child := tok.Attenuate(PathPrefix("/v1"))
		if len(tok.Caveats()) < MaxCaveats && len(s) < MaxText-64 {
			if _, err := Parse(child.String()); err != nil {
				t.Fatalf("attenuated %q does not parse: %v", s, err)
			}
		}
	})
}
