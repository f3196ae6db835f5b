package manifest

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/core/cid"
)

func TestParseTOMLGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/map.toml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseTOML(b)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"map":{"at":"12:00:00","bounds":[-180,-85.05,180,85.05],"day":"2025-08-25","local":"2025-08-25T12:00:00","maxzoom":14,"payout":{"bps":7000,"creator":"ron1abc"},"ratio":1.5,"whole":3},` +
		`"meta":{"created":"2025-08-25T12:34:56+02:00","tags":["tiles","osm"],"title":"World tiles <z0-14>","tld":"map"},` +
		`"payload":{"cid":"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262","media_type":"application/vnd.mapbox-vector-tile","size":0}}`
	if got := string(m.Canonical()); got != want {
		t.Fatalf("canonical:\n got %s\nwant %s", got, want)
	}
	if m.Meta.TLD != "map" || m.Payload.CID != cid.Sum(nil) || m.Payload.MediaType != "application/vnd.mapbox-vector-tile" || len(m.Meta.Tags) != 2 {
		t.Fatalf("fields: %+v %+v", m.Meta, m.Payload)
	}
	if m.CID() != cid.Sum([]byte(want)) {
		t.Fatal("CID is not the hash of the canonical bytes")
	}
	a := m.Address()
	if a.TLD != "map" || a.Hash != m.CID() || !strings.HasPrefix(a.String(), "crab://") {
		t.Fatalf("address %s", a)
	}
	// Idempotent: the canonical JSON parses to itself.
	m2, err := ParseJSON(m.Canonical())
	if err != nil {
		t.Fatal(err)
	}
	if string(m2.Canonical()) != want {
		t.Fatalf("not idempotent: %s", m2.Canonical())
	}
}

func TestValidationErrors(t *testing.T) {
	cases := []struct{ toml, path, code string }{
		{`[payload]` + "\n" + `cid = "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"` + "\nsize = 1", "meta", "required"},
		{"meta = 3\n[payload]\ncid=\"x\"\nsize=1", "meta", "type"},
		{"[meta]\ntld = \"MAP\"\n[payload]\ncid = \"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"\nsize = 1", "meta.tld", "syntax"},
		{"[meta]\ntld = \"map\"\ntitel = \"typo\"\n[payload]\ncid = \"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"\nsize = 1", "meta.titel", "unknown"},
		{"[meta]\ntld = \"map\"\ncreated = 2025-08-25T12:00:00\n[payload]\ncid = \"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"\nsize = 1", "meta.created", "syntax"},
		{"[meta]\ntld = \"map\"\n[payload]\ncid = \"b3:AF\"\nsize = 1", "payload.cid", "syntax"},
		{"[meta]\ntld = \"map\"\n[payload]\ncid = \"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"\nsize = -1", "payload.size", "range"},
		{"[meta]\ntld = \"map\"\n[payload]\ncid = \"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"\nsize = 1.5", "payload.size", "type"},
		{"[meta]\ntld = \"map\"\n[payload]\ncid = \"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"", "payload.size", "required"},
		{"[meta]\ntld = \"map\"\n[payload]\ncid = \"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"\nsize = 1\nmedia_type = \"nonsense\"", "payload.media_type", "syntax"},
		{"[meta]\ntld = \"map\"\n[payload]\ncid = \"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"\nsize = 1\nfilename = \"../x\"", "payload.filename", "syntax"},
		{"[meta]\ntld = \"map\"\n[map]\nx = nan\n", "map.x", "type"},
		{"[meta\n", "", "syntax"},
	}
	for _, c := range cases {
		_, err := ParseTOML([]byte(c.toml))
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v, want *Error", c.toml, err)
			continue
		}
		found := false
		for _, f := range e.Errors {
			found = found || f.Path == c.path && f.Code == c.code
		}
		if !found || !strings.HasPrefix(err.Error(), "manifest: invalid manifest: ") {
			t.Errorf("%q: %v, want %s %s", c.toml, err, c.path, c.code)
		}
	}
	// Oversize and too deep.
	if _, err := ParseTOML([]byte(strings.Repeat("#", MaxSize+1))); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversize: %v", err)
	}
	if _, err := ParseJSON([]byte(strings.Repeat("[", 40) + strings.Repeat("]", 40))); !errors.Is(err, ErrInvalid) {
		t.Errorf("not an object: %v", err)
	}
	deep := `{"meta":{"tld":"x"},"payload":{"cid":"` + cid.Sum(nil).String() + `","size":0},"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}"
	if _, err := ParseJSON([]byte(deep)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("deep: %v", err)
	}
	if _, err := ParseJSON([]byte(`{"meta":{"tld":"x"},"payload":{"cid":"` + cid.Sum(nil).String() + `","size":0},"n":null}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("null: %v", err)
	}
}

func TestSetPayload(t *testing.T) {
	doc, err := DecodeTOML([]byte("[meta]\ntld = \"image\"\ntitle = \"cat\"\n[image]\nalt = \"a cat\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := cid.Sum([]byte("cat"))
	if err := SetPayload(doc, c, 3, "cat.png", "image/png"); err != nil {
		t.Fatal(err)
	}
	m, err := Normalize(doc)
	if err != nil {
		t.Fatal(err)
	}
	if m.Payload.CID != c || m.Payload.Size != 3 || m.Payload.Filename != "cat.png" || m.Payload.MediaType != "image/png" {
		t.Fatalf("%+v", m.Payload)
	}
	doc2, _ := DecodeTOML([]byte("[meta]\ntld = \"image\"\n[payload]\nsize = 4\n"))
	if err := SetPayload(doc2, c, 3, "", ""); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "payload.size") {
		t.Fatalf("mismatched size: %v", err)
	}
}

func fuzzCheck(t *testing.T, m *Manifest) {
	m2, err := ParseJSON(m.Canonical())
	if err != nil {
		t.Fatalf("canonical %s does not reparse: %v", m.Canonical(), err)
	}
	if string(m2.Canonical()) != string(m.Canonical()) {
		t.Fatalf("not idempotent:\n%s\n%s", m.Canonical(), m2.Canonical())
	}
}

func FuzzParseTOML(f *testing.F) {
	b, _ := os.ReadFile("testdata/map.toml")
	f.Add(b)
	f.Add([]byte("[meta]\ntld=\"x\"\n[payload]\ncid=\"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"\nsize=0\nx=1e300\ny=-0.0\nz=\"\\u2028<&>\""))
	f.Add([]byte("[meta\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseTOML(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		fuzzCheck(t, m)
	})
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`{"meta":{"tld":"x","created":"2025-01-01T00:00:00.5-07:00"},"payload":{"cid":"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262","size":0},"x":[1e20,1.0,123456789012345678901,"é\u0000"]}`))
	f.Add([]byte(`{"a":1} x`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseJSON(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		fuzzCheck(t, m)
	})
}

func TestPrice(t *testing.T) {
	const base = "[meta]\ntld = \"map\"\n%s\n[payload]\ncid = \"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\"\nsize = 0\n"
	for _, tc := range []struct {
		line  string
		price uint64
		code  string
	}{
		{"", 0, ""},
		{"price = 0", 0, ""},
		{"price = 1200", 1200, ""},
		{"price = 9007199254740991", 1<<53 - 1, ""},
		{"price = 9007199254740992", 0, "range"},
		{"price = -1", 0, "range"},
		{"price = 1.5", 0, "type"},
		{"price = \"10\"", 0, "type"},
	} {
		m, err := ParseTOML([]byte(strings.Replace(base, "%s", tc.line, 1)))
		if tc.code == "" {
			if err != nil || m.Meta.Price != tc.price {
				t.Errorf("%q: price %v, err %v; want %d", tc.line, m, err, tc.price)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || len(e.Errors) == 0 || e.Errors[0].Path != "meta.price" || e.Errors[0].Code != tc.code {
			t.Errorf("%q: err %v, want meta.price %s", tc.line, err, tc.code)
		}
	}
}
