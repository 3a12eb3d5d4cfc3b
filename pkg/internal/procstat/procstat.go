// Package procstat answers, from /proc, whether a process or a process
// group still has a live member. Zombies do not count: a killed orphan stays
// one until PID 1 reaps it, which some container inits never do. Where
// /proc cannot be read it falls back to kill(2) with signal 0.
package procstat

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// stat returns the fields of /proc/pid/stat after the command name: state,
// ppid, pgrp, ...
func stat(pid string) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(b, ')') // comm may hold spaces and parentheses
	if i < 0 {
		return nil, false
	}
	return strings.Fields(string(b[i+1:])), true
}

func live(state string) bool { return state != "Z" && state != "X" }

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	f, ok := stat(strconv.Itoa(pid))
	if !ok {
		return syscall.Kill(pid, 0) == nil
	}
	return len(f) > 0 && live(f[0])
}

// Group returns the process group of a live process.
func Group(pid int) (int, bool) {
	f, ok := stat(strconv.Itoa(pid))
	if !ok || len(f) < 3 {
		return 0, false
	}
	pgid, err := strconv.Atoi(f[2])
	return pgid, err == nil
}

// GroupAlive reports whether process group pgid has a member that is not a
// zombie.
func GroupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) == syscall.ESRCH {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell: kill(2) found the group
	}
	want := strconv.Itoa(pgid)
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		f, ok := stat(e.Name()) // gone meanwhile when !ok
		if ok && len(f) > 2 && f[2] == want && live(f[0]) {
			return true
		}
	}
	return false
}
