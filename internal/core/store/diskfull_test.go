package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/ronhost/ronhost/internal/pebbledb"
	"github.com/ronhost/ronhost/internal/pebbledb/diskfulltest"
)

const testMinFree = 64 << 20

func putT(t *testing.T, s *Store, data []byte, o PutOptions) PutResult {
	t.Helper()
	res, err := s.Put(context.Background(), bytes.NewReader(data), o)
	if err != nil {
		t.Fatalf("put of %d bytes: %v", len(data), err)
	}
	return res
}

// A disk with less free space than the reserve: new puts (sized, streamed,
// inline) and ingests are refused with ErrDiskFull before anything is
// written, a duplicate still succeeds, reads, unpins and GC work, and puts
// resume when space returns.
func TestDiskFullRefusesPutsEarly(t *testing.T) {
	disk := diskfulltest.New()
	s := openT(t, "store", Options{FS: disk.FS(), MinFree: testMinFree})
	a := randBytes(1, 300<<10)
	ra := putT(t, s, a, PutOptions{Pin: true})
	gone := putT(t, s, randBytes(2, 200<<10), PutOptions{})

	disk.SetFree(testMinFree / 2)
	b := randBytes(3, 500<<10)
	for name, put := range map[string]func() error{
		"sized": func() error { _, err := s.Put(context.Background(), bytes.NewReader(b), PutOptions{}); return err },
		"streamed": func() error {
			_, err := s.Put(context.Background(), onlyReader{bytes.NewReader(b)}, PutOptions{})
			return err
		},
		"inline": func() error {
			_, err := s.Put(context.Background(), bytes.NewReader([]byte("small")), PutOptions{})
			return err
		},
		"ingest": func() error {
			ob, c := encode(b)
			_, err := s.NewIngest(context.Background(), c, int64(len(b)), ob)
			return err
		},
	} {
		if err := put(); !errors.Is(err, ErrDiskFull) {
			t.Fatalf("%s put on a full disk: %v, want ErrDiskFull", name, err)
		}
	}
	assertNoTemp(t, s)
	if res := putT(t, s, a, PutOptions{}); !res.Deduplicated {
		t.Fatal("a duplicate was not deduplicated")
	}
	if !bytes.Equal(readAll(t, s, ra.CID, 0, -1), a) {
		t.Fatal("read differs")
	}
	if _, err := s.GC(context.Background()); err != nil {
		t.Fatalf("GC on a full disk: %v", err)
	}
	if _, err := s.Info(context.Background(), gone.CID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GC kept an unpinned object: %v", err)
	}
	if err := s.Unpin(context.Background(), ra.CID); err != nil {
		t.Fatalf("unpin on a full disk: %v", err)
	}
	if disk.Refused() != 0 {
		t.Fatal("a write reached the disk")
	}

	disk.SetFree(diskfulltest.Plenty)
	rb := putT(t, s, b, PutOptions{})
	if !bytes.Equal(readAll(t, s, rb.CID, 0, -1), b) {
		t.Fatal("read differs")
	}
	scrubClean(t, s)
}

// The disk fills between the check and the write: the payload file's
// ENOSPC fails the put with ErrDiskFull and leaves nothing; the store stays
// usable. An object whose commit meets ENOSPC in Pebble's log gets an
// error, not a panic; the store then refuses writes (ErrFailed), serves
// reads and closes without hanging.
func TestDiskFullENOSPC(t *testing.T) {
	disk := diskfulltest.New()
	s, err := Open(context.Background(), "store", Options{FS: disk.FS(), MinFree: testMinFree})
	if err != nil {
		t.Fatal(err)
	}
	a := randBytes(1, 300<<10)
	ra := putT(t, s, a, PutOptions{Pin: true})

	disk.ENOSPC(true)
	b := randBytes(3, 500<<10)
	for _, r := range []func() *bytes.Reader{func() *bytes.Reader { return bytes.NewReader(b) }} {
		if _, err := s.Put(context.Background(), r(), PutOptions{}); !errors.Is(err, ErrDiskFull) {
			t.Fatalf("put with ENOSPC from the file: %v", err)
		}
		if _, err := s.Put(context.Background(), onlyReader{r()}, PutOptions{}); !errors.Is(err, ErrDiskFull) {
			t.Fatalf("streamed put with ENOSPC from the file: %v", err)
		}
	}
	ob, c := encode(b)
	if _, err := s.NewIngest(context.Background(), c, int64(len(b)), ob); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("ingest with ENOSPC: %v", err)
	}
	assertNoTemp(t, s)
	disk.ENOSPC(false)
	rb := putT(t, s, b, PutOptions{})

	// Now Pebble's own log meets the full disk (under twice the reserve,
	// where commits go one at a time).
	disk.SetFree(testMinFree + testMinFree/2)
	disk.ENOSPC(true)
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(context.Background(), bytes.NewReader([]byte("inline, so straight to Pebble")), PutOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrDiskFull) {
			t.Fatalf("a commit meeting ENOSPC: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a commit meeting ENOSPC hangs")
	}
	disk.ENOSPC(false)
	disk.SetFree(diskfulltest.Plenty)
	if _, err := s.Put(context.Background(), bytes.NewReader([]byte("later")), PutOptions{}); !errors.Is(err, pebbledb.ErrFailed) {
		t.Fatalf("a put after Pebble failed: %v", err)
	}
	if st := s.Disk(); st.Failed == nil {
		t.Fatalf("state: %+v", st)
	}
	if !bytes.Equal(readAll(t, s, ra.CID, 0, -1), a) || !bytes.Equal(readAll(t, s, rb.CID, 0, -1), b) {
		t.Fatal("reads differ after the failure")
	}
	go func() { done <- s.Close() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Close hangs after the failure")
	}
}

// A store whose disk is full when it opens opens read-only: reads work,
// puts fail with ErrDiskFull, and it becomes writable by itself once space
// returns.
func TestDiskFullOpenReadOnly(t *testing.T) {
	disk := diskfulltest.New()
	s, err := Open(context.Background(), "store", Options{FS: disk.FS(), MinFree: testMinFree})
	if err != nil {
		t.Fatal(err)
	}
	a := randBytes(1, 300<<10)
	ra := putT(t, s, a, PutOptions{Pin: true})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	disk.SetFree(0)
	disk.ENOSPC(true)
	s = openT(t, "store", Options{FS: disk.FS(), MinFree: testMinFree})
	if st := s.Disk(); !st.ReadOnly {
		t.Fatalf("state on a full disk: %+v", st)
	}
	if !bytes.Equal(readAll(t, s, ra.CID, 0, -1), a) {
		t.Fatal("read differs")
	}
	if _, err := s.Put(context.Background(), bytes.NewReader([]byte("x")), PutOptions{}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("put on a read-only store: %v", err)
	}
	if disk.Refused() != 0 {
		t.Fatalf("opening on a full disk wrote (%d refused)", disk.Refused())
	}
	disk.ENOSPC(false)
	disk.SetFree(diskfulltest.Plenty)
	if err := s.Recover(); err != nil {
		t.Fatal(err)
	}
	if s.Disk().ReadOnly {
		t.Fatal("still read-only")
	}
	rb := putT(t, s, randBytes(4, 100<<10), PutOptions{})
	if _, err := s.Info(context.Background(), rb.CID); err != nil {
		t.Fatal(err)
	}
}

// An ingest write the disk refuses partway (its third write of ingestWrite
// bytes: the first two reached the file) fails with ErrDiskFull, not
// ErrCorrupt, and none of its groups count as present: Missing still lists
// them and a reader of the first group gets no bytes. Written again once
// the disk has room, the object commits whole.
func TestDiskFullIngestWritePartway(t *testing.T) {
	ctx := context.Background()
	var writes, failAt atomic.Int64
	fs := errorfs.Wrap(diskfulltest.New().FS(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpFileWriteAt && writes.Add(1) == failAt.Load() {
			return syscall.ENOSPC
		}
		return nil
	}))
	s := openT(t, "store", Options{FS: fs, MinFree: testMinFree})
	head := 4 * ingestWrite
	data := randBytes(11, head+3*GroupSize+17)
	ob, c := encode(data)
	in, err := s.NewIngest(ctx, c, int64(len(data)), ob)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Abort()

	failAt.Store(writes.Load() + 3)
	if err := in.WriteGroups(0, data[:head]); !errors.Is(err, ErrDiskFull) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("a write refused partway: %v, want ErrDiskFull", err)
	}
	if got := writes.Load() - (failAt.Load() - 3); got != 3 {
		t.Fatalf("%d writes of the file for %d bytes, want 3 (the third refused)", got, head)
	}
	if m := in.Missing(); len(m) != 1 || m[0] != [2]int64{0, int64(len(data))} {
		t.Fatalf("missing after the refused write: %v, want all", m)
	}
	done, cancel := context.WithCancel(ctx)
	cancel() // a reader that would wait gets ctx's error instead of bytes
	rc, err := in.ReadRange(done, 0, GroupSize)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); len(b) != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("reading the refused bytes: %d bytes, %v", len(b), err)
	}
	rc.Close()

	for _, w := range [][2]int{{0, head}, {head, len(data)}} {
		if err := in.WriteGroups(int64(w[0]), data[w[0]:w[1]]); err != nil {
			t.Fatalf("writing %v again: %v", w, err)
		}
	}
	if _, err := in.Commit(ctx, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s, c, 0, -1), data) {
		t.Fatal("the object read back differs")
	}
}
