package cid

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestOfficialVectors checks Sum and Hasher against the BLAKE3 project's
// test_vectors.json (see testdata/README.md): the default 32-byte output is
// the first 32 bytes of each case's extended "hash".
func TestOfficialVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/test_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct {
			InputLen int    `json:"input_len"`
			Hash     string `json:"hash"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) < 20 {
		t.Fatalf("only %d cases in the vectors file", len(v.Cases))
	}
	for _, c := range v.Cases {
		in := make([]byte, c.InputLen)
		for i := range in {
			in[i] = byte(i % 251)
		}
		want := "b3:" + c.Hash[:64]
		if got := Sum(in).String(); got != want {
			t.Errorf("input_len %d: Sum = %s, want %s", c.InputLen, got, want)
		}
		// Streamed in odd pieces.
		h := NewHasher()
		for p := in; len(p) > 0; {
			n := min(len(p), 1+len(p)%977)
			h.Write(p[:n])
			p = p[n:]
		}
		if got := h.CID().String(); got != want {
			t.Errorf("input_len %d: Hasher = %s, want %s", c.InputLen, got, want)
		}
		got, n, err := SumReader(bytes.NewReader(in))
		if err != nil || n != int64(c.InputLen) || got.String() != want {
			t.Errorf("input_len %d: SumReader = %s, %d, %v", c.InputLen, got, n, err)
		}
	}
}

func TestParseCID(t *testing.T) {
	empty := "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
	c, err := Parse(empty)
	if err != nil {
		t.Fatal(err)
	}
	if c != Sum(nil) || c.String() != empty || c.IsZero() {
		t.Fatalf("Parse(%s) = %s", empty, c)
	}
	bad := []struct{ in, why string }{
		{"", `must start with "b3:"`},
		{"af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", `missing the "b3:" prefix`},
		{"B3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", `prefix must be lowercase`},
		{"b3:AF1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", "must be lowercase (position 0)"},
		{"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f326", "must be 64 hex digits, got 63"},
		{"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f32620", "got 65"},
		{"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f326g", `'g' at position 63 is not a hex digit`},
		{"sha256:abc", `must start with "b3:"`},
	}
	for _, b := range bad {
		_, err := Parse(b.in)
		if !errors.Is(err, ErrInvalidCID) || !strings.Contains(err.Error(), b.why) || !strings.HasPrefix(err.Error(), "cid: ") {
			t.Errorf("Parse(%q) = %v, want ErrInvalidCID saying %q", b.in, err, b.why)
		}
	}
}

func TestCIDJSON(t *testing.T) {
	c := Sum([]byte("hello"))
	b, err := json.Marshal(map[string]CID{"cid": c})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"cid":"` + c.String() + `"}`; string(b) != want {
		t.Fatalf("got %s want %s", b, want)
	}
	var back map[string]CID
	if err := json.Unmarshal(b, &back); err != nil || back["cid"] != c {
		t.Fatalf("round trip: %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"cid":"b3:xyz"}`), &back); !errors.Is(err, ErrInvalidCID) {
		t.Fatalf("bad CID in JSON: %v", err)
	}
}

func TestParseAddress(t *testing.T) {
	h := Sum([]byte("manifest"))
	good := []struct {
		in   string
		want Address
	}{
		{"crab://" + h.Hex() + ".map", Address{h, "map", ""}},
		{"crab://" + h.Hex() + ".map/12/2048/1361", Address{h, "map", "/12/2048/1361"}},
		{"🦀://" + h.Hex() + ".image/", Address{h, "image", "/"}},
		{"crab://" + h.Hex() + ".a-1/caf%C3%A9/ünï", Address{h, "a-1", "/caf%C3%A9/ünï"}},
	}
	for _, g := range good {
		a, err := ParseAddress(g.in)
		if err != nil || a != g.want {
			t.Errorf("ParseAddress(%q) = %+v, %v", g.in, a, err)
			continue
		}
		if !IsAddress(g.in) {
			t.Errorf("IsAddress(%q) false", g.in)
		}
		if p, err := ParseAddress(a.String()); err != nil || p != a {
			t.Errorf("round trip of %q via %q: %+v %v", g.in, a.String(), p, err)
		}
		if p, err := ParseAddress(a.Emoji()); err != nil || p != a || !strings.HasPrefix(a.Emoji(), "🦀://") {
			t.Errorf("emoji round trip of %q: %+v %v", g.in, p, err)
		}
	}
	hx := h.Hex()
	bad := []struct{ in, why string }{
		{"", `must start with "crab://"`},
		{"http://" + hx + ".map", `must start with "crab://"`},
		{"CRAB://" + hx + ".map", "scheme must be lowercase"},
		{"crab://b3:" + hx + ".map", `without "b3:"`},
		{"crab://" + hx, "missing the TLD"},
		{"crab://" + hx + ".", "TLD is empty"},
		{"crab://" + hx + ".MAP", "TLD must be lowercase"},
		{"crab://" + hx + ".map.x", "has a dot"},
		{"crab://" + hx + ".ma_p", "only a-z, 0-9 and '-'"},
		{"crab://" + hx + "." + strings.Repeat("a", 33), "longer than 32"},
		{"crab://" + hx[:63] + ".map", "got 63 characters"},
		{"crab://" + strings.ToUpper(hx) + ".map", "lowercase"},
		{"crab://" + hx + ".map/a?b=1", "queries and fragments"},
		{"crab://" + hx + ".map/a#b", "queries and fragments"},
		{"crab://" + hx + ".map/a b", "space or control"},
		{"crab://" + hx + ".map/\xff", "not valid UTF-8"},
		{"crab://example.map", "the hash must be 64 hex digits"},
		{"crab://" + hx + ".map/" + strings.Repeat("x", MaxAddress), "longer than"},
	}
	for _, b := range bad {
		_, err := ParseAddress(b.in)
		if !errors.Is(err, ErrInvalidAddress) || !strings.Contains(err.Error(), b.why) {
			t.Errorf("ParseAddress(%q) = %v, want ErrInvalidAddress saying %q", b.in, err, b.why)
		}
	}
	if IsAddress("b3:" + hx) {
		t.Error("IsAddress on a CID")
	}
}

// TestRoundTripProperty: every valid address and CID prints to text that
// parses back to itself.
func TestRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var h CID
		copy(h[:], rapid.SliceOfN(rapid.Byte(), Size, Size).Draw(t, "hash"))
		if p, err := Parse(h.String()); err != nil || p != h {
			t.Fatalf("CID round trip: %v %v", p, err)
		}
		a := Address{
			Hash: h,
			TLD:  rapid.StringMatching(`[a-z0-9-]{1,32}`).Draw(t, "tld"),
			Path: rapid.StringMatching(`(/[a-zA-Z0-9._~%!$&'()*+,;=:@é-]*)*`).Draw(t, "path"),
		}
		p, err := ParseAddress(a.String())
		if err != nil || p != a {
			t.Fatalf("address round trip %q: %+v %v", a.String(), p, err)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add("b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")
	f.Add("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")
	f.Add("B3:")
	f.Add("b3:zz")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCID) {
				t.Fatalf("error does not wrap ErrInvalidCID: %v", err)
			}
			return
		}
		if c.String() != s {
			t.Fatalf("Parse(%q) printed as %q", s, c.String())
		}
		if _, err := hex.DecodeString(s[3:]); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseAddress(f *testing.F) {
	h := Sum(nil).Hex()
	f.Add("crab://" + h + ".map/12/2048/1361")
	f.Add("🦀://" + h + ".image")
	f.Add("crab://" + h + ".")
	f.Add("crab://b3:" + h + ".map")
	f.Add("CRAB://x")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("error does not wrap ErrInvalidAddress: %v", err)
			}
			return
		}
		if a.String() != s && a.Emoji() != s {
			t.Fatalf("ParseAddress(%q) printed as %q", s, a.String())
		}
		b, err := ParseAddress(a.String())
		if err != nil || b != a {
			t.Fatalf("reparse of %q: %+v %v", a.String(), b, err)
		}
	})
}
