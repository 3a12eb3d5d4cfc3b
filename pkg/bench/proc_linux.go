package bench

import "syscall"

// daemonAttr puts a daemon in its own process group and has the kernel kill
// it should the benchmark die without stopping it.
func daemonAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
