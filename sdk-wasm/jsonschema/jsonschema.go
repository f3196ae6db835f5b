package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrSchema is wrapped by the errors of a schema the checker cannot use.
var ErrSchema = errors.New("jsonschema: bad schema")

// ErrInvalid is wrapped by the error of a document that breaks its schema.
var ErrInvalid = errors.New("jsonschema: invalid document")

// Set holds schemas by file name ("validate.input.schema.json"); a $ref to
// another file resolves within the set.
type Set struct {
	docs  map[string]any
	regex map[string]*regexp.Regexp
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{docs: map[string]any{}, regex: map[string]*regexp.Regexp{}} }

// LoadFS adds every *.schema.json file at the top of fsys.
func LoadFS(fsys fs.FS) (*Set, error) {
	s := NewSet()
	names, err := fs.Glob(fsys, "*.schema.json")
	if err != nil {
		return nil, fmt.Errorf("jsonschema: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no *.schema.json files", ErrSchema)
	}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("jsonschema: %w", err)
		}
		if err := s.Add(n, b); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		if err := s.checkRefs(n, s.docs[n]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Names lists the schemas in the set, sorted.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.docs))
	for n := range s.docs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Add parses a schema and adds it under name.
func (s *Set) Add(name string, schema []byte) error {
	v, err := decode(schema)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSchema, name, err)
	}
	if err := s.vet(name, "", v); err != nil {
		return err
	}
	s.docs[name] = v
	return nil
}

var known = map[string]bool{
	"$ref": true, "$defs": true, "type": true, "const": true, "enum": true, "properties": true, "required": true,
	"additionalProperties": true, "propertyNames": true, "patternProperties": true, "minProperties": true,
	"maxProperties": true, "items": true, "minItems": true, "maxItems": true, "uniqueItems": true, "minimum": true,
	"maximum": true, "minLength": true, "maxLength": true, "pattern": true, "format": true, "allOf": true,
	"anyOf": true, "oneOf": true, "not": true,
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true, "examples": true, "default": true,
}

// vet checks that a schema uses only the supported keywords and compiles
// its patterns.
func (s *Set) vet(name, at string, v any) error {
	switch x := v.(type) {
	case bool:
		return nil
	case map[string]any:
		for k, sub := range x {
			if !known[k] {
				return fmt.Errorf("%w: %s%s: unsupported keyword %q", ErrSchema, name, at, k)
			}
			var err error
			switch k {
			case "properties", "$defs", "patternProperties":
				m, ok := sub.(map[string]any)
				if !ok {
					return fmt.Errorf("%w: %s%s/%s: not an object", ErrSchema, name, at, k)
				}
				for pk, ps := range m {
					if k == "patternProperties" {
						if _, err := s.compile(pk); err != nil {
							return fmt.Errorf("%w: %s%s: %v", ErrSchema, name, at, err)
						}
					}
					if err = s.vet(name, at+"/"+k+"/"+pk, ps); err != nil {
						return err
					}
				}
			case "additionalProperties", "items", "not", "propertyNames":
				err = s.vet(name, at+"/"+k, sub)
			case "allOf", "anyOf", "oneOf":
				arr, ok := sub.([]any)
				if !ok || len(arr) == 0 {
					return fmt.Errorf("%w: %s%s/%s: not a non-empty array", ErrSchema, name, at, k)
				}
				for i, e := range arr {
					if err = s.vet(name, fmt.Sprintf("%s/%s/%d", at, k, i), e); err != nil {
						return err
					}
				}
			case "pattern":
				p, ok := sub.(string)
				if !ok {
					return fmt.Errorf("%w: %s%s/pattern: not a string", ErrSchema, name, at)
				}
				_, err = s.compile(p)
			case "format":
				if sub != "date-time" {
					return fmt.Errorf("%w: %s%s: format %v is not supported (only date-time)", ErrSchema, name, at, sub)
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s%s: a schema is an object or a boolean", ErrSchema, name, at)
}

func (s *Set) compile(p string) (*regexp.Regexp, error) {
	if re, ok := s.regex[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("%w: pattern %q: %v", ErrSchema, p, err)
	}
	s.regex[p] = re
	return re, nil
}

// checkRefs resolves every $ref once, so a dangling one is an error at load.
func (s *Set) checkRefs(name string, v any) error {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			if k == "$ref" {
				ref, _ := sub.(string)
				if _, _, err := s.resolve(name, ref); err != nil {
					return err
				}
				continue
			}
			if err := s.checkRefs(name, sub); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := s.checkRefs(name, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolve finds the schema a $ref names, from the file base.
func (s *Set) resolve(base, ref string) (string, any, error) {
	file, frag, _ := strings.Cut(ref, "#")
	if file == "" {
		file = base
	} else {
		file = path.Clean(path.Join(path.Dir(base), file))
	}
	doc, ok := s.docs[file]
	if !ok {
		return "", nil, fmt.Errorf("%w: %s: $ref %q: no schema %s in the set", ErrSchema, base, ref, file)
	}
	if frag == "" {
		return file, doc, nil
	}
	if !strings.HasPrefix(frag, "/") {
		return "", nil, fmt.Errorf("%w: %s: $ref %q: only JSON pointers are supported", ErrSchema, base, ref)
	}
	cur := doc
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("%w: %s: $ref %q does not resolve", ErrSchema, base, ref)
		}
		if cur, ok = m[tok]; !ok {
			return "", nil, fmt.Errorf("%w: %s: $ref %q does not resolve", ErrSchema, base, ref)
		}
	}
	return file, cur, nil
}

// Problem is one way a document breaks its schema.
type Problem struct {
	Path    string // where in the document, as a JSON pointer ("" is the whole document)
	Message string
}

func (p Problem) String() string {
	at := p.Path
	if at == "" {
		at = "(document)"
	}
	return at + ": " + p.Message
}

// Error lists the problems of an invalid document; errors.Is(err, ErrInvalid).
type Error struct {
	Schema   string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jsonschema: invalid document (%s): ", e.Schema)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// maxProblems bounds an Error's list.
const maxProblems = 20

// Validate checks doc, one JSON value, against the schema name. It returns
// nil, an *Error listing what is wrong, or an error wrapping ErrSchema.
func (s *Set) Validate(name string, doc []byte) error {
	schema, ok := s.docs[name]
	if !ok {
		return fmt.Errorf("%w: no schema %s", ErrSchema, name)
	}
	if !utf8.Valid(doc) {
		return &Error{Schema: name, Problems: []Problem{{Message: "not valid UTF-8"}}}
	}
	v, err := decode(doc)
	if err != nil {
		return &Error{Schema: name, Problems: []Problem{{Message: err.Error()}}}
	}
	return s.ValidateValue(name, v, schema)
}

// ValidateValue checks a decoded value (numbers as json.Number) against the
// schema name; schema, when not nil, is the schema itself (a sub-schema of
// name, for a $ref relative to it).
func (s *Set) ValidateValue(name string, v any, schema any) error {
	if schema == nil {
		var ok bool
		if schema, ok = s.docs[name]; !ok {
			return fmt.Errorf("%w: no schema %s", ErrSchema, name)
		}
	}
	c := checker{set: s}
	c.check(name, schema, v, "")
	if c.err != nil {
		return c.err
	}
	if len(c.problems) > 0 {
		return &Error{Schema: name, Problems: c.problems}
	}
	return nil
}

// decode decodes one JSON value with numbers as json.Number and rejects
// trailing data.
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

type checker struct {
	set      *Set
	problems []Problem
	err      error // a schema error found while checking
	depth    int
}

func (c *checker) add(at, format string, args ...any) {
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, Problem{Path: at, Message: fmt.Sprintf(format, args...)})
	}
}

// quiet runs f on a fresh checker and reports whether it found nothing.
func (c *checker) quiet(f func(*checker)) bool {
	sub := checker{set: c.set, depth: c.depth}
	f(&sub)
	if sub.err != nil && c.err == nil {
		c.err = sub.err
	}
	return len(sub.problems) == 0
}

func typeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if isInteger(x) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func isInteger(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }

func rat(v any) (*big.Rat, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

func intOf(v any) (int, bool) {
	r, ok := rat(v)
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return int(r.Num().Int64()), true
}

func pointer(at, key string) string {
	return at + "/" + strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}

// equal compares JSON values, numbers by value.
func equal(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		ra, ok1 := rat(x)
		rb, ok2 := rat(b)
		return ok1 && ok2 && ra.Cmp(rb) == 0
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !equal(e, f) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func (c *checker) check(file string, schema any, v any, at string) {
	if c.err != nil {
		return
	}
	if c.depth > 200 {
		c.err = fmt.Errorf("%w: %s: $ref recursion deeper than 200", ErrSchema, file)
		return
	}
	c.depth++
	defer func() { c.depth-- }()
	switch sc := schema.(type) {
	case bool:
		if !sc {
			c.add(at, "no value is allowed here")
		}
		return
	case map[string]any:
		c.object(file, sc, v, at)
	}
}

func (c *checker) object(file string, sc map[string]any, v any, at string) {
	if ref, ok := sc["$ref"].(string); ok {
		f, target, err := c.set.resolve(file, ref)
		if err != nil {
			c.err = err
			return
		}
		c.check(f, target, v, at)
	}
	if t, ok := sc["type"]; ok {
		got := typeOf(v)
		var names []string
		switch x := t.(type) {
		case string:
			names = []string{x}
		case []any:
			for _, e := range x {
				n, _ := e.(string)
				names = append(names, n)
			}
		}
		match := false
		for _, n := range names {
			match = match || n == got || n == "number" && got == "integer"
		}
		if !match {
			c.add(at, "is %s, want %s", describe(v), strings.Join(names, " or "))
			return
		}
	}
	if k, ok := sc["const"]; ok && !equal(v, k) {
		c.add(at, "is %s, want %s", describe(v), show(k))
	}
	if e, ok := sc["enum"].([]any); ok {
		found := false
		for _, x := range e {
			found = found || equal(v, x)
		}
		if !found {
			var opts []string
			for _, x := range e {
				opts = append(opts, show(x))
			}
			c.add(at, "is %s, want one of %s", describe(v), strings.Join(opts, ", "))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		c.members(file, sc, x, at)
	case []any:
		c.elements(file, sc, x, at)
	case string:
		c.str(sc, x, at)
	case json.Number:
		r, _ := rat(x)
		if m, ok := rat(sc["minimum"]); ok && r.Cmp(m) < 0 {
			c.add(at, "is %s, less than the minimum %s", x, show(sc["minimum"]))
		}
		if m, ok := rat(sc["maximum"]); ok && r.Cmp(m) > 0 {
			c.add(at, "is %s, more than the maximum %s", x, show(sc["maximum"]))
		}
	}
	if all, ok := sc["allOf"].([]any); ok {
		for _, sub := range all {
			c.check(file, sub, v, at)
		}
	}
	if anyOf, ok := sc["anyOf"].([]any); ok {
		found := false
		for _, sub := range anyOf {
			found = found || c.quiet(func(q *checker) { q.check(file, sub, v, at) })
		}
		if !found {
			c.add(at, "matches none of the schemas anyOf lists")
		}
	}
	if oneOf, ok := sc["oneOf"].([]any); ok {
		n := 0
		for _, sub := range oneOf {
			if c.quiet(func(q *checker) { q.check(file, sub, v, at) }) {
				n++
			}
		}
		if n != 1 {
			c.add(at, "matches %d of the schemas oneOf lists, want exactly 1", n)
		}
	}
	if not, ok := sc["not"]; ok {
		if c.quiet(func(q *checker) { q.check(file, not, v, at) }) {
			c.add(at, "matches a schema it must not match")
		}
	}
}

func (c *checker) members(file string, sc map[string]any, x map[string]any, at string) {
	props, _ := sc["properties"].(map[string]any)
	pats, _ := sc["patternProperties"].(map[string]any)
	if req, ok := sc["required"].([]any); ok {
		for _, r := range req {
			k, _ := r.(string)
			if _, ok := x[k]; !ok {
				c.add(at, "has no %q (required)", k)
			}
		}
	}
	if n, ok := intOf(sc["minProperties"]); ok && len(x) < n {
		c.add(at, "has %d members, fewer than %d", len(x), n)
	}
	if n, ok := intOf(sc["maxProperties"]); ok && len(x) > n {
		c.add(at, "has %d members, more than %d", len(x), n)
	}
	keys := make([]string, 0, len(x))
	for k := range x {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	addl, hasAddl := sc["additionalProperties"]
	pn, hasPN := sc["propertyNames"]
	for _, k := range keys {
		kat := pointer(at, k)
		if hasPN {
			c.check(file, pn, k, kat)
		}
		matched := false
		if ps, ok := props[k]; ok {
			matched = true
			c.check(file, ps, x[k], kat)
		}
		for p, ps := range pats {
			if re, err := c.set.compile(p); err == nil && re.MatchString(k) {
				matched = true
				c.check(file, ps, x[k], kat)
			}
		}
		if !matched && hasAddl {
			if b, ok := addl.(bool); ok && !b {
				c.add(kat, "is not allowed here (unknown member)")
				continue
			}
			c.check(file, addl, x[k], kat)
		}
	}
}

func (c *checker) elements(file string, sc map[string]any, x []any, at string) {
	if n, ok := intOf(sc["minItems"]); ok && len(x) < n {
		c.add(at, "has %d items, fewer than %d", len(x), n)
	}
	if n, ok := intOf(sc["maxItems"]); ok && len(x) > n {
		c.add(at, "has %d items, more than %d", len(x), n)
	}
	if u, _ := sc["uniqueItems"].(bool); u {
		for i := range x {
			for j := i + 1; j < len(x); j++ {
				if equal(x[i], x[j]) {
					c.add(pointer(at, strconv.Itoa(j)), "repeats item %d (items must be unique)", i)
				}
			}
		}
	}
	if items, ok := sc["items"]; ok {
		for i, e := range x {
			c.check(file, items, e, pointer(at, strconv.Itoa(i)))
		}
	}
}

func (c *checker) str(sc map[string]any, x string, at string) {
	n := utf8.RuneCountInString(x)
	if m, ok := intOf(sc["minLength"]); ok && n < m {
		c.add(at, "is %d characters long, shorter than %d", n, m)
	}
	if m, ok := intOf(sc["maxLength"]); ok && n > m {
		c.add(at, "is %d characters long, longer than %d", n, m)
	}
	if p, ok := sc["pattern"].(string); ok {
		if re, err := c.set.compile(p); err == nil && !re.MatchString(x) {
			c.add(at, "is %s, which does not match %s", show(x), p)
		}
	}
	if f, _ := sc["format"].(string); f == "date-time" {
		if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
			c.add(at, "is %s, not an RFC 3339 date-time", show(x))
		}
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return typeOf(v) + " " + show(v)
}
