package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// referenceDecodeTOML is the decoding DecodeTOML replaced: go-toml's
// Unmarshal (quadratic in keys, but the reference for TOML's rules) and a
// walk to the ABI's JSON tree. FuzzDecodeTOML holds the two equal.
func referenceDecodeTOML(b []byte) (map[string]any, error) {
	var raw map[string]any
	if err := toml.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	v, err := referenceFromTOML(raw, 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

func referenceFromTOML(v any, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, errTooDeep
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := referenceFromTOML(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := referenceFromTOML(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case string, bool, int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errors.New("NaN or infinity")
		}
		return x, nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case toml.LocalDate:
		return x.String(), nil
	case toml.LocalTime:
		return x.String(), nil
	case toml.LocalDateTime:
		return x.String(), nil
	}
	return nil, fmt.Errorf("unsupported %T", v)
}

// tomlCorners are documents on TOML's rules of (re)definition, valid and
// not: seeds for FuzzDecodeTOML, and each checked against the reference.
var tomlCorners = []string{
	"a = 1\na = 2",
	"[a]\n[a]",
	"[a.b]\n[a]\nx = 1",
	"[a]\nb.c = 1\n[a.b]",
	"[a]\nb.c = 1\n[a.b.d]\nx = 1",
	"[a.b.c]\nz = 9\n[a]\nb.c.t = 1",
	"[a.b.c]\n[a]\nb.x = 1",
	"a.b = 1\na.c = 2\n[a.d]",
	"a = {b = 1}\n[a.c]",
	"a = {b = 1}\na.c = 2",
	"a = {b.c = 1, b.d = 2}",
	"a = {b.c = 1, b = 2}",
	"a = [1, 2]\n[[a]]",
	"[[a]]\nx = 1\n[[a]]\nx = 2\n[a.b]\ny = 3\n[[a.c]]\n[[a.c]]",
	"[[a]]\n[a]",
	"[a]\n[[a]]",
	"[[a.b]]\n[a]\nc = 1",
	"[[a]]\n[[a.b]]\n[a.b.c]\n[[a]]\n[a.b]",
	"x = [{a = 1}, {a = 2, b = [{c = 3}]}]",
	"n = 0x_1\nm = 0o17\nb = 0b101\nd = +1_000\ne = -0\nmax = 9223372036854775807\nmin = -9223372036854775808",
	"big = 9223372036854775808",
	"h = 0x8000000000000000",
	"f = [1.5, -0.0, 1e300, 6.02_2e23, +inf, nan]",
	"f = 1e400",
	"d = [1979-05-27, 07:32:00, 07:32, 1979-05-27T07:32:00.999999, 1979-05-27 07:32:00Z, 1979-05-27t07:32:00.5+07:00, 1979-05-27T07:32:00-00:00, 1979-05-27T07:32Z]",
	"d = 1979-02-30",
	"d = 1979-05-27T07:32:00+24:00",
	"s = \"a\\tb\\u00e9\\U0001F980\"\nl = 'c:\\x'\nm = \"\"\"\nx\\\n  y\"\"\"\n'k.x' = 1\n\"\" = 2",
	"a.\"b.c\".d = 1\na.'b.c'.e = 2",
	"[ a . b ]\nc = 1",
	"a = 1 # comment\n# x\r\nb = 2\r\n",
	"\xef\xbb\xbfa = 1",
	"a = \"\x00\"",
	"a = [1,]\nb = [\n1,\n2,\n]",
	"a = {}\nb = {c = {}}",
	"[meta]\ntld = \"map\"\n[payload]\nsize = 3",
}

func TestDecodeTOMLMatchesReference(t *testing.T) {
	for _, doc := range tomlCorners {
		checkAgainstReference(t, []byte(doc))
	}
	b, err := os.ReadFile("testdata/map.toml")
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstReference(t, b)
}

// checkAgainstReference: both accept b and agree on the tree, or both
// refuse it (DecodeTOML with an *Error).
func checkAgainstReference(t *testing.T, b []byte) {
	t.Helper()
	got, err := DecodeTOML(b)
	want, rerr := referenceDecodeTOML(b)
	if err != nil {
		var me *Error
		if !errors.As(err, &me) || !errors.Is(err, ErrInvalid) {
			t.Fatalf("%q: error %v is not a manifest.Error", b, err)
		}
		if errors.Is(err, ErrTooLarge) {
			return // a limit go-toml does not have
		}
		if rerr == nil {
			t.Fatalf("%q: refused (%v), but go-toml decodes it to %v", b, err, want)
		}
		return
	}
	if rerr != nil {
		t.Fatalf("%q: decoded to %v, but go-toml refuses it: %v", b, got, rerr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
	// What the gateway hands the index decodes to the same tree.
	tree, err := MarshalTree(got)
	if err != nil {
		t.Fatalf("%q: MarshalTree: %v", b, err)
	}
	if len(tree) > MaxSize {
		return
	}
	back, err := DecodeJSON(tree)
	if err != nil || !reflect.DeepEqual(back, got) {
		t.Fatalf("%q: MarshalTree %s decodes to %#v (%v), want %#v", b, tree, back, err, got)
	}
}

func FuzzDecodeTOML(f *testing.F) {
	for _, doc := range tomlCorners {
		f.Add([]byte(doc))
	}
	b, _ := os.ReadFile("testdata/map.toml")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			return // the reference is quadratic
		}
		checkAgainstReference(t, b)
	})
}

// manyKeys is a manifest of about size bytes that is nearly all keys: short
// key/values spread over tables, the shape that was quadratic.
func manyKeys(size int) []byte {
	var b bytes.Buffer
	b.WriteString("[meta]\ntld = \"map\"\n[payload]\ncid = \"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"\nsize = 0\n")
	for i := 0; b.Len() < size-64; i++ {
		if i%256 == 0 {
			fmt.Fprintf(&b, "[map.t%d]\n", i/256)
		}
		fmt.Fprintf(&b, "k%d = %d\n", i, i)
	}
	return b.Bytes()
}

// TestDecodeTOMLIsLinear: the 239 KB many-keys manifest (about 15,000
// keys) decodes in work proportional to its size: the decoder's step
// counter (one per parsed node and per map lookup) for it is within 10% of
// twice that for half of it, and so are the allocations. go-toml's
// Unmarshal compared each key with every earlier one: 15,000 keys cost
// about 10^8 comparisons.
func TestDecodeTOMLIsLinear(t *testing.T) {
	big, half := manyKeys(239<<10), manyKeys(239<<10/2)
	work := func(b []byte) int {
		var d decoder
		if _, err := d.decodeTOML(b); err != nil {
			t.Fatal(err)
		}
		return d.work
	}
	wb, wh := work(big), work(half)
	if r := float64(wb) / float64(wh); r < 1.8 || r > 2.2 {
		t.Fatalf("work %d for %d bytes, %d for %d: ratio %.2f, want about 2", wb, len(big), wh, len(half), r)
	}
	if wb > 16*len(big) {
		t.Fatalf("%d steps for %d bytes", wb, len(big))
	}
	ab := testing.AllocsPerRun(3, func() { DecodeTOML(big) })
	ah := testing.AllocsPerRun(3, func() { DecodeTOML(half) })
	if r := ab / ah; r < 1.8 || r > 2.2 {
		t.Fatalf("allocations %v against %v: ratio %.2f, want about 2", ab, ah, r)
	}
	m, err := ParseTOML(big)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Doc()["map"].(map[string]any)); n < 50 {
		t.Fatalf("the many-keys manifest has %d tables", n)
	}
	t.Logf("%d bytes: %d steps, %.0f allocations", len(big), wb, ab)
}

// TestDecodeLimits: more than MaxKeys keys or MaxDepth levels, in TOML or
// JSON, is refused with ErrTooLarge (413), as is a manifest over MaxSize.
func TestDecodeLimits(t *testing.T) {
	var keys bytes.Buffer
	for i := range MaxKeys + 1 {
		fmt.Fprintf(&keys, "k%d=1\n", i)
	}
	deepTOML := "x = " + strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)
	deepTables := "[" + strings.TrimSuffix(strings.Repeat("a.", MaxDepth+2), ".") + "]"
	var jkeys bytes.Buffer
	jkeys.WriteString("{")
	for i := range MaxKeys + 1 {
		if i > 0 {
			jkeys.WriteString(",")
		}
		fmt.Fprintf(&jkeys, "\"k%d\":1", i)
	}
	jkeys.WriteString("}")
	for name, f := range map[string]func() error{
		"toml keys":   func() error { _, err := DecodeTOML(keys.Bytes()); return err },
		"toml depth":  func() error { _, err := DecodeTOML([]byte(deepTOML)); return err },
		"toml tables": func() error { _, err := DecodeTOML([]byte(deepTables)); return err },
		"toml size":   func() error { _, err := DecodeTOML(make([]byte, MaxSize+1)); return err },
		"json keys":   func() error { _, err := DecodeJSON(jkeys.Bytes()); return err },
	} {
		if err := f(); !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		}
	}
	if _, err := DecodeTOML(manyKeys(MaxSize)); err != nil {
		t.Fatalf("a manifest of MaxSize bytes of keys: %v", err)
	}
}

// BenchmarkDecodeTOML reports the decode of the 239 KB many-keys manifest
// as a ratio to reading its bytes once (a pass over every byte) and to
// go-toml's Unmarshal of the same bytes, medians of runs in the same
// process, one after another so that machine noise hits them alike.
func BenchmarkDecodeTOML(b *testing.B) {
	doc := manyKeys(239 << 10)
	var sink int
	read := func() {
		n := 0
		for _, c := range doc {
			n += int(c)
		}
		sink += n
	}
	ours := func() {
		if _, err := DecodeTOML(doc); err != nil {
			b.Fatal(err)
		}
	}
	gotoml := func() {
		var m map[string]any
		if err := toml.Unmarshal(doc, &m); err != nil {
			b.Fatal(err)
		}
	}
	const runs = 9
	var tr, to, tg []time.Duration
	for b.Loop() {
		for range runs {
			for _, m := range []struct {
				f  func()
				ds *[]time.Duration
			}{{read, &tr}, {ours, &to}, {gotoml, &tg}} {
				start := time.Now()
				m.f()
				*m.ds = append(*m.ds, time.Since(start))
			}
		}
	}
	_ = sink
	med := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2])
	}
	r, o, g := med(tr), med(to), med(tg)
	b.ReportMetric(float64(len(doc))/o*1e3, "MB/s")
	b.ReportMetric(o/r, "x_read")
	b.ReportMetric(g/o, "gotoml/ours")
}
