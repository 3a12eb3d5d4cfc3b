package core

import (
	"os"
	"syscall"
	"unsafe"
)

// groupKillAfterReap: with /proc, the descendants of the supervisor (a
// subreaper) include every member of the job's group, so the group need not
// be signalled once its leader is reaped and its id may be reused.
const groupKillAfterReap = false

// Boottime returns CLOCK_BOOTTIME in nanoseconds: monotonic, the same for
// every process on the host, and counting time spent suspended.
func Boottime() int64 {
	const clockBoottime = 7
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockBoottime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		panic("clock_gettime(CLOCK_BOOTTIME): " + errno.Error())
	}
	return ts.Nano()
}

func setSubreaper() {
	const prSetChildSubreaper = 36
	syscall.RawSyscall6(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0, 0, 0, 0)
}

// ProcStat is what is needed of /proc/PID/stat.
type ProcStat struct {
	Pid, Ppid, Pgrp int
	State           byte
	Start           uint64 // field 22, clock ticks since boot
}

// readStat reads /proc/PID/stat into st using buf.
func readStat(pid int, buf []byte, st *ProcStat) bool {
	fd, err := syscall.Open("/proc/"+itoa(pid)+"/stat", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	n, err := syscall.Read(fd, buf)
	syscall.Close(fd)
	if err != nil || n <= 0 {
		return false
	}
	return parseStat(string(buf[:n]), st)
}

// parseStat parses "pid (comm) state ppid pgrp session tty_nr tpgid flags
// minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
// num_threads itrealvalue starttime ..."; comm may hold spaces and
// parentheses.
func parseStat(b string, st *ProcStat) bool {
	open, end := -1, -1
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '(':
			if open < 0 {
				open = i
			}
		case ')':
			end = i
		}
	}
	if open < 1 || end < open {
		return false
	}
	pid, ok := atoi(trimSpace(b[:open]))
	if !ok {
		return false
	}
	st.Pid = pid
	rest := b[end+1:]
	// Fields after comm: field 0 here is field 3 (state) of stat.
	for field := 0; field <= 19; field++ {
		for rest != "" && rest[0] == ' ' {
			rest = rest[1:]
		}
		var f string
		f, rest, _ = cut(rest, ' ')
		f = trimSpace(f)
		switch field {
		case 0:
			if len(f) != 1 {
				return false
			}
			st.State = f[0]
		case 1:
			if st.Ppid, ok = atoi(f); !ok {
				return false
			}
		case 2:
			// A process group id is positive; 0 for some kernel threads.
			if st.Pgrp, ok = atoi(f); !ok {
				return false
			}
		case 19:
			st.Start, ok = parseUint(f)
			return ok
		}
	}
	return false
}

// StartTime returns field 22 of /proc/PID/stat: when the process started,
// in clock ticks since boot. With the pid, it identifies a process.
func StartTime(pid int) (uint64, bool) {
	var buf [1024]byte
	var st ProcStat
	if !readStat(pid, buf[:], &st) {
		return 0, false
	}
	return st.Start, true
}

// ScanProcs reads the stat of every process.
func ScanProcs() map[int]ProcStat {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	procs := make(map[int]ProcStat, len(names))
	var buf [1024]byte
	for _, name := range names {
		pid, ok := atoi(name)
		if !ok {
			continue
		}
		var st ProcStat
		if readStat(pid, buf[:], &st) {
			procs[pid] = st
		}
	}
	return procs
}

// Descendants returns the processes whose parent chain leads to root.
func Descendants(procs map[int]ProcStat, root int) []ProcStat {
	// under[pid]: 1 = descends from root, 2 = does not.
	under := make(map[int]int8, len(procs))
	var chain []int
	var out []ProcStat
	for pid := range procs {
		chain = chain[:0]
		verdict := int8(2)
		for p := pid; ; {
			if p == root {
				verdict = 1
				break
			}
			if v, ok := under[p]; ok {
				verdict = v
				break
			}
			st, ok := procs[p]
			if !ok || p <= 1 || len(chain) > len(procs) {
				break
			}
			chain = append(chain, p)
			p = st.Ppid
		}
		for _, p := range chain {
			under[p] = verdict
		}
		if verdict == 1 && pid != root {
			out = append(out, procs[pid])
		}
	}
	return out
}

// LiveDescendants returns the pids of root's descendants that are not
// zombies.
func LiveDescendants(root int) []int {
	var pids []int
	for _, st := range Descendants(ScanProcs(), root) {
		if st.State != 'Z' && st.State != 'X' {
			pids = append(pids, st.Pid)
		}
	}
	return pids
}
