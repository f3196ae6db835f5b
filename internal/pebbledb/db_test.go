package pebbledb_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ronhost/ronhost/internal/pebbledb"
	"github.com/ronhost/ronhost/internal/pebbledb/diskfulltest"
)

const minFree = 64 << 20

func open(t *testing.T, disk *diskfulltest.Disk) *pebbledb.DB {
	t.Helper()
	db, err := pebbledb.Open("db", pebbledb.Options{FS: disk.FS(), MinFree: minFree})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func get(t *testing.T, db *pebbledb.DB, key string) string {
	t.Helper()
	v, closer, err := db.Get([]byte(key))
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer closer.Close()
	return string(v)
}

// within fails the test if fn does not return within a generous deadline:
// the failure it detects is a write that hangs for good, not slowness.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s hangs", what)
	}
}

// A disk with less than the reserve free: writes are refused with
// ErrDiskFull before Pebble sees them, deletes still go through above the
// floor, reads work, and writes resume when space returns.
func TestLowSpaceRefusesWritesEarly(t *testing.T) {
	disk := diskfulltest.New()
	db := open(t, disk)
	defer db.Close()
	if err := db.Set([]byte("a"), []byte("1"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("b"), []byte("2"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	disk.SetFree(minFree / 2)
	err := db.Set([]byte("c"), []byte("3"), pebble.Sync)
	if !errors.Is(err, pebbledb.ErrDiskFull) || errors.Is(err, pebbledb.ErrFailed) {
		t.Fatalf("a write on a full disk: %v, want ErrDiskFull", err)
	}
	b := db.NewBatch()
	b.Set([]byte("c"), []byte("3"), nil)
	if err := b.Commit(pebble.Sync); !errors.Is(err, pebbledb.ErrDiskFull) {
		t.Fatalf("a batch on a full disk: %v", err)
	}
	if err := db.Delete([]byte("b"), pebble.Sync); err != nil {
		t.Fatalf("a delete above the floor: %v", err)
	}
	if got := get(t, db, "a"); got != "1" {
		t.Fatalf("read %q", got)
	}
	disk.SetFree(minFree / 8)
	if err := db.Delete([]byte("a"), pebble.Sync); !errors.Is(err, pebbledb.ErrDiskFull) {
		t.Fatalf("a delete under the floor: %v", err)
	}
	disk.SetFree(diskfulltest.Plenty)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatalf("the batch once space returned: %v", err)
	}
	if got := get(t, db, "c"); got != "3" {
		t.Fatalf("read %q", got)
	}
	if disk.Refused() != 0 {
		t.Fatal("Pebble met ENOSPC")
	}
}

// A database on a full disk opens read-only, serves reads, refuses writes,
// and reopens for writing by itself when space returns (not while a read
// holds it).
func TestOpenReadOnlyOnFullDiskAndRecover(t *testing.T) {
	disk := diskfulltest.New()
	db := open(t, disk)
	for i := range 100 {
		if err := db.Set(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i), pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.LogData(nil, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	disk.SetFree(1 << 20)
	disk.ENOSPC(true) // the disk is really full: Open must not write
	db = open(t, disk)
	defer db.Close()
	if st := db.State(); !st.ReadOnly || st.Free != 1<<20 {
		t.Fatalf("state on a full disk: %+v", st)
	}
	if got := get(t, db, "k042"); got != "v42" {
		t.Fatalf("read %q", got)
	}
	if err := db.Set([]byte("new"), []byte("x"), pebble.Sync); !errors.Is(err, pebbledb.ErrDiskFull) {
		t.Fatalf("write to a read-only database: %v", err)
	}
	if disk.Refused() != 0 {
		t.Fatalf("opening read-only wrote to the disk (%d refused)", disk.Refused())
	}

	disk.SetFree(diskfulltest.Plenty)
	disk.ENOSPC(false)
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("new"), []byte("x"), pebble.Sync); !errors.Is(err, pebbledb.ErrDiskFull) {
		t.Fatalf("reopened under an open iterator: %v", err)
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	it.Close()
	if n != 100 {
		t.Fatalf("iterated %d keys", n)
	}
	if err := db.Recover(); err != nil {
		t.Fatalf("recover: %v", err)
	}
	if db.State().ReadOnly {
		t.Fatal("still read-only")
	}
	if err := db.Set([]byte("new"), []byte("x"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if get(t, db, "new") != "x" || get(t, db, "k099") != "v99" {
		t.Fatal("lost data across the reopen")
	}
}

// A new database cannot be created on a full disk: a clear ErrDiskFull.
func TestCreateOnFullDisk(t *testing.T) {
	disk := diskfulltest.New()
	if err := disk.FS().MkdirAll("db", 0o755); err != nil {
		t.Fatal(err)
	}
	disk.SetFree(0)
	_, err := pebbledb.Open("db", pebbledb.Options{FS: disk.FS(), MinFree: minFree})
	if !errors.Is(err, pebbledb.ErrDiskFull) {
		t.Fatalf("open on a full disk: %v", err)
	}
}

// The disk fills between the check and the write (ENOSPC from the vfs):
// Pebble's fatal commit error comes back as an error, not a panic; the
// writes racing it and every later write return at once instead of hanging
// in Pebble's wedged pipeline; reads go on; Close returns.
func TestENOSPCInPebbleIsAnErrorNotAPanic(t *testing.T) {
	disk := diskfulltest.New()
	db := open(t, disk)
	if err := db.Set([]byte("kept"), []byte("yes"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	// Under twice the reserve free (commits go one at a time), the disk
	// fills between the check and the write.
	disk.SetFree(minFree + minFree/2)
	disk.ENOSPC(true)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	within(t, "writes on a disk answering ENOSPC", func() {
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.Set(fmt.Appendf(nil, "w%d", i), make([]byte, 64<<10), pebble.Sync)
			}()
		}
		wg.Wait()
	})
	for i, err := range errs {
		if err == nil {
			t.Fatalf("write %d succeeded on a disk answering ENOSPC", i)
		}
		if !errors.Is(err, pebbledb.ErrDiskFull) {
			t.Fatalf("write %d: %v, want ErrDiskFull", i, err)
		}
	}
	if disk.Refused() == 0 {
		t.Fatal("nothing reached the disk")
	}
	st := db.State()
	if st.Failed == nil {
		t.Fatal("the database did not record its failure")
	}
	disk.ENOSPC(false)
	within(t, "a write after the failure", func() {
		if err := db.Set([]byte("after"), []byte("x"), pebble.Sync); !errors.Is(err, pebbledb.ErrFailed) {
			t.Errorf("a write after the failure: %v", err)
		}
	})
	if got := get(t, db, "kept"); got != "yes" {
		t.Fatalf("read %q", got)
	}
	within(t, "Close", func() {
		if err := db.Close(); !errors.Is(err, pebbledb.ErrFailed) && err == nil {
			t.Errorf("close of a failed database: %v", err)
		}
	})
}
