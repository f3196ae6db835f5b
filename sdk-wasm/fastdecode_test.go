package ron

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// decodeFast agrees with encoding/json whenever it answers, and declines
// everything that is not in the plain form.
func TestDecodeFastMatchesEncodingJSON(t *testing.T) {
	fixed := []struct {
		raw  string
		want bool // decodeFast answers
	}{
		{`{"requests":1,"bytes":2,"servers":[{"node":"n","payout":"p","requests":3,"bytes":4}]}`, true},
		{`{"servers":[]}`, true},
		{` {"x":[1,{"y":null}],"requests":18446744073709551615} `, true},
		{`{"node":"a\"b\u00e9"}`, true},
		{`{"servers":null}`, false},
		{`{"Requests":1}`, false},
		{`{"requests":18446744073709551616}`, false},
		{`{"requests":-1}`, false},
		{`{"requests":1.0}`, false},
		{`{"requests":1e2}`, false},
		{`{"requests":"1"}`, false},
		{`{"servers":[1]}`, false},
		{`{"servers":[{"NODE":"x"}]}`, false},
		{`[]`, false},
		{`null`, false},
		// The member loops written out: empty and unknown members,
		// truncation and broken punctuation at every step.
		{`{"servers":[{},{"zone":{"a":[1,2]},"node":"n"}]}`, true},
		{`{}`, true},
		{`{"servers":[{"node":"a"`, false},
		{`{"servers":[{"node":"a"}`, false},
		{`{"servers":[{"node":"a"},`, false},
		{`{"servers":[{"node" "a"}]}`, false},
		{`{"servers":[{"node":"a",}]}`, false},
		{`{"servers":[{"node":"a"]}`, false},
		{`{"servers":[{"node":"a"}}`, false},
		{`{"requests":1 "bytes":2}`, false},
		{`{"requests":1,`, false},
		{`{"requests":1`, false},
		{`{"requests"`, false},
		{`{"servers":[{"node":"a` + "\x01" + `"}]}`, false},
		{`{"servers":[{"Payout":"p"}]}`, false},
	}
	check := func(raw string, target func() any) (answered bool) {
		t.Helper()
		fast, std := target(), target()
		if !decodeFast([]byte(raw), fast) {
			return false
		}
		if err := json.Unmarshal([]byte(raw), std); err != nil {
			t.Fatalf("%s: decodeFast answered, encoding/json: %v", raw, err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%s: decodeFast %+v, encoding/json %+v", raw, fast, std)
		}
		return true
	}
	usage := func() any { return &Usage{} }
	for _, c := range fixed {
		if got := check(c.raw, usage); got != c.want {
			t.Errorf("%s: answered %v, want %v", c.raw, got, c.want)
		}
	}
	for _, c := range []struct {
		raw    string
		target func() any
		want   bool
	}{
		{`{"tld":"notes","payload_size":12}`, func() any { return &Context{} }, true},
		{`{"tld":"notes","payload_size":null}`, func() any { return &Context{} }, false},
		{`"2026-11"`, func() any { return new(string) }, true},
		{`7`, func() any { return new(uint64) }, true},
		{`null`, func() any { return new(uint64) }, false},
		{`1`, func() any { return new(int) }, false},
	} {
		if got := check(c.raw, c.target); got != c.want {
			t.Errorf("%s: answered %v, want %v", c.raw, got, c.want)
		}
	}
	// Generated usages: random members, keys, cases, spaces and values.
	r := rand.New(rand.NewPCG(17, 1))
	keys := []string{"requests", "bytes", "servers", "node", "payout", "Bytes", "other"}
	var value func(depth int) string
	value = func(depth int) string {
		switch r.IntN(8) {
		case 0:
			return strconv.FormatUint(r.Uint64()>>r.IntN(64), 10)
		case 1:
			return `"s` + strconv.Itoa(r.IntN(9)) + `\n"`
		case 2:
			return "null"
		case 3:
			return "-" + strconv.Itoa(r.IntN(9))
		case 4, 5:
			if depth > 2 {
				return "1"
			}
			var b strings.Builder
			b.WriteString("[")
			for j := range r.IntN(4) {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(genObject(r, depth+1, keys, value))
			}
			return b.String() + "]"
		}
		if depth > 2 {
			return "2"
		}
		return genObject(r, depth+1, keys, value)
	}
	answered := 0
	for range 4000 {
		raw := genObject(r, 0, keys, value)
		if check(raw, usage) {
			answered++
		}
	}
	if answered < 50 {
		t.Fatalf("decodeFast answered only %d of 4000 generated usages", answered)
	}
}

// genObject is a JSON object with distinct keys drawn from keys.
func genObject(r *rand.Rand, depth int, keys []string, value func(int) string) string {
	var b strings.Builder
	b.WriteString("{")
	n := 0
	for _, k := range keys {
		if r.IntN(2) == 0 {
			continue
		}
		if n > 0 {
			b.WriteString(",")
		}
		n++
		b.WriteString(strconv.Quote(k) + ":" + value(depth))
	}
	return b.String() + "}"
}
