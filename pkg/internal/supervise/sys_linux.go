package supervise

import (
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/crawlctl/crawlctl/pkg/internal/supervise/internal/core"
)

// Now returns CLOCK_BOOTTIME in nanoseconds: monotonic, the same for every
// process on the host, and counting time spent suspended (a host that
// sleeps does not stretch a lease). Lease deadlines are in this clock.
func Now() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		panic("clock_gettime(CLOCK_BOOTTIME): " + err.Error())
	}
	return ts.Nano()
}

func sysProcAttr() *syscall.SysProcAttr {
	// Setpgid: terminal signals for the caller's group (Ctrl-C) must not
	// reach the supervisor, which would die before cleaning up.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: core.ParentDeathSignal}
}

// startLocked starts cmd from a locked OS thread: the parent-death signal is
// tied to the thread that forks, not to the process. The supervisor checks
// its parent pid when the signal comes, so the thread exiting later (the Go
// runtime ends a thread only when a goroutine ends while locked to it) costs
// a wake-up, not the job.
func startLocked(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Start()
}
