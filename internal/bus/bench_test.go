package bus

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/codes"
)

// The benchmark's request and reply: the shape of store.info.
type infoReq struct {
	CID string `json:"cid"`
}

type infoResp struct {
	CID    string `json:"cid"`
	Size   int64  `json:"size"`
	Inline bool   `json:"inline"`
	Pinned bool   `json:"pinned"`
}

// infoLogic is the handler's work: decode, answer.
func infoLogic(_ context.Context, req []byte) (any, error) {
	var r infoReq
	if err := json.Unmarshal(req, &r); err != nil {
		return nil, Errorf(codes.Invalid, "bad request: %v", err)
	}
	return infoResp{CID: r.CID, Size: 4096, Inline: true}, nil
}

const benchCID = "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"

// roundTrip is what a request does without a bus: encode, handle, encode the
// reply, decode it.
func roundTrip(ctx context.Context, h Handler, req any, resp any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	v, err := h(ctx, data)
	if err != nil {
		return err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(out, resp)
}

func percentile(d []time.Duration, p float64) float64 {
	slices.Sort(d)
	return float64(d[int(float64(len(d)-1)*p)].Nanoseconds()) / 1e3
}

// BenchmarkRequestReply times one request/reply through a micro service on
// the embedded server over an in-process connection, and, in the same run,
// the same work as a native function call and as a round trip over channels
// to another goroutine. It reports p50 and p99 in µs and the bus's p50 as a
// multiple of each baseline.
func BenchmarkRequestReply(b *testing.B) {
	bus := startBus(b, Options{Name: "bench"})
	if err := bus.AddService("bench", "1.0.0", "", map[string]Handler{"info": infoLogic}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := infoReq{CID: benchCID}
	var resp infoResp
	for i := 0; i < 1000; i++ { // warm up
		if err := bus.Request(ctx, Spec{Role: "bench", Verb: "info"}, req, &resp); err != nil {
			b.Fatal(err)
		}
	}
	n := max(b.N, 1000)
	lat := make([]time.Duration, 0, n)

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := bus.Request(ctx, Spec{Role: "bench", Verb: "info"}, req, &resp); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	if resp.Size != 4096 || resp.CID != benchCID {
		b.Fatalf("reply %+v", resp)
	}
	for len(lat) < n {
		t0 := time.Now()
		if err := bus.Request(ctx, Spec{Role: "bench", Verb: "info"}, req, &resp); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}

	// Baseline 1: the same work as a function call.
	native := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := roundTrip(ctx, infoLogic, req, &resp); err != nil {
			b.Fatal(err)
		}
		native = append(native, time.Since(t0))
	}

	// Baseline 2: the handler on another goroutine, over channels.
	in, out := make(chan []byte), make(chan []byte)
	go func() {
		for data := range in {
			v, _ := infoLogic(ctx, data)
			o, _ := json.Marshal(v)
			out <- o
		}
	}()
	chanRT := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		data, _ := json.Marshal(req)
		in <- data
		if err := json.Unmarshal(<-out, &resp); err != nil {
			b.Fatal(err)
		}
		chanRT = append(chanRT, time.Since(t0))
	}
	close(in)

	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	n50, c50 := percentile(native, 0.50), percentile(chanRT, 0.50)
	b.ReportMetric(p50, "p50-µs")
	b.ReportMetric(p99, "p99-µs")
	b.ReportMetric(n50, "native-p50-µs")
	b.ReportMetric(c50, "chan-p50-µs")
	b.ReportMetric(p50/n50, "x-native")
	b.ReportMetric(p50/c50, "x-chan")
}
