package store

import (
	"context"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/core/cid"
)

// BenchmarkIngestGroups: NewIngest, WriteGroups of the whole payload from
// memory in 1 MiB units (16 groups, what a fetch hands over) by as many
// writers as cores, in the order a shared queue hands them out, and Commit
// (verification of every group, file writes, fsync, index commit), into a
// fresh store on disk. Reported as a ratio to raw BLAKE3 of the same bytes in
// memory measured in the same run: x-blake3 against blake3.Sum256 on one
// core (what `b3sum`-style hashing costs), x-blake3-simd against the
// fastest in-memory BLAKE3 here (Bao's encoder, 64 KiB groups, one core).
// Size: RON_BENCH_BYTES (default 64 MiB); 1 GiB:
//
//	RON_BENCH_BYTES=1073741824 go test -run '^$' -bench BenchmarkIngestGroups -benchtime 1x ./core/store
func BenchmarkIngestGroups(b *testing.B) {
	n := benchBytes(b)
	data := fastBytes(n)
	ob, root := bao.EncodeBuf(data, Group, true)
	c := cid.CID(root)
	ctx := context.Background()
	workers := max(2, runtime.GOMAXPROCS(0))
	const unit = 16 * GroupSize
	for i := 0; i < b.N; i++ {
		hash := best(benchReps, func() time.Duration {
			t := time.Now()
			cid.Sum(data)
			return time.Since(t)
		})
		simd := best(benchReps, func() time.Duration { return simdHash(data) })
		ingest := best(benchReps, func() time.Duration {
			dir := b.TempDir()
			s, err := Open(ctx, dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			t := time.Now()
			in, err := s.NewIngest(ctx, c, int64(n), ob)
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			var failed atomic.Value
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						off := next.Add(unit) - unit
						if off >= int64(n) {
							return
						}
						if err := in.WriteGroups(off, data[off:min(off+unit, int64(n))]); err != nil {
							failed.Store(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			if _, err := in.Commit(ctx, PutOptions{}); err != nil {
				b.Fatal(err)
			}
			d := time.Since(t)
			s.Close()
			os.RemoveAll(dir)
			return d
		})
		b.ReportMetric(mbps(n, ingest), "ingest-MB/s")
		b.ReportMetric(mbps(n, hash), "blake3-MB/s")
		b.ReportMetric(mbps(n, simd), "blake3-simd-MB/s")
		b.ReportMetric(hash.Seconds()/ingest.Seconds(), "x-blake3")
		b.ReportMetric(simd.Seconds()/ingest.Seconds(), "x-blake3-simd")
		b.ReportMetric(float64(workers), "writers")
	}
}
