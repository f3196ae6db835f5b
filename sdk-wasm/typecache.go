package ron

import (
	"reflect"
	"slices"
	"strings"
	"sync"
)

// typeInfo is what the decoder and the encoder derive from a type by
// reflection: whether each walks it itself, and its fields as encoding/json
// names them. Deriving it took a validate call in wasm longer than the
// plugin's own logic (struct tags are parsed with strconv, every field is a
// reflect.StructField copy, PointerTo goes through a map), so it is derived
// once per type and kept for the life of the module.
type typeInfo struct {
	decOnce, encOnce, fieldsOnce sync.Once
	dec, enc                     bool    // supported, encSupported
	fields                       []field // declaration order (the decoder's)
	sorted                       []field // by name (the encoder's)
}

// typeInfos caches typeInfo by reflect.Type. It is package state, like
// encoding/json's field cache: it holds only what a type's declaration
// determines, so it never changes what a call answers.
var typeInfos sync.Map

func infoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti, _ := typeInfos.LoadOrStore(t, &typeInfo{})
	return ti.(*typeInfo)
}

// decodable reports supported(t), cached.
func decodable(t reflect.Type) bool {
	ti := infoOf(t)
	ti.decOnce.Do(func() { ti.dec = supported(t, map[reflect.Type]bool{}) })
	return ti.dec
}

// encodable reports encSupported(t), cached.
func encodable(t reflect.Type) bool {
	ti := infoOf(t)
	ti.encOnce.Do(func() { ti.enc = encSupported(t, map[reflect.Type]bool{}) })
	return ti.enc
}

// cachedFields returns jsonFields(t) in declaration order and sorted by
// name; callers must not modify them.
func cachedFields(t reflect.Type) (decl, sorted []field) {
	ti := infoOf(t)
	ti.fieldsOnce.Do(func() {
		ti.fields = jsonFields(t)
		ti.sorted = slices.Clone(ti.fields)
		slices.SortStableFunc(ti.sorted, func(a, b field) int { return strings.Compare(a.name, b.name) })
	})
	return ti.fields, ti.sorted
}
