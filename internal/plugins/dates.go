package plugins

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// ABI v1.1 "dates" (docs/ABI.md §3, "Dates and times"). A manifest's content
// is its canonical JSON, where a TOML date-time is a string: the host keeps
// that form (and so every CID) and, for a plugin whose describe lists the
// feature "dates", rewrites the manifest it hands the plugin:
//
//   - a string that is exactly the host's text of a TOML date-time becomes a
//     tagged object, {"$datetime":"1979-05-27T07:32:00Z"} (offset date-time),
//     {"$datetime_local":"1979-05-27T07:32:00"}, {"$date":"1979-05-27"} or
//     {"$time":"07:32:00"}; in [meta] only created and updated are tagged
//     (the host knows the other keys are text), [payload] never;
//   - an object key that begins with "$" gets one more "$" ("$date" is sent
//     as "$$date"), so an object whose one key is a single-"$" tag name can
//     only be one the host made.
//
// The rewrite is a function of the canonical JSON alone, so validate, split
// and resolve see the same values on every node. The way back (a declaring
// plugin's normalized manifest) undoes both; a tag that does not hold its
// kind's canonical text, or a single-"$" key that is not a tag, is a
// bad-output fault.

// FeatureDates is the describe feature by which a plugin asks for tagged
// dates and times (ABI v1.1).
const FeatureDates = "dates"

// The tags of the four TOML date-time kinds.
const (
	TagDateTime      = "$datetime"       // offset date-time, RFC 3339 as Go's time.RFC3339Nano writes it
	TagDateTimeLocal = "$datetime_local" // local date-time, 1979-05-27T07:32:00[.fraction]
	TagDate          = "$date"           // local date, 1979-05-27
	TagTime          = "$time"           // local time, 07:32:00[.fraction]
)

// errDates is wrapped by the errors about a plugin's tagged manifest.
var errDates = errors.New("tagged dates")

// DateKind returns the tag of s when s is exactly the text the host gives a
// TOML date-time of that kind (the form core/manifest decodes it to), and ""
// otherwise.
func DateKind(s string) string {
	n := len(s)
	if n < 8 || n > 64 || s[0] < '0' || s[0] > '9' {
		return ""
	}
	b := []byte(s)
	switch {
	case n >= 3 && s[2] == ':':
		var t toml.LocalTime
		if t.UnmarshalText(b) == nil && t.String() == s {
			return TagTime
		}
	case n == 10:
		var d toml.LocalDate
		if d.UnmarshalText(b) == nil && d.String() == s {
			return TagDate
		}
	case n > 10 && (s[n-1] == 'Z' || s[n-3] == ':' && (s[n-6] == '+' || s[n-6] == '-')):
		t, err := time.Parse(time.RFC3339Nano, s)
		if err == nil && t.Format(time.RFC3339Nano) == s {
			return TagDateTime
		}
	default:
		var dt toml.LocalDateTime
		if dt.UnmarshalText(b) == nil && dt.String() == s {
			return TagDateTimeLocal
		}
	}
	return ""
}

func isTag(k string) bool {
	return k == TagDateTime || k == TagDateTimeLocal || k == TagDate || k == TagTime
}

// TagDates rewrites a manifest in the host's JSON form into the form a plugin
// that declared "dates" receives (see the comment at the top of this file).
func TagDates(manifest []byte) ([]byte, error) {
	v, err := decodeNumbers(manifest)
	if err != nil {
		return nil, fmt.Errorf("plugins: tagging dates: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return encodeJSON(tag(v, true))
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		switch k {
		case "meta":
			e = tag(e, false)
			if t, ok := e.(map[string]any); ok {
				for _, dk := range []string{"created", "updated"} {
					if s, ok := t[dk].(string); ok && DateKind(s) == TagDateTime {
						t[dk] = map[string]any{TagDateTime: s}
					}
				}
			}
		case "payload":
			e = tag(e, false)
		default:
			e = tag(e, true)
		}
		out[escapeKey(k)] = e
	}
	return encodeJSON(out)
}

// tag escapes the keys of v's objects and, when dates is set, replaces its
// date-time strings by tagged objects. It builds new objects, so a tag it
// made is never escaped and a user's key never passes for a tag.
func tag(v any, dates bool) any {
	switch x := v.(type) {
	case string:
		if k := DateKind(x); dates && k != "" {
			return map[string]any{k: x}
		}
	case []any:
		for i, e := range x {
			x[i] = tag(e, dates)
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[escapeKey(k)] = tag(e, dates)
		}
		return out
	}
	return v
}

// escapeKey gives a key that begins with "$" one more.
func escapeKey(k string) string {
	if strings.HasPrefix(k, "$") {
		return "$" + k
	}
	return k
}

// UntagDates turns a manifest in the form a declaring plugin reads and
// writes back into the host's JSON form: a tagged object becomes its text,
// a key "$$x" becomes "$x". A tag whose text is not its kind's exact form, or
// another key beginning with a single "$", is an error (wrapping errDates).
func UntagDates(manifest []byte) ([]byte, error) {
	v, err := decodeNumbers(manifest)
	if err != nil {
		return nil, err
	}
	v, err = untag(v, "")
	if err != nil {
		return nil, err
	}
	return encodeJSON(v)
}

func untag(v any, path string) (any, error) {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			c, err := untag(e, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	case map[string]any:
		if len(x) == 1 && path != "" { // the manifest itself is an object, never a tag
			for k, e := range x {
				if !isTag(k) {
					break
				}
				s, ok := e.(string)
				if !ok || DateKind(s) != k {
					return nil, fmt.Errorf("%w: %s: {%q: %s} is not a %s in the host's form (ABI.md §3)", errDates, orRoot(path), k, trimValue(e), k)
				}
				return s, nil
			}
		}
		out := make(map[string]any, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the first error is the same on every run
		for _, k := range keys {
			e := x[k]
			p := k
			if path != "" {
				p = path + "." + k
			}
			if strings.HasPrefix(k, "$") {
				if !strings.HasPrefix(k, "$$") {
					return nil, fmt.Errorf("%w: %s: a key beginning with one \"$\" is a tag or an error (a user's \"$x\" is written \"$$x\")", errDates, p)
				}
				k = k[1:]
			}
			c, err := untag(e, p)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	return v, nil
}

func orRoot(path string) string {
	if path == "" {
		return "the manifest"
	}
	return path
}

func trimValue(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// decodeNumbers decodes one JSON value keeping numbers as written.
func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// encodeJSON writes v as the canonical encoding does: object keys sorted
// (encoding/json sorts a map's keys), no HTML escaping, numbers as decoded.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
