package bench

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time of process pid: its own (user+system) and that of
// its children it has waited for, from /proc/PID/stat. ok is false where
// there is no /proc.
func procCPU(pid int) (self, children time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// After the comm: state is f[0], utime f[11], stime f[12], cutime f[13], cstime f[14].
	if len(f) < 15 {
		return 0, 0, false
	}
	t := func(s string) time.Duration {
		n, _ := strconv.ParseInt(s, 10, 64)
		return time.Duration(n) * clockTick
	}
	return t(f[11]) + t(f[12]), t(f[13]) + t(f[14]), true
}

// childrenOf lists the live children of process pid, from /proc.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	want := strconv.Itoa(pid)
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if f := strings.Fields(string(b[i+1:])); i >= 0 && len(f) > 1 && f[1] == want {
			out = append(out, child)
		}
	}
	return out
}

// machineBusy is the CPU time all cores spent not idle, from /proc/stat.
func machineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for k, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if k == 3 || k == 4 { // idle, iowait
			continue
		}
		if k >= 8 { // guest time is already counted in user
			break
		}
		busy += n
	}
	return time.Duration(busy) * clockTick, true
}

// CPUPerFlow splits the CPU time a phase used, per flow, in milliseconds.
type CPUPerFlow struct {
	Web       float64 `json:"web"`
	Executors float64 `json:"executors"`
	// Jobs is the job processes and their supervisors (children the
	// executors reaped, and their live job supervisors with the jobs
	// those reaped).
	Jobs      float64 `json:"jobs"`
	Benchmark float64 `json:"benchmark"`
	// Database is every mariadbd/mysqld process on this machine.
	Database float64 `json:"database"`
	// Other is the rest of the machine: interrupts, other processes.
	Other   float64 `json:"other"`
	Machine float64 `json:"machine"`
}

// cpuSnapshot is the CPU counters of the cluster, this process and the
// machine at one moment.
type cpuSnapshot struct {
	web, executors, jobs, self, db, machine time.Duration
	ok                                      bool
}

func takeCPU(c *cluster) cpuSnapshot {
	s := cpuSnapshot{ok: true}
	var ok bool
	if s.web, _, ok = procCPU(c.web.Pid()); !ok {
		return cpuSnapshot{}
	}
	for _, d := range c.executors {
		own, kids, _ := procCPU(d.Pid())
		s.executors += own
		s.jobs += kids
		// The executor's job supervisor lives as long as the executor:
		// its own time and that of the jobs it reaped.
		for _, pid := range childrenOf(d.Pid()) {
			own, kids, _ := procCPU(pid)
			s.jobs += own + kids
		}
	}
	s.self, _, _ = procCPU(os.Getpid())
	s.db = databaseCPU()
	s.machine, s.ok = machineBusy()
	return s
}

// perFlow divides the CPU spent between two snapshots by flows.
func perFlow(a, b cpuSnapshot, flows int) CPUPerFlow {
	if !a.ok || !b.ok || flows <= 0 {
		return CPUPerFlow{}
	}
	f := func(d time.Duration) float64 { return ms(d) / float64(flows) }
	p := CPUPerFlow{
		Web: f(b.web - a.web), Executors: f(b.executors - a.executors), Jobs: f(b.jobs - a.jobs),
		Benchmark: f(b.self - a.self), Database: f(b.db - a.db), Machine: f(b.machine - a.machine),
	}
	p.Other = p.Machine - p.Web - p.Executors - p.Jobs - p.Benchmark - p.Database
	return p
}

// databaseCPU is the CPU time of every MariaDB/MySQL server process here.
func databaseCPU() time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue
		}
		if c := strings.TrimSpace(string(comm)); c == "mariadbd" || c == "mysqld" {
			own, _, _ := procCPU(pid)
			total += own
		}
	}
	return total
}
