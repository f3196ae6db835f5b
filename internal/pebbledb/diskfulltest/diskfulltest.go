// Package diskfulltest gives tests a disk that fills up: Pebble's in-memory
// vfs whose reported free space the test sets (what the write checks of
// internal/pebbledb see) and which can answer ENOSPC to every write
// (Pebble's errorfs), as a disk filled by someone else between a check and
// a write does.
//
// It is for tests of the packages that write through internal/pebbledb; it
// imports nothing of ronhost's.
package diskfulltest

import (
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// Disk is an in-memory filesystem that can be full.
type Disk struct {
	mem    *vfs.MemFS
	fs     vfs.FS
	enospc atomic.Bool
	writes atomic.Int64 // write operations refused with ENOSPC
}

// Plenty is the free space a new Disk reports.
const Plenty = 1 << 40

// New returns an empty disk reporting Plenty bytes free.
func New() *Disk {
	d := &Disk{mem: vfs.NewMem()}
	d.SetFree(Plenty)
	d.fs = errorfs.Wrap(d.mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !d.enospc.Load() || !grows(op.Kind) {
			return nil
		}
		if op.Kind == errorfs.OpMkdirAll {
			if _, err := d.mem.Stat(op.Path); err == nil {
				return nil // nothing to create
			}
		}
		d.writes.Add(1)
		return syscall.ENOSPC
	}))
	return d
}

// FS is the filesystem to hand to the code under test.
func (d *Disk) FS() vfs.FS { return d.fs }

// SetFree sets the free space the disk reports (it does not limit writes:
// see ENOSPC).
func (d *Disk) SetFree(n int64) {
	d.mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: uint64(n), TotalBytes: Plenty, UsedBytes: Plenty - uint64(n)})
}

// ENOSPC makes every operation that needs space (creating, writing,
// renaming, preallocating) fail with ENOSPC (on) or succeed again (off).
// Removals, closes and syncs always work, as on a local filesystem.
func (d *Disk) ENOSPC(on bool) { d.enospc.Store(on) }

// Refused returns how many operations were refused with ENOSPC.
func (d *Disk) Refused() int64 { return d.writes.Load() }

func grows(k errorfs.OpKind) bool {
	switch k {
	case errorfs.OpCreate, errorfs.OpLink, errorfs.OpRename, errorfs.OpReuseForWrite, errorfs.OpMkdirAll,
		errorfs.OpFilePreallocate, errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileFlush:
		return true
	}
	return false
}
