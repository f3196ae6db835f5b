//go:build unix && !linux

package supervise

import "syscall"

// sysProcAttr puts a child in a process group of its own. Only Linux can
// also kill it when the supervisor dies; elsewhere run the supervisor under
// a service manager that kills its whole tree (systemd, launchd).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
