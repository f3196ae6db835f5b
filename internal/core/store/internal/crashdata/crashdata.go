package crashdata

import "math/rand/v2"

// Object returns n pseudo-random bytes, a function of seed only. Object i
// of a crashput run with seed S is Object(S*1_000_000+i, size).
func Object(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
