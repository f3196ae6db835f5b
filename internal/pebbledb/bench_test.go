package pebbledb_test

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ronhost/ronhost/internal/pebbledb"
)

// BenchmarkSet: one unsynced 100-byte write (the ledger's metering) through
// DB.Set with the node's default reserve (a statfs and a commit goroutine
// per write), on the real disk, as a ratio to the same writes through a
// bare *pebble.DB measured in the same run (x-pebble = bare time / DB
// time; 1 means no overhead). Synced writes cost an fsync (milliseconds)
// against which the check's microsecond does not show.
func BenchmarkSet(b *testing.B) {
	dir := b.TempDir()
	bare, err := pebble.Open(filepath.Join(dir, "bare"), &pebble.Options{Logger: pebbledb.Logger(nil)})
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	db, err := pebbledb.Open(filepath.Join(dir, "db"), pebbledb.Options{MinFree: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	key, val := make([]byte, 8), make([]byte, 100)
	write := func(set func(k, v []byte) error) time.Duration {
		t := time.Now()
		for i := 0; i < b.N; i++ {
			binary.BigEndian.PutUint64(key, uint64(i%4096))
			if err := set(key, val); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(t)
	}
	dBare := write(func(k, v []byte) error { return bare.Set(k, v, pebble.NoSync) })
	b.ResetTimer()
	d := write(func(k, v []byte) error { return db.Set(k, v, pebble.NoSync) })
	b.StopTimer()
	b.ReportMetric(float64(dBare.Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(dBare.Seconds()/d.Seconds(), "x-pebble")
}
