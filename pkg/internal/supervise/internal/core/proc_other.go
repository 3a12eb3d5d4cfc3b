//go:build !linux

package core

import (
	"time"
)

// Without /proc the supervisor cannot find the job's descendants: it kills
// the job's process group once the command has exited.
const groupKillAfterReap = true

// Boottime returns the wall clock in nanoseconds on systems without
// CLOCK_BOOTTIME.
func Boottime() int64 { return time.Now().UnixNano() }

func setSubreaper() {}

// ProcStat describes a process (Linux only).
type ProcStat struct {
	Pid, Ppid, Pgrp int
	State           byte
	Start           uint64
}

// StartTime is not known without /proc.
func StartTime(int) (uint64, bool) { return 0, false }

// ScanProcs finds nothing without /proc.
func ScanProcs() map[int]ProcStat { return nil }

// Descendants finds nothing without /proc.
func Descendants(map[int]ProcStat, int) []ProcStat { return nil }

// LiveDescendants finds nothing without /proc.
func LiveDescendants(int) []int { return nil }
