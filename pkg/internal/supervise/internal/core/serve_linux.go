package core

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Serving mode: one supervisor for every job of an executor (see package
// supervise for the protocol and the guarantees). The supervisor is a child
// subreaper; it takes requests on the socket at ServeFD and starts each
// job's command in a process group of its own, with the output descriptors
// that came with the request.

// sjob is a job of a serving supervisor, from its start until it is
// reported done.
type sjob struct {
	id        string
	marker    string // MarkerVar=VALUE
	pid       int    // the command, leader of the job's process group
	reaped    bool
	ws        syscall.WaitStatus
	term      bool
	lease     bool // killed because the lease ran out
	killing   bool
	killUntil time.Time
	next      time.Time // next kill pass
	delay     time.Duration
	known     map[int]uint64 // pid -> start time of the job's processes found so far
	survivors int
	stateFile string
}

// server is the serving supervisor's state, owned by its loop.
type server struct {
	self      int
	selfStart uint64
	parent    int
	leaseFile string
	stateDir  string
	devnull   int

	jobs    map[string]*sjob // every job not yet reported done
	running map[int]*sjob    // by pid, jobs whose command is not reaped
	reqs    chan [][]byte    // fields; fds arrive in reqFds
	reqFds  chan []int
	eof     chan struct{}
	sigs    chan os.Signal
	buf     [4096]byte
}

// Serve runs a serving supervisor until its parent dies or closes the
// socket; it then kills everything that is left.
func Serve(args []string) int {
	s := &server{self: os.Getpid(), jobs: map[string]*sjob{}, running: map[int]*sjob{}}
	for _, a := range args {
		k, v, _ := cut(a, '=')
		switch k {
		case "-serve":
		case "-parent":
			p, ok := atoi(v)
			if !ok || p <= 0 {
				os.Stderr.WriteString("crawlctl " + Name + ": bad argument " + quote(a) + "\n")
				return 2
			}
			s.parent = p
		case "-lease":
			s.leaseFile = v
		case "-state":
			s.stateDir = v
		default:
			os.Stderr.WriteString("crawlctl " + Name + ": unknown argument " + quote(a) + "\n")
			return 2
		}
	}
	if !fdOpen(ServeFD) {
		os.Stderr.WriteString("crawlctl " + Name + ": no socket on file descriptor 3\n")
		return 2
	}
	syscall.CloseOnExec(ServeFD)
	s.sigs = make(chan os.Signal, 64)
	signal.Notify(s.sigs, syscall.SIGTERM, syscall.SIGINT, ParentDeathSignal, syscall.SIGCHLD)
	setSubreaper()
	if s.parent == 0 {
		s.parent = os.Getppid()
	}
	s.selfStart, _ = StartTime(s.self)
	fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		os.Stderr.WriteString("crawlctl " + Name + ": /dev/null: " + err.Error() + "\n")
		return 1
	}
	s.devnull = fd
	s.reqs = make(chan [][]byte)
	s.reqFds = make(chan []int, 1)
	s.eof = make(chan struct{})
	go s.read()
	s.loop()
	return 0
}

// read passes requests from the socket to the loop until EOF.
func (s *server) read() {
	buf := make([]byte, MaxMessage)
	oob := make([]byte, syscall.CmsgSpace(8*4))
	for {
		n, oobn, _, _, err := syscall.Recvmsg(ServeFD, buf, oob, syscall.MSG_CMSG_CLOEXEC)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == 0 {
			close(s.eof)
			return
		}
		var fds []int
		if oobn > 0 {
			if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if f, err := syscall.ParseUnixRights(&m); err == nil {
						fds = append(fds, f...)
					}
				}
			}
		}
		var fields [][]byte
		start := 0
		for i := 0; i < n; i++ {
			if buf[i] == 0 {
				fields = append(fields, append([]byte(nil), buf[start:i]...))
				start = i + 1
			}
		}
		s.reqFds <- fds
		s.reqs <- fields
	}
}

func (s *server) loop() {
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	for {
		// The next kill pass due, if any.
		var next time.Time
		for _, j := range s.jobs {
			if j.killing && j.reaped && (next.IsZero() || j.next.Before(next)) {
				next = j.next
			}
		}
		wake.Stop()
		if !next.IsZero() {
			wake.Reset(max(time.Until(next), 0))
		}
		select {
		case fields := <-s.reqs:
			fds := <-s.reqFds
			s.request(fields, fds)
		case <-s.eof:
			s.shutdown()
			return
		case sig := <-s.sigs:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				s.shutdown()
				return
			case ParentDeathSignal:
				if os.Getppid() != s.parent {
					s.shutdown()
					return
				}
			}
		case <-tick.C:
			if os.Getppid() != s.parent {
				s.shutdown()
				return
			}
			if s.leaseExpired() {
				s.expire()
			}
			if len(s.jobs) == 0 {
				s.killStrays()
			}
		case <-wake.C:
		}
		s.reap()
		s.progress()
	}
}

// request handles one request; fds are the descriptors that came with it.
func (s *server) request(f [][]byte, fds []int) {
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	if len(f) < 2 {
		return
	}
	id := string(f[1])
	switch string(f[0]) {
	case ReqStart:
		s.start(id, f[2:], fds)
	case ReqTerm:
		j := s.jobs[id]
		if j == nil || j.term || j.killing {
			return
		}
		j.term = true
		if !j.reaped {
			// While the command is unreaped its pid, the group's id,
			// cannot be reused.
			syscall.Kill(-j.pid, syscall.SIGTERM)
		}
		for _, st := range s.jobProcs(j, false) {
			if alive(st) {
				syscall.Kill(st.Pid, syscall.SIGTERM)
			}
		}
	case ReqKill:
		if j := s.jobs[id]; j != nil && !j.killing {
			s.beginKill(j, time.Now())
		}
	}
}

// start starts a job: f is DIR ARGC ARGV... ENV...
func (s *server) start(id string, f [][]byte, fds []int) {
	if s.jobs[id] != nil {
		return
	}
	fail := func(kind string) { s.reply(RepDone, id, kind) }
	if len(f) < 3 || len(fds) != 2 {
		fail(RecStartError + " bad request")
		return
	}
	dir := string(f[0])
	argc, ok := atoi(string(f[1]))
	if !ok || argc < 1 || 2+argc > len(f) {
		fail(RecStartError + " bad request")
		return
	}
	argv := make([]string, argc)
	for i := range argv {
		argv[i] = string(f[2+i])
	}
	env := make([]string, 0, len(f)-2-argc)
	marker := ""
	for _, kv := range f[2+argc:] {
		e := string(kv)
		if len(e) > len(MarkerVar) && e[:len(MarkerVar)+1] == MarkerVar+"=" {
			marker = e
		}
		env = append(env, e)
	}
	if marker == "" {
		fail(RecStartError + " bad request: no " + MarkerVar)
		return
	}
	if os.Getppid() != s.parent {
		return // shutting down
	}
	if s.leaseExpired() {
		fail(RecLeaseNotStart)
		return
	}
	path := argv[0]
	if !contains(path, '/') {
		p, err := lookPathIn(envValue(env, "PATH"), path)
		if err != nil {
			fail(RecStartError + " " + oneLine(err.Error()))
			return
		}
		path = p
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{uintptr(s.devnull), uintptr(fds[0]), uintptr(fds[1])},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		op := "fork/exec"
		if dir != "" {
			if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
				op, path = "chdir", dir
			}
		}
		fail(RecStartError + " " + oneLine((&os.PathError{Op: op, Path: path, Err: err}).Error()))
		return
	}
	j := &sjob{id: id, marker: marker, pid: pid}
	s.jobs[id] = j
	s.running[pid] = j
	s.reply(RepStarted, id, itoa(pid))
	s.record(j)
}

// reap collects every child that has exited; a job whose command exited
// has what it left behind killed, unless it is being terminated.
func (s *server) reap() {
	var ended []*sjob
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			break
		}
		if j := s.running[pid]; j != nil {
			delete(s.running, pid)
			j.reaped, j.ws = true, ws
			ended = append(ended, j)
		}
	}
	now := time.Now()
	for _, j := range ended {
		if j.killing {
			j.next = now
		} else if !j.term {
			// The first pass runs before anything else can start, while
			// the group's id is still the job's.
			s.beginKill(j, now)
		}
	}
}

// beginKill kills the job and everything it left, now.
func (s *server) beginKill(j *sjob, now time.Time) {
	j.killing = true
	j.killUntil = now.Add(KillTimeout)
	j.delay = time.Millisecond
	if !j.reaped {
		syscall.Kill(-j.pid, syscall.SIGKILL)
	}
	s.killPass(j, now, true)
}

// killPass SIGKILLs what is left of j, or reports j done when nothing is.
func (s *server) killPass(j *sjob, now time.Time, first bool) {
	left := s.jobProcs(j, first)
	if len(left) == 0 && j.reaped {
		j.survivors = 0
		s.finish(j)
		return
	}
	n := 0
	for _, st := range left {
		if alive(st) {
			syscall.Kill(st.Pid, syscall.SIGKILL)
			n++
		}
	}
	if j.reaped && now.After(j.killUntil) {
		j.survivors = n
		s.finish(j)
		return
	}
	j.next = now.Add(j.delay)
	j.delay = min(2*j.delay, 50*time.Millisecond)
}

// progress runs the kill passes that are due and reports terminated jobs
// whose processes have all exited.
func (s *server) progress() {
	now := time.Now()
	for _, j := range s.jobs {
		switch {
		case j.killing && j.reaped && !now.Before(j.next):
			s.killPass(j, now, false)
		case j.term && !j.killing && j.reaped:
			if len(s.jobProcs(j, false)) == 0 {
				s.finish(j)
			}
		}
	}
}

// expire kills every job at once: the lease ran out.
func (s *server) expire() {
	now := time.Now()
	for _, j := range s.jobs {
		if !j.reaped {
			j.lease = true
			syscall.Kill(-j.pid, syscall.SIGKILL)
		}
	}
	for _, j := range s.jobs {
		if !j.killing {
			s.beginKill(j, now)
		}
	}
}

func (s *server) finish(j *sjob) {
	delete(s.jobs, j.id)
	if j.stateFile != "" {
		os.Remove(j.stateFile)
	}
	kind := RecExit
	if j.lease {
		kind = RecLease
	}
	s.reply(RepDone, j.id, kind+" "+utoa(uint64(uint32(j.ws)))+" "+itoa(j.survivors))
	if len(s.jobs) == 0 {
		s.killStrays()
	}
}

// killStrays kills the descendants left when no job runs: processes whose
// job could not be told (see jobProcs) and survivors of earlier kills.
func (s *server) killStrays() {
	if kids, ok := s.children(); ok && len(kids) == 0 {
		return
	}
	for _, pid := range LiveDescendants(s.self) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// shutdown kills every job and everything else below the supervisor at
// once, waits for them (KillTimeout at most) and removes the records.
func (s *server) shutdown() {
	for pid := range s.running {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(KillTimeout)
	delay := time.Millisecond
	for {
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			delete(s.running, pid)
		}
		live := LiveDescendants(s.self)
		if len(live) == 0 || time.Now().After(deadline) {
			break
		}
		for _, pid := range live {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
	for _, j := range s.jobs {
		if j.stateFile != "" {
			os.Remove(j.stateFile)
		}
	}
}

// jobProcs returns the processes of job j below the supervisor, zombies
// included. A process is the job's when it
// was found to be before (same pid and start time), when its environment
// carries the job's marker, when its parent is the job's, or when it is in
// the job's process group (in the first pass after the command was
// reaped, before anything else could start, always; later only while no
// other job's command has that pid). A process whose parent chain leads to
// another job's unreaped command is that job's. A process adopted by the
// supervisor whose environment carries no marker (it replaced or wiped
// its environment) belongs to no job: it is killed once no job runs.
func (s *server) jobProcs(j *sjob, first bool) []ProcStat {
	if kids, ok := s.children(); ok {
		// Without a child other than unreaped commands, a job whose
		// command was reaped has nothing left.
		unknown := false
		for _, pid := range kids {
			if s.running[pid] == nil {
				unknown = true
				break
			}
		}
		if !unknown && j.reaped {
			return nil
		}
	}
	procs := ScanProcs()
	const (
		none  = 1
		mine  = 2
		other = 3
	)
	verdict := make(map[int]int8, 16)
	groupOK := first || s.running[j.pid] == nil
	var buf []byte
	var judge func(pid int, depth int) int8
	judge = func(pid int, depth int) int8 {
		if v, ok := verdict[pid]; ok {
			return v
		}
		st, ok := procs[pid]
		if !ok || pid == s.self || pid <= 1 || depth > 4096 {
			return 0 // not below the supervisor
		}
		var v int8
		switch {
		case s.running[pid] != nil:
			v = other
			if s.running[pid] == j {
				v = mine
			}
		case j.known[pid] == st.Start && j.known[pid] != 0:
			v = mine
		case groupOK && st.Pgrp == j.pid:
			v = mine
		default:
			if st.Ppid == s.self {
				v = none
			} else {
				v = judge(st.Ppid, depth+1)
				if v == 0 {
					verdict[pid] = 0
					return 0
				}
			}
			if v != mine && v != other && st.State != 'Z' {
				// An adopted process, or one below it: its own marker
				// tells.
				var m string
				m, buf = readMarker(pid, buf)
				if m == j.marker {
					v = mine
				} else if m != "" {
					v = other
				}
			}
		}
		verdict[pid] = v
		return v
	}
	var out []ProcStat
	for pid, st := range procs {
		if judge(pid, 0) == mine && pid != j.pid {
			out = append(out, st)
		}
	}
	if !j.reaped {
		if st, ok := procs[j.pid]; ok {
			out = append(out, st)
		}
	}
	if len(out) > 0 {
		if j.known == nil {
			j.known = map[int]uint64{}
		}
		for _, st := range out {
			j.known[st.Pid] = st.Start
		}
	}
	return out
}

func alive(st ProcStat) bool { return st.State != 'Z' && st.State != 'X' }

// readMarker returns the MarkerVar=VALUE entry of a process's environment,
// or "".
func readMarker(pid int, buf []byte) (string, []byte) {
	fd, err := syscall.Open("/proc/"+itoa(pid)+"/environ", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", buf
	}
	defer syscall.Close(fd)
	if buf == nil {
		buf = make([]byte, 64<<10)
	}
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			break
		}
		n += m
		if n == len(buf) && len(buf) < 8<<20 {
			buf = append(buf, make([]byte, len(buf))...)
		}
	}
	env := buf[:n]
	for len(env) > 0 {
		var kv []byte
		i := 0
		for i < len(env) && env[i] != 0 {
			i++
		}
		kv, env = env[:i], env[min(i+1, len(env)):]
		if len(kv) > len(MarkerVar) && string(kv[:len(MarkerVar)+1]) == MarkerVar+"=" {
			return string(kv), buf
		}
	}
	return "", buf
}

// children returns the supervisor's children (every thread's), from
// /proc; ok is false when the kernel does not list them. The list is
// exact while the caller reaps nothing: a child leaves it only when reaped.
func (s *server) children() (kids []int, ok bool) {
	d, err := os.Open("/proc/self/task")
	if err != nil {
		return nil, false
	}
	tids, _ := d.Readdirnames(-1)
	d.Close()
	for _, tid := range tids {
		fd, err := syscall.Open("/proc/self/task/"+tid+"/children", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return nil, false
		}
		var data []byte
		for {
			n, err := syscall.Read(fd, s.buf[:])
			if err == syscall.EINTR {
				continue
			}
			if err != nil || n <= 0 {
				break
			}
			data = append(data, s.buf[:n]...)
		}
		syscall.Close(fd)
		for rest := string(data); rest != ""; {
			var f string
			f, rest, _ = cut(rest, ' ')
			if pid, ok := atoi(trimSpace(f)); ok {
				kids = append(kids, pid)
			}
		}
	}
	return kids, true
}

func (s *server) leaseExpired() bool {
	if s.leaseFile == "" {
		return false
	}
	d, ok := ReadLease(s.leaseFile)
	return ok && Boottime() > d
}

// reply sends one message.
func (s *server) reply(fields ...string) {
	var b []byte
	for _, f := range fields {
		b = append(b, f...)
		b = append(b, 0)
	}
	for {
		_, err := syscall.Write(ServeFD, b)
		if err != syscall.EINTR {
			return
		}
	}
}

// record writes the state file of a started job (see supervisor.record),
// naming the serving supervisor as the job's.
func (s *server) record(j *sjob) {
	if s.stateDir == "" || s.selfStart == 0 {
		return
	}
	pgStart, ok := StartTime(j.pid)
	if !ok {
		return
	}
	name := itoa(s.self) + "-" + utoa(s.selfStart) + "-" + itoa(j.pid)
	data := []byte(itoa(s.self) + " " + utoa(s.selfStart) + " " +
		itoa(j.pid) + " " + utoa(pgStart) + "\n")
	if f := writeRecord(s.stateDir, name, data); f != "" {
		j.stateFile = f
	}
}

func envValue(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := cut(env[i], '='); ok && k == name {
			return v
		}
	}
	return ""
}
