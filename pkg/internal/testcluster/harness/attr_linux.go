package harness

import "syscall"

// sysProcAttr puts a daemon in its own process group and, with
// killWithParent, has the kernel kill it should this process die without
// stopping it.
func sysProcAttr(killWithParent bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if killWithParent {
		a.Pdeathsig = syscall.SIGKILL
	}
	return a
}
