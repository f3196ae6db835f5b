package ron

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// unmarshal decodes the JSON value data into v (a non-nil pointer) as
// encoding/json's Unmarshal does (with DisallowUnknownFields when strict):
// the same values, and on failure the same first error (an
// *json.UnmarshalTypeError with the same Value, Type and Field, or
// "json: unknown field"), which decodeError turns into a field error.
//
// It exists for speed in wasm. encoding/json first runs its scanner over
// the value, one indirect call per byte, then decodes it, with reflection
// throughout; in a wasm module (and more so under a host that meters every
// call and loop) that made decoding a plugin's small table most of a
// call's cost. Here the bytes are walked once with direct loops, and the
// values are written through the type's plan (plan.go: field offsets
// derived once), reflection only for maps, interfaces and floats. data
// comes from the SDK's scanner
// (valid UTF-8 and syntax, no duplicate keys) or from encoding/json;
// anything the walk does not expect, and any type it does not handle
// (json.Unmarshaler or encoding.TextUnmarshaler implementations other than
// json.RawMessage, embedded structs, ",string" fields, arrays, []byte,
// maps with non-string keys, non-empty interfaces), goes to encoding/json.
func unmarshal(data []byte, v any, strict bool) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return stdUnmarshal(data, v, strict)
	}
	pl := decodePlan(rv.Type().Elem())
	if pl == nil {
		return stdUnmarshal(data, v, strict)
	}
	d := decoder{data: data, strict: strict}
	i := d.space(0)
	end, err := d.value(i, rv.UnsafePointer(), pl)
	if err == errFallback || err == nil && d.space(end) != len(data) { // errFallback is never wrapped
		return stdUnmarshal(data, v, strict)
	}
	return err
}

func stdUnmarshal(data []byte, v any, strict bool) error {
	if !strict {
		return json.Unmarshal(data, v)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return &json.SyntaxError{Offset: dec.InputOffset()}
	}
	return nil
}

// errFallback sends a decode to encoding/json.
var errFallback = errors.New("ron: decode with encoding/json")

var (
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
	numberType          = reflect.TypeFor[json.Number]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// supported reports whether the walk decodes values of type t itself.
func supported(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t == rawMessageType {
		return true
	}
	if t == numberType {
		return false
	}
	if seen[t] {
		return true
	}
	seen[t] = true
	if reflect.PointerTo(t).Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	case reflect.Interface:
		return t.NumMethod() == 0
	case reflect.Pointer:
		return supported(t.Elem(), seen)
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8 && supported(t.Elem(), seen)
	case reflect.Map:
		return t.Key().Kind() == reflect.String && !reflect.PointerTo(t.Key()).Implements(textUnmarshalerType) && supported(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous {
				return false
			}
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			if _, opts, _ := strings.Cut(tag, ","); strings.Contains(","+opts+",", ",string,") {
				return false
			}
			if !supported(f.Type, seen) {
				return false
			}
		}
		return true
	}
	return false
}

// field is a struct field as encoding/json names it.
type field struct {
	name      string
	index     int
	omitEmpty bool
}

// jsonFields lists t's exported fields that encoding/json would use, in
// declaration order, named by their json tags.
func jsonFields(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fs = append(fs, field{name: name, index: i, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
	}
	return fs
}

type decoder struct {
	data   []byte
	strict bool
}

func (d *decoder) space(i int) int {
	for i < len(d.data) && isSpace(d.data[i]) {
		i++
	}
	return i
}

func (d *decoder) typeError(what string, t reflect.Type, at int) error {
	// Field is filled in as the error returns through the structs around
	// the value (object), as encoding/json names the path.
	return &json.UnmarshalTypeError{Value: what, Type: t, Offset: int64(at)}
}

// skip returns the end of the value at i.
func (d *decoder) skip(i int) (int, error) {
	s := scanner{b: d.data}
	end, fe := s.value(i, 0)
	if fe != nil {
		return i, errFallback
	}
	return end, nil
}

// value decodes the value at i (no leading space) into the value of plan pl
// at p and returns the index past it.
func (d *decoder) value(i int, p unsafe.Pointer, pl *plan) (int, error) {
	if i >= len(d.data) {
		return i, errFallback
	}
	c := d.data[i]
	if pl.raw {
		end, err := d.skip(i)
		if err == nil {
			*(*[]byte)(p) = append([]byte(nil), d.data[i:end]...)
		}
		return end, err
	}
	switch pl.kind {
	case reflect.Pointer:
		// null sets nil, anything else is decoded into the pointee
		// (allocated when nil).
		if c == 'n' {
			*(*unsafe.Pointer)(p) = nil
			return d.literal(i, "null")
		}
		q := *(*unsafe.Pointer)(p)
		if q == nil {
			q = reflect.New(pl.elem.t).UnsafePointer()
			*(*unsafe.Pointer)(p) = q
		}
		return d.value(i, q, pl.elem)
	case reflect.Interface:
		v := pl.value(p)
		if !v.IsNil() {
			return i, errFallback // encoding/json decodes into what it holds
		}
		if c == 'n' {
			return d.literal(i, "null")
		}
		x, end, err := d.any(i)
		if err == nil {
			v.Set(reflect.ValueOf(x))
		}
		return end, err
	}
	switch {
	case c == '{':
		switch pl.kind {
		case reflect.Struct:
			return d.object(i, p, pl)
		case reflect.Map:
			return d.mapObject(i, p, pl)
		}
		end, err := d.skip(i)
		if err != nil {
			return end, err
		}
		return end, d.typeError("object", pl.t, end)
	case c == '[':
		return d.array(i, p, pl)
	case c == '"':
		b, end, err := d.strBytes(i) // not d.str: one call less
		if err != nil {
			return end, err
		}
		if pl.kind != reflect.String {
			return end, d.typeError("string", pl.t, end)
		}
		*(*string)(p) = view(b)
		return end, nil
	case c == 't' || c == 'f':
		lit := "true"
		if c == 'f' {
			lit = "false"
		}
		end, err := d.literal(i, lit)
		if err != nil {
			return end, err
		}
		if pl.kind != reflect.Bool {
			return end, d.typeError("bool", pl.t, end)
		}
		*(*bool)(p) = c == 't'
		return end, nil
	case c == 'n':
		switch pl.kind {
		case reflect.Map:
			*(*unsafe.Pointer)(p) = nil
		case reflect.Slice:
			*(*sliceHeader)(p) = sliceHeader{}
		}
		return d.literal(i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number(i, p, pl)
	}
	return i, errFallback
}

func (d *decoder) literal(i int, lit string) (int, error) {
	if len(d.data)-i < len(lit) || string(d.data[i:i+len(lit)]) != lit {
		return i, errFallback
	}
	return i + len(lit), nil
}

func (d *decoder) numberEnd(i int) int {
	for i < len(d.data) {
		switch c := d.data[i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			i++
		default:
			return i
		}
	}
	return i
}

func (d *decoder) number(i int, p unsafe.Pointer, pl *plan) (int, error) {
	end := d.numberEnd(i)
	bits := 8 * pl.size
	switch pl.kind {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, e, ok := d.fastUint(i)
		if !ok || e != end {
			var err error
			if n, err = strconv.ParseUint(view(d.data[i:end]), 10, 64); err != nil {
				return end, d.typeError("number "+string(d.data[i:end]), pl.t, end)
			}
		}
		if bits < 64 && n >= 1<<bits {
			return end, d.typeError("number "+string(d.data[i:end]), pl.t, end)
		}
		switch pl.size {
		case 1:
			*(*uint8)(p) = uint8(n)
		case 2:
			*(*uint16)(p) = uint16(n)
		case 4:
			*(*uint32)(p) = uint32(n)
		default:
			*(*uint64)(p) = n
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(view(d.data[i:end]), 10, 64)
		if err != nil || bits < 64 && n<<(64-bits)>>(64-bits) != n {
			return end, d.typeError("number "+string(d.data[i:end]), pl.t, end)
		}
		switch pl.size {
		case 1:
			*(*int8)(p) = int8(n)
		case 2:
			*(*int16)(p) = int16(n)
		case 4:
			*(*int32)(p) = int32(n)
		default:
			*(*int64)(p) = n
		}
	case reflect.Float32, reflect.Float64:
		s := string(d.data[i:end])
		v := pl.value(p)
		n, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil || v.OverflowFloat(n) {
			return end, d.typeError("number "+s, pl.t, end)
		}
		v.SetFloat(n)
	default:
		return end, d.typeError("number", pl.t, end)
	}
	return end, nil
}

// str decodes the string at i: a view of the document's bytes when it has
// no escapes (see view).
func (d *decoder) str(i int) (string, int, error) {
	b, end, err := d.strBytes(i)
	if err != nil {
		return "", end, err
	}
	return view(b), end, nil // b is the document's bytes or a fresh buffer
}

// strBytes decodes the string at i; without escapes the result is a slice
// of the input (no copy), so member names cost nothing to compare.
func (d *decoder) strBytes(i int) ([]byte, int, error) {
	j := i + 1
	for j < len(d.data) {
		switch c := d.data[j]; {
		case c == '"':
			return d.data[i+1 : j], j + 1, nil
		case c == '\\':
			return d.strEscaped(i)
		case c < 0x20:
			return nil, j, errFallback
		}
		j++
	}
	return nil, j, errFallback
}

func (d *decoder) strEscaped(i int) ([]byte, int, error) {
	out := make([]byte, 0, 32)
	j := i + 1
	for j < len(d.data) {
		c := d.data[j]
		switch {
		case c == '"':
			return out, j + 1, nil
		case c < 0x20:
			return nil, j, errFallback
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(d.data) {
			return nil, j, errFallback
		}
		e := d.data[j+1]
		j += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4(j)
			if !ok {
				return nil, j, errFallback
			}
			j += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(-1), false
				if j+6 <= len(d.data) && d.data[j] == '\\' && d.data[j+1] == 'u' {
					r2, ok = d.hex4(j + 2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					j += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, j, errFallback
		}
	}
	return nil, j, errFallback
}

func (d *decoder) hex4(j int) (rune, bool) {
	if j+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[j : j+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// members calls f for each member of the object at i with the key (valid
// only during the call) and the index of its value; it returns the index
// past the object.
func (d *decoder) members(i int, f func(key []byte, at int) (int, error)) (int, error) {
	i = d.space(i + 1)
	if i < len(d.data) && d.data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(d.data) || d.data[i] != '"' {
			return i, errFallback
		}
		key, end, err := d.strBytes(i)
		if err != nil {
			return end, err
		}
		i = d.space(end)
		if i >= len(d.data) || d.data[i] != ':' {
			return i, errFallback
		}
		if i, err = f(key, d.space(i+1)); err != nil {
			return i, err
		}
		i = d.space(i)
		if i >= len(d.data) {
			return i, errFallback
		}
		switch d.data[i] {
		case ',':
			i = d.space(i + 1)
		case '}':
			return i + 1, nil
		default:
			return i, errFallback
		}
	}
}

// object decodes the object at i into the struct of plan pl at p. It is
// members' loop written out: a closure call per member costs, in wasm, more
// than matching its name.
func (d *decoder) object(i int, p unsafe.Pointer, pl *plan) (int, error) {
	fs, sorted := pl.fields, pl.sorted
	if pl.ambiguous {
		sorted = nil
	}
	next := 0 // canonical documents list members in sorted order: try that field first
	i = d.space(i + 1)
	if i < len(d.data) && d.data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(d.data) || d.data[i] != '"' {
			return i, errFallback
		}
		key, end, err := d.strBytes(i)
		if err != nil {
			return end, err
		}
		i = d.space(end)
		if i >= len(d.data) || d.data[i] != ':' {
			return i, errFallback
		}
		at := d.space(i + 1)
		var f *pfield
		if next < len(sorted) && sorted[next].name == string(key) {
			f = &sorted[next]
			next++
		} else {
			for k := range fs {
				if fs[k].name == string(key) {
					f = &fs[k]
					break
				}
			}
		}
		if f == nil {
			// encoding/json takes the first field in declaration order
			// whose name matches but for case.
			for k := range fs {
				if strings.EqualFold(fs[k].name, string(key)) {
					f = &fs[k]
					break
				}
			}
		}
		if f == nil {
			if d.strict {
				return at, fmt.Errorf("json: unknown field %q", key)
			}
			i, err = d.skip(at)
		} else {
			i, err = d.value(at, unsafe.Add(p, f.offset), f.p)
			if te, ok := err.(*json.UnmarshalTypeError); ok {
				if te.Field == "" {
					te.Field = f.name
				} else {
					te.Field = f.name + "." + te.Field
				}
			}
		}
		if err != nil {
			return i, err
		}
		i = d.space(i)
		if i >= len(d.data) {
			return i, errFallback
		}
		switch d.data[i] {
		case ',':
			i = d.space(i + 1)
		case '}':
			return i + 1, nil
		default:
			return i, errFallback
		}
	}
}

// mapObject decodes the object at i into the map of plan pl at p.
func (d *decoder) mapObject(i int, p unsafe.Pointer, pl *plan) (int, error) {
	v := pl.value(p)
	t := pl.t
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	return d.members(i, func(key []byte, at int) (int, error) {
		elem := reflect.New(t.Elem())
		end, err := d.value(at, elem.UnsafePointer(), pl.elem)
		if err == nil {
			v.SetMapIndex(reflect.ValueOf(string(key)).Convert(t.Key()), elem.Elem())
		}
		return end, err
	})
}

// array decodes the array at i into the slice of plan pl at p, growing it
// as encoding/json does (elements within its capacity are decoded into, not
// zeroed first).
func (d *decoder) array(i int, p unsafe.Pointer, pl *plan) (int, error) {
	if pl.kind != reflect.Slice {
		end, err := d.skip(i)
		if err != nil {
			return end, err
		}
		return end, d.typeError("array", pl.t, end)
	}
	sh := (*sliceHeader)(p)
	n := 0
	i = d.space(i + 1)
	if i < len(d.data) && d.data[i] == ']' {
		pl.value(p).Set(reflect.MakeSlice(pl.t, 0, 0))
		return i + 1, nil
	}
	elem := pl.elem
	for {
		if n >= sh.cap {
			pl.value(p).Grow(max(4, n)) // fewer growths: each is an allocation and a copy
		}
		if n >= sh.len {
			sh.len = n + 1
		}
		end, err := d.value(i, unsafe.Add(sh.data, uintptr(n)*elem.size), elem)
		if err != nil {
			return end, err
		}
		n++
		i = d.space(end)
		if i >= len(d.data) {
			return i, errFallback
		}
		switch d.data[i] {
		case ',':
			i = d.space(i + 1)
		case ']':
			sh.len = n
			return i + 1, nil
		default:
			return i, errFallback
		}
	}
}

// any decodes the value at i as encoding/json does into an empty
// interface: objects map[string]any, arrays []any, numbers float64.
func (d *decoder) any(i int) (any, int, error) {
	if i >= len(d.data) {
		return nil, i, errFallback
	}
	switch c := d.data[i]; {
	case c == '{':
		m := map[string]any{}
		end, err := d.members(i, func(key []byte, at int) (int, error) {
			x, end, err := d.any(at)
			m[string(key)] = x
			return end, err
		})
		return m, end, err
	case c == '[':
		out := []any{}
		i = d.space(i + 1)
		if i < len(d.data) && d.data[i] == ']' {
			return out, i + 1, nil
		}
		for {
			x, end, err := d.any(i)
			if err != nil {
				return nil, end, err
			}
			out = append(out, x)
			i = d.space(end)
			if i >= len(d.data) {
				return nil, i, errFallback
			}
			switch d.data[i] {
			case ',':
				i = d.space(i + 1)
			case ']':
				return out, i + 1, nil
			default:
				return nil, i, errFallback
			}
		}
	case c == '"':
		x, end, err := d.str(i)
		return x, end, err
	case c == 't':
		end, err := d.literal(i, "true")
		return true, end, err
	case c == 'f':
		end, err := d.literal(i, "false")
		return false, end, err
	case c == 'n':
		end, err := d.literal(i, "null")
		return nil, end, err
	case c == '-' || c >= '0' && c <= '9':
		end := d.numberEnd(i)
		s := string(d.data[i:end])
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, end, &json.UnmarshalTypeError{Value: "number " + s, Type: reflect.TypeFor[float64](), Offset: int64(end)}
		}
		return f, end, nil
	}
	return nil, i, errFallback
}
