package node

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/limits"
)

// benchRandom yields n pseudo-random bytes (ChaCha8).
type benchRandom struct {
	rng *rand.ChaCha8
	n   int64
}

func (r *benchRandom) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	_, _ = r.rng.Read(p)
	r.n -= int64(len(p))
	return len(p), nil
}

// BenchmarkNodeToNode: node B fetches an object only node A holds, through
// B's gateway (GET /o/CID, every byte read by the client), both real nodes
// in this process on 127.0.0.1, a fresh object each iteration. It reports
// the best GET as a ratio to the best loopback TCP copy + write + fsync of
// as many bytes measured in the same run ("ratio", throughput over
// throughput), and the CPU time both nodes and the client spent per MB
// ("cpu_ms/MB", steadier than the time on a loaded machine). RON_BENCH_NODE_MIB sets the size (default 64). With
// -cpuprofile it shows where the node spends what the protocol does not
// (BenchmarkFetch1GiB in internal/core/blob is the protocol alone).
//
//	go test -run '^$' -bench NodeToNode -benchtime 3x ./internal/core/node
func BenchmarkNodeToNode(b *testing.B) {
	size := int64(64 << 20)
	if s := os.Getenv("RON_BENCH_NODE_MIB"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("RON_BENCH_NODE_MIB=%q", s)
		}
		size = int64(n) << 20
	}
	ctx := context.Background()
	a, _, _ := startNode(b, nil)
	bn, api, _ := startNode(b, nil)
	ha := a.overlay.Host()
	if err := bn.overlay.Host().Connect(ctx, peer.AddrInfo{ID: ha.ID(), Addrs: ha.Addrs()}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	buf := make([]byte, 1<<20)
	best, limit := time.Duration(1<<63-1), time.Duration(1<<63-1)
	var cpu time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		tcpFsync, err := limits.TCPWriteFsync(dir, size)
		if err != nil {
			b.Fatal(err)
		}
		limit = min(limit, tcpFsync.Wall)
		res, err := a.store.Put(ctx, &benchRandom{rng: rand.NewChaCha8([32]byte{byte(i), 7}), n: size}, store.PutOptions{Size: size, Pin: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0, t0 := limits.CPU(), time.Now()
		resp, err := client.Get(api + "/o/" + res.CID.String())
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, buf)
		resp.Body.Close()
		if err != nil || n != size || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET from B: %s, %d of %d bytes: %v", resp.Status, n, size, err)
		}
		best = min(best, time.Since(t0))
		cpu += limits.CPU() - cpu0
	}
	b.StopTimer()
	b.ReportMetric(limit.Seconds()/best.Seconds(), "ratio")
	b.ReportMetric(float64(size)/best.Seconds()/1e6, "node_MB/s")
	b.ReportMetric(float64(size)/limit.Seconds()/1e6, "tcp_fsync_MB/s")
	b.ReportMetric(cpu.Seconds()*1e3/float64(b.N)/(float64(size)/1e6), "cpu_ms/MB")
}
