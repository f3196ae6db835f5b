package ron

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// FeatureDates is the describe feature (ABI v1.1) by which a plugin asks the
// host for TOML dates and times as tagged objects ([Date]) instead of
// strings. List it in [Description].Features.
//
// Then, in the manifest the plugin receives: a value that is a TOML date or
// time (or a string with exactly the host's text of one: the two are one
// value in a manifest's content) arrives as {"$date":"1979-05-27"},
// {"$time":"07:32:00"}, {"$datetime_local":"1979-05-27T07:32:00"} or
// {"$datetime":"1979-05-27T07:32:00Z"}; [meta] created and updated arrive as
// $datetime ([Manifest.Meta] still gives them as strings); and a user's key
// that begins with "$" arrives with one more "$" ("$$date"). Only the host
// makes tags. Decode a key that holds a date into a [Date]; decode a key
// whose text a user might write like a date into a [Text]. Hand the values
// back as they came (a plugin that echoes the manifest is always right); the
// host refuses a tag that does not hold its kind's exact text.
const FeatureDates = "dates"

// DateKind is one of TOML's four kinds of date and time.
type DateKind uint8

// The kinds, each with the tag the host writes.
const (
	DateTime      DateKind = 1 + iota // "$datetime": an offset date-time, RFC 3339 (Z for UTC)
	DateTimeLocal                     // "$datetime_local": a local date-time, 1979-05-27T07:32:00[.frac]
	LocalDate                         // "$date": a local date, 1979-05-27
	LocalTime                         // "$time": a local time, 07:32:00[.frac]
)

var dateTags = [...]string{DateTime: "$datetime", DateTimeLocal: "$datetime_local", LocalDate: "$date", LocalTime: "$time"}

// Tag returns the kind's tag, e.g. "$date" ("" for no kind).
func (k DateKind) Tag() string {
	if k < DateTime || k > LocalTime {
		return ""
	}
	return dateTags[k]
}

func (k DateKind) String() string {
	if t := k.Tag(); t != "" {
		return t[1:]
	}
	return fmt.Sprintf("DateKind(%d)", uint8(k))
}

// Date is a TOML date or time as the host hands it to a plugin that declares
// [FeatureDates]: its kind and the host's text of it. It decodes only from a
// tagged object (a plain string is a user's text, and decoding it into a Date
// is a type error, which a validate handler reports as "must be a date") and
// encodes back to the same tagged object.
type Date struct {
	Kind DateKind
	Text string // e.g. "1979-05-27", exactly as the host sent it
}

// Layouts of the kinds' text (the fraction is optional in each).
var dateLayouts = [...]string{
	DateTime:      time.RFC3339Nano,
	DateTimeLocal: "2006-01-02T15:04:05.999999999",
	LocalDate:     "2006-01-02",
	LocalTime:     "15:04:05.999999999",
}

// ParseDate makes a Date of kind k from its text, checking that the text is
// one: for values a plugin creates. The host accepts back only its own text
// of a value (for DateTime, time.RFC3339Nano's output: Z for UTC, no
// trailing zeros in the fraction).
func ParseDate(k DateKind, text string) (Date, error) {
	d := Date{Kind: k, Text: text}
	if k.Tag() == "" {
		return Date{}, fmt.Errorf("ron: date kind %d is not one of the four", uint8(k))
	}
	if _, err := d.Time(); err != nil {
		return Date{}, err
	}
	return d, nil
}

// Time parses the value: an offset date-time in its own offset, a local one
// (date, time or date-time) in UTC, a local time on 0000-01-01.
func (d Date) Time() (time.Time, error) {
	if d.Kind.Tag() == "" {
		return time.Time{}, fmt.Errorf("ron: a zero Date has no time")
	}
	t, err := time.Parse(dateLayouts[d.Kind], d.Text)
	if err != nil {
		return time.Time{}, fmt.Errorf("ron: %q is not a %s: %v", d.Text, d.Kind, err)
	}
	return t, nil
}

// IsZero reports whether d is the zero Date (no kind): a field that was absent.
func (d Date) IsZero() bool { return d.Kind == 0 }

// String returns the text.
func (d Date) String() string { return d.Text }

// MarshalJSON writes the tagged object, e.g. {"$date":"1979-05-27"}.
func (d Date) MarshalJSON() ([]byte, error) {
	tag := d.Kind.Tag()
	if tag == "" {
		return nil, fmt.Errorf("ron: encoding a zero Date (give the field omitempty and a pointer, or a value)")
	}
	b := make([]byte, 0, len(tag)+len(d.Text)+8)
	b = append(b, `{"`...)
	b = append(b, tag...)
	b = append(b, `":`...)
	s, err := json.Marshal(d.Text)
	if err != nil {
		return nil, err
	}
	b = append(b, s...)
	return append(b, '}'), nil
}

// UnmarshalJSON takes a tagged object. Anything else (a string included) is a
// *json.UnmarshalTypeError, so a validate handler's field error says the key
// must be a date.
func (d *Date) UnmarshalJSON(b []byte) error {
	k, text, ok := parseDateTag(b)
	if !ok {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: dateType}
	}
	*d = Date{Kind: k, Text: text}
	return nil
}

var dateType = reflect.TypeFor[Date]()

// Text is a string that also takes a tagged date or time as its text: for a
// key where a user writes free text that may look like a date (a version
// "2025-01-01" is one value with the date 2025-01-01 in a manifest's content,
// so a plugin that declared [FeatureDates] receives it tagged). It encodes
// as a plain string; the host stores the same content either way.
type Text string

// UnmarshalJSON takes a JSON string or a tagged date or time.
func (t *Text) UnmarshalJSON(b []byte) error {
	if _, text, ok := parseDateTag(b); ok {
		*t = Text(text)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: textType}
	}
	*t = Text(s)
	return nil
}

var textType = reflect.TypeFor[Text]()

// parseDateTag reads {"<tag>":"<text>"}, the whole of b.
func parseDateTag(b []byte) (DateKind, string, bool) {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return 0, "", false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || len(m) != 1 {
		return 0, "", false
	}
	for k, raw := range m {
		for kind := DateTime; kind <= LocalTime; kind++ {
			if k != dateTags[kind] {
				continue
			}
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return 0, "", false
			}
			return kind, s, true
		}
	}
	return 0, "", false
}

// jsonKind names a JSON value's kind as encoding/json's type errors do.
func jsonKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "value"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// decodeMeta decodes [meta] leniently, created and updated as strings
// whether or not the host tagged them.
func (m *Manifest) decodeMeta(meta *Meta) error {
	raw := m.Raw(TableMeta)
	if raw == nil {
		return m.lenient(TableMeta, meta)
	}
	if err := unmarshal(untagMeta(raw), meta, false); err != nil {
		return &Rejection{Errors: []FieldError{decodeError(TableMeta, err)}}
	}
	return nil
}

// untagMeta returns the [meta] table with created and updated as the
// strings they are in the manifest's content, when the host tagged them.
func untagMeta(raw json.RawMessage) json.RawMessage {
	if bytes.IndexByte(raw, '$') < 0 || !bytes.Contains(raw, []byte(`"$datetime"`)) { // one call in the common case
		return raw
	}
	var t map[string]json.RawMessage
	if json.Unmarshal(raw, &t) != nil {
		return raw
	}
	for _, k := range [...]string{"created", "updated"} {
		if kind, text, ok := parseDateTag(t[k]); ok && kind == DateTime {
			t[k], _ = json.Marshal(text)
		}
	}
	b, err := json.Marshal(t)
	if err != nil {
		return raw
	}
	return b
}
