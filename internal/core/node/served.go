package node

import (
	"context"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// servedSource is the store as the blob service serves it to peers: every
// byte counted (ron_overlay_served_bytes_total) and, with [overlay]
// serve_rate, paced by one token bucket shared by every peer.
type servedSource struct {
	st      *store.Store
	limit   *rate.Limiter // nil: no cap
	counter prometheus.Counter
}

func newServedSource(st *store.Store, bytesPerSec int64) *servedSource {
	s := &servedSource{st: st, counter: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ron_overlay_served_bytes_total",
		Help: "Payload bytes this node sent to peers over the blob protocol.",
	})}
	if bytesPerSec > 0 {
		s.limit = rate.NewLimiter(rate.Limit(bytesPerSec), int(min(bytesPerSec, 1<<20)))
	}
	return s
}

func (s *servedSource) Outboard(ctx context.Context, c cid.CID) (int64, []byte, error) {
	return s.st.Outboard(ctx, c)
}

func (s *servedSource) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	return s.st.Info(ctx, c)
}

func (s *servedSource) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	rc, err := s.st.ReadRange(ctx, c, off, length)
	if err != nil {
		return nil, err
	}
	return &servedReader{ReadCloser: rc, ctx: ctx, s: s}, nil
}

type servedReader struct {
	io.ReadCloser
	ctx context.Context
	s   *servedSource
}

func (r *servedReader) Read(p []byte) (int, error) {
	if r.s.limit != nil {
		if len(p) > r.s.limit.Burst() {
			p = p[:r.s.limit.Burst()]
		}
		if err := r.s.limit.WaitN(r.ctx, len(p)); err != nil {
			return 0, err
		}
	}
	n, err := r.ReadCloser.Read(p)
	r.s.counter.Add(float64(n))
	return n, err
}

// WriteTo lets the blob server write the store reader's verified batches
// straight to the stream (io.CopyBuffer uses it) when nothing paces them:
// without it every byte served would be copied once more, through the
// server's buffer. With serve_rate, the bytes go through Read, paced.
func (r *servedReader) WriteTo(w io.Writer) (int64, error) {
	wt, ok := r.ReadCloser.(io.WriterTo)
	if r.s.limit != nil || !ok {
		return io.Copy(w, struct{ io.Reader }{r})
	}
	return wt.WriteTo(countingWriter{w: w, c: r.s.counter})
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	c prometheus.Counter
}

func (cw countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.c.Add(float64(n))
	return n, err
}

// busCollectors expose the bus's running totals (bus.Stats).
func busCollectors(b *bus.Bus) []prometheus.Collector {
	counter := func(name, help string, v func(bus.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ron_bus_" + name, Help: help},
			func() float64 { return float64(v(b.Stats())) })
	}
	gauge := func(name, help string, v func(bus.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ron_bus_" + name, Help: help},
			func() float64 { return v(b.Stats()) })
	}
	return []prometheus.Collector{
		counter("requests_total", "Requests this process sent to a role.", func(s bus.Stats) uint64 { return s.Requests }),
		counter("failed_total", "Requests that ended in an error.", func(s bus.Stats) uint64 { return s.Failed }),
		counter("retries_total", "Requests sent again after a failed attempt (no instance, one died).", func(s bus.Stats) uint64 { return s.Retries }),
		counter("hedges_total", "Idempotent requests sent again after silence.", func(s bus.Stats) uint64 { return s.Hedges }),
		counter("reconnects_total", "Times the connection to NATS was lost and made again.", func(s bus.Stats) uint64 { return s.Reconnects }),
		gauge("connected", "1 while connected to NATS.", func(s bus.Stats) float64 {
			if s.Connected {
				return 1
			}
			return 0
		}),
		gauge("cluster_members", "Other members of the NATS cluster the embedded server has routes to.", func(s bus.Stats) float64 { return float64(s.Members) }),
	}
}
