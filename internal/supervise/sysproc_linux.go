package supervise

import "syscall"

// sysProcAttr puts a child in a process group of its own and has the kernel
// SIGKILL it when the supervisor dies (strictly: when the thread that
// started it exits; the Go runtime never ends its threads unless a goroutine
// locked to one exits, which this package never does).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
