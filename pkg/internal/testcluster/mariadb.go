package testcluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// MariaDB is a throwaway MariaDB server owned by one test, for outage tests
// that must never touch the shared server.
type MariaDB struct {
	t       testing.TB
	dir     string
	Port    int
	cmd     *exec.Cmd
	done    chan struct{}
	install string
	server  string
}

// StartMariaDB initialises a data directory and starts a private server.
// The test fails (it does not skip) when the server binaries are missing.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	server, err1 := exec.LookPath("mariadbd")
	if err1 != nil {
		server, err1 = exec.LookPath("/usr/sbin/mariadbd")
	}
	install, err2 := exec.LookPath("mariadb-install-db")
	if err1 != nil || err2 != nil {
		t.Fatalf("outage tests need mariadbd and mariadb-install-db (apt-get install mariadb-server): %v %v", err1, err2)
	}
	m := &MariaDB{t: t, dir: t.TempDir(), install: install, server: server}
	out, err := exec.Command(install, "--no-defaults", "--datadir="+filepath.Join(m.dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	m.Port = FreePort(t)
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Start starts (or restarts) the server and waits until it accepts connections.
func (m *MariaDB) Start() {
	m.t.Helper()
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(m.dir, "data"), fmt.Sprintf("--port=%d", m.Port),
		"--bind-address=127.0.0.1", "--socket=" + filepath.Join(m.dir, "sock")}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	m.cmd = exec.Command(m.server, args...)
	log, _ := os.Create(filepath.Join(m.dir, "server.log"))
	m.cmd.Stdout, m.cmd.Stderr = log, log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start mariadbd: %v", err)
	}
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(m.cmd, m.done)
	WaitFor(m.t, 60*time.Second, "private MariaDB to accept connections", func() (bool, string) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.Port), time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
}

// Stop shuts the server down and waits for it.
func (m *MariaDB) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// ServerDSN is the go-sql-driver DSN of the server (no database).
func (m *MariaDB) ServerDSN() string { return fmt.Sprintf("root@tcp(127.0.0.1:%d)/", m.Port) }
