package ron

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"
)

var scanSeeds = []string{
	`{}`, `{"a":1}`, ` { "a" : [ 1 , 2.5e-3 , -0 , true , false , null , "x" ] } `,
	`{"a":"\u00e9\n\"\\\/\b\f\r\t\u2028"}`, `{"é":"日本","\u0041":1}`, `{"a":{"b":{"c":[]}}}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":+1}`, `{"a":tru}`, `{"a":nul}`,
	`{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"` + "\x01" + `"}`, "{\"a\":\"\xff\"}", "{\"\xc3\":1}",
	`{"a":1,}`, `{"a" 1}`, `{,}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":1}}`, `{"a":1} x`, `[1]`, `"s"`, ``,
	`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a":"\ud800"}`, `{"b":2,"a":{"d":1,"c":[{"z":0,"y":1}]}}`,
	`{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
	`{"t":{"b":1,"a":2,"b":3}}`, `{"t":{"b":1,"a":{"x":1,"x":2}}}`, `{"t":[{"c":1,"a":[1,{"q":0}],"b":2,"a":3}]}`,
	`{"t":{"a":1,"b":2,"c":{"z":1,"y":2,"x":[true,false,null]}}}`, `{"t":{ "a" :1}}`, `{"t":{"\u0061":1,"a":2}}`,
}

// FuzzScanner checks the scanner against encoding/json: it accepts exactly
// the valid JSON objects (apart from its own stricter rules: duplicate keys
// and nesting depth), and canonical output decodes to the same value and is
// a fixed point.
func FuzzScanner(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		members, fe := parseObject(b, 0)
		valid := json.Valid(b) && utf8.Valid(b) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{"))
		if fe != nil {
			if valid && fe.Code != CodeDuplicate && fe.Code != CodeTooLarge {
				t.Fatalf("rejected valid %q: %v", b, fe)
			}
			if valid && fe.Code == CodeDuplicate && !hasDuplicateKeys(b) {
				t.Fatalf("%q has no duplicate keys: %v", b, fe)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted invalid %q", b)
		}
		if hasDuplicateKeys(b) {
			t.Fatalf("accepted duplicate keys in %q", b)
		}
		var want map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if len(members) != len(want) {
			t.Fatalf("%q: %d members, want %d", b, len(members), len(want))
		}
		for _, m := range members {
			if !m.canon {
				continue
			}
			if c, err := appendCanonical(nil, m.raw); err != nil || !bytes.Equal(c, m.raw) {
				t.Fatalf("member %q flagged canonical but is not: %q -> %q", m.key, m.raw, c)
			}
		}
		// Split as a nested manifest in one pass, the members are the same.
		wrapped := append(append([]byte(`{"manifest":`), b...), '}')
		outer, fe := parseObjectNested(wrapped, 0, "manifest", false)
		if fe != nil && fe.Code != CodeTooLarge {
			t.Fatalf("wrapped %q: %v", b, fe)
		}
		if fe == nil && !reflect.DeepEqual(outer[0].sub, members) && !(len(members) == 0 && len(outer[0].sub) == 0) {
			t.Fatalf("nested members differ:\n%+v\n%+v", outer[0].sub, members)
		}
		c, err := appendCanonical(nil, b)
		if err != nil {
			t.Fatalf("canonical %q: %v", b, err)
		}
		var got map[string]any
		dec = json.NewDecoder(bytes.NewReader(c))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("canonical %q -> %q changes the value (%v)", b, c, err)
		}
		again, err := appendCanonical(nil, c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("canonical is not a fixed point: %q -> %q", c, again)
		}
	})
}

func TestCanonicalSortsAndEscapes(t *testing.T) {
	got, err := appendCanonical(nil, []byte(` {"b":2,"a":{"d":"\u00e9\/","c":[{"z":0,"y":"<\u2028>"}]}} `))
	want := `{"a":{"c":[{"y":"<\u2028>","z":0}],"d":"é/"},"b":2}`
	if err != nil || string(got) != want {
		t.Fatalf("got %s %v\nwant %s", got, err, want)
	}
}

func TestScannerMessages(t *testing.T) {
	cases := map[string]string{
		"{\"a\":\"\xff\"}":       "invalid UTF-8",
		`{"a":1,"a":2}`:          `duplicate key "a"`,
		`{"a":1`:                 "unexpected end of input",
		`{"a":[` + "\x00":        "unexpected byte 0x00",
		`{"a":` + deep(MaxDepth): "deeper than 64",
		`{"` + strings.Repeat("k", MaxKeyBytes+1) + `":1}`: "keys are at most 1024 bytes",
	}
	for in, want := range cases {
		_, fe := parseObject([]byte(in), 0)
		if fe == nil || !strings.Contains(fe.Message, want) {
			t.Errorf("%q: got %v, want %q", in, fe, want)
		}
	}
}

func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func TestPlainASCII(t *testing.T) {
	ref := func(w []byte) bool {
		for _, c := range w {
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				return false
			}
		}
		return true
	}
	f := func(x uint64) bool {
		var w [8]byte
		for i := range w {
			w[i] = byte(x >> (8 * i))
		}
		return plainASCII(x) == ref(w[:])
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 200000}); err != nil {
		t.Fatal(err)
	}
	// Every single special byte in every position of a plain word.
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			if plainASCII(x) != ref(w) {
				t.Fatalf("byte 0x%02x at %d", c, pos)
			}
		}
	}
}

func TestCanonicalFlag(t *testing.T) {
	members, fe := parseObject([]byte(`{"a":{"x":1,"y":[1,"s"]},"b":{"y":1,"x":2},"c":"\u00e9","d":[1, 2],"e":"é"}`), 0)
	if fe != nil {
		t.Fatal(fe)
	}
	want := map[string]bool{"a": true, "b": false, "c": false, "d": false, "e": true}
	for _, m := range members {
		if m.canon != want[m.key] {
			t.Errorf("%s: canon %v", m.key, m.canon)
		}
	}
}

// hasDuplicateKeys walks valid JSON with encoding/json's tokenizer and
// reports whether any object repeats a key.
func hasDuplicateKeys(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type level struct {
		obj    bool
		keys   map[string]bool
		expect bool // the next string token in this object is a key
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && top.obj && top.expect
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &level{obj: v == '{', keys: map[string]bool{}, expect: true})
				continue
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].expect = true
				}
				continue
			}
		case string:
			if isKey {
				if top.keys[v] {
					return true
				}
				top.keys[v] = true
				top.expect = false
				continue
			}
		}
		if top != nil && top.obj {
			top.expect = true
		}
	}
}

// Names out of order are checked for duplicates by a list while they are
// few and a map once they are many, at the top level and nested.
func TestDuplicateKeysOutOfOrder(t *testing.T) {
	for _, n := range []int{2, 3, maxKeyList - 1, maxKeyList, maxKeyList + 1, 3 * maxKeyList} {
		var keys []string
		for i := n; i > 0; i-- { // descending: out of order from the second
			keys = append(keys, fmt.Sprintf(`"k%03d":%d`, i, i))
		}
		obj := "{" + strings.Join(keys, ",") + "}"
		for _, dup := range []int{0, 1, n / 2, n - 1} {
			bad := "{" + strings.Join(keys, ",") + fmt.Sprintf(`,"k%03d":0}`, n-dup)
			for _, doc := range []struct{ ok, bad string }{{obj, bad}, {`{"a":` + obj + `}`, `{"a":` + bad + `}`}, {`{"a":[` + obj + `]}`, `{"a":[` + bad + `]}`}} {
				if _, fe := parseObject([]byte(doc.ok), 0); fe != nil {
					t.Fatalf("n=%d: %s: %v", n, doc.ok, fe)
				}
				if _, fe := parseObject([]byte(doc.bad), 0); fe == nil || fe.Code != CodeDuplicate {
					t.Fatalf("n=%d dup %d: %s: %v", n, dup, doc.bad, fe)
				}
			}
		}
	}
}

// Names that come out of order only after many in order, names of nested
// objects between an object's own (they are not its names), and a name
// spelled with an escape: the duplicate check sees exactly the object's
// own names, decoded, in every case, at the top level, in a nested value
// and in a manifest split into tables.
func TestDuplicateKeysAfterOrderedRuns(t *testing.T) {
	for _, m := range []int{1, maxKeyList - 1, maxKeyList, maxKeyList + 1, 2 * maxKeyList} {
		var keys []string
		for i := 1; i <= m; i++ { // ascending: in order
			keys = append(keys, fmt.Sprintf(`"k%03d":{"k%03d":[{"a":1,"k%03d":2}]}`, i, m+1, m+2))
		}
		run := strings.Join(keys, ",")
		docs := []struct {
			obj string
			dup bool
		}{
			{"{" + run + `,"a":0}`, false},                             // out of order, new
			{"{" + run + `,"k001":0}`, true},                           // out of order, the first name again
			{"{" + run + fmt.Sprintf(`,"k%03d":0}`, m), true},          // the previous name again
			{"{" + run + fmt.Sprintf(`,"a":0,"k%03d":0}`, m+1), false}, // a nested object's name: not this object's
			{"{" + run + `,"a":0,"\u006b001":0}`, true},                // the first name, escaped
			{"{" + run + `,"a":0,"b":0,"a":1}`, true},                  // a duplicate among the names out of order
		}
		for _, d := range docs {
			for _, doc := range []string{d.obj, `{"a":` + d.obj + `}`, `{"a":[1,` + d.obj + `]}`, `{"manifest":` + d.obj + `}`} {
				members, fe := parseObjectNested([]byte(doc), 0, "manifest", true)
				switch {
				case d.dup && (fe == nil || fe.Code != CodeDuplicate):
					t.Fatalf("m=%d: %s: want a duplicate, got %v", m, doc, fe)
				case !d.dup && fe != nil:
					t.Fatalf("m=%d: %s: %v", m, doc, fe)
				case !d.dup && len(members) == 0:
					t.Fatalf("m=%d: %s: no members", m, doc)
				}
			}
		}
	}
}

func TestKeyAfter(t *testing.T) {
	names := []string{"", "a", "aa", "ab", "b", "ba", "\xff", "\x00", "A"}
	for _, k := range names {
		for _, p := range names {
			if keyAfter(k, p) != (k > p) {
				t.Errorf("keyAfter(%q, %q) = %v", k, p, !(k > p))
			}
		}
	}
}
