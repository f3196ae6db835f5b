package names

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	privA = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	privB = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	addr1 = "crab://" + strings.Repeat("ab", 32) + ".map"
	addr2 = "crab://" + strings.Repeat("cd", 32) + ".ai/docs/index.html"
	now   = time.Unix(1_800_000_000, 0)
)

func pub(p ed25519.PrivateKey) ed25519.PublicKey { return p.Public().(ed25519.PublicKey) }

func sign(t testing.TB, p ed25519.PrivateKey, label, address string, seq uint64, exp int64) Record {
	t.Helper()
	r, err := Sign(p, label, address, seq, exp)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSignVerifyRoundTrip(t *testing.T) {
	r := sign(t, privA, "cycling", addr2, 7, 0)
	if r.Name != NameFor(pub(privA), "cycling") || len(strings.TrimPrefix(r.Name, "cycling.")) != KeyChars {
		t.Fatalf("name %q", r.Name)
	}
	if err := r.Verify(now); err != nil {
		t.Fatal(err)
	}
	label, key, err := ParseName(r.Name)
	if err != nil || label != "cycling" || !key.Equal(pub(privA)) {
		t.Fatalf("ParseName: %q %x %v", label, key, err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	json.Unmarshal(b, &fields)
	if len(fields) != 5 || fields["name"] != r.Name || fields["address"] != addr2 || fields["seq"] != 7.0 || fields["expires"] != 0.0 {
		t.Fatalf("JSON fields: %s", b)
	}
	if _, ok := fields["sig"].(string); !ok {
		t.Fatalf("sig is not base64 text: %s", b)
	}
	p, err := ParseRecord(b)
	if err != nil || p.Name != r.Name || p.Address != r.Address || p.Seq != r.Seq || !bytes.Equal(p.Sig, r.Sig) {
		t.Fatalf("ParseRecord: %+v %v", p, err)
	}
	if err := p.Verify(now); err != nil {
		t.Fatal(err)
	}
	// The 🦀 spelling is stored in the canonical crab:// form.
	e := sign(t, privA, "x", "🦀://"+strings.Repeat("ab", 32)+".map", 1, 0)
	if e.Address != addr1 {
		t.Fatalf("address %q", e.Address)
	}
	// The signed message is fixed (other implementations must produce it).
	want := "ronhost name record v1\nname=" + r.Name + "\naddress=" + addr2 + "\nseq=7\nexpires=0\n"
	if string(r.message()) != want {
		t.Fatalf("message %q", r.message())
	}
	k, err := GenerateKey()
	if err != nil || len(k) != ed25519.PrivateKeySize || k.Equal(privA) {
		t.Fatalf("GenerateKey: %v", err)
	}
}

func TestTamperEachField(t *testing.T) {
	r := sign(t, privA, "cycling", addr2, 7, now.Unix()+3600)
	bad := func(name string, m func(*Record), want error) {
		t.Helper()
		c := r
		c.Sig = append([]byte(nil), r.Sig...)
		m(&c)
		if err := c.Verify(now); !errors.Is(err, want) {
			t.Errorf("%s: Verify = %v, want %v", name, err, want)
		}
	}
	bad("label", func(r *Record) { r.Name = "cyclinG"[:6] + "x" + r.Name[7:] }, ErrBadSignature)
	bad("key", func(r *Record) { r.Name = NameFor(pub(privB), "cycling") }, ErrBadSignature)
	bad("address hash", func(r *Record) { r.Address = strings.Replace(r.Address, "cd", "ce", 1) }, ErrBadSignature)
	bad("address tld", func(r *Record) { r.Address = strings.Replace(r.Address, ".ai/", ".map/", 1) }, ErrBadSignature)
	bad("address path", func(r *Record) { r.Address += "x" }, ErrBadSignature)
	bad("address path dropped", func(r *Record) { r.Address = r.Address[:strings.Index(r.Address, ".ai")+3] }, ErrBadSignature)
	bad("seq up", func(r *Record) { r.Seq++ }, ErrBadSignature)
	bad("seq down", func(r *Record) { r.Seq-- }, ErrBadSignature)
	bad("expires later", func(r *Record) { r.Expires++ }, ErrBadSignature)
	bad("expires never", func(r *Record) { r.Expires = 0 }, ErrBadSignature)
	for i := range r.Sig {
		bad("sig byte", func(r *Record) { r.Sig[i] ^= 0x04 }, ErrBadSignature)
	}
	bad("sig short", func(r *Record) { r.Sig = r.Sig[:63] }, ErrMalformed)
	bad("sig missing", func(r *Record) { r.Sig = nil }, ErrMalformed)
	bad("emoji address", func(r *Record) { r.Address = strings.Replace(r.Address, "crab://", "🦀://", 1) }, ErrMalformed)
	bad("bad address", func(r *Record) { r.Address = "https://example.com" }, ErrMalformed)
	bad("negative expiry", func(r *Record) { r.Expires = -1 }, ErrMalformed)
	bad("no name", func(r *Record) { r.Name = "" }, ErrMalformed)
}

// A record for A's name signed by B, correctly over its own fields, fails:
// nobody can take another key's names.
func TestOtherKeyCannotSign(t *testing.T) {
	r := Record{Name: NameFor(pub(privA), "cycling"), Address: addr1, Seq: 99}
	r.Sig = ed25519.Sign(privB, r.message())
	if err := r.Verify(now); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify = %v", err)
	}
	// And B's own record for the same label is a different name.
	if b := sign(t, privB, "cycling", addr1, 1, 0); b.Name == r.Name {
		t.Fatal("two keys share a name")
	}
}

func TestNames(t *testing.T) {
	key := strings.TrimPrefix(NameFor(pub(privA), "a"), "a.")
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"a." + key, true},
		{"cycling-club-2." + key, true},
		{strings.Repeat("a", 63) + "." + key, true},
		{strings.Repeat("a", 64) + "." + key, false},
		{"." + key, false},
		{"-a." + key, false},
		{"a-." + key, false},
		{"A." + key, false},
		{"a_b." + key, false},
		{"a.b." + key, false},
		{"a " + key, false},
		{key, false},
		{"a." + strings.ToUpper(key), false},
		{"a." + key[:51], false},
		{"a." + key + "a", false},
		{"a." + key[:51] + "b", false}, // non-zero trailing bits: a second spelling of a key
		{"a." + key[:51] + "1", false},
		{"", false},
	} {
		_, _, err := ParseName(c.name)
		if c.ok != (err == nil) || err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseName(%q) = %v, want ok %v", c.name, err, c.ok)
		}
	}
	for _, l := range []string{"", "-x", "x-", "X", "a.b", strings.Repeat("a", 64)} {
		if _, err := Sign(privA, l, addr1, 1, 0); !errors.Is(err, ErrMalformed) {
			t.Errorf("Sign label %q: %v", l, err)
		}
	}
	if _, err := Sign(privA, "x", "crab://nothex.map", 1, 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("Sign bad address: %v", err)
	}
	if _, err := Sign(privA[:32], "x", addr1, 1, 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("Sign short key: %v", err)
	}
	if _, err := Sign(privA, "x", addr1, 1, -5); !errors.Is(err, ErrMalformed) {
		t.Errorf("Sign negative expiry: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	exp := now.Add(time.Hour)
	r := sign(t, privA, "x", addr1, 1, exp.Unix())
	if err := r.Verify(exp.Add(-time.Nanosecond)); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{exp, exp.Add(time.Second)} {
		if err := r.Verify(at); !errors.Is(err, ErrExpired) {
			t.Fatalf("at %v: %v", at, err)
		}
	}
	never := sign(t, privA, "x", addr1, 1, 0)
	if err := never.Verify(time.Unix(1<<40, 0)); err != nil {
		t.Fatal(err)
	}
}

func TestNewer(t *testing.T) {
	a1 := sign(t, privA, "x", addr1, 1, 0)
	a2 := sign(t, privA, "x", addr1, 2, 0)
	if !Newer(a2, a1) || Newer(a1, a2) {
		t.Fatal("higher seq does not win")
	}
	b2 := sign(t, privA, "x", addr2, 2, 0)
	if Newer(a2, b2) == Newer(b2, a2) {
		t.Fatal("an equal-seq tie is not decided one way")
	}
	if Newer(a2, a2) {
		t.Fatal("a record is newer than itself")
	}
	hi := a2
	if Newer(b2, a2) {
		hi = b2
	}
	if bytes.Compare(hi.Sig, a2.Sig) < 0 || bytes.Compare(hi.Sig, b2.Sig) < 0 {
		t.Fatal("the tie did not go to the greater signature")
	}
	// Seq beats signature bytes.
	lo, hiSig := a1, sign(t, privA, "x", addr2, 1, 0)
	if bytes.Compare(lo.Sig, hiSig.Sig) > 0 {
		lo, hiSig = hiSig, lo
	}
	lo.Seq = 5
	if !Newer(lo, hiSig) {
		t.Fatal("a lower signature with a higher seq lost")
	}
}

func TestParseRecordErrors(t *testing.T) {
	good, _ := json.Marshal(sign(t, privA, "x", addr1, 1, 0))
	for _, s := range []string{
		"",
		"null",
		"[]",
		"{}",
		string(good) + "{}",
		string(good) + " x",
		strings.Replace(string(good), `"seq"`, `"extra":1,"seq"`, 1),
		strings.Replace(string(good), `"seq":1`, `"seq":-1`, 1),
		strings.Replace(string(good), `"seq":1`, `"seq":"1"`, 1),
		strings.Replace(string(good), `"sig":"`, `"sig":"!`, 1),
		`{"name":"` + strings.Repeat("a", 5000) + `"}`,
	} {
		if _, err := ParseRecord([]byte(s)); !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "names: ") {
			t.Errorf("ParseRecord(%.80q) = %v", s, err)
		}
	}
	if _, err := ParseRecord(append(good, "\n"...)); err != nil {
		t.Errorf("trailing newline: %v", err)
	}
}
