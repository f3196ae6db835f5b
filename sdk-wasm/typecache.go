package ron

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// typeInfo is what the decoder and the encoder derive from a type by
// reflection: whether each walks it itself, and its fields as encoding/json
// names them. Deriving it took a validate call in wasm longer than the
// plugin's own logic (struct tags are parsed with strconv, every field is a
// reflect.StructField copy, PointerTo goes through a map), so it is derived
// once per type and kept for the life of the module.
type typeInfo struct {
	tw                                     unsafe.Pointer // t's type descriptor (see typeWord)
	t                                      reflect.Type
	decOnce, encOnce, fieldsOnce, planOnce sync.Once
	dec, enc                               bool    // supported, encSupported
	fields                                 []field // declaration order
	sorted                                 []field // by name (the reflective encoder's)
	plan                                   *plan
}

// typeInfos is the cache of typeInfo: the types seen so far, in a slice
// replaced whole when a type is added (copy on write), so a look-up is a
// lock-free scan comparing type pointers. A plugin decodes and encodes a
// handful of types; a sync.Map hashed the type at every look-up, and in wasm
// (no AES instructions) hashing is one of the slowest things Go does.
//
// It is package state, the one piece in the SDK besides the registered
// plugin, and deliberately so. In a module it is per instance (each
// instance has its own memory), which is what the host's pool wants: it is
// filled by an instance's first calls and reused by the rest. Natively it
// is per process, like encoding/json's own field cache. It holds only what
// a type's declaration determines, never anything from an input, so it
// cannot change what a call answers; a call that fills it burns a little
// more fuel than one after it, which docs/ABI.md counts as the instance's
// history, like the garbage collector's. Making it an explicit value would
// mean threading it from Dispatch through every Manifest (Table and Set
// take no context) and losing it for manifests a plugin builds itself, for
// no change in behaviour.
var typeInfos struct {
	mu   sync.Mutex // serializes writers
	list atomic.Pointer[[]*typeInfo]
}

func infoOf(t reflect.Type) *typeInfo {
	tw := typeWord(t)
	if p := typeInfos.list.Load(); p != nil {
		for _, ti := range *p {
			if ti.tw == tw {
				return ti
			}
		}
	}
	typeInfos.mu.Lock()
	defer typeInfos.mu.Unlock()
	var old []*typeInfo
	if p := typeInfos.list.Load(); p != nil {
		old = *p
	}
	for _, ti := range old {
		if ti.tw == tw {
			return ti
		}
	}
	ti := &typeInfo{t: t, tw: tw}
	list := append(slices.Clip(old), ti)
	typeInfos.list.Store(&list)
	return ti
}

// typeWord returns t's type descriptor, the data word of the interface
// value t: one per type, so comparing it compares types without the
// runtime call comparing two interfaces takes (in wasm, a call costs more
// than the comparison).
func typeWord(t reflect.Type) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&t))[1]
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

// decodePlan returns t's plan if the decoder walks t itself, else nil.
func decodePlan(t reflect.Type) *plan {
	ti := infoOf(t)
	ti.decOnce.Do(func() { ti.dec = supported(t, map[reflect.Type]bool{}) })
	if !ti.dec {
		return nil
	}
	return ti.cachedPlan()
}

// encodePlan returns t's plan if the encoder walks t itself, else nil.
func encodePlan(t reflect.Type) *plan {
	ti := infoOf(t)
	ti.encOnce.Do(func() { ti.enc = encSupported(t, map[reflect.Type]bool{}) })
	if !ti.enc {
		return nil
	}
	return ti.cachedPlan()
}

func (ti *typeInfo) cachedPlan() *plan {
	ti.planOnce.Do(func() { ti.plan = buildPlan(ti.t, map[reflect.Type]*plan{}) })
	return ti.plan
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
