package storetest

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// Open opens a real store in a fresh temporary directory of t, closed
// when the test ends.
func Open(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "store"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// Recorder keeps the object.stored events and the provided roots given to
// its Emit and Provide, which have the shapes the store role's callers take.
type Recorder struct {
	mu       sync.Mutex
	stored   []string
	provided []cid.CID
}

// Emit records an object.stored event's CID; other events are ignored.
func (r *Recorder) Emit(kind string, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := v.(bus.ObjectStored); ok && kind == bus.KindObjectStored {
		r.stored = append(r.stored, e.CID)
	}
}

// Provide records the roots provided.
func (r *Recorder) Provide(_ context.Context, cs ...cid.CID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.provided = append(r.provided, cs...)
}

// Lists returns copies of the stored events' CIDs and the provided roots,
// in the order they came.
func (r *Recorder) Lists() ([]string, []cid.CID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.stored), slices.Clone(r.provided)
}
