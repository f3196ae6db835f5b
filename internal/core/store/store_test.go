package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/core/cid"
)

func openT(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readAll(t *testing.T, s *Store, c cid.CID, off, n int64) []byte {
	t.Helper()
	rc, err := s.ReadRange(context.Background(), c, off, n)
	if err != nil {
		t.Fatalf("ReadRange(%s, %d, %d): %v", c, off, n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", c, err)
	}
	return b
}

// onlyReader hides Len so Put must stream.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestPutGetSizes(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	sizes := []int{0, 1, 4095, 4096, 4097, GroupSize - 1, GroupSize, GroupSize + 1, 3*GroupSize + 7, readBatch, readBatch + 1, 2<<20 + 12345}
	for i, n := range sizes {
		data := randBytes(uint64(i), n)
		want := cid.Sum(data)
		for _, streamed := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(data)
			if streamed {
				r = onlyReader{r}
			}
			res, err := s.Put(ctx, r, PutOptions{})
			if err != nil {
				t.Fatalf("Put %d bytes (streamed %v): %v", n, streamed, err)
			}
			if res.CID != want || res.Size != int64(n) || res.Inline != (n <= DefaultInlineMax) {
				t.Fatalf("Put %d bytes: %+v, want CID %s", n, res, want)
			}
			if res.Deduplicated != streamed {
				t.Fatalf("Put %d bytes, streamed %v: Deduplicated = %v", n, streamed, res.Deduplicated)
			}
		}
		if got := readAll(t, s, want, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d bytes that differ", n, len(got))
		}
		// Ranges: every group edge case and some random ones.
		rng := rand.New(rand.NewPCG(uint64(n), 2))
		for k := 0; k < 20 && n > 0; k++ {
			off := rng.Int64N(int64(n))
			l := rng.Int64N(int64(n) - off + 1)
			if got := readAll(t, s, want, off, l); !bytes.Equal(got, data[off:off+l]) {
				t.Fatalf("%d bytes: range %d+%d differs", n, off, l)
			}
			var slice bytes.Buffer
			if err := s.Slice(ctx, want, off, l, &slice); err != nil {
				t.Fatalf("Slice: %v", err)
			}
			got, ok := bao.VerifySlice(slice.Bytes(), Group, uint64(off), uint64(l), want)
			if !ok || !bytes.Equal(got, data[off:off+l]) {
				t.Fatalf("%d bytes: the slice %d+%d does not verify against the CID", n, off, l)
			}
		}
	}
	u, err := s.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total, obs int64
	for _, n := range sizes {
		total += int64(n)
		if n > DefaultInlineMax {
			obs += outboardSize(int64(n))
		}
	}
	if u.Objects != int64(len(sizes)) || u.PayloadBytes != total || u.OutboardBytes != obs {
		t.Fatalf("Stat = %+v, want %d objects, %d bytes, %d outboard", u, len(sizes), total, obs)
	}
	// Dedup: one file per object.
	files := 0
	filepath.Walk(filepath.Join(s.Dir(), "objects"), func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			files++
		}
		return nil
	})
	if want := 0; true {
		for _, n := range sizes {
			if n > DefaultInlineMax {
				want++
			}
		}
		if files != want {
			t.Fatalf("%d files under objects/, want %d", files, want)
		}
	}
}

func TestRangeErrorsAndNotFound(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{FS: vfs.NewMem()})
	data := randBytes(7, 100000)
	res, err := s.Put(ctx, bytes.NewReader(data), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int64{{-1, 1}, {0, 100001}, {100001, 0}, {99999, 2}} {
		if _, err := s.ReadRange(ctx, res.CID, r[0], r[1]); !errors.Is(err, ErrRange) {
			t.Errorf("ReadRange%v = %v, want ErrRange", r, err)
		}
	}
	if got := readAll(t, s, res.CID, 100000, 0); len(got) != 0 {
		t.Fatal("empty range at end")
	}
	if _, err := s.Get(ctx, cid.Sum([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get absent: %v", err)
	}
	if err := s.Pin(ctx, cid.Sum([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Pin absent: %v", err)
	}
	if _, err := s.Put(ctx, io.LimitReader(bytes.NewReader(data), 10), PutOptions{Size: 20}); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("short input: %v", err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(data), PutOptions{Size: 50000}); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("long input: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, onlyReader{bytes.NewReader(data)}, PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled put: %v", err)
	}
	assertNoTemp(t, s)
}

func assertNoTemp(t *testing.T, s *Store) {
	t.Helper()
	names, err := s.fs.List(s.fs.PathJoin(s.dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		t.Fatalf("leftovers in tmp/: %v", names)
	}
}

func TestCorruptionIsDetectedAndLocated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	data := randBytes(9, 40*GroupSize+100)
	res, err := s.Put(ctx, bytes.NewReader(data), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "objects", res.CID.Hex()[:2], res.CID.Hex())
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := int64(17*GroupSize + 1234)
	f.WriteAt([]byte{data[bad] ^ 0x40}, bad)
	f.Close()

	// A range away from the damage still reads; one over it fails.
	if got := readAll(t, s, res.CID, 0, 16*GroupSize); !bytes.Equal(got, data[:16*GroupSize]) {
		t.Fatal("clean range differs")
	}
	rc, err := s.ReadRange(ctx, res.CID, bad-10, 20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read over damage: %v", err)
	}
	rc.Close()
	if err := s.Slice(ctx, res.CID, bad, 1, io.Discard); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("slice over damage: %v", err)
	}
	rep, err := s.Scrub(ctx, ScrubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) != 1 {
		t.Fatalf("damage = %+v", rep.Damage)
	}
	d := rep.Damage[0]
	if d.Kind != DamageData || d.CID != res.CID || d.Offset != 17*GroupSize || d.Length != GroupSize {
		t.Fatalf("damage = %+v, want data at %d+%d", d, 17*GroupSize, GroupSize)
	}
	if !strings.Contains(d.String(), "bytes 1114112-1179647") {
		t.Fatalf("damage text %q", d)
	}

	// Repair the data, break the outboard instead: scrub says so and repairs it.
	f, _ = os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt(data[bad:bad+1], bad)
	f.Close()
	ob, _ := s.getValue(outboardKey(res.CID))
	ob[100] ^= 1
	s.db.Set(outboardKey(res.CID), ob, nil)
	s.cache.drop(res.CID)
	rep, err = s.Scrub(ctx, ScrubOptions{Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) != 1 || rep.Damage[0].Kind != DamageOutboard || !rep.Damage[0].Repaired {
		t.Fatalf("damage = %+v", rep.Damage)
	}
	if rep, _ = s.Scrub(ctx, ScrubOptions{}); len(rep.Damage) != 0 {
		t.Fatalf("after repair: %+v", rep.Damage)
	}
	if got := readAll(t, s, res.CID, 0, -1); !bytes.Equal(got, data) {
		t.Fatal("after repair the object differs")
	}

	// A missing file and an orphan file.
	os.Remove(path)
	os.MkdirAll(filepath.Join(dir, "objects", "ab"), 0o755)
	os.WriteFile(filepath.Join(dir, "objects", "ab", strings.Repeat("ab", 32)), []byte("x"), 0o644)
	rep, err = s.Scrub(ctx, ScrubOptions{Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, d := range rep.Damage {
		kinds[d.Kind] = true
	}
	if !kinds[DamageMissing] || !kinds[DamageOrphan] || len(rep.Damage) != 2 {
		t.Fatalf("damage = %+v", rep.Damage)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", "ab", strings.Repeat("ab", 32))); !os.IsNotExist(err) {
		t.Fatal("orphan not removed by repair")
	}
}

func TestPinsRefsGC(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{FS: vfs.NewMem()})
	payload := randBytes(1, 3*GroupSize)
	other := randBytes(2, 2*GroupSize)
	small := []byte("small and unpinned")
	p, err := s.Put(ctx, bytes.NewReader(payload), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	man, err := s.Put(ctx, strings.NewReader(`{"payload":"`+p.CID.String()+`"}`), PutOptions{Pin: true, Refs: []cid.CID{p.CID}})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := s.Put(ctx, bytes.NewReader(other), PutOptions{})
	sm, _ := s.Put(ctx, bytes.NewReader(small), PutOptions{})
	before, _ := s.Stat(ctx)
	res, err := s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Objects != 2 || res.Bytes != int64(len(other)+len(small))+outboardSize(int64(len(other))) {
		t.Fatalf("GC = %+v", res)
	}
	for _, c := range []cid.CID{o.CID, sm.CID} {
		if _, err := s.Info(ctx, c); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s survived GC: %v", c, err)
		}
	}
	if _, err := s.fs.Stat(s.objectPath(o.CID)); err == nil {
		t.Fatal("GC left the file")
	}
	if got := readAll(t, s, p.CID, 0, -1); !bytes.Equal(got, payload) {
		t.Fatal("payload lost")
	}
	after, _ := s.Stat(ctx)
	if after.Objects != before.Objects-2 || after.PayloadBytes+after.OutboardBytes != before.PayloadBytes+before.OutboardBytes-res.Bytes || after.Pinned != 1 {
		t.Fatalf("Stat before %+v after %+v", before, after)
	}
	info, _ := s.Info(ctx, man.CID)
	if !info.Pinned {
		t.Fatal("manifest not pinned")
	}
	if err := s.Unpin(ctx, man.CID); err != nil {
		t.Fatal(err)
	}
	if err := s.Unpin(ctx, man.CID); !errors.Is(err, ErrNotPinned) {
		t.Fatalf("second unpin: %v", err)
	}
	if err := s.Pin(ctx, p.CID); err != nil {
		t.Fatal(err)
	}
	if res, _ := s.GC(ctx); res.Objects != 1 {
		t.Fatalf("GC after unpin = %+v", res)
	}
	if _, err := s.Info(ctx, p.CID); err != nil {
		t.Fatal("pinned payload collected")
	}
	s.Unpin(ctx, p.CID)
	if res, _ := s.GC(ctx); res.Objects != 1 {
		t.Fatalf("last GC = %+v", res)
	}
	if u, _ := s.Stat(ctx); u.Objects != 0 || u.PayloadBytes != 0 || u.OutboardBytes != 0 {
		t.Fatalf("empty store Stat = %+v", u)
	}
	if rep, _ := s.Scrub(ctx, ScrubOptions{}); len(rep.Damage) != 0 {
		t.Fatalf("scrub after GC: %+v", rep.Damage)
	}
}

func TestQuota(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{QuotaBytes: 1 << 20})
	a := randBytes(1, 600<<10)
	if _, err := s.Put(ctx, bytes.NewReader(a), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Stat(ctx)
	b := randBytes(2, 600<<10)
	for _, r := range []io.Reader{bytes.NewReader(b), onlyReader{bytes.NewReader(b)}} {
		if _, err := s.Put(ctx, r, PutOptions{}); !errors.Is(err, ErrQuotaExceeded) {
			t.Fatalf("put over quota: %v", err)
		}
	}
	assertNoTemp(t, s)
	after, _ := s.Stat(ctx)
	if before != after {
		t.Fatalf("a failed put changed usage: %+v -> %+v", before, after)
	}
	// A duplicate costs nothing and succeeds; so does what fits.
	if res, err := s.Put(ctx, bytes.NewReader(a), PutOptions{}); err != nil || !res.Deduplicated {
		t.Fatalf("dup put: %+v %v", res, err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(b[:300<<10]), PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestLockAndRecovery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	data := randBytes(3, 5*GroupSize)
	res, err := s.Put(ctx, bytes.NewReader(data), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Get(ctx, res.CID); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	// Simulate an interrupted put: a temp file, and a renamed file whose
	// index commit never happened (its intent is recorded).
	os.WriteFile(filepath.Join(dir, "tmp", "put-123"), data, 0o644)
	orphan := cid.Sum([]byte("never committed"))
	s2 := openT(t, dir, Options{})
	s2.db.Set(intentKey(orphan), nil, nil)
	os.MkdirAll(filepath.Dir(s2.objectPath(orphan)), 0o755)
	os.WriteFile(s2.objectPath(orphan), []byte("never committed"), 0o644)
	s2.Close()
	s3 := openT(t, dir, Options{})
	assertNoTemp(t, s3)
	if _, err := os.Stat(s3.objectPath(orphan)); !os.IsNotExist(err) {
		t.Fatal("the interrupted put's file was not reclaimed")
	}
	if got := readAll(t, s3, res.CID, 0, -1); !bytes.Equal(got, data) {
		t.Fatal("object lost")
	}
}

// failingReader yields data, then fails with err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestInputErrorIsNotAnEnd: an input that fails, with io.ErrUnexpectedEOF
// above all (a body cut short), is never stored as a shorter object,
// whatever its size and whether the size was stated.
func TestInputErrorIsNotAnEnd(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	for _, n := range []int{0, 10, DefaultInlineMax, DefaultInlineMax + 1, 3 * GroupSize} {
		for _, ferr := range []error{io.ErrUnexpectedEOF, errors.New("connection reset")} {
			_, err := s.Put(ctx, &failingReader{randBytes(uint64(n), n), ferr}, PutOptions{})
			if !errors.Is(err, ferr) {
				t.Fatalf("%d bytes then %v: Put said %v", n, ferr, err)
			}
			_, err = s.Put(ctx, &failingReader{randBytes(uint64(n), n), ferr}, PutOptions{Size: int64(n) + 5})
			if err == nil {
				t.Fatalf("%d bytes then %v, stated %d: stored", n, ferr, n+5)
			}
		}
	}
	if u, _ := s.Stat(ctx); u.Objects != 0 {
		t.Fatalf("%d objects stored from failed inputs", u.Objects)
	}
	assertNoTemp(t, s)
}

// TestRangeReadersRecycleBuffers: range readers take their batch buffers
// from the store's pool and give them back on Close, so reading 1 MiB
// ranges one after another does not allocate a megabyte or more each (a
// collector's worth of garbage per request: the tail of range GETs); the
// bytes stay right while buffers move between readers, and a reader read
// after Close fails instead of handing out a recycled buffer.
func TestRangeReadersRecycleBuffers(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	data := randBytes(77, 8<<20+12345)
	res, err := s.Put(context.Background(), bytes.NewReader(data), PutOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	const reads = 20
	buf := make([]byte, 1<<20)
	read := func(i int) {
		off := int64(i*397_123) % int64(len(data)-len(buf))
		rc, err := s.ReadRange(context.Background(), res.CID, off, int64(len(buf)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, buf); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, data[off:off+int64(len(buf))]) {
			t.Fatalf("read %d at %d: wrong bytes", i, off)
		}
		if _, err := rc.Read(buf[:1]); err == nil {
			t.Fatal("a read after Close succeeded")
		}
	}
	// WriteTo (what io.Copy uses) hands out the same bytes as Read.
	for _, r := range [][2]int64{{0, 0}, {5, 70000}, {GroupSize, 3*readBatch + 9}, {int64(len(data)) - 100, 100}} {
		rc, err := s.ReadRange(context.Background(), res.CID, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		n, err := rc.(io.WriterTo).WriteTo(&got)
		rc.Close()
		if err != nil || n != r[1] || !bytes.Equal(got.Bytes(), data[r[0]:r[0]+r[1]]) {
			t.Fatalf("WriteTo of %d bytes at %d: %d, %v, equal %v", r[1], r[0], n, err, bytes.Equal(got.Bytes(), data[r[0]:r[0]+r[1]]))
		}
	}
	read(0) // the pool's first buffers
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 1; i <= reads; i++ {
		read(i)
	}
	runtime.ReadMemStats(&after)
	// Without recycling each read allocates two or three batches (2-3 MiB);
	// with it, next to nothing (under -race, sync.Pool drops a quarter of
	// what it is given, on purpose).
	if got := after.TotalAlloc - before.TotalAlloc; got > reads*readBatch {
		t.Fatalf("%d reads of 1 MiB allocated %d bytes (%d each); want the batch buffers recycled", reads, got, got/reads)
	}
}
