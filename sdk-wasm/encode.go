package ron

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// appendCanonicalValue appends v's JSON in canonical form (as
// appendCanonical(marshal(v)) would write it: object keys sorted, no
// space, strings escaped as appendString does), walking v with reflection
// once instead of encoding it with encoding/json and scanning the result
// again, which in wasm cost a validate call more than its own logic. A type
// it does not handle (json.Marshaler or encoding.TextMarshaler
// implementations other than json.RawMessage, embedded structs, ",string"
// fields, arrays, []byte, maps with non-string keys) returns errFallback, and
// the caller encodes with encoding/json.
func appendCanonicalValue(dst []byte, v any) ([]byte, error) {
	if v == nil {
		return append(dst, "null"...), nil
	}
	pl := encodePlan(reflect.TypeOf(v))
	if pl == nil {
		return dst, errFallback
	}
	var e encoder
	return e.pvalue(dst, dataOf(&v, pl), pl)
}

// pvalue appends the value of plan pl at p, as value would from its
// reflect.Value, reading memory directly for every kind but maps,
// interfaces and floats.
func (e *encoder) pvalue(dst []byte, p unsafe.Pointer, pl *plan) ([]byte, error) {
	if pl.raw {
		return e.value(dst, pl.value(p))
	}
	switch pl.kind {
	case reflect.Bool:
		return strconv.AppendBool(dst, *(*bool)(p)), nil
	case reflect.String:
		return appendString(dst, *(*string)(p)), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		switch pl.size {
		case 1:
			n = int64(*(*int8)(p))
		case 2:
			n = int64(*(*int16)(p))
		case 4:
			n = int64(*(*int32)(p))
		default:
			n = *(*int64)(p)
		}
		return strconv.AppendInt(dst, n, 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		var n uint64
		switch pl.size {
		case 1:
			n = uint64(*(*uint8)(p))
		case 2:
			n = uint64(*(*uint16)(p))
		case 4:
			n = uint64(*(*uint32)(p))
		default:
			n = *(*uint64)(p)
		}
		return strconv.AppendUint(dst, n, 10), nil
	case reflect.Pointer:
		q := *(*unsafe.Pointer)(p)
		if q == nil {
			return append(dst, "null"...), nil
		}
		if e.depth > maxEncodeDepth {
			return dst, errFallback
		}
		e.depth++
		dst, err := e.pvalue(dst, q, pl.elem)
		e.depth--
		return dst, err
	case reflect.Slice:
		sh := (*sliceHeader)(p)
		if sh.data == nil {
			return append(dst, "null"...), nil
		}
		if e.depth > maxEncodeDepth {
			return dst, errFallback
		}
		e.depth++
		dst = append(dst, '[')
		for i := range sh.len {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.pvalue(dst, unsafe.Add(sh.data, uintptr(i)*pl.elem.size), pl.elem); err != nil {
				return dst, err
			}
		}
		e.depth--
		return append(dst, ']'), nil
	case reflect.Struct:
		dst = append(dst, '{')
		n := 0
		for k := range pl.sorted {
			f := &pl.sorted[k]
			fp := unsafe.Add(p, f.offset)
			if f.omitEmpty && f.p.isEmpty(fp) {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = appendString(dst, f.name)
			dst = append(dst, ':')
			var err error
			if dst, err = e.pvalue(dst, fp, f.p); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return e.value(dst, pl.value(p))
}

// isEmpty is isEmptyValue for the value of plan p at ptr.
func (p *plan) isEmpty(ptr unsafe.Pointer) bool {
	switch p.kind {
	case reflect.String:
		return len(*(*string)(ptr)) == 0
	case reflect.Slice:
		return (*sliceHeader)(ptr).len == 0
	case reflect.Pointer, reflect.Interface:
		return *(*unsafe.Pointer)(ptr) == nil
	case reflect.Bool:
		return !*(*bool)(ptr)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		for _, b := range unsafe.Slice((*byte)(ptr), p.size) {
			if b != 0 {
				return false
			}
		}
		return true
	}
	return isEmptyValue(p.value(ptr))
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func encSupported(t reflect.Type, seen map[reflect.Type]bool) bool {
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
	if t.Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(jsonMarshalerType) ||
		t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	case reflect.Interface:
		return true // checked again on the value it holds
	case reflect.Pointer:
		return encSupported(t.Elem(), seen)
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8 && encSupported(t.Elem(), seen)
	case reflect.Map:
		return t.Key().Kind() == reflect.String && encSupported(t.Elem(), seen)
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
			if _, opts, _ := strings.Cut(tag, ","); strings.Contains(","+opts+",", ",string,") || strings.Contains(","+opts+",", ",omitzero,") {
				return false
			}
			if !encSupported(f.Type, seen) {
				return false
			}
		}
		return true
	}
	return false
}

type encoder struct {
	depth int
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// maxEncodeDepth bounds the walk (encoding/json reports a cycle past 1000).
const maxEncodeDepth = 1000

func (e *encoder) value(dst []byte, v reflect.Value) ([]byte, error) {
	if e.depth > maxEncodeDepth {
		return dst, errFallback
	}
	e.depth++
	defer func() { e.depth-- }()
	if v.Type() == rawMessageType {
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		out, err := appendCanonical(dst, v.Bytes())
		if err != nil {
			return dst, errFallback
		}
		return out, nil
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(dst, v.Bool()), nil
	case reflect.String:
		return appendString(dst, v.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, v.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		if v.Kind() == reflect.Interface && !encodable(v.Elem().Type()) {
			return dst, errFallback
		}
		return e.value(dst, v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i := range v.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.value(dst, v.Index(i)); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case reflect.Map:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = e.value(dst, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case reflect.Struct:
		dst = append(dst, '{')
		n := 0
		_, fs := cachedFields(v.Type())
		for _, f := range fs {
			fv := v.Field(f.index)
			if f.omitEmpty && isEmptyValue(fv) {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = appendString(dst, f.name)
			dst = append(dst, ':')
			var err error
			if dst, err = e.value(dst, fv); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return dst, errFallback
}

// encodeTable encodes v for Manifest.Set: canonical JSON and true, or
// encoding/json's output (canonicalized later) and false.
func encodeTable(v any) ([]byte, bool, error) {
	// Room for a small table at once: in wasm each growth of the buffer is
	// an allocation and a copy that cost more than the bytes they move.
	if b, err := appendCanonicalValue(make([]byte, 0, 512), v); err == nil {
		return b, true, nil
	}
	b, err := marshal(v)
	return b, false, err
}
