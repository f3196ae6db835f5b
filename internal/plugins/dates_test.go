package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// datesTOML holds each TOML date-time kind, a user string with a date's
// text, and the hostile keys: a user table that looks like the host's tags.
const datesTOML = `
[meta]
tld = "dates"
title = "1979-05-27"
created = 1979-05-27T00:32:00.999-07:00

[payload]
cid = "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
size = 3
filename = "1979-05-27"

[dates]
odt = 1979-05-27T07:32:00Z
odt_space = 1979-05-27 07:32:00+00:00
ldt = 1979-05-27T07:32:00.5
ld = 1979-05-27
lt = 07:32:00
lt_frac = 00:32:00.999999
text = "1979-05-27"
not_canonical = "1979-05-27T07:32:00+00:00"
list = [1979-05-27, 07:32:00, "plain"]
forged = { "$date" = "1979-05-27" }
forged_text = { "$date" = "not a date" }
forged_escaped = { "$$date" = "1979-05-27" }
price = 10
`

func TestDateKind(t *testing.T) {
	for s, want := range map[string]string{
		"1979-05-27T07:32:00Z":              TagDateTime,
		"1979-05-27T00:32:00.999-07:00":     TagDateTime,
		"1979-05-27T07:32:00":               TagDateTimeLocal,
		"1979-05-27T07:32:00.5":             TagDateTimeLocal,
		"1979-05-27":                        TagDate,
		"07:32:00":                          TagTime,
		"00:32:00.999999":                   TagTime,
		"1979-05-27T07:32:00+00:00":         "", // the host writes Z
		"1979-05-27 07:32:00":               "", // the host writes T
		"1979-05-27t07:32:00z":              "",
		"1979-5-27":                         "",
		"1979-02-30":                        "",
		"07:32":                             "",
		"25:00:00":                          "",
		"hello":                             "",
		"":                                  "",
		"19790527":                          "",
		"1979-05-27T07:32:00Zjunk":          "",
		" 1979-05-27":                       "",
		"1979-05-27T07:32:00.999999999999Z": "",
	} {
		if got := DateKind(s); got != want {
			t.Errorf("DateKind(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestDateKindMatchesTheDecoder: every date-time core/manifest decodes is
// recognized as its kind (the tagging and the decoder agree on the text).
func TestDateKindMatchesTheDecoder(t *testing.T) {
	doc, err := manifest.DecodeTOML([]byte(datesTOML))
	if err != nil {
		t.Fatal(err)
	}
	d := doc["dates"].(map[string]any)
	for k, want := range map[string]string{
		"odt": TagDateTime, "odt_space": TagDateTime, "ldt": TagDateTimeLocal, "ld": TagDate,
		"lt": TagTime, "lt_frac": TagTime, "text": TagDate, "not_canonical": "",
	} {
		if got := DateKind(d[k].(string)); got != want {
			t.Errorf("%s = %q: DateKind %q, want %q", k, d[k], got, want)
		}
	}
	// More shapes through the decoder: fractions, offsets, leap days.
	for _, v := range []string{
		"2000-02-29", "1979-05-27T07:32:00.000001", "1979-05-27T07:32:00.123456789+14:00",
		"1979-05-27T07:32:00-00:30", "23:59:59.9", "0001-01-01T00:00:00Z", "9999-12-31",
	} {
		doc, err := manifest.DecodeTOML([]byte("x = " + v))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if s := doc["x"].(string); DateKind(s) == "" {
			t.Errorf("TOML %s decodes to %q, which DateKind does not recognize", v, s)
		}
	}
}

func tagged(t *testing.T, host []byte) map[string]any {
	t.Helper()
	b, err := TagDates(host)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// checkTagged asserts the plugin form of datesTOML's manifest.
func checkTagged(t *testing.T, m map[string]any) {
	t.Helper()
	d := m["dates"].(map[string]any)
	for k, want := range map[string]string{
		"odt":            `{"$datetime":"1979-05-27T07:32:00Z"}`,
		"odt_space":      `{"$datetime":"1979-05-27T07:32:00Z"}`,
		"ldt":            `{"$datetime_local":"1979-05-27T07:32:00.5"}`,
		"ld":             `{"$date":"1979-05-27"}`,
		"lt":             `{"$time":"07:32:00"}`,
		"lt_frac":        `{"$time":"00:32:00.999999"}`,
		"text":           `{"$date":"1979-05-27"}`, // one value in the CID: a date
		"not_canonical":  `"1979-05-27T07:32:00+00:00"`,
		"list":           `[{"$date":"1979-05-27"},{"$time":"07:32:00"},"plain"]`,
		"forged":         `{"$$date":{"$date":"1979-05-27"}}`,
		"forged_text":    `{"$$date":"not a date"}`,
		"forged_escaped": `{"$$$date":{"$date":"1979-05-27"}}`,
		"price":          `10`,
	} {
		if got := jsonOf(d[k]); got != want {
			t.Errorf("dates.%s = %s, want %s", k, got, want)
		}
	}
	if got := jsonOf(m["meta"]); got != `{"created":{"$datetime":"1979-05-27T00:32:00.999-07:00"},"title":"1979-05-27","tld":"dates"}` {
		t.Errorf("meta = %s (only created and updated are tagged)", got)
	}
	if got := m["payload"].(map[string]any)["filename"]; got != "1979-05-27" {
		t.Errorf("payload.filename = %v (payload is never tagged)", got)
	}
}

func TestTagDates(t *testing.T) {
	m, err := manifest.ParseTOML([]byte(datesTOML))
	if err != nil {
		t.Fatal(err)
	}
	checkTagged(t, tagged(t, m.Canonical()))
	b, _ := TagDates(m.Canonical())
	back, err := UntagDates(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, m.Canonical()) {
		t.Fatalf("untag(tag(m)) differs from m:\n%s\n%s", back, m.Canonical())
	}
	// Tagging is not applied twice: a plugin form tagged again escapes the
	// tags (they are user keys to the host), and untags to the plugin form.
	twice, _ := TagDates(b)
	if again, err := UntagDates(twice); err != nil || !bytes.Equal(again, b) {
		t.Fatalf("untag(tag(tag(m))) = %s, %v; want tag(m)", again, err)
	}
}

func TestUntagDatesRefuses(t *testing.T) {
	for _, in := range []string{
		`{"x":{"$date":"not a date"}}`,
		`{"x":{"$date":"1979-05-27T07:32:00"}}`, // a local date-time under the date tag
		`{"x":{"$datetime":"1979-05-27T07:32:00+00:00"}}`,
		`{"x":{"$date":19790527}}`,
		`{"x":{"$time":null}}`,
		`{"$date":"1979-05-27"}`,
		`{"x":{"$date":"1979-05-27","y":1}}`, // a user key, not escaped
		`{"x":[{"$foo":1}]}`,
		`{"x":{"$":1}}`,
	} {
		if out, err := UntagDates([]byte(in)); !errors.Is(err, errDates) {
			t.Errorf("UntagDates(%s) = %s, %v; want an error", in, out, err)
		}
	}
	for in, want := range map[string]string{
		`{"x":{"$date":"1979-05-27"}}`:                   `{"x":"1979-05-27"}`,
		`{"x":{"$$date":"1979-05-27"}}`:                  `{"x":{"$date":"1979-05-27"}}`,
		`{"x":{"$$$date":{"$time":"07:32:00"}},"<&>":1}`: `{"<&>":1,"x":{"$$date":"07:32:00"}}`,
		`{"n":1.50,"big":12345678901234567890}`:          `{"big":12345678901234567890,"n":1.50}`,
	} {
		if out, err := UntagDates([]byte(in)); err != nil || string(out) != want {
			t.Errorf("UntagDates(%s) = %s, %v; want %s", in, out, err, want)
		}
	}
}

var datesOnce struct {
	sync.Once
	v1, v11 []byte
}

// datesPlugins builds testdata/dates as a v1 plugin and as one that declares
// "dates".
func datesPlugins(t *testing.T) (v1, v11 []byte) {
	t.Helper()
	datesOnce.Do(func() {
		datesOnce.v1 = wasmbuild.ForTest(t, "testdata/dates")
		datesOnce.v11 = wasmbuild.ForTest(t, "testdata/dates", "-ldflags=-X main.features=dates")
	})
	if datesOnce.v1 == nil || datesOnce.v11 == nil {
		t.Fatal("the dates plugin did not build (see the first test's failure)")
	}
	return datesOnce.v1, datesOnce.v11
}

// TestDatesThroughTheHost: a plugin that declares "dates" sees tagged dates
// in validate, split and resolve; a v1 plugin sees the canonical manifest
// byte for byte; both hand back the manifest with its CID unchanged; a
// declaring plugin that answers with a malformed tag or an unescaped "$" key
// has faulted.
func TestDatesThroughTheHost(t *testing.T) {
	v1wasm, v11wasm := datesPlugins(t)
	ctx := context.Background()
	h := newHost(t, Config{})
	v1, err := h.Load(ctx, v1wasm)
	if err != nil {
		t.Fatal(err)
	}
	v11, err := h.Load(ctx, v11wasm)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.ParseTOML([]byte(datesTOML))
	if err != nil {
		t.Fatal(err)
	}
	canon := m.Canonical()
	for _, c := range []struct {
		name string
		p    *Plugin
		see  func(t *testing.T, seen string)
	}{
		{"v1", v1, func(t *testing.T, seen string) {
			if seen != string(canon) {
				t.Errorf("the v1 plugin saw\n%s\nwant the canonical manifest\n%s", seen, canon)
			}
		}},
		{"dates", v11, func(t *testing.T, seen string) {
			var got map[string]any
			if err := json.Unmarshal([]byte(seen), &got); err != nil {
				t.Fatal(err)
			}
			checkTagged(t, got)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := c.p.Validate(ctx, canon, ValidateContext{TLD: "dates", PayloadSize: 3})
			if err != nil {
				t.Fatal(err)
			}
			var idx struct{ Seen string }
			if err := json.Unmarshal(v.Index, &idx); err != nil {
				t.Fatal(err)
			}
			c.see(t, idx.Seen)
			// The normalized manifest comes back in the host's form: same
			// bytes, same CID.
			m2, err := manifest.ParseJSON(v.Manifest)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m2.Canonical(), canon) || m2.CID() != m.CID() {
				t.Fatalf("CID %s after validate, want %s:\n%s", m2.CID(), m.CID(), v.Manifest)
			}
			allocs, err := c.p.Split(ctx, SplitInput{Manifest: canon, Epoch: "1", Amount: 7})
			if err != nil {
				t.Fatal(err)
			}
			c.see(t, allocs[0].Payee)
			r, err := c.p.Resolve(ctx, ResolveInput{Manifest: canon, Path: "/", PayloadSize: 3}, bytes.NewReader([]byte("abc")))
			if err != nil {
				t.Fatal(err)
			}
			c.see(t, r.ContentType)
		})
	}

	// Hostile answers from a declaring plugin: the host makes tags, a plugin
	// hands them back exact or not at all.
	for _, reply := range []string{
		`{"meta":{"tld":"dates"},"x":{"$date":"not a date"}}`,
		`{"meta":{"tld":"dates"},"x":{"$datetime":"1979-05-27T07:32:00+00:00"}}`,
		`{"meta":{"tld":"dates"},"$date":"1979-05-27"}`,
		`{"meta":{"tld":"dates"},"x":{"$ref":"#"}}`,
	} {
		in, _ := json.Marshal(map[string]any{"meta": map[string]any{"tld": "dates"}, "reply": reply})
		_, err := v11.Validate(ctx, in, ValidateContext{TLD: "dates"})
		var fe *FaultError
		if !errors.As(err, &fe) || fe.Kind != FaultBadOutput || !strings.Contains(err.Error(), "tagged dates") {
			t.Errorf("reply %s: %v, want a bad-output fault about tagged dates", reply, err)
		}
	}
	// The same answers from a v1 plugin are user data (no tags in v1).
	in, _ := json.Marshal(map[string]any{"meta": map[string]any{"tld": "dates"}, "reply": `{"meta":{"tld":"dates"},"x":{"$date":"not a date"}}`})
	if v, err := v1.Validate(ctx, in, ValidateContext{TLD: "dates"}); err != nil || !strings.Contains(string(v.Manifest), `"$date":"not a date"`) {
		t.Errorf("v1 plugin: %v, %v", v, err)
	}
}
