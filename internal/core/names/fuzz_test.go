package names

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzParseRecord: ParseRecord never panics, refuses with ErrMalformed,
// and what it accepts survives a JSON round trip and verifies or fails with
// a sentinel.
func FuzzParseRecord(f *testing.F) {
	for _, r := range []Record{
		sign(f, privA, "x", addr1, 1, 0),
		sign(f, privB, "cycling-club", addr2, 1<<63, now.Unix()),
	} {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte(`{"name":"a.b","address":"crab://x.map","seq":1,"expires":0,"sig":""}`))
	f.Add([]byte(`{"name":null}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(strings.Repeat("{", 100)))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseRecord: %v is not ErrMalformed", err)
			}
			return
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseRecord(again)
		if err != nil || !reflect.DeepEqual(p, r) {
			t.Fatalf("round trip: %+v -> %+v (%v)", r, p, err)
		}
		if err := r.Verify(time.Unix(0, 0)); err != nil && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrExpired) {
			t.Fatalf("Verify: %v", err)
		}
	})
}
