package limits

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Both copies move exactly the bytes asked for, including a last write
// shorter than the others, and the file copy leaves nothing behind.
func TestCopies(t *testing.T) {
	const size = 3<<20 + 5
	if r, err := TCPCopy(size); err != nil || r.Wall <= 0 {
		t.Fatalf("TCPCopy: %+v, %v", r, err)
	}
	dir := t.TempDir()
	if r, err := TCPWriteFsync(dir, size); err != nil || r.Wall <= 0 {
		t.Fatalf("TCPWriteFsync: %+v, %v", r, err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("TCPWriteFsync left %d files in its directory", len(left))
	}
	if CPU() <= 0 {
		t.Error("CPU: no time counted for a process that has run")
	}
}

// A file that cannot be written is an error, not a figure: a directory
// that does not exist, and a disk that is full (/dev/full takes no byte).
func TestFailedCopyIsAnError(t *testing.T) {
	if _, err := TCPWriteFsync(filepath.Join(t.TempDir(), "missing"), 1<<20); err == nil {
		t.Error("TCPWriteFsync into a missing directory: no error")
	}
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer f.Close()
	if _, err := tcpCopy(4<<20, func(r io.Reader) (int64, error) { return io.Copy(struct{ io.Writer }{f}, r) }); err == nil {
		t.Error("a copy into /dev/full: no error")
	}
}
