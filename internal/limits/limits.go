package limits

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// chunk is the size of each write and read of a copy.
const chunk = 1 << 20

// Result is one measured copy.
type Result struct {
	Wall time.Duration // from the first byte asked for to the last one kept
	CPU  time.Duration // the process's CPU time meanwhile (both ends are in it)
}

// CPU returns this process's user and system CPU time, all threads
// together.
func CPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TCPCopy moves size bytes over a new 127.0.0.1 TCP connection, memory to
// memory, in 1 MiB writes and reads.
func TCPCopy(size int64) (Result, error) {
	return tcpCopy(size, func(r io.Reader) (int64, error) {
		return io.CopyBuffer(io.Discard, r, make([]byte, chunk))
	})
}

// TCPWriteFsync moves size bytes over a new 127.0.0.1 TCP connection into a
// new file in dir, with plain writes and one fsync at the end, and removes
// the file.
func TCPWriteFsync(dir string, size int64) (Result, error) {
	f, err := os.CreateTemp(dir, "limits-*")
	if err != nil {
		return Result{}, fmt.Errorf("limits: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	return tcpCopy(size, func(r io.Reader) (int64, error) {
		// Hiding ReadFrom keeps the copy to plain reads and writes, as a
		// receiver that looks at its bytes does (no splice).
		n, err := io.CopyBuffer(struct{ io.Writer }{f}, r, make([]byte, chunk))
		if err == nil {
			err = f.Sync()
		}
		return n, err
	})
}

// tcpCopy sends size bytes from one end of a loopback connection and times
// keep, which reads them at the other end.
func tcpCopy(size int64, keep func(io.Reader) (int64, error)) (Result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, fmt.Errorf("limits: %w", err)
	}
	defer ln.Close()
	sent := make(chan error, 1)
	go func() {
		sent <- send(ln, size)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		_ = ln.Close()
		<-sent
		return Result{}, fmt.Errorf("limits: %w", err)
	}
	cpu0, t0 := CPU(), time.Now()
	n, err := keep(io.LimitReader(c, size))
	res := Result{Wall: time.Since(t0), CPU: CPU() - cpu0}
	_ = c.Close() // ends a sender still writing when keep failed
	serr := <-sent
	if err == nil && n != size {
		err = fmt.Errorf("%d bytes of %d arrived", n, size)
	}
	if err = errors.Join(err, serr); err != nil {
		return Result{}, fmt.Errorf("limits: copying %d bytes: %w", size, err)
	}
	return res, nil
}

// send accepts one connection on ln and writes size bytes to it.
func send(ln net.Listener, size int64) error {
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, chunk)
	for left := size; left > 0; left -= int64(len(buf)) {
		if _, err := c.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			return err
		}
	}
	return nil
}
