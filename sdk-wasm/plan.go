package ron

import (
	"reflect"
	"slices"
	"strings"
	"unsafe"
)

// plan is what the decoder and the encoder need of a type, derived once by
// reflection so that a call walks memory through unsafe pointers instead:
// in wasm every reflect.Value operation (Field, SetString, Index, SetLen...)
// is a chain of calls with flag checks that cost more than the bytes being
// decoded, and a table decode made dozens of them. Kinds that are rare in
// documents (maps, interfaces, floats) still go through reflect.Value at the
// place they occur.
type plan struct {
	t      reflect.Type
	ptrTo  unsafe.Pointer // the runtime's type descriptor of *t (see value)
	kind   reflect.Kind
	size   uintptr
	raw    bool     // json.RawMessage
	direct bool     // an interface holding a t holds it in its data word, not a pointer to it
	elem   *plan    // Pointer, Slice and Map: the element
	fields []pfield // Struct: as encoding/json names them, in declaration order (the decoder's)
	sorted []pfield // the same fields sorted by name (the encoder's)
	// ambiguous: two fields have the same name; the decoder then takes the
	// first in declaration order, never guessing from the sorted order.
	ambiguous bool
}

// pfield is one struct field of a plan.
type pfield struct {
	name      string
	offset    uintptr
	omitEmpty bool
	p         *plan
}

// sliceHeader is the layout of every slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// buildPlan derives t's plan; building holds the plans being built, so a
// recursive type refers to its own plan.
func buildPlan(t reflect.Type, building map[reflect.Type]*plan) *plan {
	if p, ok := building[t]; ok {
		return p
	}
	p := &plan{t: t, kind: t.Kind(), size: t.Size(), raw: t == rawMessageType}
	// A reflect.Type is an interface whose data word is the type
	// descriptor, the word an interface holding a *t has as its type.
	p.ptrTo = typeWord(reflect.PointerTo(t))
	p.direct = directIface(t)
	building[t] = p
	switch p.kind {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		p.elem = buildPlan(t.Elem(), building)
	case reflect.Struct:
		for _, f := range jsonFields(t) {
			sf := t.Field(f.index)
			p.fields = append(p.fields, pfield{name: f.name, offset: sf.Offset, omitEmpty: f.omitEmpty, p: buildPlan(sf.Type, building)})
		}
		p.sorted = slices.Clone(p.fields)
		slices.SortStableFunc(p.sorted, func(a, b pfield) int { return strings.Compare(a.name, b.name) })
		for k := 1; k < len(p.sorted); k++ {
			if p.sorted[k].name == p.sorted[k-1].name {
				p.ambiguous = true
			}
		}
	}
	return p
}

// value returns the reflect.Value of p's type at ptr, for what is done by
// reflection (slices grown, maps, interfaces, floats). It is
// reflect.NewAt(p.t, ptr).Elem() without NewAt's look-up of the pointer
// type, which for a type the program never takes the address of is a
// hashed search of a sync.Map: in wasm, more than decoding the value. The
// interface it builds is one holding a *t whose value is ptr.
func (p *plan) value(ptr unsafe.Pointer) reflect.Value {
	var x any
	e := (*[2]unsafe.Pointer)(unsafe.Pointer(&x))
	e[0], e[1] = p.ptrTo, ptr
	return reflect.ValueOf(x).Elem()
}

// directIface reports whether an interface holds a t in its data word
// itself (the compiler's rule: pointer-shaped types, and structs and arrays
// of one such element) rather than a pointer to a copy.
func directIface(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Array:
		return t.Len() == 1 && directIface(t.Elem())
	case reflect.Struct:
		return t.NumField() == 1 && directIface(t.Field(0).Type)
	}
	return false
}

// dataOf returns a pointer to the value v holds, whose plan is pl (v's
// dynamic type): the data word of v's copy x for a direct type, else the
// word itself (the pointer to the value the interface holds, read only).
func dataOf(x *any, pl *plan) unsafe.Pointer {
	e := (*[2]unsafe.Pointer)(unsafe.Pointer(x))
	if pl.direct {
		return unsafe.Pointer(&e[1])
	}
	return e[1]
}
