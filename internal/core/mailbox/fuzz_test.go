package mailbox

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParseEnvelope: ParseEnvelope never panics, accepts only the
// canonical form, and opening what it accepts never panics and never
// succeeds unless the envelope is the untouched original.
func FuzzParseEnvelope(f *testing.F) {
	alice, _ := NewIdentity(bytes.Repeat([]byte{1}, 32))
	bob, _ := NewIdentity(bytes.Repeat([]byte{2}, 32))
	aaddr, _ := alice.Address("alice.onion:80")
	now := time.Unix(1_800_000_000, 0)
	good, err := alice.Seal("00112233445566778899aabbccddeeff", aaddr, bob.Keys(), now, now.Add(time.Hour), "text/plain", []byte("hello"))
	if err != nil {
		f.Fatal(err)
	}
	gb := good.Marshal()
	f.Add(gb)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1,"id":"00","from":"","to":"","created":1,"expires":2,"epk":"","sealed":""}`))
	f.Add(bytes.Replace(gb, []byte(`"v":1`), []byte(`"V":1`), 1))
	f.Add(append(bytes.Clone(gb), ' '))
	f.Add(bytes.Replace(gb, []byte(`"created"`), []byte(`"created":1,"created"`), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := ParseEnvelope(b, 0)
		if err != nil {
			return
		}
		if !bytes.Equal(env.Marshal(), b) {
			t.Fatalf("accepted a non-canonical envelope %q", b)
		}
		if _, err := ParseAddress(env.From); err != nil {
			t.Fatal(err)
		}
		op, err := bob.Open(env)
		// (Workers seal their own gb, with another ephemeral key: compare
		// what the seal authenticates, not the bytes.)
		if err == nil && (string(op.Body) != "hello" || env.ID != good.ID || env.From != good.From || env.Created != good.Created || env.Expires != good.Expires) {
			t.Fatalf("opened a changed envelope %q", b)
		}
	})
}

func FuzzParseAddress(f *testing.F) {
	id, _ := NewIdentity(bytes.Repeat([]byte{3}, 32))
	a, _ := id.Address("127.0.0.1:80")
	f.Add(a.String())
	f.Add(id.Keys().String() + "@[::1]:443")
	f.Add("rmb1.@:")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		if a.String() != s {
			t.Fatalf("%q parses to %q", s, a.String())
		}
	})
}
