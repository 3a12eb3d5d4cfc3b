// Package core is the job supervisor process itself; package supervise
// describes it and is what the rest of crawlctl uses.
//
// A supervisor per job (where no serving supervisor is used, see
// serve_linux.go) is started for every job, so its start-up time is paid by
// every job. Go initializes packages in the lexical order of their import paths,
// each once its imports are; this package imports only errors, os,
// os/signal, syscall and time (no strconv, strings or fmt, which sort late
// and hold back whatever imports them), so in a full crawlctl binary it is
// initialized right after those, before the packages that take
// milliseconds to initialize (metrics, SQL drivers, protocol buffers, the
// web server), and its init function runs the supervisor and exits before
// they are. That makes a supervisor start in about a quarter of the time.
package core

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Name is the hidden first argument that turns the crawlctl binary into a
// job supervisor.
const Name = "__job-supervisor"

// StatusFD is the file descriptor on which a supervisor reports.
const StatusFD = 3

// Signals understood by a supervisor.
const (
	TermSignal        = syscall.SIGTERM // TERM the job; the rest may exit by itself
	KillSignal        = syscall.SIGUSR1 // kill everything now
	ParentDeathSignal = syscall.SIGHUP  // the parent may have died: check
)

// Status record kinds, one record a line on StatusFD.
const (
	RecPgid          = "pgid"                 // pgid PGID: the command started
	RecExit          = "exit"                 // exit STATUS SURVIVORS: it ended (raw wait status)
	RecLease         = "lease"                // lease STATUS SURVIVORS: killed, the lease ran out
	RecLeaseNotStart = "lease-before-start"   // the lease had run out; nothing started
	RecStopNotStart  = "stopped-before-start" // stop asked before the start; nothing started
	RecStartError    = "start-error"          // start-error TEXT
)

// ServeFD is the unix socket (SOCK_SEQPACKET) a serving supervisor reads
// requests from and writes replies to.
const ServeFD = 3

// MarkerVar is the variable whose value, unique to a job, marks every
// process the job started: it is how a process left behind by a job is
// told from those of other jobs once it has been adopted by the
// supervisor.
const MarkerVar = "JOB_RUN_ID"

// Request and reply kinds; a message is its fields, each ended by a NUL.
const (
	ReqStart   = "start"   // start ID DIR ARGC ARGV... ENV...; fds: stdout, stderr
	ReqTerm    = "term"    // term ID
	ReqKill    = "kill"    // kill ID
	RepStarted = "started" // started ID PID
	RepDone    = "done"    // done ID KIND [STATUS SURVIVORS | TEXT]; KIND is a Rec* kind
)

// MaxMessage bounds a request (its command and environment).
const MaxMessage = 4 << 20

const (
	// PollInterval is how often the parent and the lease are checked.
	PollInterval = 250 * time.Millisecond
	// KillTimeout bounds the wait for killed processes to die (a process
	// in uninterruptible sleep dies only when it wakes up).
	KillTimeout = 10 * time.Second
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == Name {
		os.Exit(Main(os.Args[2:]))
	}
}

// Main runs a supervisor; args are what follows Name on the command line.
// It returns the process exit status: 0 once it has done its work (the
// job's own outcome goes to StatusFD), 2 on a usage error.
func Main(args []string) int {
	if len(args) > 0 && args[0] == "-serve" {
		return Serve(args)
	}
	s := &supervisor{self: os.Getpid()}
	argv, err := s.parseArgs(args)
	if err != nil {
		os.Stderr.WriteString("crawlctl " + Name + ": " + err.Error() + "\n")
		return 2
	}
	s.sigs = make(chan os.Signal, 16)
	signal.Notify(s.sigs, syscall.SIGTERM, syscall.SIGINT, KillSignal, ParentDeathSignal, syscall.SIGCHLD)
	if fdOpen(StatusFD) {
		syscall.CloseOnExec(StatusFD) // the job must not inherit it
		s.status = os.NewFile(StatusFD, "status")
	}
	setSubreaper()
	if s.parent == 0 {
		s.parent = os.Getppid()
	}
	s.run(argv)
	return 0
}

type supervisor struct {
	self      int
	parent    int // the pid whose death ends the job
	leaseFile string
	stateDir  string
	ownEnv    []string // variables meant for the supervisor, not the job
	stateFile string
	status    *os.File // nil when StatusFD is not open
	sigs      chan os.Signal

	pgid        int // the command's pid, which leads the job's process group
	shellReaped bool
	ws          syscall.WaitStatus
	children    bool // the last reap found children left
	term        bool // SIGTERM was passed on
	leaseKilled bool // the lease ran out while the command ran
	orphaned    bool // the parent died
	survivors   int
}

func (s *supervisor) parseArgs(args []string) ([]string, error) {
	for i, a := range args {
		if a == "--" {
			if i+1 == len(args) {
				return nil, errors.New("no command after --")
			}
			return args[i+1:], nil
		}
		k, v, ok := cut(a, '=')
		if !ok || v == "" {
			return nil, errors.New("bad argument " + quote(a))
		}
		switch k {
		case "-parent":
			p, ok := atoi(v)
			if !ok || p <= 0 {
				return nil, errors.New("bad argument " + quote(a))
			}
			s.parent = p
		case "-lease":
			s.leaseFile = v
		case "-state":
			s.stateDir = v
		case "-own-env":
			s.ownEnv = splitComma(v)
		default:
			return nil, errors.New("unknown argument " + quote(a))
		}
	}
	return nil, errors.New("missing -- before the command")
}

func (s *supervisor) run(argv []string) {
	// A stop asked before the start is obeyed without starting anything.
	for pending := true; pending; {
		select {
		case sig := <-s.sigs:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT, KillSignal:
				s.say(RecStopNotStart)
				return
			}
		default:
			pending = false
		}
	}
	if s.parentGone() {
		return
	}
	if s.leaseExpired() {
		s.say(RecLeaseNotStart)
		return
	}
	path := argv[0]
	if !contains(path, '/') {
		p, err := lookPath(path)
		if err != nil {
			s.say(RecStartError + " " + oneLine(err.Error()))
			return
		}
		path = p
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   withoutVars(os.Environ(), s.ownEnv),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		s.say(RecStartError + " " + oneLine((&os.PathError{Op: "fork/exec", Path: path, Err: err}).Error()))
		return
	}
	s.pgid = pid
	s.say(RecPgid + " " + itoa(pid))
	s.record()

	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
loop:
	for {
		s.reap()
		if s.shellReaped && !s.term {
			// The command is done: whatever it left behind dies now.
			s.killAll()
			break
		}
		if !s.children {
			break // everything has exited
		}
		select {
		case sig := <-s.sigs:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				if !s.term {
					s.term = true
					s.signalAll(syscall.SIGTERM)
				}
			case KillSignal:
				s.killAll()
				break loop
			case ParentDeathSignal:
				if s.parentGone() {
					s.killAll()
					break loop
				}
			}
		case <-tick.C:
			if s.parentGone() {
				s.killAll()
				break loop
			}
			if s.leaseExpired() {
				s.leaseKilled = !s.shellReaped
				s.killAll()
				break loop
			}
		}
	}

	s.unrecord()
	if s.orphaned {
		return // nobody is listening
	}
	kind := RecExit
	if s.leaseKilled {
		kind = RecLease
	}
	s.say(kind + " " + utoa(uint64(uint32(s.ws))) + " " + itoa(s.survivors))
}

// reap collects every child that has exited, noting the command's status,
// and whether children are left.
func (s *supervisor) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil { // ECHILD
			s.children = false
			return
		}
		if pid == 0 {
			s.children = true
			return
		}
		if pid == s.pgid && !s.shellReaped {
			s.ws, s.shellReaped = ws, true
			if groupKillAfterReap && !s.term {
				// Without /proc, the group is all that can be found.
				syscall.Kill(-s.pgid, syscall.SIGKILL)
			}
		}
	}
}

// signalAll sends sig to the job's process group and to every descendant,
// and returns how many live descendants it found.
func (s *supervisor) signalAll(sig syscall.Signal) int {
	if !s.shellReaped {
		// While the command is unreaped its pid, the group's id, cannot
		// be reused: signalling the group cannot hit another process.
		syscall.Kill(-s.pgid, sig)
	}
	n := 0
	for _, pid := range LiveDescendants(s.self) {
		syscall.Kill(pid, sig)
		n++
	}
	return n
}

// killAll kills every descendant and reaps them all, giving up after
// KillTimeout.
func (s *supervisor) killAll() {
	deadline := time.Now().Add(KillTimeout)
	delay := time.Millisecond
	var timer *time.Timer
	for {
		s.reap()
		if !s.children {
			s.survivors = 0
			return
		}
		s.survivors = s.signalAll(syscall.SIGKILL)
		if time.Now().After(deadline) {
			return
		}
		if timer == nil {
			timer = time.NewTimer(delay)
			defer timer.Stop()
		} else {
			timer.Reset(delay)
		}
		// Wake up when a child ends, or after delay for grandchildren.
		select {
		case <-s.sigs:
		case <-timer.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// parentGone reports whether the parent has died; a dead parent also
// means nobody reads the status any more.
func (s *supervisor) parentGone() bool {
	if os.Getppid() != s.parent {
		s.orphaned = true
	}
	return s.orphaned
}

func (s *supervisor) leaseExpired() bool {
	if s.leaseFile == "" {
		return false
	}
	d, ok := ReadLease(s.leaseFile)
	return ok && Boottime() > d
}

// ReadLease returns the deadline in a lease file, if it holds a valid one.
func ReadLease(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	return parseInt(trimSpace(string(b)))
}

// say writes one status record.
func (s *supervisor) say(line string) {
	if s.status != nil {
		s.status.Write([]byte(line + "\n"))
	}
}

// record writes the state file describing the running job: "PID START
// PGID PGSTART", START and PGSTART being the start times (field 22 of
// /proc/PID/stat) of the supervisor and of the job's group leader.
func (s *supervisor) record() {
	if s.stateDir == "" {
		return
	}
	start, ok := StartTime(s.self)
	if !ok {
		return
	}
	pgStart, ok := StartTime(s.pgid)
	if !ok {
		return
	}
	name := itoa(s.self) + "-" + utoa(start)
	data := []byte(itoa(s.self) + " " + utoa(start) + " " +
		itoa(s.pgid) + " " + utoa(pgStart) + "\n")
	s.stateFile = writeRecord(s.stateDir, name, data)
}

// writeRecord writes a state file atomically and returns its path, or ""
// if it could not.
func writeRecord(dir, name string, data []byte) string {
	tmp := dir + "/." + name + ".tmp"
	err := os.WriteFile(tmp, data, 0o644)
	if errors.Is(err, os.ErrNotExist) {
		if os.MkdirAll(dir, 0o755) == nil {
			err = os.WriteFile(tmp, data, 0o644)
		}
	}
	if err != nil {
		return ""
	}
	file := dir + "/" + name
	if os.Rename(tmp, file) != nil {
		os.Remove(tmp)
		return ""
	}
	return file
}

func (s *supervisor) unrecord() {
	if s.stateFile != "" {
		os.Remove(s.stateFile)
	}
}

// lookPath finds an executable in $PATH (os/exec is not used here).
func lookPath(name string) (string, error) { return lookPathIn(os.Getenv("PATH"), name) }

// lookPathIn finds an executable in the search path given.
func lookPathIn(path, name string) (string, error) {
	for rest, more := path, true; more; {
		var dir string
		dir, rest, more = cut(rest, ':')
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("exec: " + quote(name) + ": executable file not found in $PATH")
}

// fdOpen reports whether file descriptor fd is open.
func fdOpen(fd int) bool {
	_, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	return errno == 0
}
