package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// mapMeter is the baseline of BenchmarkMeter: the same aggregation (per
// manifest and server, with the same overflow checks) into Go maps under a
// mutex, with no database.
type mapMeter struct {
	mu sync.Mutex
	o  openEpoch
}

func (mm *mapMeter) meter(a Access) error {
	if err := checkAccess(a); err != nil {
		return err
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	om := mm.o.manifests[a.Manifest]
	if om == nil {
		om = &openManifest{tld: a.TLD, servers: map[serverKey]*openServer{}}
		mm.o.manifests[a.Manifest] = om
	} else if om.tld != a.TLD {
		return ErrInvalid
	}
	sk := serverKey{a.Node, a.Payout}
	srv := om.servers[sk]
	if srv == nil {
		srv = &openServer{}
		om.servers[sk] = srv
	}
	mAmount, ok1 := addMoney(om.amount, a.Price)
	eAmount, ok2 := addMoney(mm.o.amount, a.Price)
	if !ok1 || !ok2 {
		return ErrOverflow
	}
	srv.r.requests++
	srv.r.bytes += a.Bytes
	srv.r.amount += a.Price
	om.amount, mm.o.amount = mAmount, eAmount
	mm.o.requests++
	mm.o.bytes += a.Bytes
	return nil
}

// benchAccesses is a working set of 1000 manifests served by 4 nodes.
func benchAccesses() []Access {
	var as []Access
	for i := 0; i < 1000; i++ {
		m := cid.Sum([]byte(fmt.Sprint("bench ", i)))
		for s := 0; s < 4; s++ {
			as = append(as, Access{Manifest: m, TLD: "map", Price: uint64(1 + i%5), Node: fmt.Sprint("node-", s),
				Payout: fmt.Sprint("payout-address-", s), Bytes: 65536})
		}
	}
	// Interleave manifests and servers.
	out := make([]Access, len(as))
	for i := range as {
		out[i] = as[(i*7919)%len(as)]
	}
	return out
}

// BenchmarkMeter: Meter on the real disk (NoSync, the default SyncEvery),
// in accesses per second, as a ratio to the same aggregation into a Go map
// under a mutex (x-map = map time / ledger time), measured in the same run.
func BenchmarkMeter(b *testing.B) {
	ctx := context.Background()
	as := benchAccesses()
	l, err := Open(ctx, filepath.Join(b.TempDir(), "ledger"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	base := &mapMeter{o: newOpenEpoch(time.Time{})}
	t := time.Now()
	for i := 0; i < b.N; i++ {
		if err := base.meter(as[i%len(as)]); err != nil {
			b.Fatal(err)
		}
	}
	dMap := time.Since(t)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Meter(ctx, as[i%len(as)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	d := b.Elapsed()
	b.ReportMetric(float64(b.N)/d.Seconds(), "accesses/s")
	b.ReportMetric(float64(dMap.Nanoseconds())/float64(b.N), "map-ns/op")
	b.ReportMetric(dMap.Seconds()/d.Seconds(), "x-map")
}

// BenchmarkMeterParallel: Meter from GOMAXPROCS goroutines (the gateway's
// request handlers), same ratio to the map under a mutex.
func BenchmarkMeterParallel(b *testing.B) {
	ctx := context.Background()
	as := benchAccesses()
	l, err := Open(ctx, filepath.Join(b.TempDir(), "ledger"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	base := &mapMeter{o: newOpenEpoch(time.Time{})}
	run := func(f func(Access) error) time.Duration {
		t := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < runtime.GOMAXPROCS(0); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= b.N {
						return
					}
					if err := f(as[i%len(as)]); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(t)
	}
	dMap := run(base.meter)
	b.ResetTimer()
	run(func(a Access) error { _, err := l.Meter(ctx, a); return err })
	b.StopTimer()
	d := b.Elapsed()
	b.ReportMetric(float64(b.N)/d.Seconds(), "accesses/s")
	b.ReportMetric(dMap.Seconds()/d.Seconds(), "x-map")
}

// fsyncTime is the mean time to write 200 bytes to a file and fsync it, in
// dir (the physical limit of a synced commit on this disk).
func fsyncTime(b *testing.B, dir string) time.Duration {
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 200)
	const n = 50
	t := time.Now()
	for i := 0; i < n; i++ {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(t) / n
}

// BenchmarkSettle: Settle of an epoch of b.N manifests (each with two
// servers) on the real disk with a trivial splitter; ns/op is per manifest,
// each one synced batch. x-fsync is the time of one write+fsync of a small
// file on the same disk over the time per manifest.
func BenchmarkSettle(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	l, err := Open(ctx, filepath.Join(dir, "ledger"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < b.N; i++ {
		m := cid.Sum([]byte(fmt.Sprint("settle ", i)))
		for s := 0; s < 2; s++ {
			if _, err := l.Meter(ctx, Access{Manifest: m, TLD: "map", Price: 100, Node: fmt.Sprint("n", s), Payout: fmt.Sprint("p", s)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	epoch, err := l.Seal(ctx)
	if err != nil {
		b.Fatal(err)
	}
	fsync := fsyncTime(b, dir)
	sp := SplitterFunc(func(_ context.Context, m cid.CID, tld, _ string, amount uint64, u Usage) ([]Allocation, error) {
		return fairSplit(m, tld, amount, u), nil
	})
	b.ResetTimer()
	st, err := l.Settle(ctx, epoch, sp)
	b.StopTimer()
	if err != nil || st.Settled != b.N {
		b.Fatalf("%+v, %v", st, err)
	}
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(fsync.Nanoseconds()), "fsync-ns")
	b.ReportMetric(fsync.Seconds()/per.Seconds(), "x-fsync")
}
