package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
)

// Limits on a manifest.
const (
	MaxSize  = 256 << 10 // bytes of TOML or JSON
	MaxDepth = 32
)

// ErrInvalid is wrapped by every error about a manifest's content or syntax.
var ErrInvalid = codes.New(codes.Rejected, "manifest: invalid manifest")

// ErrTooLarge is wrapped (besides ErrInvalid) by the errors of a manifest
// over a limit: MaxSize bytes, MaxKeys keys, MaxDepth levels (HTTP 413).
var ErrTooLarge = codes.New(codes.TooLarge, "manifest: too large")

// FieldError is one problem with one field, in the ABI's error shape.
type FieldError struct {
	Path    string `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error lists every problem found in a manifest. errors.Is(err, ErrInvalid);
// errors.Is(err, ErrTooLarge) too when the manifest is over a limit.
type Error struct {
	Errors   []FieldError
	tooLarge bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("manifest: invalid manifest: ")
	for i, f := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", f.Path, f.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true, and ErrTooLarge for a manifest
// over a limit.
func (e *Error) Is(target error) bool {
	return target == ErrInvalid || target == ErrTooLarge && e.tooLarge
}

// ErrorCode is the code a refused manifest is answered with wherever it is
// refused (the gateway's own check, the index, its plugin): rejected (422),
// or too_large (413) over a limit.
func (e *Error) ErrorCode() codes.Code {
	if e.tooLarge {
		return codes.TooLarge
	}
	return codes.Rejected
}

// FieldErrors is the list of problems, sent with the error (bus.Error's
// Errors) so that a client can point at each field.
func (e *Error) FieldErrors() any { return e.Errors }

func tooLarge(path, msg string) error {
	return &Error{Errors: []FieldError{{Path: path, Code: "too-large", Message: msg}}, tooLarge: true}
}

// Meta is the validated [meta] table.
type Meta struct {
	TLD         string
	Title       string
	Description string
	Created     string
	Updated     string
	License     string
	Tags        []string
	Authors     []string
	// Price is what one access to the payload costs, in integer minor units
	// (0 to 2^53-1; 0, the default, is free). The node meters priced accesses
	// and settles them per epoch through the TLD's ron_split.
	Price uint64
}

// Payload is the validated [payload] table.
type Payload struct {
	CID       cid.CID
	Size      int64
	MediaType string
	Filename  string
}

// Manifest is a normalized manifest.
type Manifest struct {
	Meta    Meta
	Payload Payload
	doc     map[string]any
	canon   []byte
}

// Doc returns the normalized document (do not modify it).
func (m *Manifest) Doc() map[string]any { return m.doc }

// Canonical returns the canonical JSON encoding (see the package doc).
func (m *Manifest) Canonical() []byte { return m.canon }

// CID returns the CID of the canonical encoding: the hash of the address.
func (m *Manifest) CID() cid.CID { return cid.Sum(m.canon) }

// Address returns crab://<CID hash>.<tld>.
func (m *Manifest) Address() cid.Address { return cid.Address{Hash: m.CID(), TLD: m.Meta.TLD} }

// ParseTOML decodes and normalizes a Manifest.toml.
func ParseTOML(b []byte) (*Manifest, error) {
	doc, err := DecodeTOML(b)
	if err != nil {
		return nil, err
	}
	return Normalize(doc)
}

// ParseJSON decodes and normalizes a manifest in its JSON form (for example
// a stored canonical manifest, or a plugin's normalized output).
func ParseJSON(b []byte) (*Manifest, error) {
	doc, err := DecodeJSON(b)
	if err != nil {
		return nil, err
	}
	return Normalize(doc)
}

func syntaxError(format string, args ...any) error {
	return &Error{Errors: []FieldError{{Path: "", Code: "syntax", Message: fmt.Sprintf(format, args...)}}}
}

// DecodeTOML decodes TOML into the ABI's JSON tree, without validating. Its
// work is linear in the size of b (toml.go); a manifest over MaxSize bytes,
// MaxKeys keys or MaxDepth levels is refused with ErrTooLarge.
func DecodeTOML(b []byte) (map[string]any, error) {
	if len(b) > MaxSize {
		return nil, tooLarge("", fmt.Sprintf("larger than %d bytes", MaxSize))
	}
	var d decoder
	return d.decodeTOML(b)
}

// DecodeJSON decodes a JSON object into the tree Normalize takes.
func DecodeJSON(b []byte) (map[string]any, error) {
	if len(b) > MaxSize {
		return nil, tooLarge("", fmt.Sprintf("larger than %d bytes", MaxSize))
	}
	if !utf8.Valid(b) {
		return nil, syntaxError("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, syntaxError("JSON: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, syntaxError("JSON: data after the object")
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, syntaxError("JSON: a manifest is an object")
	}
	keys := 0
	v, err := fromJSON(m, "", 0, &keys)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

func fromJSON(v any, path string, depth int, keys *int) (any, error) {
	if depth > MaxDepth {
		return nil, tooLarge(path, fmt.Sprintf("nested deeper than %d levels", MaxDepth))
	}
	switch x := v.(type) {
	case map[string]any:
		if *keys += len(x); *keys > MaxKeys {
			return nil, tooLarge(path, fmt.Sprintf("the manifest has more than %d keys", MaxKeys))
		}
		for k, e := range x {
			c, err := fromJSON(e, join(path, k), depth+1, keys)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	case []any:
		for i, e := range x {
			c, err := fromJSON(e, fmt.Sprintf("%s[%d]", path, i), depth+1, keys)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	case nil:
		return nil, fieldErr(path, "type", "null has no TOML form")
	case string, bool:
		return x, nil
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fieldErr(path, "range", fmt.Sprintf("number %s is out of range", s))
		}
		return f, nil
	}
	return nil, fieldErr(path, "type", fmt.Sprintf("unsupported JSON value %T", v))
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func fieldErr(path, code, msg string) error {
	return &Error{Errors: []FieldError{{Path: path, Code: code, Message: msg}}}
}

// SetPayload fills [payload] cid and size (and filename and media_type when
// given and absent) in doc, creating the table if needed. A cid or size
// already there must agree.
func SetPayload(doc map[string]any, c cid.CID, size int64, filename, mediaType string) error {
	p, ok := doc["payload"].(map[string]any)
	if !ok {
		if _, exists := doc["payload"]; exists {
			return fieldErr("payload", "type", "must be a table")
		}
		p = map[string]any{}
		doc["payload"] = p
	}
	if v, ok := p["cid"]; ok {
		if s, _ := v.(string); s != c.String() {
			return fieldErr("payload.cid", "mismatch", fmt.Sprintf("the manifest says %v but the payload is %s", v, c))
		}
	}
	p["cid"] = c.String()
	if v, ok := p["size"]; ok {
		if n, _ := v.(int64); n != size {
			return fieldErr("payload.size", "mismatch", fmt.Sprintf("the manifest says %v but the payload has %d bytes", v, size))
		}
	}
	p["size"] = size
	if _, ok := p["filename"]; !ok && filename != "" {
		p["filename"] = filename
	}
	if _, ok := p["media_type"]; !ok && mediaType != "" {
		p["media_type"] = mediaType
	}
	return nil
}

// Normalize validates the host-owned tables of doc, normalizes them in place
// and returns the manifest with its canonical encoding.
func Normalize(doc map[string]any) (*Manifest, error) {
	v := &validator{}
	m := &Manifest{doc: doc}
	meta := v.table(doc, "meta")
	if meta != nil {
		m.Meta = v.meta(meta)
	}
	payload := v.table(doc, "payload")
	if payload != nil {
		m.Payload = v.payload(payload)
	}
	if len(v.errs) > 0 {
		sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Path < v.errs[j].Path })
		return nil, &Error{Errors: v.errs}
	}
	var buf bytes.Buffer
	if err := encode(&buf, doc, false); err != nil {
		return nil, err
	}
	m.canon = buf.Bytes()
	return m, nil
}

type validator struct{ errs []FieldError }

func (v *validator) add(path, code, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Path: path, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) table(doc map[string]any, name string) map[string]any {
	x, ok := doc[name]
	if !ok {
		v.add(name, "required", "the [%s] table is required", name)
		return nil
	}
	t, ok := x.(map[string]any)
	if !ok {
		v.add(name, "type", "must be a table")
		return nil
	}
	return t
}

func (v *validator) str(t map[string]any, table, key string, required bool, max int) (string, bool) {
	path := table + "." + key
	x, ok := t[key]
	if !ok {
		if required {
			v.add(path, "required", "is required")
		}
		return "", false
	}
	s, ok := x.(string)
	if !ok {
		v.add(path, "type", "must be a string")
		return "", false
	}
	if len(s) > max {
		v.add(path, "too-long", "is longer than %d bytes", max)
		return "", false
	}
	for i, r := range s {
		if r < ' ' && r != '\n' && r != '\t' || r == 0x7f {
			v.add(path, "syntax", "has a control character at byte %d", i)
			return "", false
		}
	}
	return s, true
}

func (v *validator) strings(t map[string]any, table, key string, maxN, maxLen int) []string {
	path := table + "." + key
	x, ok := t[key]
	if !ok {
		return nil
	}
	arr, ok := x.([]any)
	if !ok {
		v.add(path, "type", "must be an array of strings")
		return nil
	}
	if len(arr) > maxN {
		v.add(path, "too-long", "has more than %d entries", maxN)
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok || s == "" || len(s) > maxLen || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			v.add(fmt.Sprintf("%s[%d]", path, i), "syntax", "must be a non-empty string of at most %d bytes without control characters", maxLen)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (v *validator) unknown(t map[string]any, table string, known ...string) {
	for k := range t {
		found := false
		for _, n := range known {
			found = found || k == n
		}
		if !found {
			v.add(table+"."+k, "unknown", "unknown key (the host owns [%s]: %s)", table, strings.Join(known, ", "))
		}
	}
}

// MaxPrice is the largest [meta] price: money is integer minor units up to 2^53-1.
const MaxPrice = 1<<53 - 1

func (v *validator) meta(t map[string]any) Meta {
	var m Meta
	if s, ok := v.str(t, "meta", "tld", true, 64); ok {
		if err := cid.CheckTLD(s); err != nil {
			v.add("meta.tld", "syntax", "%v", err)
		}
		m.TLD = s
	}
	m.Title, _ = v.str(t, "meta", "title", false, 256)
	m.Description, _ = v.str(t, "meta", "description", false, 4096)
	m.License, _ = v.str(t, "meta", "license", false, 64)
	for _, k := range []string{"created", "updated"} {
		s, ok := v.str(t, "meta", k, false, 64)
		if !ok {
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			v.add("meta."+k, "syntax", "must be an RFC 3339 date and time with an offset, e.g. 2025-08-25T12:34:56Z")
			continue
		}
		s = tm.Format(time.RFC3339Nano)
		t[k] = s
		if k == "created" {
			m.Created = s
		} else {
			m.Updated = s
		}
	}
	m.Tags = v.strings(t, "meta", "tags", 32, 64)
	m.Authors = v.strings(t, "meta", "authors", 32, 256)
	switch n := t["price"].(type) {
	case nil:
	case int64:
		if n < 0 || n > MaxPrice {
			v.add("meta.price", "range", "must be an integer from 0 to 2^53-1 (minor units per access)")
		} else {
			m.Price = uint64(n)
		}
	default:
		v.add("meta.price", "type", "must be an integer number of minor units per access")
	}
	v.unknown(t, "meta", "tld", "title", "description", "created", "updated", "license", "tags", "authors", "price")
	return m
}

func (v *validator) payload(t map[string]any) Payload {
	var p Payload
	if s, ok := v.str(t, "payload", "cid", true, 128); ok {
		c, err := cid.Parse(s)
		if err != nil {
			v.add("payload.cid", "syntax", "%v", err)
		}
		p.CID = c
	}
	switch n := t["size"].(type) {
	case nil:
		v.add("payload.size", "required", "is required")
	case int64:
		if n < 0 {
			v.add("payload.size", "range", "must not be negative")
		}
		p.Size = n
	default:
		v.add("payload.size", "type", "must be an integer number of bytes")
	}
	if s, ok := v.str(t, "payload", "media_type", false, 256); ok {
		mt, params, err := mime.ParseMediaType(s)
		if err != nil || !strings.Contains(mt, "/") {
			v.add("payload.media_type", "syntax", "must be a media type such as text/plain or image/png")
		} else {
			s = mime.FormatMediaType(mt, params)
			t["media_type"] = s
			p.MediaType = s
		}
	}
	if s, ok := v.str(t, "payload", "filename", false, 255); ok {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00\n\t") {
			v.add("payload.filename", "syntax", "must be a plain file name (no directories)")
		}
		p.Filename = s
	}
	v.unknown(t, "payload", "cid", "size", "media_type", "filename")
	return p
}

// MarshalTree encodes a decoded (not yet normalized) tree as JSON that
// DecodeJSON turns back into the same tree: as the canonical encoding, but a
// float always has a fraction or an exponent (3.0 stays a float, not the
// integer 3). The gateway hands the index its decoded manifest so, so that
// the TOML is parsed once per publish.
func MarshalTree(doc map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encode(&buf, doc, true); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encode writes v canonically (with keepFloats, floats keep a fraction or
// an exponent).
func encode(b *bytes.Buffer, v any, keepFloats bool) error {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			if err := encode(b, x[k], keepFloats); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := encode(b, e, keepFloats); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case string:
		writeString(b, x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		if x == 0 {
			x = 0 // no negative zero: -0 would read back as the integer 0
		}
		j, err := json.Marshal(x)
		if err != nil {
			return fieldErr("", "type", err.Error())
		}
		b.Write(j)
		if keepFloats && !bytes.ContainsAny(j, ".eE") {
			b.WriteString(".0")
		}
	default:
		return fieldErr("", "type", fmt.Sprintf("unsupported value %T", v))
	}
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}
