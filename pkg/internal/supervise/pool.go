package supervise

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/supervise/internal/core"
)

// MarkerVar is set in the environment of every job started through a Pool
// to a value of its own (random, 32 hex digits). Processes inherit it, and
// the serving supervisor reads it from /proc/PID/environ to tell which job
// a process it adopted belongs to. A job that sets it itself has it
// replaced.
const MarkerVar = core.MarkerVar

// Pool starts jobs through one long-lived serving supervisor (see the
// package comment), started on first use and started again if it dies. On
// systems other than Linux, and for a command and environment too large
// for one request, it starts a supervisor per job instead. A Pool is safe
// for concurrent use.
type Pool struct {
	path string
	o    Options

	mu     sync.Mutex
	srv    *server
	closed bool
}

// NewPool returns a pool whose supervisors run from the crawlctl binary at
// path ("" = the running binary) with o's lease file and state directory;
// o.Env is not used (each job brings its own).
func NewPool(path string, o Options) *Pool {
	return &Pool{path: path, o: Options{LeaseFile: o.LeaseFile, StateDir: o.StateDir}}
}

// errTooLarge: a request does not fit in one message.
var errTooLarge = errors.New("request too large")

// Start starts argv in dir with env as its whole environment (nil = this
// process's) plus MarkerVar (under either form of supervisor), stdin
// /dev/null, and stdout and stderr as given; the caller may close its
// copies of those once Start returns.
func (p *Pool) Start(dir string, env []string, stdout, stderr *os.File, argv ...string) (*Job, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command to supervise")
	}
	if env == nil {
		env = os.Environ()
	}
	var rnd [16]byte
	rand.Read(rnd[:])
	marker := MarkerVar + "=" + hex.EncodeToString(rnd[:])
	jobEnv := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, MarkerVar+"=") {
			jobEnv = append(jobEnv, kv)
		}
	}
	env = append(jobEnv, marker)
	if runtime.GOOS == "linux" {
		for try := 0; try < 2; try++ {
			srv, err := p.server()
			if err != nil {
				return nil, err
			}
			j, err := srv.start(dir, env, marker, stdout, stderr, argv)
			if err == nil {
				return j, nil
			}
			if errors.Is(err, errTooLarge) {
				break
			}
			// The supervisor is gone: the next try starts another (and
			// should that fail too, the job gets a supervisor of its own).
		}
	}
	o := p.o
	o.Env = env
	cmd, err := Command(p.path, o, argv...)
	if err != nil {
		return nil, err
	}
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, stdout, stderr
	return Start(cmd)
}

// server returns the running serving supervisor, starting one if needed.
func (p *Pool) server() (*server, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("supervisor pool closed")
	}
	if p.srv != nil && !p.srv.isDead() {
		return p.srv, nil
	}
	srv, err := startServer(p.path, p.o)
	if err != nil {
		return nil, err
	}
	p.srv = srv
	return srv, nil
}

// Close stops the serving supervisor, which kills whatever still runs
// under it, and waits for it to exit.
func (p *Pool) Close() error {
	p.mu.Lock()
	srv := p.srv
	p.closed, p.srv = true, nil
	p.mu.Unlock()
	if srv != nil {
		srv.conn.Close()
		<-srv.exited
	}
	return nil
}

// Pid returns the serving supervisor's pid, 0 if none runs.
func (p *Pool) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv == nil || p.srv.isDead() {
		return 0
	}
	return p.srv.cmd.Process.Pid
}

// server is the caller's side of a serving supervisor.
type server struct {
	cmd    *exec.Cmd
	conn   *net.UnixConn
	exited chan struct{} // closed once the supervisor was waited for

	mu   sync.Mutex
	jobs map[uint64]*Job // started and not done
	next uint64
	dead bool
}

func (s *server) isDead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

// start sends a start request; env ends with marker.
func (s *server) start(dir string, env []string, marker string, stdout, stderr *os.File, argv []string) (*Job, error) {
	var b bytes.Buffer
	field := func(f string) {
		b.WriteString(f)
		b.WriteByte(0)
	}
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return nil, errors.New("supervisor gone")
	}
	s.next++
	id := s.next
	j := &Job{srv: s, id: id, marker: marker, done: make(chan struct{})}
	s.jobs[id] = j
	s.mu.Unlock()

	field(core.ReqStart)
	field(strconv.FormatUint(id, 10))
	field(dir)
	field(strconv.Itoa(len(argv)))
	for _, a := range argv {
		field(a)
	}
	for _, kv := range env {
		field(kv)
	}
	oob := syscall.UnixRights(int(stdout.Fd()), int(stderr.Fd()))
	var err error
	if b.Len() > core.MaxMessage {
		err = errTooLarge
	} else {
		_, _, err = s.conn.WriteMsgUnix(b.Bytes(), oob, nil)
		runtime.KeepAlive(stdout)
		runtime.KeepAlive(stderr)
		if errors.Is(err, syscall.EMSGSIZE) || errors.Is(err, syscall.ENOBUFS) {
			err = errTooLarge
		}
	}
	if err != nil {
		tooLarge := errors.Is(err, errTooLarge)
		s.mu.Lock()
		delete(s.jobs, id)
		if !tooLarge {
			// Sending failed: the supervisor is gone (its reader ends the
			// jobs it had) or cannot be spoken to; a new one takes over.
			s.dead = true
		}
		s.mu.Unlock()
		if !tooLarge {
			s.conn.Close()
		}
		return nil, err
	}
	return j, nil
}

// send sends a request about job id; a lost supervisor ignores it.
func (s *server) send(kind string, id uint64) error {
	_, err := s.conn.Write([]byte(kind + "\x00" + strconv.FormatUint(id, 10) + "\x00"))
	return err
}

// read takes the supervisor's replies until it is gone, then ends every
// job it had.
func (s *server) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := s.conn.Read(buf)
		if err != nil || n == 0 {
			break
		}
		f := strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00")
		if len(f) < 3 {
			continue
		}
		id, _ := strconv.ParseUint(f[1], 10, 64)
		s.mu.Lock()
		j := s.jobs[id]
		if j == nil {
			s.mu.Unlock()
			continue
		}
		switch f[0] {
		case core.RepStarted:
			j.pid, _ = strconv.Atoi(f[2])
			s.mu.Unlock()
		case core.RepDone:
			delete(s.jobs, id)
			s.mu.Unlock()
			j.res = parseStatus([]byte(strings.Join(f[2:], " ")))
			j.res.Pgid = j.pid
			close(j.done)
		default:
			s.mu.Unlock()
		}
	}
	s.conn.Close()
	s.mu.Lock()
	s.dead = true
	lost := s.jobs
	s.jobs = nil
	s.mu.Unlock()
	waitErr := s.cmd.Wait()
	close(s.exited)
	if len(lost) == 0 {
		return
	}
	why := errors.New("the job supervisor ended")
	if waitErr != nil {
		why = fmt.Errorf("the job supervisor died (%v)", waitErr)
	}
	killLost(lost)
	for _, j := range lost {
		j.res = Result{Outcome: Lost, Pgid: j.pid, WaitErr: fmt.Errorf("%w; the job was killed", why)}
		close(j.done)
	}
}

// killLost kills what is left of jobs whose supervisor died: their
// process groups, and every process carrying one of their markers,
// until none is left (core.KillTimeout at most).
func killLost(lost map[uint64]*Job) {
	markers := map[string]bool{}
	groups := map[int]string{}
	for _, j := range lost {
		markers[j.marker] = true
		if j.pid > 0 {
			groups[j.pid] = j.marker
		}
	}
	self := os.Getpid()
	deadline := time.Now().Add(core.KillTimeout)
	delay := time.Millisecond
	for {
		found := 0
		procs := core.ScanProcs()
		for pid, st := range procs {
			if pid == self || pid <= 1 || st.State == 'Z' || st.State == 'X' {
				continue
			}
			mine := false
			if m, ok := groups[st.Pgrp]; ok {
				// The group is the job's while its leader is the job's
				// command or gone.
				leader, alive := procs[st.Pgrp]
				mine = !alive || leader.State == 'Z' || readMarker(st.Pgrp) == m
			}
			if mine || markers[readMarker(pid)] {
				syscall.Kill(pid, syscall.SIGKILL)
				found++
			}
		}
		if found == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// readMarker returns the MarkerVar entry of a process's environment, or "".
func readMarker(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return ""
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if bytes.HasPrefix(kv, []byte(MarkerVar+"=")) {
			return string(kv)
		}
	}
	return ""
}
