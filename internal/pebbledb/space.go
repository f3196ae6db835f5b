package pebbledb

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ronhost/ronhost/internal/codes"
)

// ErrDiskFull is what a write refused for want of disk space wraps: the
// filesystem has less free space than the write plus the reserve
// (Options.MinFree), the database is open read-only because the disk was
// full when it opened, or the filesystem answered ENOSPC. Reads go on
// working; writes are accepted again once space is freed.
var ErrDiskFull = codes.New(codes.DiskFull, "disk full")

// ErrFailed is what every write wraps once a database hit a write error that
// Pebble treats as fatal (its commit pipeline or MANIFEST could not be
// written): the database refuses writes and serves reads until the process
// restarts, which replays its log. Everything acknowledged before stays.
var ErrFailed = errors.New("the database stopped accepting writes after a fatal write error (restart the node)")

// NoSpace marks err as ErrDiskFull when it is the filesystem's ENOSPC (or
// EDQUOT), so callers test one sentinel; other errors are returned as they
// are.
func NoSpace(err error) error {
	if err == nil || errors.Is(err, ErrDiskFull) || !isNoSpace(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrDiskFull, err)
}

// Space checks the free space of the filesystem that holds one directory
// against a reserve. A nil *Space, or a filesystem that cannot report its
// usage (Pebble's in-memory vfs unless a test sets it), allows everything.
type Space struct {
	fs      vfs.FS
	path    string
	minFree int64

	// On the real disk, fstatfs on the directory, opened at the first
	// measure (a third of statfs's cost: no path walk per write).
	mu  sync.Mutex
	dir *os.File
}

// NewSpace returns a check of the filesystem holding path that keeps minFree
// bytes free (0: no check). It does no I/O.
func NewSpace(fs vfs.FS, path string, minFree int64) *Space {
	if fs == nil {
		fs = vfs.Default
	}
	return &Space{fs: fs, path: path, minFree: max(minFree, 0)}
}

// MinFree returns the reserve this Space keeps.
func (s *Space) MinFree() int64 {
	if s == nil {
		return 0
	}
	return s.minFree
}

// Free returns the bytes available on the filesystem, and false when it
// cannot tell.
func (s *Space) Free() (int64, bool) {
	if s == nil {
		return 0, false
	}
	if s.fs == vfs.Default {
		if free, ok := s.fstatfs(); ok {
			return free, true
		}
	}
	du, err := s.fs.GetDiskUsage(s.path)
	if err != nil {
		return 0, false
	}
	return int64(min(du.AvailBytes, 1<<62)), true
}

func (s *Space) fstatfs() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == nil {
		f, err := os.Open(s.path)
		if err != nil {
			return 0, false
		}
		s.dir = f
	}
	return fstatfs(s.dir)
}

// Close releases the directory the Space measures through; it may be used
// again after (it reopens it).
func (s *Space) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == nil {
		return nil
	}
	err := s.dir.Close()
	s.dir = nil
	return err
}

// Check returns nil when writing need bytes leaves the reserve free, and an
// error wrapping ErrDiskFull otherwise.
func (s *Space) Check(need int64) error { return s.check(need, s.MinFree()) }

// CheckFloor is Check for a write that frees space (a delete, a GC): it may
// use all but a quarter of the reserve, which is kept for the databases'
// own log writes so that they never meet a full disk.
func (s *Space) CheckFloor(need int64) error { return s.check(need, s.MinFree()/4) }

func (s *Space) check(need, keep int64) error {
	_, err := s.measure(need, keep)
	return err
}

// measure checks need against the free space, keeping keep, and returns
// the free space it measured (-1: not measured or unknown).
func (s *Space) measure(need, keep int64) (int64, error) {
	if s.MinFree() == 0 {
		return -1, nil // no reserve: no check
	}
	free, ok := s.Free()
	if !ok {
		return -1, nil
	}
	if free >= need+keep {
		return free, nil
	}
	return free, s.full(free)
}

func (s *Space) full(free int64) error {
	return fmt.Errorf("%w: %d bytes free, and this node keeps %d free (node.min_free); writes resume when space is freed", ErrDiskFull, free, s.MinFree())
}
