package pebbledb

import (
	"os"

	"golang.org/x/sys/unix"
)

// fstatfs returns the bytes available to this process on f's filesystem
// (Bavail in Frsize units, as df and Pebble's GetDiskUsage count them).
func fstatfs(f *os.File) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, false
	}
	return int64(min(st.Bavail*uint64(st.Frsize), 1<<62)), true
}
