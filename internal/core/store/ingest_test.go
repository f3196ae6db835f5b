package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/poll"
)

// encode returns the outboard and CID of data as a peer would send them.
func encode(data []byte) ([]byte, cid.CID) {
	ob, root := bao.EncodeBuf(data, Group, true)
	return ob, cid.CID(root)
}

func newIngestT(t *testing.T, s *Store, data []byte) *Ingest {
	t.Helper()
	ob, c := encode(data)
	in, err := s.NewIngest(context.Background(), c, int64(len(data)), ob)
	if err != nil {
		t.Fatalf("NewIngest of %d bytes: %v", len(data), err)
	}
	return in
}

// units cuts [0, n) into group-aligned pieces of 1 to 3 groups.
func units(rng *rand.Rand, n int64) [][2]int64 {
	var out [][2]int64
	for off := int64(0); off < n; {
		end := min(off+int64(1+rng.IntN(3))*GroupSize, n)
		out = append(out, [2]int64{off, end})
		off = end
	}
	return out
}

// waitFor polls cond until it holds or a generous deadline passes.

func (in *Ingest) waiters() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.waiting
}

func scrubClean(t *testing.T, s *Store) {
	t.Helper()
	rep, err := s.Scrub(context.Background(), ScrubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) != 0 {
		t.Fatalf("scrub found %v", rep.Damage)
	}
}

type readResult struct {
	data []byte
	err  error
}

func readAsync(rc io.ReadCloser) chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		b, err := io.ReadAll(rc)
		rc.Close()
		ch <- readResult{b, err}
	}()
	return ch
}

// TestIngestRandomOrder receives objects of every size class group by group
// in random order, from several goroutines at once with duplicates, then
// commits them and reads them back through the store.
func TestIngestRandomOrder(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	rng := rand.New(rand.NewPCG(3, 3))
	sizes := []int{0, 1, 100, DefaultInlineMax, DefaultInlineMax + 1, GroupSize - 1, GroupSize, GroupSize + 1, 3*GroupSize + 7, 40*GroupSize + 123}
	var prev cid.CID
	for i, n := range sizes {
		data := randBytes(uint64(100+i), n)
		ob, c := encode(data)
		in := newIngestT(t, s, data)
		if in.CID() != c || in.Size() != int64(n) {
			t.Fatalf("CID/Size: %s %d", in.CID(), in.Size())
		}
		if n > 0 {
			if m := in.Missing(); !slices.Equal(m, [][2]int64{{0, int64(n)}}) || in.Done() {
				t.Fatalf("%d bytes: fresh ingest: Missing %v, Done %v", n, m, in.Done())
			}
		}
		work := units(rng, int64(n))
		for _, u := range slices.Clone(work) {
			if rng.IntN(3) == 0 {
				work = append(work, u) // a duplicate
			}
		}
		rng.Shuffle(len(work), func(i, j int) { work[i], work[j] = work[j], work[i] })
		ch := make(chan [2]int64)
		errs := make(chan error, len(work))
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for u := range ch {
					if err := in.WriteGroups(u[0], data[u[0]:u[1]]); err != nil {
						errs <- fmt.Errorf("WriteGroups(%d, %d bytes): %w", u[0], u[1]-u[0], err)
					}
				}
			}()
		}
		for _, u := range work {
			ch <- u
		}
		close(ch)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if !in.Done() || in.Missing() != nil {
			t.Fatalf("%d bytes: after all writes: Done %v, Missing %v", n, in.Done(), in.Missing())
		}
		o := PutOptions{Pin: i%2 == 0}
		if i > 0 {
			o.Refs = []cid.CID{prev}
		}
		res, err := in.Commit(ctx, o)
		if err != nil {
			t.Fatalf("Commit %d bytes: %v", n, err)
		}
		if res.CID != c || res.Size != int64(n) || res.Deduplicated || res.Inline != (n <= DefaultInlineMax) {
			t.Fatalf("Commit %d bytes: %+v", n, res)
		}
		if got := readAll(t, s, c, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: the committed object reads back wrong", n)
		}
		info, err := s.Info(ctx, c)
		if err != nil || info.Pinned != o.Pin || info.Size != int64(n) {
			t.Fatalf("Info: %+v %v", info, err)
		}
		if i > 0 {
			if refs, err := s.Refs(ctx, c); err != nil || !slices.Equal(refs, []cid.CID{prev}) {
				t.Fatalf("Refs: %v %v", refs, err)
			}
		}
		size, got, err := s.Outboard(ctx, c)
		if err != nil || size != int64(n) || !bytes.Equal(got, ob) {
			t.Fatalf("Outboard of %d bytes: size %d, equal %v, %v", n, size, bytes.Equal(got, ob), err)
		}
		prev = c
	}
	assertNoTemp(t, s)
	scrubClean(t, s)
}

// TestIngestConcurrentSameGroups has several writers each write every group,
// in its own order, at the same time: each group is written once, writers of
// a group being written wait for it, and all of them succeed.
func TestIngestConcurrentSameGroups(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	data := randBytes(5, 30*GroupSize+999)
	in := newIngestT(t, s, data)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			work := units(rng, int64(len(data)))
			rng.Shuffle(len(work), func(i, j int) { work[i], work[j] = work[j], work[i] })
			for _, u := range work {
				if err := in.WriteGroups(u[0], data[u[0]:u[1]]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if !in.Done() {
		t.Fatalf("not done: %v", in.Missing())
	}
	if _, err := in.Commit(ctx, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, in.CID(), 0, -1); !bytes.Equal(got, data) {
		t.Fatal("reads back wrong")
	}
}

// TestIngestCorruptGroupRefused: a call with one bad group writes nothing,
// readers waiting for the group keep waiting (and then get the good bytes),
// Missing keeps listing it.
func TestIngestCorruptGroupRefused(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	n := 10*GroupSize + 500
	data := randBytes(7, n)
	in := newIngestT(t, s, data)

	waiting := readAsync(must(in.ReadRange(ctx, 3*GroupSize+10, GroupSize))) // groups 3 and 4
	poll.Until(t, "the reader to wait", func() bool { return in.waiters() == 1 })
	cctx, cancel := context.WithCancel(ctx)
	cancelled := readAsync(must(in.ReadRange(cctx, 7*GroupSize, 10))) // group 7
	poll.Until(t, "the second reader to wait", func() bool { return in.waiters() == 2 })

	bad := bytes.Clone(data[2*GroupSize : 5*GroupSize])
	bad[GroupSize+7] ^= 1 // in group 3; groups 2 and 4 are good
	err := in.WriteGroups(2*GroupSize, bad)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("bytes %d-%d", 3*GroupSize, 4*GroupSize-1)) {
		t.Fatalf("corrupt write: %v", err)
	}
	bad7 := bytes.Clone(data[7*GroupSize : 8*GroupSize])
	bad7[GroupSize-1] ^= 0x80
	if err := in.WriteGroups(7*GroupSize, bad7); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt write of group 7: %v", err)
	}
	badLast := bytes.Clone(data[10*GroupSize:])
	badLast[0] ^= 1
	if err := in.WriteGroups(10*GroupSize, badLast); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt write of the last group: %v", err)
	}
	// Good bytes at the wrong place are corrupt too.
	if err := in.WriteGroups(5*GroupSize, data[6*GroupSize:7*GroupSize]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a group written at another's offset: %v", err)
	}
	if m := in.Missing(); !slices.Equal(m, [][2]int64{{0, int64(n)}}) {
		t.Fatalf("Missing after refused writes: %v", m)
	}
	st, err := in.f.Stat()
	if err != nil || st.Size() != 0 {
		t.Fatalf("the file holds %d bytes after refused writes (%v)", st.Size(), err)
	}
	if w := in.waiters(); w != 2 {
		t.Fatalf("%d readers waiting, want 2", w)
	}
	// The reader of group 7 is still waiting: cancelling it must end it
	// with the context's error, not with bytes.
	cancel()
	if r := <-cancelled; !errors.Is(r.err, context.Canceled) || len(r.data) != 0 {
		t.Fatalf("cancelled reader: %d bytes, %v", len(r.data), r.err)
	}
	if err := in.WriteGroups(2*GroupSize, data[2*GroupSize:5*GroupSize]); err != nil {
		t.Fatal(err)
	}
	if r := <-waiting; r.err != nil || !bytes.Equal(r.data, data[3*GroupSize+10:4*GroupSize+10]) {
		t.Fatalf("waiting reader: %d bytes, %v", len(r.data), r.err)
	}
	if m := in.Missing(); !slices.Equal(m, [][2]int64{{0, 2 * GroupSize}, {5 * GroupSize, int64(n)}}) {
		t.Fatalf("Missing: %v", m)
	}
	if err := in.WriteGroups(0, data); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Commit(ctx, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, in.CID(), 0, -1); !bytes.Equal(got, data) {
		t.Fatal("reads back wrong")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestIngestWriteErrors(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	n := 4*GroupSize + 10
	data := randBytes(8, n)
	in := newIngestT(t, s, data)
	defer in.Abort()
	for _, tc := range []struct {
		off      int64
		from, to int
	}{
		{1, 1, GroupSize + 1},                    // misaligned
		{0, 0, GroupSize + 5},                    // partial group not at the end
		{-GroupSize, 0, GroupSize},               // negative
		{4 * GroupSize, 4 * GroupSize, n - 1},    // last group short
		{5 * GroupSize, 4 * GroupSize, n},        // past the end
		{4 * GroupSize, 3 * GroupSize, n - 1000}, // runs past the end
	} {
		if err := in.WriteGroups(tc.off, data[tc.from:tc.to]); !errors.Is(err, ErrRange) {
			t.Errorf("WriteGroups(%d, %d bytes): %v, want ErrRange", tc.off, tc.to-tc.from, err)
		}
	}
	if err := in.WriteGroups(GroupSize, nil); err != nil {
		t.Errorf("empty write: %v", err)
	}
	if _, err := in.ReadRange(context.Background(), int64(n)-5, 6); !errors.Is(err, ErrRange) {
		t.Errorf("ReadRange past the end: %v", err)
	}
	if _, err := in.Commit(context.Background(), PutOptions{}); !errors.Is(err, ErrIncomplete) {
		t.Errorf("Commit of nothing: %v", err)
	}
	if in.Missing() == nil || in.Done() {
		t.Error("refused writes changed the state")
	}
}

// TestIngestReadRangeStreams reads while groups arrive: each group is
// readable as soon as it is written, before the next one exists.
func TestIngestReadRangeStreams(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	n := 12*GroupSize + 77
	data := randBytes(11, n)
	in := newIngestT(t, s, data)
	r, err := in.ReadRange(ctx, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	mid, err := in.ReadRange(ctx, 5*GroupSize+3, 4*GroupSize) // opened before Commit, read across it
	if err != nil {
		t.Fatal(err)
	}
	for g := 0; g*GroupSize < n; g++ {
		part := data[g*GroupSize : min((g+1)*GroupSize, n)]
		if err := in.WriteGroups(int64(g)*GroupSize, part); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(part))
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, part) {
			t.Fatalf("group %d: streamed %v", g, err)
		}
	}
	if k, err := r.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		t.Fatalf("after the end: %d, %v", k, err)
	}
	r.Close()
	half := make([]byte, 2*GroupSize)
	if _, err := io.ReadFull(mid, half); err != nil || !bytes.Equal(half, data[5*GroupSize+3:7*GroupSize+3]) {
		t.Fatalf("first half: %v", err)
	}
	res, err := in.Commit(ctx, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(mid)
	if err != nil || !bytes.Equal(rest, data[7*GroupSize+3:9*GroupSize+3]) {
		t.Fatalf("second half after Commit: %d bytes, %v", len(rest), err)
	}
	mid.Close()
	after, err := in.ReadRange(ctx, 100, 5)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(after); err != nil || !bytes.Equal(b, data[100:105]) {
		t.Fatalf("ReadRange after Commit: %v", err)
	}
	after.Close()
	if res.CID != in.CID() {
		t.Fatal(res)
	}
	// An inline-size object streams the same way.
	small := randBytes(12, 300)
	si := newIngestT(t, s, small)
	sr := readAsync(must(si.ReadRange(ctx, 10, 200)))
	poll.Until(t, "the inline reader to wait", func() bool { return si.waiters() == 1 })
	if err := si.WriteGroups(0, small); err != nil {
		t.Fatal(err)
	}
	if got := <-sr; got.err != nil || !bytes.Equal(got.data, small[10:210]) {
		t.Fatalf("inline stream: %v", got.err)
	}
	if res, err := si.Commit(ctx, PutOptions{}); err != nil || !res.Inline {
		t.Fatalf("inline commit: %+v %v", res, err)
	}
}

// presentWriter is an ingest reader's destination that checks, at every
// Write, that each byte it gets belongs to a group the Ingest holds
// verified and written.
type presentWriter struct {
	t   *testing.T
	in  *Ingest
	off int64 // where the next byte sits in the object
	got []byte
}

func (w *presentWriter) Write(p []byte) (int, error) {
	w.in.mu.Lock()
	for g := w.off / GroupSize; g*GroupSize < w.off+int64(len(p)); g++ {
		if w.in.groups[g] != groupPresent {
			w.t.Errorf("bytes of group %d went out before it was written (state %d)", g, w.in.groups[g])
		}
	}
	w.in.mu.Unlock()
	w.off += int64(len(p))
	w.got = append(w.got, p...)
	return len(p), nil
}

// presentReaderFrom is a presentWriter that reads from a reader
// (io.ReaderFrom, as an HTTP response does): it must be given sections of
// a file (what sendfile takes), of groups verified and written.
type presentReaderFrom struct {
	*presentWriter
	sections int
}

func (w *presentReaderFrom) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); !ok {
		w.t.Errorf("ReadFrom got a %T, not a section of a file", r)
	} else if _, ok := lr.R.(*os.File); !ok {
		w.t.Errorf("ReadFrom got a section of a %T, not of a file", lr.R)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	w.sections++
	n, err := w.presentWriter.Write(b)
	return int64(n), err
}

// TestIngestWriteToStreams: an ingest reader writes itself (io.WriterTo,
// what the gateway and io.Copy use) as groups arrive in random order, never
// a byte of a group not yet verified and written, to a plain writer from
// its buffer, to an io.ReaderFrom as sections of the file; a refused
// (corrupt) group is not streamed, the reader waits for the good one; an
// Abort ends it with ErrAborted after what it had written.
func TestIngestWriteToStreams(t *testing.T) {
	for _, sections := range []bool{false, true} {
		t.Run(fmt.Sprintf("sections=%v", sections), func(t *testing.T) { testIngestWriteTo(t, sections) })
	}
}

func testIngestWriteTo(t *testing.T, sections bool) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	n := int64(40*GroupSize + 123)
	data := randBytes(21, int(n))
	in := newIngestT(t, s, data)
	off := int64(3*GroupSize + 5)
	rc, err := in.ReadRange(ctx, off, -1)
	if err != nil {
		t.Fatal(err)
	}
	wt, ok := rc.(io.WriterTo)
	if !ok {
		t.Fatalf("%T is not an io.WriterTo", rc)
	}
	w := &presentWriter{t: t, in: in, off: off}
	var dst io.Writer = w
	rf := &presentReaderFrom{presentWriter: w}
	if sections {
		dst = rf
	}
	done := make(chan error, 1)
	go func() {
		_, err := wt.WriteTo(dst)
		done <- err
	}()
	// A lying peer's version of group 3 (the reader's first) is refused
	// and never streamed: the reader is still waiting for it.
	bad := bytes.Clone(data[3*GroupSize : 4*GroupSize])
	bad[100] ^= 1
	if err := in.WriteGroups(3*GroupSize, bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a corrupt group: %v", err)
	}
	poll.Until(t, "the reader to wait for group 3", func() bool { return in.waiters() == 1 })
	rng := rand.New(rand.NewPCG(21, 1))
	us := units(rng, n)
	rng.Shuffle(len(us), func(i, j int) { us[i], us[j] = us[j], us[i] })
	for _, u := range us {
		if err := in.WriteGroups(u[0], data[u[0]:u[1]]); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.got, data[off:]) {
		t.Fatalf("streamed %d bytes, not the object's %d from %d", len(w.got), n-off, off)
	}
	if sections && rf.sections == 0 {
		t.Fatal("an io.ReaderFrom was given no section of the file")
	}
	rc.Close()
	if _, err := in.Commit(ctx, PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// Aborted half-way: WriteTo fails with ErrAborted, having written only
	// the groups that were there.
	data2 := randBytes(22, int(10*GroupSize))
	in2 := newIngestT(t, s, data2)
	rc2, err := in2.ReadRange(ctx, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	if err := in2.WriteGroups(0, data2[:4*GroupSize]); err != nil {
		t.Fatal(err)
	}
	w2 := &presentWriter{t: t, in: in2}
	dst = w2
	if sections {
		dst = &presentReaderFrom{presentWriter: w2}
	}
	go func() {
		_, err := rc2.(io.WriterTo).WriteTo(dst)
		done <- err
	}()
	poll.Until(t, "the reader to wait for group 4", func() bool { return in2.waiters() == 1 })
	in2.Abort()
	if err := <-done; !errors.Is(err, ErrAborted) {
		t.Fatalf("WriteTo after Abort: %v, want ErrAborted", err)
	}
	if !bytes.Equal(w2.got, data2[:4*GroupSize]) {
		t.Fatalf("before the Abort: %d bytes streamed, want the %d written", len(w2.got), 4*GroupSize)
	}
}

// TestIngestAbort: Abort wakes readers with ErrAborted, leaves nothing in
// tmp/, gives the quota back, and every later call fails.
func TestIngestAbort(t *testing.T) {
	ctx := context.Background()
	n := 20*GroupSize + 1
	quota := int64(n) + outboardSize(int64(n)) + 1000
	s := openT(t, t.TempDir(), Options{QuotaBytes: quota})
	data := randBytes(13, n)
	other := randBytes(14, n)
	in := newIngestT(t, s, data)
	oob, oc := encode(other)
	if _, err := s.NewIngest(ctx, oc, int64(n), oob); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("a second ingest past the quota: %v", err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(other[:2000]), PutOptions{}); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("a put past the quota: %v", err)
	}
	if err := in.WriteGroups(0, data[:5*GroupSize]); err != nil {
		t.Fatal(err)
	}
	reading := readAsync(must(in.ReadRange(ctx, 0, -1)))
	poll.Until(t, "the reader to reach group 5", func() bool { return in.waiters() == 1 })
	in.Abort()
	got := <-reading
	if !errors.Is(got.err, ErrAborted) || !bytes.Equal(got.data, data[:5*GroupSize]) {
		t.Fatalf("reader across Abort: %d bytes, %v", len(got.data), got.err)
	}
	assertNoTemp(t, s)
	in.Abort()
	if err := in.WriteGroups(5*GroupSize, data[5*GroupSize:6*GroupSize]); !errors.Is(err, ErrAborted) {
		t.Fatalf("WriteGroups after Abort: %v", err)
	}
	if _, err := in.Commit(ctx, PutOptions{}); !errors.Is(err, ErrAborted) {
		t.Fatalf("Commit after Abort: %v", err)
	}
	if _, err := in.ReadRange(ctx, 0, 1); !errors.Is(err, ErrAborted) {
		t.Fatalf("ReadRange after Abort: %v", err)
	}
	// The quota is back: the other object fits now, and commits.
	oi, err := s.NewIngest(ctx, oc, int64(n), oob)
	if err != nil {
		t.Fatalf("after Abort the quota should be free: %v", err)
	}
	if err := oi.WriteGroups(0, other); err != nil {
		t.Fatal(err)
	}
	if _, err := oi.Commit(ctx, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(data[:2000]), PutOptions{}); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("the committed ingest should count against the quota: %v", err)
	}
	// A file ingest aborted with nothing written, and an inline one.
	e := newIngestT(t, s, data[:500])
	e.Abort()
	if _, err := e.Commit(ctx, PutOptions{}); !errors.Is(err, ErrAborted) {
		t.Fatal(err)
	}
	assertNoTemp(t, s)
	u, err := s.Stat(ctx)
	if err != nil || u.Objects != 1 || u.PayloadBytes != int64(n) {
		t.Fatalf("usage: %+v %v", u, err)
	}
	scrubClean(t, s)
}

// TestIngestExistsAndDedup: an object already stored is refused up front;
// one stored while an ingest ran makes its Commit a deduplicated success.
func TestIngestExistsAndDedup(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	a := randBytes(20, 3*GroupSize)
	if _, err := s.Put(ctx, bytes.NewReader(a), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	aob, ac := encode(a)
	if _, err := s.NewIngest(ctx, ac, int64(len(a)), aob); !errors.Is(err, ErrExists) {
		t.Fatalf("NewIngest of a stored object: %v", err)
	}
	for _, n := range []int{500, 3*GroupSize + 1} {
		b := randBytes(uint64(21+n), n)
		in1, in2 := newIngestT(t, s, b), newIngestT(t, s, b)
		for _, in := range []*Ingest{in1, in2} {
			if err := in.WriteGroups(0, b); err != nil {
				t.Fatal(err)
			}
		}
		r1, err := in1.Commit(ctx, PutOptions{})
		if err != nil || r1.Deduplicated {
			t.Fatalf("first commit: %+v %v", r1, err)
		}
		r2, err := in2.Commit(ctx, PutOptions{Pin: true})
		if err != nil || !r2.Deduplicated || r2.CID != r1.CID {
			t.Fatalf("second commit: %+v %v", r2, err)
		}
		if info, err := s.Info(ctx, r1.CID); err != nil || !info.Pinned {
			t.Fatalf("the deduplicated commit's pin: %+v %v", info, err)
		}
		if _, err := in2.Commit(ctx, PutOptions{}); err == nil {
			t.Fatal("a second Commit of one ingest succeeded")
		}
		if got := readAll(t, s, r1.CID, 0, -1); !bytes.Equal(got, b) {
			t.Fatal("reads back wrong")
		}
	}
	// Stored by a Put while the ingest runs.
	c := randBytes(30, 2*GroupSize+5)
	in := newIngestT(t, s, c)
	if err := in.WriteGroups(0, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(c), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, err := in.Commit(ctx, PutOptions{}); err != nil || !res.Deduplicated {
		t.Fatalf("commit after a put: %+v %v", res, err)
	}
	assertNoTemp(t, s)
	scrubClean(t, s)
}

// TestCloseAbortsIngests: Close does not wait for open ingests; it aborts
// them, which ends their waiting readers and removes their files.
func TestCloseAbortsIngests(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	s, err := Open(ctx, "/s", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(40, 6*GroupSize)
	in := newIngestT(t, s, data)
	small := newIngestT(t, s, data[:100])
	if err := in.WriteGroups(0, data[:GroupSize]); err != nil {
		t.Fatal(err)
	}
	reading := readAsync(must(in.ReadRange(ctx, 0, -1)))
	poll.Until(t, "the reader to wait", func() bool { return in.waiters() == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-reading; !errors.Is(got.err, ErrAborted) || !bytes.Equal(got.data, data[:GroupSize]) {
		t.Fatalf("reader across Close: %d bytes, %v", len(got.data), got.err)
	}
	if names, err := fs.List("/s/tmp"); err != nil || len(names) != 0 {
		t.Fatalf("tmp/ after Close: %v %v", names, err)
	}
	if err := in.WriteGroups(GroupSize, data[GroupSize:2*GroupSize]); !errors.Is(err, ErrAborted) {
		t.Fatalf("WriteGroups after Close: %v", err)
	}
	if _, err := small.Commit(ctx, PutOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close: %v", err)
	}
	if _, err := s.NewIngest(ctx, in.CID(), in.Size(), in.ob); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewIngest after Close: %v", err)
	}
}

// TestIngestLarge receives an object past the write-back step from three
// writers, so writers start write-back of the written prefix on the way.
func TestIngestLarge(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	n := 2*ingestSyncEvery + 12345
	data := fastBytes(n)
	in := newIngestT(t, s, data)
	rng := rand.New(rand.NewPCG(6, 6))
	work := units(rng, int64(n))
	// Roughly in order, as a fetch delivers: swap neighbours only.
	for i := 0; i+1 < len(work); i += 2 {
		if rng.IntN(2) == 0 {
			work[i], work[i+1] = work[i+1], work[i]
		}
	}
	ch := make(chan [2]int64, len(work))
	for _, u := range work {
		ch <- u
	}
	close(ch)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range ch {
				if err := in.WriteGroups(u[0], data[u[0]:u[1]]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	in.mu.Lock()
	synced := in.synced
	in.mu.Unlock()
	if synced < ingestSyncEvery {
		t.Fatalf("write-back started for %d bytes only", synced)
	}
	if _, err := in.Commit(ctx, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, in.CID(), 0, -1); !bytes.Equal(got, data) {
		t.Fatal("reads back wrong")
	}
}
