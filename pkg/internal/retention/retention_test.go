package retention_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/retention"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// syncBuffer is a log sink the loop and the test share.
type syncBuffer struct {
	ch chan string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.ch <- string(bytes.Clone(p))
	return len(p), nil
}

// TestRunPrunesAndStops: the loop deletes old rows, says so once, and
// returns when its context ends.
func TestRunPrunesAndStops(t *testing.T) {
	s := storetest.New(t, "sqlite")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := s.ExecRaw(ctx, "INSERT INTO executor_events (executor_id, type, actor, message, created_at) VALUES (1, 'ACTIVATED', 't', '', '2000-01-01 00:00:00')"); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{ch: make(chan string, 16)}
	done := make(chan struct{})
	go func() {
		retention.Run(ctx, s, store.Retention{Events: time.Hour}, 20*time.Millisecond, zerolog.New(logs))
		close(done)
	}()
	select {
	case line := <-logs.ch:
		if !strings.Contains(line, `"executor_events":1`) || !strings.Contains(line, `"level":"info"`) {
			t.Fatalf("log line = %s, want an info line counting 1 executor_events row", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no prune logged within 10s")
	}
	// Later rounds delete nothing and say nothing.
	select {
	case line := <-logs.ch:
		t.Fatalf("logged %s with nothing to delete", line)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
