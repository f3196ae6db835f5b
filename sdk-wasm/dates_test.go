package ron

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDateDecodesTagsOnly(t *testing.T) {
	for in, want := range map[string]Date{
		`{"$datetime":"1979-05-27T07:32:00Z"}`:          {DateTime, "1979-05-27T07:32:00Z"},
		`{"$datetime_local":"1979-05-27T07:32:00.5"}`:   {DateTimeLocal, "1979-05-27T07:32:00.5"},
		`{"$date":"1979-05-27"}`:                        {LocalDate, "1979-05-27"},
		` {"$time" : "07:32:00"} `:                      {LocalTime, "07:32:00"},
		`{"$datetime":"1979-05-27T00:32:00.999-07:00"}`: {DateTime, "1979-05-27T00:32:00.999-07:00"},
	} {
		var d Date
		if err := json.Unmarshal([]byte(in), &d); err != nil || d != want {
			t.Errorf("%s: %v, %v; want %v", in, d, err, want)
		}
		if _, err := d.Time(); err != nil {
			t.Errorf("%s: Time: %v", in, err)
		}
		out, err := json.Marshal(d)
		if err != nil || string(out) != strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(in), " : ", ":"), " ", "") {
			t.Errorf("%s: encodes to %s, %v", in, out, err)
		}
	}
	// A user's string, a forged or escaped key, anything else: not a Date.
	for _, in := range []string{
		`"1979-05-27"`, `{"$$date":"1979-05-27"}`, `{"$date":"1979-05-27","x":1}`, `{"$date":19790527}`,
		`{"$dates":"1979-05-27"}`, `{}`, `null`, `[{"$date":"1979-05-27"}]`, `{"$date":{"$date":"1979-05-27"}}`,
	} {
		var d Date
		var te *json.UnmarshalTypeError
		if err := json.Unmarshal([]byte(in), &d); !errors.As(err, &te) && !(in == "null" && err == nil) {
			t.Errorf("%s: %v, %v; want a type error", in, d, err)
		}
	}
	if _, err := json.Marshal(Date{}); err == nil {
		t.Error("a zero Date encoded")
	}
	if _, err := ParseDate(LocalDate, "1979-02-30"); err == nil {
		t.Error("ParseDate took February 30")
	}
	if d, err := ParseDate(LocalTime, "07:32:00.25"); err != nil || d.Text != "07:32:00.25" {
		t.Errorf("ParseDate: %v, %v", d, err)
	}
}

func TestTextTakesStringsAndTags(t *testing.T) {
	var v struct{ A, B Text }
	if err := json.Unmarshal([]byte(`{"A":"2025-01-01","B":{"$date":"2025-01-01"}}`), &v); err != nil || v.A != "2025-01-01" || v.B != "2025-01-01" {
		t.Fatalf("%+v, %v", v, err)
	}
	if err := json.Unmarshal([]byte(`{"A":{"$$date":"2025-01-01"}}`), &v); err == nil {
		t.Fatal("Text took an object that is no tag")
	}
}

// A plugin that declares "dates" reads tagged values through Manifest.Table,
// gets [meta] created as a string, rejects a user's string where it wants a
// date with a field error naming the key, and hands tags back unchanged.
func TestDispatchWithTaggedDates(t *testing.T) {
	type table struct {
		Released Date  `json:"released"`
		At       *Date `json:"at,omitempty"`
		Version  Text  `json:"version"`
	}
	var got table
	var meta Meta
	p := &testPlugin{validate: func(in ValidateInput) (ValidateOutput, error) {
		got = table{}
		if err := in.Manifest.Table("t", &got); err != nil {
			return ValidateOutput{}, err
		}
		var err error
		meta, err = in.Manifest.Meta()
		if err != nil {
			return ValidateOutput{}, err
		}
		if got.Released.Kind != LocalDate {
			return ValidateOutput{}, Rejectf("t.released", "type", "must be a local date")
		}
		return ValidateOutput{Manifest: in.Manifest}, nil
	}}
	p.desc = func() Description {
		return Description{TLD: "t", Name: "T", Version: "1", Roles: []string{"creator"}, Features: []string{FeatureDates},
			Examples: []*Manifest{MustManifest(`{"meta":{"tld":"t"},"t":{"released":{"$date":"1979-05-27"},"version":"1"}}`)}}
	}
	_, out := Dispatch(p, EntryDescribe, []byte(`{"abi":1,"host":{"name":"ronhost","version":"1"}}`), nil)
	if !strings.Contains(string(out), `"features":["dates"]`) {
		t.Fatalf("describe: %s", out)
	}
	manifest := `{"meta":{"created":{"$datetime":"1979-05-27T07:32:00Z"},"tld":"t"},"t":{"at":{"$time":"07:32:00"},"released":{"$date":"1979-05-27"},"version":{"$date":"2025-01-01"}}}`
	status, out := Dispatch(p, EntryValidate, []byte(`{"manifest":`+manifest+`,"context":{"tld":"t","payload_size":1}}`), nil)
	if status != StatusOK {
		t.Fatalf("status %d: %s", status, out)
	}
	if got.Released != (Date{LocalDate, "1979-05-27"}) || got.At == nil || *got.At != (Date{LocalTime, "07:32:00"}) || got.Version != "2025-01-01" {
		t.Errorf("decoded %+v", got)
	}
	if meta.Created != "1979-05-27T07:32:00Z" {
		t.Errorf("meta.created = %q", meta.Created)
	}
	var res struct{ Manifest json.RawMessage }
	if err := json.Unmarshal(out, &res); err != nil || string(res.Manifest) != manifest {
		t.Errorf("the manifest came back as %s, want it unchanged: %v", res.Manifest, err)
	}
	// The user wrote released = "1979-05-27 or so": a string, not a date.
	status, out = Dispatch(p, EntryValidate, []byte(`{"manifest":{"meta":{"tld":"t"},"t":{"released":"1979-05-27","version":"1"}},"context":{"tld":"t","payload_size":1}}`), nil)
	if status != StatusRejected || !strings.Contains(string(out), `"path":"t.released"`) {
		t.Errorf("a string for a Date: status %d, %s", status, out)
	}
}
