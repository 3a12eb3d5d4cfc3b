//go:build !linux

package harness

import "syscall"

// sysProcAttr puts a daemon in its own process group (killWithParent needs
// Linux).
func sysProcAttr(killWithParent bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
