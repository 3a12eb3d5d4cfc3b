//go:build !linux

package bench

import "syscall"

// daemonAttr puts a daemon in its own process group.
func daemonAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
