package ron

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

type decInner struct {
	Name  string          `json:"name"`
	Share uint64          `json:"share"`
	Small int8            `json:"small,omitempty"`
	Raw   json.RawMessage `json:"raw"`
	//lint:ignore U1000 an unexported field: the decoder must leave it alone, as encoding/json does
	hidden int
}

type decTable struct {
	Title   string              `json:"title"`
	Authors []decInner          `json:"authors"`
	Tags    []string            `json:"tags,omitempty"`
	Price   uint64              `json:"price"`
	Ratio   float32             `json:"ratio"`
	BPS     *uint64             `json:"operator_bps,omitempty"`
	Any     any                 `json:"any"`
	Map     map[string]decInner `json:"map"`
	Skip    string              `json:"-"`
	Plain   bool
	Ptr     *decInner `json:"ptr"`
	Neg     int       `json:"neg"`
}

// genValue draws a JSON value; keys come from the fields above, their
// case-folded spellings and unknown names, so every decoding path is taken.
func genValue(r *rand.Rand, depth int) string {
	keys := []string{"title", "authors", "tags", "price", "ratio", "operator_bps", "any", "map", "Skip", "-", "Plain", "plain",
		"ptr", "neg", "name", "share", "small", "raw", "hidden", "TITLE", "zz", "Name"}
	if depth > 3 {
		depth = 3
	}
	switch k := r.IntN(12); {
	case k < 3 && depth < 3:
		var b strings.Builder
		b.WriteString("{")
		seen := map[string]bool{}
		for i := range r.IntN(5) {
			key := keys[r.IntN(len(keys))]
			if seen[key] {
				continue
			}
			seen[key] = true
			if i > 0 && b.Len() > 1 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %s", key, genValue(r, depth+1))
		}
		b.WriteString("}")
		return b.String()
	case k < 5 && depth < 3:
		var parts []string
		for range r.IntN(4) {
			parts = append(parts, genValue(r, depth+1))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case k < 7:
		return []string{`"x"`, `""`, `"a\"b\\c\n\u00e9\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`, `"é"`, `"\/"`}[r.IntN(7)]
	case k < 10:
		return []string{"0", "1", "-1", "127", "128", "-129", "1.5", "1e3", "18446744073709551615", "18446744073709551616", "3.4e39", "-0", "9007199254740993"}[r.IntN(13)]
	default:
		return []string{"true", "false", "null"}[r.IntN(3)]
	}
}

// unmarshal gives what encoding/json gives: the same value, or the same
// first error as a field error, on thousands of generated documents.
func TestUnmarshalMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	docs := []string{
		`{"title":"T","authors":[{"name":"Ada","share":6000,"raw":{"b":1, "a":[2]}},{"name":"G","share":4000}],"tags":["a"],"price":1200,"operator_bps":20}`,
		`{"authors":[{"share":-1}]}`, `{"authors":[{"zz":1}]}`, `{"map":{"k":{"share":"x"}}}`, `{"ptr":null,"any":{"a":[1,"x",null,true]}}`,
	}
	for range 4000 {
		docs = append(docs, genValue(r, 0))
	}
	for _, doc := range docs {
		for _, strict := range []bool{false, true} {
			var got, want decTable
			gotErr := unmarshal([]byte(doc), &got, strict)
			wantErr := stdUnmarshal([]byte(doc), &want, strict)
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("%s (strict %v): error %v, encoding/json %v", doc, strict, gotErr, wantErr)
			}
			if gotErr != nil {
				if g, w := decodeError("t", gotErr), decodeError("t", wantErr); g != w {
					t.Fatalf("%s (strict %v):\n got %+v\nwant %+v", doc, strict, g, w)
				}
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s (strict %v):\n got %+v\nwant %+v", doc, strict, got, want)
			}
		}
		// Other targets: an interface, a map, a slice, a string.
		for _, mk := range []func() any{func() any { return new(any) }, func() any { return new(map[string]any) },
			func() any { return new([]any) }, func() any { return new(string) }, func() any { return new(*uint16) }} {
			got, want := mk(), mk()
			gotErr := unmarshal([]byte(doc), got, true)
			wantErr := stdUnmarshal([]byte(doc), want, true)
			if (gotErr == nil) != (wantErr == nil) || gotErr == nil && !reflect.DeepEqual(got, want) ||
				gotErr != nil && decodeError("", gotErr) != decodeError("", wantErr) {
				t.Fatalf("%s into %T: %v %v, encoding/json %v %v", doc, got, got, gotErr, want, wantErr)
			}
		}
	}
}

// Types the walk does not handle go to encoding/json, with its results.
func TestUnmarshalFallsBack(t *testing.T) {
	type withNumber struct {
		N json.Number `json:"n"`
	}
	var n withNumber
	if err := unmarshal([]byte(`{"n":12.50}`), &n, true); err != nil || n.N != "12.50" {
		t.Fatalf("%v %v", n, err)
	}
	var m Manifest
	if err := unmarshal([]byte(`{"meta":{"tld":"t"}}`), &m, true); err != nil || !m.Has("meta") {
		t.Fatalf("%v %v", m.String(), err)
	}
	var b []byte
	if err := unmarshal([]byte(`"aGk="`), &b, true); err != nil || string(b) != "hi" {
		t.Fatalf("%q %v", b, err)
	}
	if err := unmarshal([]byte(`{"title":"x"} {}`), new(decTable), true); err == nil {
		t.Fatal("trailing data accepted")
	}
}

// appendCanonicalValue writes what encoding/json's output canonicalized is,
// on the values the generated documents decode to.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 0
	for range 4000 {
		doc := genValue(r, 0)
		var tab decTable
		if stdUnmarshal([]byte(doc), &tab, false) != nil {
			continue
		}
		var generic any
		_ = json.Unmarshal([]byte(doc), &generic)
		for _, v := range []any{tab, &tab, generic, map[string]any{"k": generic, "a": []any{generic}}} {
			n++
			std, err := marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			want, err := appendCanonical(nil, std)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendCanonicalValue(nil, v)
			if err != nil || string(got) != string(want) {
				t.Fatalf("%s as %T:\n got %s %v\nwant %s", doc, v, got, err, want)
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d values", n)
	}
	// Values an interface holds in its data word (pointer-shaped), or
	// behind a pointer, and a recursive type.
	one := uint64(7)
	type direct struct {
		P *uint64 `json:"p"`
	}
	type tree struct {
		Name string  `json:"name"`
		Kids []tree  `json:"kids,omitempty"`
		Up   *tree   `json:"up"`
		N    *uint64 `json:"n,omitempty"`
	}
	for _, v := range []any{direct{&one}, direct{}, &direct{&one}, map[string]int{"b": 1, "a": 2}, []string{"x"}, []string(nil),
		tree{Name: "r", Kids: []tree{{Name: "k", N: &one}, {Up: &tree{Name: "u"}}}}, &tree{}} {
		std, _ := marshal(v)
		want, _ := appendCanonical(nil, std)
		if got, err := appendCanonicalValue(nil, v); err != nil || string(got) != string(want) {
			t.Fatalf("%#v:\n got %s %v\nwant %s", v, got, err, want)
		}
	}
	// A recursive type decodes as encoding/json decodes it.
	doc := `{"name":"r","kids":[{"name":"k","n":3,"kids":[]},{"up":{"name":"u","up":null}}],"n":1}`
	var got, want tree
	if err := unmarshal([]byte(doc), &got, true); err != nil || stdUnmarshal([]byte(doc), &want, true) != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%+v %v, want %+v", got, err, want)
	}
	// Negative zero is empty for omitempty, as in encoding/json.
	type f struct {
		X float64 `json:"x,omitempty"`
	}
	if got, _ := appendCanonicalValue(nil, f{X: math.Copysign(0, -1)}); string(got) != "{}" {
		t.Fatalf("%s", got)
	}
}
