package blob

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

func FuzzParseRequest(f *testing.F) {
	c := cid.Sum([]byte("x")).String()
	for _, s := range []string{
		`{"op":"outboard","cid":"` + c + `"}`,
		`{"op":"read","cid":"` + c + `","off":65536,"len":131072}`,
		`{"op":"read","cid":"` + c + `","off":1,"len":-5}`,
		`{"op":"replicate","cid":"` + c + `"}`,
		`{"op":"read","cid":"` + c + `","off":0,"len":67108865}`,
		`{}`, `[]`, `null`, `{"op":"read","cid":"` + c + `"} x`,
	} {
		f.Add([]byte(s), int64(3*store.GroupSize+7))
	}
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		for _, proto := range []string{string(ProtocolBlob), string(ProtocolReplicate)} {
			p, we := parseRequest(b, protocolOf(proto))
			if we != nil {
				if we.Code != CodeInvalid && we.Code != CodeTooLarge {
					t.Fatalf("code %q", we.Code)
				}
				continue
			}
			if p.op == opRead {
				if p.off < 0 || p.off%store.GroupSize != 0 || p.len <= 0 || p.len > MaxRead {
					t.Fatalf("accepted a read of %d at %d", p.len, p.off)
				}
				if size >= 0 && checkRead(p, size) == nil && (p.off+p.len > size || (p.len%store.GroupSize != 0 && p.off+p.len != size)) {
					t.Fatalf("checkRead accepted %d at %d of %d", p.len, p.off, size)
				}
			}
			// What was accepted round-trips.
			var buf bytes.Buffer
			if err := writeFrame(&buf, request{Op: p.op, CID: p.c.String(), Off: p.off, Len: p.len}); err != nil {
				t.Fatal(err)
			}
			body, err := readFrame(bufio.NewReader(&buf))
			if err != nil {
				t.Fatal(err)
			}
			if q, we := parseRequest(body, protocolOf(proto)); we != nil || q != p {
				t.Fatalf("%+v round-tripped to %+v, %v", p, q, we)
			}
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	for _, b := range [][]byte{
		frameOf(response{Size: 10, Len: 8}),
		frameOf(response{Error: &wireError{CodeBusy, "later"}}),
		frameOf(response{OK: true}),
		{0x80, 0x80, 0x01}, {0}, {0x81}, rawFrame(`{"size":-1}`), rawFrame(`{"error":{"code":""}}`),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := readFrame(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, errMalformed) && !errors.Is(err, errHeaderTooLarge) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(body) == 0 || len(body) > MaxHeader {
			t.Fatalf("a header of %d bytes", len(body))
		}
		r, err := parseResponse(body)
		if err != nil {
			return
		}
		if r.Error != nil && (r.Error.Code == "" || r.Len != 0 || r.Size != 0) {
			t.Fatalf("accepted %+v", r)
		}
		if r.Size < 0 || r.Len < 0 {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func TestOutboardLen(t *testing.T) {
	for _, size := range []int64{0, 1, store.GroupSize, store.GroupSize + 1, 5*store.GroupSize - 3, 1 << 30} {
		data := make([]byte, 0)
		if size <= 5*store.GroupSize {
			data = make([]byte, size)
		}
		if size > 5*store.GroupSize {
			if got := outboardLen(size); got != 8+64*((1<<30)/store.GroupSize-1) {
				t.Fatalf("outboardLen(1 GiB) = %d", got)
			}
			continue
		}
		ob := encodeOutboard(data)
		if got := outboardLen(size); got != int64(len(ob)) {
			t.Fatalf("outboardLen(%d) = %d, bao says %d", size, got, len(ob))
		}
	}
}

// TestReadOutboard: honest outboards read whole (one that spans several
// 64 KiB reads too, with nodes across their boundaries); a flipped bit in
// any node, or a header claiming another size, is caught.
func TestReadOutboard(t *testing.T) {
	for _, groups := range []int{0, 1, 2, 3, 5, 17, 1100} {
		data := make([]byte, groups*store.GroupSize+groups%7)
		if len(data) > 0 {
			data[len(data)/2] = 1
		}
		c, ob := cid.Sum(data), encodeOutboard(data)
		size := int64(len(data))
		got, err := readOutboard(bytes.NewReader(ob), c, size, int64(len(ob)))
		if err != nil || !bytes.Equal(got, ob) {
			t.Fatalf("%d groups: %v", groups, err)
		}
		for _, at := range []int{8, len(ob) / 2, len(ob) - 1} {
			if at < 8 || len(ob) == 8 {
				continue
			}
			bad := bytes.Clone(ob)
			bad[at] ^= 4
			if _, err := readOutboard(bytes.NewReader(bad), c, size, int64(len(bad))); !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("%d groups, byte %d flipped: %v", groups, at, err)
			}
		}
		if _, err := readOutboard(bytes.NewReader(ob), c, size+1, int64(len(ob))); !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("%d groups, header not the claimed size: %v", groups, err)
		}
	}
}
