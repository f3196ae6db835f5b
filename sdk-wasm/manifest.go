package ron

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Host-owned manifest tables. A plugin reads them but does not change them.
const (
	TableMeta    = "meta"
	TablePayload = "payload"
)

// Manifest is a Manifest.toml decoded to JSON (tables are objects, TOML
// datetimes RFC 3339 strings). It keeps every top-level key it was given, so
// a plugin that normalizes only its own table passes everything else through
// unchanged. Encoding sorts object keys recursively, so the same manifest
// always encodes to the same bytes.
//
// Typed access: [Manifest.Meta] and [Manifest.Payload] for the host's tables,
// [Manifest.Table] to decode the plugin's own table into a Go value and
// [Manifest.Set] to write its normalized form back.
type Manifest struct {
	// tables sorted by name, without duplicates: a manifest has a few, and
	// a slice is searched faster than a map hashes a name in wasm (no AES
	// instructions), and is already in the canonical encoding's order.
	tables []table
	meta   *Meta // decoded [meta], set by Dispatch before a handler runs (the table cannot be Set)
}

// table is one top-level value: its name, its JSON, never modified in place
// (Set replaces it), and whether that JSON is already canonical.
type table struct {
	name  string
	raw   json.RawMessage
	canon bool
}

// find returns the index of the table name, or where it would go.
func (m *Manifest) find(name string) (int, bool) {
	// A manifest has a few tables: comparing names for equality (a length
	// check, then the bytes) costs less in wasm than a binary search's
	// ordered comparisons through a closure. Many tables, or a name that
	// is not there, take the binary search.
	if len(m.tables) <= 16 {
		for i := range m.tables {
			if m.tables[i].name == name {
				return i, true
			}
		}
	}
	return slices.BinarySearchFunc(m.tables, name, func(t table, name string) int { return strings.Compare(t.name, name) })
}

// Meta is the typed view of the host-owned [meta] table, as the node
// validates it (core/manifest): the plugin can rely on TLD; the rest is
// optional. Keys not listed here are kept in the manifest; read them with
// Manifest.Table("meta", &v).
type Meta struct {
	TLD         string   `json:"tld"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Created     string   `json:"created,omitempty"` // RFC 3339
	Updated     string   `json:"updated,omitempty"` // RFC 3339
	License     string   `json:"license,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Authors     []string `json:"authors,omitempty"`
}

// Payload is the typed view of the host-owned [payload] table.
type Payload struct {
	CID       string `json:"cid"` // "b3:<64 hex>"
	Size      uint64 `json:"size"`
	MediaType string `json:"media_type,omitempty"` // "type/subtype", lowercase
	Filename  string `json:"filename,omitempty"`
}

// NewManifest returns an empty manifest.
func NewManifest() *Manifest { return &Manifest{} }

// ParseManifest decodes a manifest in its JSON form. It must be a JSON
// object; its values may be anything.
func ParseManifest(b []byte) (*Manifest, error) {
	m := &Manifest{}
	if err := m.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return m, nil
}

// MustManifest is ParseManifest for literals in examples and tests; it panics
// on malformed input.
func MustManifest(s string) *Manifest {
	m, err := ParseManifest([]byte(s))
	if err != nil {
		panic(err)
	}
	return m
}

// UnmarshalJSON implements json.Unmarshaler. The manifest must be a JSON
// object without duplicate keys, nested at most MaxDepth deep.
func (m *Manifest) UnmarshalJSON(b []byte) error {
	if fe := m.parse(append([]byte(nil), b...), 0); fe != nil {
		return fe
	}
	return nil
}

// parse fills m from b (kept, not copied) sitting at nesting depth depth.
func (m *Manifest) parse(b []byte, depth int) *FieldError {
	members, fe := parseObject(b, depth)
	if fe != nil {
		if fe.Code == CodeType {
			fe.Message = "a manifest must be a JSON object"
		}
		return fe
	}
	m.setMembers(members)
	return nil
}

func (m *Manifest) setMembers(members []member) {
	m.meta = nil
	m.tables = make([]table, 0, len(members))
	for _, mb := range members {
		m.tables = append(m.tables, table{name: mb.key, raw: mb.raw, canon: mb.canon})
	}
	// The scanner refused duplicate names; canonical input is sorted.
	if !slices.IsSortedFunc(m.tables, compareTables) {
		slices.SortFunc(m.tables, compareTables)
	}
}

// MarshalJSON implements json.Marshaler: compact, keys sorted recursively.
func (m *Manifest) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	return m.AppendCanonical(nil)
}

// AppendCanonical appends the manifest's canonical JSON encoding to dst.
func (m *Manifest) AppendCanonical(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	var tables []table
	if m != nil {
		tables = m.tables
	}
	for i, t := range tables {
		if i > 0 {
			dst = append(dst, ',')
		}
		name := t.name
		dst = appendString(dst, name)
		dst = append(dst, ':')
		if t.canon {
			dst = append(dst, t.raw...)
			continue
		}
		var err error
		if dst, err = appendCanonical(dst, t.raw); err != nil {
			return dst, fmt.Errorf("ron: manifest table %q: %w", name, err)
		}
	}
	return append(dst, '}'), nil
}

// Names returns the manifest's top-level keys, sorted.
func (m *Manifest) Names() []string {
	if m == nil {
		return nil
	}
	names := make([]string, 0, len(m.tables))
	for _, t := range m.tables {
		names = append(names, t.name)
	}
	return names
}

// Has reports whether the manifest has the top-level key name.
func (m *Manifest) Has(name string) bool {
	if m == nil {
		return false
	}
	_, ok := m.find(name)
	return ok
}

// Raw returns the JSON of the top-level key name, or nil.
func (m *Manifest) Raw(name string) json.RawMessage {
	if m == nil {
		return nil
	}
	if i, ok := m.find(name); ok {
		return m.tables[i].raw
	}
	return nil
}

// Table decodes the top-level key name into v (a pointer), strictly: a
// missing table is a [CodeRequired] error, a key v has no field for is
// [CodeUnknown], a value of the wrong type (including a negative or
// fractional number for an integer field) is [CodeType]. The error is a
// [*Rejection] whose paths start with name, ready to return from Validate.
func (m *Manifest) Table(name string, v any) error {
	raw := m.Raw(name)
	if raw == nil {
		return Rejectf(name, CodeRequired, "the manifest has no [%s] table", name)
	}
	if err := unmarshal(raw, v, true); err != nil {
		fe := decodeError(name, err)
		return &Rejection{Errors: []FieldError{fe}}
	}
	return nil
}

// Meta decodes the host-owned [meta] table (leniently: other keys are
// ignored here and kept in the manifest).
func (m *Manifest) Meta() (Meta, error) {
	if m != nil && m.meta != nil {
		meta := *m.meta
		meta.Tags = append([]string(nil), meta.Tags...)
		meta.Authors = append([]string(nil), meta.Authors...)
		return meta, nil
	}
	var meta Meta
	err := m.decodeMeta(&meta)
	return meta, err
}

// Payload decodes the host-owned [payload] table (leniently).
func (m *Manifest) Payload() (Payload, error) {
	var p Payload
	err := m.lenient(TablePayload, &p)
	return p, err
}

func (m *Manifest) lenient(name string, v any) error {
	raw := m.Raw(name)
	if raw == nil {
		return Rejectf(name, CodeRequired, "the manifest has no [%s] table", name)
	}
	if err := unmarshal(raw, v, false); err != nil {
		fe := decodeError(name, err)
		return &Rejection{Errors: []FieldError{fe}}
	}
	return nil
}

// Set replaces (or adds) the top-level key name with v encoded as JSON,
// typically the plugin's normalized table. The host-owned tables "meta" and
// "payload" cannot be set.
func (m *Manifest) Set(name string, v any) error {
	if name == TableMeta || name == TablePayload {
		return fmt.Errorf("ron: the [%s] table is owned by the host", name)
	}
	b, canon, err := encodeTable(v)
	if err != nil {
		return fmt.Errorf("ron: manifest table %q: %w", name, err)
	}
	t := table{name: name, raw: b, canon: canon}
	if i, ok := m.find(name); ok {
		m.tables[i] = t
	} else {
		// Into a new array: a table slice is never changed in place but
		// for a replaced element, as a map's sharing was.
		m.tables = slices.Insert(slices.Clip(m.tables), i, t)
	}
	return nil
}

// Delete removes the top-level key name (host-owned tables excepted).
func (m *Manifest) Delete(name string) {
	if name == TableMeta || name == TablePayload || m == nil {
		return
	}
	if i, ok := m.find(name); ok {
		m.tables = slices.Concat(m.tables[:i], m.tables[i+1:])
	}
}

// Clone returns an independent copy (cheap: table contents are never
// modified in place, so they are shared).
func (m *Manifest) Clone() *Manifest {
	c := NewManifest()
	if m != nil {
		c.tables = slices.Clone(m.tables)
		c.meta = m.meta
	}
	return c
}

// String returns the canonical JSON, or an error description.
func (m *Manifest) String() string {
	b, err := m.MarshalJSON()
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func compareTables(a, b table) int { return strings.Compare(a.name, b.name) }
