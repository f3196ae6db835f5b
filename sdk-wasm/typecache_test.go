package ron

import (
	"reflect"
	"sync"
	"testing"
)

// Concurrent look-ups of the same types (natively a plugin's tests may run
// in parallel) all get the one typeInfo per type, and its answers.
func TestTypeCacheConcurrent(t *testing.T) {
	types := []reflect.Type{
		reflect.TypeFor[struct{ A, B string }](), reflect.TypeFor[struct{ C []int }](),
		reflect.TypeFor[Meta](), reflect.TypeFor[Payload](), reflect.TypeFor[map[string]any](),
		reflect.TypeFor[struct{ D chan int }](),
	}
	got := make([][]*typeInfo, 8)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			for _, ty := range types {
				got[g] = append(got[g], infoOf(ty))
				decodable(ty)
				encodable(ty)
			}
		})
	}
	wg.Wait()
	for g := range got {
		for i, ti := range got[g] {
			if ti != got[0][i] || ti.t != types[i] {
				t.Fatalf("goroutine %d: type %v has info %p, goroutine 0 %p", g, types[i], ti, got[0][i])
			}
		}
	}
	if !decodable(types[0]) || decodable(types[5]) {
		t.Errorf("decodable: %v %v, want true false", decodable(types[0]), decodable(types[5]))
	}
	if decl, sorted := cachedFields(types[0]); len(decl) != 2 || sorted[0].name != "A" {
		t.Errorf("fields %v %v", decl, sorted)
	}
}
