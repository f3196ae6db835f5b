package node

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/store"
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

// benchCPU is this process's user+system CPU time.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tcpWriteFsync moves size bytes over a 127.0.0.1 TCP connection into a
// file in dir and fsyncs it: the physical limit of receiving an object
// from a peer and keeping it.
func tcpWriteFsync(b *testing.B, dir string, size int64) time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 1<<20)
		for left := size; left > 0; left -= int64(len(buf)) {
			if _, err := c.Write(buf[:min(left, int64(len(buf)))]); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	t0 := time.Now()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	name := filepath.Join(dir, "tcp-copy")
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(name)
	defer f.Close()
	if n, err := io.CopyBuffer(struct{ io.Writer }{f}, io.LimitReader(c, size), make([]byte, 1<<20)); err != nil || n != size {
		b.Fatalf("tcp copy: %d bytes, %v", n, err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	d := time.Since(t0)
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
	return d
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
		limit = min(limit, tcpWriteFsync(b, dir, size))
		res, err := a.store.Put(ctx, &benchRandom{rng: rand.NewChaCha8([32]byte{byte(i), 7}), n: size}, store.PutOptions{Size: size, Pin: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0, t0 := benchCPU(), time.Now()
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
		cpu += benchCPU() - cpu0
	}
	b.StopTimer()
	b.ReportMetric(limit.Seconds()/best.Seconds(), "ratio")
	b.ReportMetric(float64(size)/best.Seconds()/1e6, "node_MB/s")
	b.ReportMetric(float64(size)/limit.Seconds()/1e6, "tcp_fsync_MB/s")
	b.ReportMetric(cpu.Seconds()*1e3/float64(b.N)/(float64(size)/1e6), "cpu_ms/MB")
}
