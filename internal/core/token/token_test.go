package token

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

var (
	testKey = Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}
	t0      = time.Unix(1_800_000_000, 0)
)

func mint(t interface{ Fatal(...any) }, cs ...Caveat) Token {
	tok, err := Mint(testKey, cs...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func req(method, path string, n int64) Request {
	return Request{Method: method, Path: path, Bytes: n, Now: t0}
}

func TestRoundTrip(t *testing.T) {
	cs := []Caveat{Expires(t0.Add(time.Hour)), Methods("post", "GET"), PathPrefix("/v1/publish"), MaxBytes(1 << 20)}
	tok := mint(t, cs...)
	s := tok.String()
	if !strings.HasPrefix(s, Prefix) {
		t.Fatalf("String = %q", s)
	}
	p, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != s || p.ID() != tok.ID() || len(p.ID()) != 32 {
		t.Fatalf("round trip: %q -> %q (id %s vs %s)", s, p.String(), p.ID(), tok.ID())
	}
	var got []string
	for _, c := range p.Caveats() {
		got = append(got, c.String())
	}
	want := "expires=2027-01-15T09:00:00Z methods=GET,POST path=/v1/publish max_bytes=1048576"
	if strings.Join(got, " ") != want {
		t.Fatalf("caveats = %q, want %q", strings.Join(got, " "), want)
	}
	if err := testKey.Verify(p, req("POST", "/v1/publish", 100)); err != nil {
		t.Fatal(err)
	}
	// Text marshaling goes through the same form.
	b, _ := p.MarshalText()
	var u Token
	if err := u.UnmarshalText(b); err != nil || u.String() != s {
		t.Fatalf("UnmarshalText: %v %q", err, u.String())
	}
	// Two mints differ (random ids), and a token with no caveats allows anything.
	free := mint(t)
	if free.ID() == tok.ID() {
		t.Fatal("two tokens with the same id")
	}
	if err := testKey.Verify(free, Request{Method: "DELETE", Path: "/anything", Bytes: -1}); err != nil {
		t.Fatal(err)
	}
}

func TestTamperEveryByte(t *testing.T) {
	tok := mint(t, Expires(t0.Add(time.Hour)), Methods("POST"), PathPrefix("/v1"), MaxBytes(1000)).
		Attenuate(PathPrefix("/v1/publish"))
	r := req("POST", "/v1/publish", 10)
	if err := testKey.Verify(tok, r); err != nil {
		t.Fatal(err)
	}
	raw := tok.binary()
	for i := range raw {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := append([]byte(nil), raw...)
			b[i] ^= x
			p, err := Parse(Prefix + base64.RawURLEncoding.EncodeToString(b))
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("byte %d ^ %#x: parse error %v does not wrap ErrMalformed", i, x, err)
				}
				continue
			}
			if err := testKey.Verify(p, r); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("byte %d ^ %#x: Verify = %v, want ErrBadSignature", i, x, err)
			}
		}
	}
	// Every character of the text form, too.
	s := tok.String()
	for i := range s {
		for _, ch := range []byte{'A', 'b', '-', '_', '0'} {
			if s[i] == ch {
				continue
			}
			m := s[:i] + string(ch) + s[i+1:]
			p, err := Parse(m)
			if err == nil {
				err = testKey.Verify(p, r)
			}
			if err == nil {
				t.Fatalf("text %q (char %d changed) still verifies", m, i)
			}
		}
	}
}

func TestWrongKey(t *testing.T) {
	tok := mint(t, PathPrefix("/v1"))
	other := testKey
	other[31] ^= 1
	if err := other.Verify(tok, req("GET", "/v1", 0)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other key: %v", err)
	}
	if err := (Key{}).Verify(tok, req("GET", "/v1", 0)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("zero key: %v", err)
	}
	if _, err := Mint(Key{}); err == nil {
		t.Fatal("minted with the zero key")
	}
	if err := testKey.Verify(Token{}, req("GET", "/", 0)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("zero token: %v", err)
	}
	k, err := NewKey()
	if err != nil || k == (Key{}) || k == testKey {
		t.Fatalf("NewKey: %v", err)
	}
	if s := fmt.Sprintf("%v %s %#v %x", k, k, k, k); strings.Contains(s, fmt.Sprintf("%x", k[:8])) {
		t.Fatalf("a key printed itself: %s", s)
	}
}

func TestCaveatRemoval(t *testing.T) {
	tok := mint(t, PathPrefix("/v1"), Methods("GET")).Attenuate(MaxBytes(10), PathPrefix("/v1/names"))
	r := req("GET", "/v1/names", 5)
	if err := testKey.Verify(tok, r); err != nil {
		t.Fatal(err)
	}
	n := len(tok.caveats)
	for name, cs := range map[string][]Caveat{
		"drop last":  tok.caveats[:n-1],
		"drop first": tok.caveats[1:],
		"drop all":   nil,
		"reorder":    {tok.caveats[1], tok.caveats[0], tok.caveats[2], tok.caveats[3]},
		"replace":    {tok.caveats[0], tok.caveats[1], tok.caveats[2], PathPrefix("/")},
	} {
		forged := Token{id: tok.id, caveats: cs, tag: tok.tag}
		p, err := Parse(forged.String())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := testKey.Verify(p, r); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s: Verify = %v, want ErrBadSignature", name, err)
		}
	}
	// Attenuating does not change the parent, and siblings do not share caveats.
	a, b := tok.Attenuate(PathPrefix("/v1/names/a")), tok.Attenuate(Methods("POST"))
	if len(tok.Caveats()) != n || len(a.Caveats()) != n+1 || b.Caveats()[n].Kind() != KindMethods {
		t.Fatal("attenuation changed a shared slice")
	}
	if err := testKey.Verify(a, req("GET", "/v1/names/a", 1)); err != nil {
		t.Fatal(err)
	}
	if err := testKey.Verify(b, r); !errors.Is(err, ErrDenied) {
		t.Fatalf("GET through a POST-only child: %v", err)
	}
	// The same with a parent whose caveat slice has spare capacity.
	p := mint(t, PathPrefix("/v1")).Attenuate(Methods("GET")).Attenuate(MaxBytes(10))
	a, b = p.Attenuate(PathPrefix("/v1/a")), p.Attenuate(PathPrefix("/v1/b"))
	if err := testKey.Verify(a, req("GET", "/v1/a", 1)); err != nil {
		t.Fatalf("first child after a sibling: %v", err)
	}
	if err := testKey.Verify(b, req("GET", "/v1/b", 1)); err != nil {
		t.Fatalf("second child: %v", err)
	}
	if len(p.Caveats()) != 3 {
		t.Fatal("attenuation grew the parent")
	}
}

func TestExpiryBoundary(t *testing.T) {
	exp := time.Unix(1_900_000_000, 0)
	tok := mint(t, Expires(exp))
	check := func(now time.Time, want error) {
		t.Helper()
		err := testKey.Verify(tok, Request{Method: "GET", Path: "/", Now: now})
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("now = exp%+v: %v, want %v", now.Sub(exp), err, want)
		}
	}
	check(exp.Add(-time.Nanosecond), nil)
	check(exp.Add(-time.Hour), nil)
	check(exp, ErrExpired)
	check(exp.Add(time.Second), ErrExpired)
	check(time.Time{}, ErrDenied) // no clock: fail closed
	// Sub-second expiries round down (narrower, never wider).
	half := mint(t, Expires(exp.Add(500*time.Millisecond)))
	if err := testKey.Verify(half, Request{Method: "GET", Path: "/", Now: exp}); !errors.Is(err, ErrExpired) {
		t.Fatalf("rounded expiry: %v", err)
	}
	// Two expiries: the earlier one applies.
	both := tok.Attenuate(Expires(exp.Add(-time.Minute)))
	if err := testKey.Verify(both, Request{Method: "GET", Path: "/", Now: exp.Add(-time.Second)}); !errors.Is(err, ErrExpired) {
		t.Fatalf("two expiries: %v", err)
	}
}

func TestPathPrefix(t *testing.T) {
	for _, c := range []struct {
		prefix, path string
		ok           bool
	}{
		{"/v1/publish", "/v1/publish", true},
		{"/v1/publish", "/v1/publish/", true},
		{"/v1/publish", "/v1/publish/a/b", true},
		{"/v1/publish", "/v1/publishx", false},
		{"/v1/publish", "/v1/publish/../names", false},
		{"/v1/publish", "/v1/publish/./x", false},
		{"/v1/publish", "/v1/publish/..", false},
		{"/v1/publish", "/v1/publish//x", false},
		{"/v1/publish", "/v1/publish//", false},
		{"/v1/publish", "/v1", false},
		{"/v1/publish", "/v1/", false},
		{"/v1/publish", "/V1/publish", false},
		{"/v1/publish", "v1/publish", false},
		{"/v1/publish", "", false},
		{"/v1/publish/", "/v1/publish/x", true}, // the caveat is cleaned
		{"v1/publish", "/v1/publish", true},
		{"/v1/../names", "/names/x", true},
		{"/v1/../names", "/v1/names", false},
		{"/", "/", true},
		{"/", "/anything/at/all", true},
		{"/", "/a/../b", false},
		{"/", "", false},
		{"/", "relative/path", false},
		{"", "/x", true},
	} {
		tok := mint(t, PathPrefix(c.prefix))
		err := testKey.Verify(tok, req("GET", c.path, 0))
		if c.ok && err != nil || !c.ok && !errors.Is(err, ErrDenied) {
			t.Errorf("prefix %q, path %q: %v (want allowed %v)", c.prefix, c.path, err, c.ok)
		}
		if !c.ok && err != nil && !strings.Contains(err.Error(), "path=") {
			t.Errorf("the denial does not name the caveat: %v", err)
		}
	}
	// Several path caveats intersect.
	tok := mint(t, PathPrefix("/v1")).Attenuate(PathPrefix("/v1/publish"))
	if err := testKey.Verify(tok, req("GET", "/v1/names", 0)); !errors.Is(err, ErrDenied) {
		t.Fatalf("intersection: %v", err)
	}
	if err := testKey.Verify(tok, req("GET", "/v1/publish/x", 0)); err != nil {
		t.Fatal(err)
	}
}

func TestMethodsAndMaxBytes(t *testing.T) {
	if s := Methods("post", " get ", "GET", "bad method", "").String(); s != "methods=GET,POST" {
		t.Fatalf("Methods = %s", s)
	}
	tok := mint(t, Methods("GET", "POST"))
	for m, ok := range map[string]bool{"GET": true, "POST": true, "HEAD": false, "get": false, "": false, "DELETE": false} {
		err := testKey.Verify(tok, req(m, "/", 0))
		if ok != (err == nil) || !ok && !errors.Is(err, ErrDenied) {
			t.Errorf("method %q: %v", m, err)
		}
	}
	for _, m := range []string{"GET", ""} {
		if err := testKey.Verify(mint(t, Methods()), req(m, "/", 0)); !errors.Is(err, ErrDenied) {
			t.Fatalf("empty methods, method %q: %v", m, err)
		}
	}
	if err := testKey.Verify(tok.Attenuate(Methods("PUT")), req("GET", "/", 0)); !errors.Is(err, ErrDenied) {
		t.Fatalf("disjoint methods: %v", err)
	}

	mb := mint(t, MaxBytes(100))
	if n, ok := mb.Attenuate(MaxBytes(500), MaxBytes(40)).MaxBytes(); !ok || n != 40 {
		t.Fatalf("MaxBytes = %d %v", n, ok)
	}
	if _, ok := tok.MaxBytes(); ok {
		t.Fatal("MaxBytes without a caveat")
	}
	for n, ok := range map[int64]bool{0: true, 100: true, 101: false, -1: true} {
		err := testKey.Verify(mb, req("POST", "/", n))
		if ok != (err == nil) || !ok && !strings.Contains(err.Error(), "max_bytes=100") {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
	if s := MaxBytes(-5).String(); s != "max_bytes=0" {
		t.Fatalf("MaxBytes(-5) = %s", s)
	}
}

func TestUnknownAndInvalidCaveats(t *testing.T) {
	// A kind this version does not know parses but never verifies.
	tok := mint(t, Caveat{kind: 9, body: "future"})
	p, err := Parse(tok.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := testKey.Verify(p, req("GET", "/", 0)); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("unknown kind: %v", err)
	}
	// The zero Caveat: Mint refuses it, Attenuate makes a token that fails closed.
	if _, err := Mint(testKey, Caveat{}); err == nil {
		t.Fatal("minted a zero caveat")
	}
	bad := mint(t).Attenuate(Caveat{})
	if err := testKey.Verify(bad, req("GET", "/", 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("zero caveat: %v", err)
	}
	if _, err := Parse(bad.String()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("parse zero caveat: %v", err)
	}
	// Too many caveats, or too long.
	many := mint(t)
	for range MaxCaveats {
		many = many.Attenuate(MaxBytes(1))
	}
	if err := testKey.Verify(many, req("GET", "/", 0)); err != nil {
		t.Fatalf("%d caveats: %v", MaxCaveats, err)
	}
	many = many.Attenuate(MaxBytes(1))
	if err := testKey.Verify(many, req("GET", "/", 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%d caveats: %v", MaxCaveats+1, err)
	}
	if _, err := Parse(many.String()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("parse %d caveats: %v", MaxCaveats+1, err)
	}
	if _, err := Mint(testKey, PathPrefix(strings.Repeat("/a", 1600))); err == nil {
		t.Fatal("minted a token longer than MaxText")
	}
	// Non-canonical bodies are malformed.
	for _, c := range []Caveat{
		{kind: KindExpires, body: "1234567"},
		{kind: KindMaxBytes, body: "\xff\xff\xff\xff\xff\xff\xff\xff"},
		{kind: KindMethods, body: "POST,GET"},
		{kind: KindMethods, body: "GET,GET"},
		{kind: KindMethods, body: "get"},
		{kind: KindMethods, body: "GET,"},
		{kind: KindPath, body: "/v1/"},
		{kind: KindPath, body: "v1"},
		{kind: KindPath, body: ""},
	} {
		if _, err := Mint(testKey, c); err == nil {
			t.Errorf("minted %v %q", c.kind, c.body)
		}
	}
}

func TestParseErrors(t *testing.T) {
	good := mint(t, PathPrefix("/v1")).String()
	enc := good[len(Prefix):]
	for _, s := range []string{
		"",
		"ront1.",
		"ront1",
		"ront2." + enc,
		"RONT1." + enc,
		" " + good,
		good + "\n",
		good[:40] + "\n" + good[40:],
		good + "=",
		good[:len(good)-1],                 // drops bits: a different length or non-zero padding bits
		good[:len(good)-1] + "B",           // non-canonical trailing bits (or another tag)
		Prefix + strings.Repeat("A", 63),   // 47 bytes: shorter than id + tag
		Prefix + strings.Repeat("A", 4091), // longer than MaxText
		rawText(make([]byte, 16), []byte{1, 0xff, 0xff}, make([]byte, 32)), // a caveat longer than the rest: truncated
		rawText(make([]byte, 16), []byte{1, 0}, make([]byte, 32)),          // a caveat header cut short
		rawText(make([]byte, 16), []byte{0, 0, 0}, make([]byte, 32)),       // kind 0
	} {
		tok, err := Parse(s)
		if err == nil {
			if testKey.Verify(tok, req("GET", "/v1", 0)) == nil {
				t.Errorf("Parse(%q) accepted a token that verifies", s)
			}
			continue
		}
		if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "token: ") {
			t.Errorf("Parse(%q) = %v", s, err)
		}
	}
}

func rawText(parts ...[]byte) string {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return Prefix + base64.RawURLEncoding.EncodeToString(b)
}

func TestFromHTTP(t *testing.T) {
	tok := mint(t, PathPrefix("/v1"))
	r, _ := http.NewRequest("POST", "http://x/v1/publish", nil)
	if _, err := FromHTTP(r); !errors.Is(err, ErrMissing) {
		t.Fatalf("no header: %v", err)
	}
	for _, h := range []string{"Bearer " + tok.String(), "bearer " + tok.String(), "  Bearer   " + tok.String() + " "} {
		r.Header.Set("Authorization", h)
		got, err := FromHTTP(r)
		if err != nil || got.String() != tok.String() {
			t.Fatalf("%q: %v", h, err)
		}
	}
	for _, h := range []string{"Basic dXNlcjpwYXNz", tok.String(), "Bearer", "Bearer ront1.xx"} {
		r.Header.Set("Authorization", h)
		if _, err := FromHTTP(r); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q: %v", h, err)
		}
	}
	r.Header.Set("Authorization", "Bearer "+tok.String())
	r.Header.Add("Authorization", "Bearer "+tok.String())
	if _, err := FromHTTP(r); !errors.Is(err, ErrMalformed) {
		t.Fatalf("two headers: %v", err)
	}
}
