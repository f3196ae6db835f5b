package store

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// crashPointFS wraps a filesystem and, while armed, calls hook before and
// after every step that can make something durable or change the
// namespace: file and directory syncs, renames, removals. Each call is a
// point at which the test takes a power cut.
type crashPointFS struct {
	vfs.FS
	armed atomic.Bool
	hook  func()
}

func (f *crashPointFS) at() {
	if f.armed.Load() {
		f.hook()
	}
}

func (f *crashPointFS) wrap(file vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &crashPointFile{File: file, fs: f}, nil
}

func (f *crashPointFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return f.wrap(f.FS.Create(name, c))
}

func (f *crashPointFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return f.wrap(f.FS.OpenReadWrite(name, c, opts...))
}

func (f *crashPointFS) ReuseForWrite(old, new string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f.at()
	return f.wrap(f.FS.ReuseForWrite(old, new, c))
}

func (f *crashPointFS) OpenDir(name string) (vfs.File, error) {
	return f.wrap(f.FS.OpenDir(name))
}

func (f *crashPointFS) Rename(old, new string) error {
	f.at()
	err := f.FS.Rename(old, new)
	f.at()
	return err
}

func (f *crashPointFS) Remove(name string) error {
	f.at()
	err := f.FS.Remove(name)
	f.at()
	return err
}

type crashPointFile struct {
	vfs.File
	fs *crashPointFS
}

func (f *crashPointFile) Sync() error {
	f.fs.at()
	err := f.File.Sync()
	f.fs.at()
	return err
}

func (f *crashPointFile) SyncData() error {
	f.fs.at()
	err := f.File.SyncData()
	f.fs.at()
	return err
}

func (f *crashPointFile) SyncTo(n int64) (bool, error) {
	f.fs.at()
	full, err := f.File.SyncTo(n)
	f.fs.at()
	return full, err
}

// TestIngestPowerLoss takes a power cut (Pebble's crashable MemFS, with a
// random share of unsynced data kept) at every sync, rename and removal
// during each Commit, and at points while groups arrive, and checks every
// resulting store: acknowledged objects intact, the object being committed
// either wholly there or wholly absent, nothing in tmp/, no orphan file, exact
// usage counters.
func TestIngestPowerLoss(t *testing.T) {
	ctx := context.Background()
	mem := vfs.NewCrashableMem()
	cfs := &crashPointFS{FS: mem}
	const dir = "/store"
	s, err := Open(ctx, dir, Options{FS: cfs, InlineMax: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(17, 17))
	snapRng := rand.New(rand.NewPCG(18, 18)) // under mu: hooks may run on Pebble's goroutines
	type crash struct {
		fs      *vfs.MemFS
		acked   map[cid.CID][]byte
		pending cid.CID
		data    []byte
	}
	var (
		mu      sync.Mutex
		crashes []crash
		acked   = map[cid.CID][]byte{}
		pending cid.CID
		pdata   []byte
	)
	snapshot := func() {
		mu.Lock()
		defer mu.Unlock()
		ack := make(map[cid.CID][]byte, len(acked))
		for k, v := range acked {
			ack[k] = v
		}
		pct := snapRng.IntN(101)
		clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(uint64(pct), 5))})
		crashes = append(crashes, crash{clone, ack, pending, pdata})
	}
	cfs.hook = snapshot
	sizes := []int{10, 999, 1001, GroupSize, 3*GroupSize + 3, 9 * GroupSize}
	for i, n := range sizes {
		data := randBytes(uint64(300+i), n)
		in := newIngestT(t, s, data)
		mu.Lock()
		pending, pdata = in.CID(), data
		mu.Unlock()
		work := units(rng, int64(n))
		rng.Shuffle(len(work), func(i, j int) { work[i], work[j] = work[j], work[i] })
		for k, u := range work {
			if err := in.WriteGroups(u[0], data[u[0]:u[1]]); err != nil {
				t.Fatal(err)
			}
			if k == len(work)/2 {
				snapshot() // mid-ingest
			}
		}
		cfs.armed.Store(true)
		res, err := in.Commit(ctx, PutOptions{Pin: i%2 == 0})
		cfs.armed.Store(false)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		acked[res.CID] = data
		pending, pdata = cid.CID{}, nil
		mu.Unlock()
	}
	snapshot()
	if len(crashes) < 4*len(sizes) {
		t.Fatalf("only %d crash points", len(crashes))
	}
	var present, absent int
	for _, c := range crashes {
		st, err := Open(ctx, dir, Options{FS: c.fs, InlineMax: 1000})
		if err != nil {
			t.Fatalf("reopen after a crash: %v", err)
		}
		assertNoTemp(t, st)
		for k, data := range c.acked {
			if got := readAll(t, st, k, 0, -1); !bytes.Equal(got, data) {
				t.Fatalf("acknowledged %s reads back wrong", k)
			}
		}
		if c.data != nil {
			_, err := st.Info(ctx, c.pending)
			switch {
			case err == nil:
				present++
				if got := readAll(t, st, c.pending, 0, -1); !bytes.Equal(got, c.data) {
					t.Fatalf("the object committed at the crash is there but reads back wrong")
				}
			case errors.Is(err, ErrNotFound):
				absent++
			default:
				t.Fatal(err)
			}
		}
		scrubClean(t, st)
		st.Close()
	}
	// Crash points fell both before and after the commit point.
	if present == 0 || absent == 0 {
		t.Fatalf("of the crashes during an ingest, %d kept it and %d did not; want both", present, absent)
	}
	t.Logf("%d simulated power cuts checked (%d with the object in flight kept, %d without it)", len(crashes), present, absent)
}
