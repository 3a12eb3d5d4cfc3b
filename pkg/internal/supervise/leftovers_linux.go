package supervise

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/crawlctl/crawlctl/pkg/internal/supervise/internal/core"
)

// KillLeftovers kills what supervisors recorded in dir (Options.StateDir)
// left running: a supervisor that was itself killed (OOM) cannot clean up
// after its job. For every record it SIGKILLs the supervisor and its
// descendants if the recorded pid still runs with the recorded start time,
// and the job's process group, with the descendants of its members, if the
// group's leader still runs with the recorded start time or has exited
// leaving members behind; a pid or group id now used by an unrelated
// process is left alone. Daemons whose parents had exited were children of
// the dead supervisor and now belong to init: they are out of reach. It
// removes the records and returns how many processes it killed. An
// executor calls it when it starts, before it runs anything with the same
// dir, which must be its own.
func KillLeftovers(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return 0, nil
	}
	procs := core.ScanProcs()
	self, selfGroup := os.Getpid(), syscall.Getpgrp()
	killed := map[int]bool{}
	kill := func(st core.ProcStat) {
		if st.Pid == self || st.Pid <= 1 || st.State == 'Z' || st.State == 'X' || killed[st.Pid] {
			return
		}
		if syscall.Kill(st.Pid, syscall.SIGKILL) == nil {
			killed[st.Pid] = true
		}
	}
	var firstErr error
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") {
			// A record being written when its supervisor died.
			os.Remove(path)
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		var pid, pgid int
		var start, pgStart uint64
		if n, _ := fmt.Sscan(string(data), &pid, &start, &pgid, &pgStart); n == 4 && pid > 1 && pgid > 1 {
			if st, ok := procs[pid]; ok && st.Start == start {
				kill(st)
				for _, d := range core.Descendants(procs, pid) {
					kill(d)
				}
			}
			leader, ok := procs[pgid]
			if (!ok || leader.Start == pgStart) && pgid != selfGroup {
				for _, st := range procs {
					if st.Pgrp == pgid {
						kill(st)
						for _, d := range core.Descendants(procs, st.Pid) {
							kill(d)
						}
					}
				}
			}
		}
		if err := os.Remove(path); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return len(killed), firstErr
}
