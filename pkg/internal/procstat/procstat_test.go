package procstat

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestAliveAndGroup(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !Alive(pid) {
		t.Fatal("a running sleep is not alive")
	}
	if g, ok := Group(pid); !ok || g != pid {
		t.Fatalf("process group of a group leader: %d %v, want %d", g, ok, pid)
	}
	if !GroupAlive(pid) {
		t.Fatal("the sleep's group has no live member")
	}
	_ = cmd.Process.Kill()
	// Not reaped yet: a zombie, which does not count.
	deadline := time.Now().Add(10 * time.Second)
	for Alive(pid) || GroupAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatal("the killed sleep still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Wait()
	if Alive(pid) || Alive(0) || Alive(-1) || GroupAlive(pid) {
		t.Fatal("a reaped process (or pid <= 0) is alive")
	}
}
