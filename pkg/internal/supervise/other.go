//go:build !linux

package supervise

import (
	"os/exec"
	"syscall"
	"time"
)

// Now returns the wall clock in nanoseconds; lease deadlines are in this
// clock on systems without CLOCK_BOOTTIME.
func Now() int64 { return time.Now().UnixNano() }

func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func startLocked(cmd *exec.Cmd) error { return cmd.Start() }

// KillLeftovers does nothing on systems without /proc, where supervisors
// write no records.
func KillLeftovers(dir string) (int, error) { return 0, nil }
