package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// streamSlice writes the slice of [off, off+length) of c as the gateway
// does: the outboard and a verified read of the groups it needs.
func streamSlice(t *testing.T, s *Store, c cid.CID, off, length int64) []byte {
	t.Helper()
	ctx := context.Background()
	size, ob, err := s.Outboard(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	gs, ge := SliceGroups(size, off, length)
	rc, err := s.ReadRange(ctx, c, gs, ge-gs)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if err := WriteSlice(&buf, ob, rc, off, length); err != nil {
		t.Fatalf("WriteSlice(%d, %d): %v", off, length, err)
	}
	if int64(buf.Len()) != SliceLen(size, off, length) {
		t.Fatalf("slice %d+%d of %d bytes: %d bytes, SliceLen says %d", off, length, size, buf.Len(), SliceLen(size, off, length))
	}
	return buf.Bytes()
}

func TestSliceRoundTrip(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := context.Background()
	for _, n := range []int{0, 1, 4096, GroupSize, GroupSize + 1, 3*GroupSize + 17, 8 * GroupSize, 700_000} {
		data := randBytes(uint64(n)+5, n)
		res, err := s.Put(ctx, bytes.NewReader(data), PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := res.CID
		// The whole object: Bao's combined encoding, as bao.Encode writes it.
		whole := streamSlice(t, s, c, 0, int64(n))
		enc, _ := bao.EncodeBuf(data, Group, false)
		if !bytes.Equal(whole, enc) {
			t.Fatalf("%d bytes: the whole slice is not Bao's combined encoding", n)
		}
		var out bytes.Buffer
		size, err := DecodeSlice(&out, bytes.NewReader(whole), c, 0, -1)
		if err != nil || size != int64(n) || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("%d bytes: DecodeSlice: %d, %v", n, size, err)
		}
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		for k := 0; k < 10 && n > 0; k++ {
			off := rng.Int64N(int64(n))
			l := rng.Int64N(int64(n) - off + 1)
			sl := streamSlice(t, s, c, off, l)
			// The same bytes as Store.Slice, and bao.VerifySlice reads them.
			var ref bytes.Buffer
			if err := s.Slice(ctx, c, off, l, &ref); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sl, ref.Bytes()) {
				t.Fatalf("%d bytes: slice %d+%d differs from Store.Slice", n, off, l)
			}
			if got, ok := bao.VerifySlice(sl, Group, uint64(off), uint64(l), c); !ok || !bytes.Equal(got, data[off:off+l]) {
				t.Fatalf("%d bytes: bao.VerifySlice refuses the slice %d+%d", n, off, l)
			}
			out.Reset()
			if _, err := DecodeSlice(&out, bytes.NewReader(sl), c, off, l); err != nil || !bytes.Equal(out.Bytes(), data[off:off+l]) {
				t.Fatalf("%d bytes: DecodeSlice %d+%d: %v", n, off, l, err)
			}
		}
	}
}

// TestSliceLies: every changed byte of a slice, whether in a group or in a
// tree node, is caught before the group it proves is written, and the error
// names that group; cut and padded slices fail too.
func TestSliceLies(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := context.Background()
	const n = 5*GroupSize + 1000
	data := randBytes(77, n)
	res, err := s.Put(ctx, bytes.NewReader(data), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := res.CID
	whole := streamSlice(t, s, c, 0, n)

	// The combined encoding of 6 groups, pre-order: header, root node,
	// node(0-3), node(0-1), g0, g1, node(2-3), g2, g3, node(4-5), g4, g5.
	groupAt := func(g int) int {
		nodes := map[int]int{0: 3, 1: 3, 2: 4, 3: 4, 4: 5, 5: 5}[g]
		return 8 + nodes*64 + g*GroupSize
	}
	for g := range 6 {
		bad := bytes.Clone(whole)
		bad[groupAt(g)+100] ^= 1
		var out bytes.Buffer
		_, err := DecodeSlice(&out, bytes.NewReader(bad), c, 0, -1)
		var se *SliceError
		if !errors.As(err, &se) || se.Group != int64(g) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("a byte flipped in group %d: %v", g, err)
		}
		if !bytes.Equal(out.Bytes(), data[:g*GroupSize]) {
			t.Fatalf("a byte flipped in group %d: %d bytes were written, want the %d before it", g, out.Len(), g*GroupSize)
		}
	}
	// A tree node: the right child of node(2-3) proves group 3.
	bad := bytes.Clone(whole)
	bad[groupAt(2)+GroupSize-64+40] ^= 1
	if _, err := DecodeSlice(io.Discard, bytes.NewReader(bad), c, 0, -1); err == nil {
		t.Fatal("a flipped tree node passed")
	}
	// The header: a smaller size fails the last group, a larger one wants
	// bytes the stream does not have (or another tree).
	for _, tc := range []struct {
		at   int
		want error
	}{{1, ErrCorrupt}, {0, io.ErrUnexpectedEOF}, {2, ErrCorrupt}} {
		bad = bytes.Clone(whole)
		bad[tc.at] ^= 1
		if _, err := DecodeSlice(io.Discard, bytes.NewReader(bad), c, 0, -1); !errors.Is(err, tc.want) {
			t.Fatalf("a size changed at byte %d: %v, want %v", tc.at, err, tc.want)
		}
	}
	// Cut short, and padded.
	if _, err := DecodeSlice(io.Discard, bytes.NewReader(whole[:len(whole)-1]), c, 0, -1); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a cut slice: %v", err)
	}
	if _, err := DecodeSlice(io.Discard, bytes.NewReader(append(bytes.Clone(whole), 0)), c, 0, -1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a padded slice: %v", err)
	}
	// Another object's stream, and an empty one claimed for a non-empty CID.
	other := streamSlice(t, s, mustPut(t, s, randBytes(78, n)), 0, n)
	if _, err := DecodeSlice(io.Discard, bytes.NewReader(other), c, 0, -1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("another object's slice: %v", err)
	}
	if _, err := DecodeSlice(io.Discard, bytes.NewReader(make([]byte, 8)), c, 0, -1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("an empty slice for a non-empty CID: %v", err)
	}
	// A range in the middle: the group named is the one that failed.
	sl := streamSlice(t, s, c, 2*GroupSize+5, GroupSize)
	sl[len(sl)-10] ^= 1 // in group 3, the last of the slice
	var out bytes.Buffer
	_, err = DecodeSlice(&out, bytes.NewReader(sl), c, 2*GroupSize+5, GroupSize)
	var se *SliceError
	if !errors.As(err, &se) || se.Group != 3 || !bytes.Equal(out.Bytes(), data[2*GroupSize+5:3*GroupSize]) {
		t.Fatalf("a range with group 3 changed: %v (wrote %d bytes)", err, out.Len())
	}
}

func mustPut(t *testing.T, s *Store, b []byte) cid.CID {
	t.Helper()
	res, err := s.Put(context.Background(), bytes.NewReader(b), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.CID
}

func FuzzDecodeSlice(f *testing.F) {
	data := randBytes(9, 2*GroupSize+3)
	enc, root := bao.EncodeBuf(data, Group, false)
	f.Add(enc, int64(0), int64(-1))
	f.Add(enc[:100], int64(5), int64(10))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0x40}, int64(0), int64(-1))
	f.Fuzz(func(t *testing.T, b []byte, off, length int64) {
		var out bytes.Buffer
		_, err := DecodeSlice(&out, bytes.NewReader(b), cid.CID(root), off, length)
		if err == nil {
			end := off + int64(out.Len())
			if off < 0 || end > int64(len(data)) || !bytes.Equal(out.Bytes(), data[off:end]) {
				t.Fatalf("accepted bytes that are not the object's at %d", off)
			}
		}
	})
}
