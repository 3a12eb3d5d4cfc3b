package supervise

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/crawlctl/crawlctl/pkg/internal/supervise/internal/core"
)

// startServer starts a serving supervisor.
func startServer(path string, o Options) (*server, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot create the supervisor's socket: %w", err)
	}
	// Large enough for a request of core.MaxMessage where the system
	// allows it; a larger request goes to a supervisor of its own.
	syscall.SetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUF, core.MaxMessage)
	mine := os.NewFile(uintptr(fds[0]), "supervisor")
	theirs := os.NewFile(uintptr(fds[1]), "supervisor")
	defer theirs.Close()
	fc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, fmt.Errorf("cannot create the supervisor's socket: %w", err)
	}
	conn := fc.(*net.UnixConn)
	cmd, err := Command(path, Options{LeaseFile: o.LeaseFile, StateDir: o.StateDir, Env: []string{}}, "-")
	if err != nil {
		conn.Close()
		return nil, err
	}
	// The supervisor's own arguments, without a command.
	args := []string{cmd.Args[0], Name, "-serve"}
	for _, a := range cmd.Args[2:] {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-own-env=") {
			args = append(args, a)
		}
	}
	cmd.Args = args
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{theirs}
	if err := startLocked(cmd); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cannot start the job supervisor: %w", err)
	}
	s := &server{cmd: cmd, conn: conn, exited: make(chan struct{}), jobs: map[uint64]*Job{}}
	go s.read()
	return s, nil
}
