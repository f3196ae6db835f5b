package node

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/storetest"
)

// chunkWriter records what it is given, and the size of each write.
type chunkWriter struct {
	buf     bytes.Buffer
	largest int
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.largest = max(w.largest, len(p))
	return w.buf.Write(p)
}

// TestServedSourceWritesItself: what the blob server copies from the
// served source (io.CopyBuffer, which prefers the source's WriteTo) is the
// object's range, every byte counted; unpaced, it goes out in the store
// reader's verified batches (more than the server's buffer at a time);
// with serve_rate, in pieces of at most the bucket's burst, through the
// paced Read. A source that is not there is an error, not an empty read.
func TestServedSourceWritesItself(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	data := make([]byte, 5<<20+321)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	res, err := st.Put(ctx, bytes.NewReader(data), store.PutOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	const off, n = 70000, 4<<20 + 99
	for _, tc := range []struct {
		name     string
		rate     int64
		maxWrite int // at most (0: more than the server's buffer)
	}{
		{"unpaced", 0, 0},
		{"paced", 64 << 20, 1 << 20}, // fast enough for a test; burst 1 MiB
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServedSource(st, tc.rate)
			rc, err := s.ReadRange(ctx, res.CID, off, n)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			w := &chunkWriter{}
			got, err := io.CopyBuffer(w, rc, make([]byte, 32<<10))
			if err != nil || got != n || !bytes.Equal(w.buf.Bytes(), data[off:off+n]) {
				t.Fatalf("copied %d of %d bytes (%v); equal: %v", got, n, err, bytes.Equal(w.buf.Bytes(), data[off:off+n]))
			}
			if c := counterValue(t, s.counter); c != n {
				t.Fatalf("counted %v bytes served, want %d", c, n)
			}
			if tc.maxWrite == 0 && w.largest <= 32<<10 {
				t.Fatalf("unpaced: largest write %d bytes: copied through the server's buffer, not from the store's batches", w.largest)
			}
			if tc.maxWrite > 0 && w.largest > tc.maxWrite {
				t.Fatalf("paced: a write of %d bytes, over the burst of %d", w.largest, tc.maxWrite)
			}
		})
	}
	if _, err := newServedSource(st, 0).ReadRange(ctx, res.CID, int64(len(data)), 1); err == nil {
		t.Fatal("a range past the end was served")
	}
}

// counterValue reads a counter through a registry of its own.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathering the counter: %v", err)
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}
