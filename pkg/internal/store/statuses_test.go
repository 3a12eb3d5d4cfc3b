package store

import (
	"strings"
	"testing"
)

// TestEveryStatusIsEndedOrLive: retention deletes by endedStatuses and
// keeps what liveStatuses holds; a status in neither or both would be
// deleted while it runs, or kept forever.
func TestEveryStatusIsEndedOrLive(t *testing.T) {
	for _, st := range []string{ExecQueued, ExecDispatching, ExecRunning, ExecKilling, ExecSucceeded, ExecFailed, ExecKilled} {
		q := "'" + st + "'"
		ended, live := strings.Contains(endedStatuses, q), strings.Contains(liveStatuses, q)
		if ended == live {
			t.Errorf("status %s: in endedStatuses %v, in liveStatuses %v; want exactly one", st, ended, live)
		}
		if ended != (&Execution{Status: st}).Ended() {
			t.Errorf("status %s: endedStatuses says %v, Execution.Ended %v", st, ended, !ended)
		}
	}
}
