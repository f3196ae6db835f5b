package ron

import (
	"bytes"
	"strings"
	"testing"
)

func TestManifestTable(t *testing.T) {
	m := MustManifest(`{"meta":{"tld":"map","created":"2026-01-01T00:00:00Z","extra":true},"payload":{"cid":"b3:00","size":9,"media_type":"text/plain"},"map":{"zoom":3,"name":"x"}}`)
	meta, err := m.Meta()
	if err != nil || meta.TLD != "map" || meta.Created != "2026-01-01T00:00:00Z" {
		t.Fatalf("meta %+v %v", meta, err)
	}
	pl, err := m.Payload()
	if err != nil || pl.Size != 9 || pl.CID != "b3:00" || pl.MediaType != "text/plain" {
		t.Fatalf("payload %+v %v", pl, err)
	}
	type mapTable struct {
		Zoom uint8  `json:"zoom"`
		Name string `json:"name"`
	}
	var v mapTable
	if err := m.Table("map", &v); err != nil || v.Zoom != 3 {
		t.Fatalf("%+v %v", v, err)
	}
	cases := map[string]FieldError{
		`{"map":{"zoom":3,"nmae":"x"}}`: {Path: "map.nmae", Code: CodeUnknown},
		`{"map":{"zoom":-1}}`:           {Path: "map.zoom", Code: CodeType},
		`{"map":{"zoom":1.5}}`:          {Path: "map.zoom", Code: CodeType},
		`{"map":{"zoom":300}}`:          {Path: "map.zoom", Code: CodeType},
		`{"map":"x"}`:                   {Path: "map", Code: CodeType},
		`{"other":{}}`:                  {Path: "map", Code: CodeRequired},
	}
	for in, want := range cases {
		err := MustManifest(in).Table("map", &mapTable{})
		r, ok := AsRejection(err)
		if !ok || len(r.Errors) != 1 || r.Errors[0].Path != want.Path || r.Errors[0].Code != want.Code {
			t.Errorf("%s: got %v, want %s %s", in, err, want.Path, want.Code)
		}
	}
}

func TestManifestSetAndCanonical(t *testing.T) {
	m := MustManifest(`{"z":{"b":1,"a":[{"y":"\u2028","x":"é<>&\u0001"}]},"meta":{"tld":"t"},"n":12345678901234567890}`)
	if err := m.Set("meta", 1); err == nil {
		t.Fatal("setting meta must fail")
	}
	if err := m.Set("t", struct {
		B int      `json:"b"`
		A []string `json:"a"`
	}{2, []string{"<"}}); err != nil {
		t.Fatal(err)
	}
	got, err := marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"meta":{"tld":"t"},"n":12345678901234567890,"t":{"a":["<"],"b":2},"z":{"a":[{"x":"é<>&\u0001","y":"\u2028"}],"b":1}}`
	if string(got) != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	// Canonical form is a fixed point.
	again, _ := MustManifest(string(got)).MarshalJSON()
	if !bytes.Equal(got, again) {
		t.Fatalf("not a fixed point:\n%s\n%s", got, again)
	}
	c := m.Clone()
	c.Delete("z")
	c.Delete("meta")
	if !m.Has("z") || c.Has("z") || !c.Has("meta") {
		t.Fatal("Clone/Delete")
	}
	if strings.Join(c.Names(), ",") != "meta,n,t" {
		t.Fatalf("names %v", c.Names())
	}
	if _, err := ParseManifest([]byte(`[1]`)); err == nil {
		t.Fatal("an array is not a manifest")
	}
}

// TestAppendStringMatchesEncodingJSON compares the canonical string encoder
// with encoding/json (HTML escaping off) on awkward strings.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r < 0x300; r++ {
		all.WriteRune(r)
	}
	for _, s := range []string{"", "plain", "\"\\/\b\f\n\r\t", "\u2028\u2029", "\xff\xfe", "a\x00b", "日本語", "\U0001F980", all.String()} {
		want, err := marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func TestServePayload(t *testing.T) {
	m := MustManifest(`{"meta":{"tld":"x"},"payload":{"cid":"b3:00","size":9,"media_type":"text/plain"}}`)
	bare := MustManifest(`{"meta":{"tld":"x"}}`)
	for _, c := range []struct {
		m    *Manifest
		path string
		want ResolveOutput
	}{
		{m, "/", Serve("text/plain", 0, 9)},
		{m, "", Serve("text/plain", 0, 9)},
		{m, "/a", NotFound()},
		{m, "//", NotFound()},
		{bare, "/", Serve("application/octet-stream", 0, 9)},
	} {
		if got := ServePayload(ResolveInput{Manifest: c.m, Path: c.path, PayloadSize: 9}); got != c.want {
			t.Errorf("%q: %+v, want %+v", c.path, got, c.want)
		}
	}
}

// Tables stay sorted by name whatever order the input had, and a clone is
// independent of its original: Set and Delete on one never show in the
// other.
func TestManifestTablesOrderAndClone(t *testing.T) {
	m := MustManifest(`{"zeta":1,"meta":{"tld":"x"},"alpha":{"b":2,"a":1},"payload":{}}`)
	if got := strings.Join(m.Names(), ","); got != "alpha,meta,payload,zeta" {
		t.Fatalf("names %s", got)
	}
	c := m.Clone()
	if err := c.Set("beta", map[string]int{"x": 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("alpha", 7); err != nil {
		t.Fatal(err)
	}
	c.Delete("zeta")
	if got, want := m.String(), `{"alpha":{"a":1,"b":2},"meta":{"tld":"x"},"payload":{},"zeta":1}`; got != want {
		t.Errorf("original %s, want %s", got, want)
	}
	if got, want := c.String(), `{"alpha":7,"beta":{"x":1},"meta":{"tld":"x"},"payload":{}}`; got != want {
		t.Errorf("clone %s, want %s", got, want)
	}
	if !c.Has("beta") || c.Has("zeta") || m.Has("beta") || string(m.Raw("zeta")) != "1" || c.Raw("nope") != nil {
		t.Error("Has or Raw disagree with the tables")
	}
	var e Manifest // the zero value works too
	if err := e.Set("b", 1); err != nil || e.Set("a", 2) != nil || e.String() != `{"a":2,"b":1}` {
		t.Errorf("zero manifest: %s %v", e.String(), err)
	}
}
