package ledger

import (
	"errors"
	"testing"

	"github.com/ronhost/ronhost/internal/pebbledb"
	"github.com/ronhost/ronhost/internal/pebbledb/diskfulltest"
)

// The ledger's disk fills: metering and sealing fail with ErrDiskFull and
// change nothing (the open epoch's mirror included), balances and usage
// stay readable, the ledger opens read-only on a full disk and recovers;
// ENOSPC met inside Pebble is an error, not a panic.
func TestLedgerDiskFull(t *testing.T) {
	disk := diskfulltest.New()
	open := func() *Ledger {
		l, err := Open(bg, "/ledger", Options{FS: disk.FS(), MinFree: 64 << 20, SyncEvery: -1})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	a := Access{Manifest: man(1), TLD: "map", Price: 5, Node: "n", Payout: "p", Bytes: 10}
	meter(t, l, a)
	usage := func(l *Ledger, want uint64) {
		t.Helper()
		us, err := l.Usage(bg, 1)
		if err != nil || len(us) != 1 || us[0].Usage.Requests != want {
			t.Fatalf("usage: %+v %v (want %d requests)", us, err, want)
		}
	}

	disk.SetFree(1 << 20)
	if _, err := l.Meter(bg, a); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("meter on a full disk: %v", err)
	}
	if _, err := l.Seal(bg); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("seal on a full disk: %v", err)
	}
	usage(l, 1)
	if _, err := l.Balances(bg); err != nil {
		t.Fatal(err)
	}
	if err := l.Audit(bg); err != nil {
		t.Fatalf("audit on a full disk: %v", err)
	}
	disk.SetFree(diskfulltest.Plenty)
	meter(t, l, a)
	usage(l, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	disk.SetFree(0)
	disk.ENOSPC(true)
	l = open()
	if !l.Disk().ReadOnly {
		t.Fatalf("state: %+v", l.Disk())
	}
	usage(l, 2)
	if _, err := l.Meter(bg, a); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("meter on a read-only ledger: %v", err)
	}
	disk.ENOSPC(false)
	disk.SetFree(diskfulltest.Plenty)
	meter(t, l, a)
	usage(l, 3)

	disk.SetFree(100 << 20) // under twice the reserve; the disk fills after the check
	disk.ENOSPC(true)
	if _, err := l.Seal(bg); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("seal meeting ENOSPC: %v", err)
	}
	disk.ENOSPC(false)
	if _, err := l.Meter(bg, a); !errors.Is(err, pebbledb.ErrFailed) {
		t.Fatalf("meter after Pebble failed: %v", err)
	}
	usage(l, 3)
	if err := l.Close(); !errors.Is(err, pebbledb.ErrFailed) {
		t.Fatalf("close after Pebble failed: %v", err)
	}
}
