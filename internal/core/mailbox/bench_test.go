package mailbox

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// BenchmarkSealOpen1KiB seals and opens a 1 KiB message (X25519 twice,
// HKDF, ed25519 sign and verify, ChaCha20-Poly1305 both ways, JSON) and
// reports its cost as a ratio to raw ChaCha20-Poly1305 seal+open of the
// same bytes measured in the same run.
func BenchmarkSealOpen1KiB(b *testing.B) {
	alice, _ := NewIdentity(bytes.Repeat([]byte{1}, 32))
	bob, _ := NewIdentity(bytes.Repeat([]byte{2}, 32))
	aaddr, _ := alice.Address("alice.onion:80")
	body := bytes.Repeat([]byte("x"), 1024)
	now := time.Now()

	aead, _ := chacha20poly1305.New(make([]byte, 32))
	nonce := make([]byte, 12)
	raw := func(n int) time.Duration {
		start := time.Now()
		for range n {
			ct := aead.Seal(nil, nonce, body, nil)
			if _, err := aead.Open(nil, nonce, ct, nil); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	rawN := 20000
	rawD := raw(rawN)

	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		env, err := alice.Seal("00112233445566778899aabbccddeeff", aaddr, bob.Keys(), now, now.Add(time.Hour), "text/plain", body)
		if err != nil {
			b.Fatal(err)
		}
		e2, err := ParseEnvelope(env.Marshal(), 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bob.Open(e2); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	per := b.Elapsed() / time.Duration(b.N)
	rawPer := rawD / time.Duration(rawN)
	b.ReportMetric(float64(rawPer.Nanoseconds()), "raw-aead-ns/op")
	b.ReportMetric(float64(per)/float64(rawPer), "x-raw-aead")
}
