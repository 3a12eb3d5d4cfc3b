package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

func TestLoginFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		count := func(remote, user string, window time.Duration) int {
			t.Helper()
			ages, err := s.RecentLoginFailures(ctx, remote, user, window)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range ages {
				if a < 0 || a > window || (i > 0 && a > ages[i-1]) {
					t.Fatalf("ages %v: want oldest first, within the window", ages)
				}
			}
			return len(ages)
		}
		for i := 0; i < 3; i++ {
			if err := s.AddLoginFailure(ctx, "10.0.0.1", "alice", time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AddLoginFailure(ctx, "10.0.0.2", "alice", time.Hour); err != nil {
			t.Fatal(err)
		}
		if n := count("10.0.0.1", "alice", time.Hour); n != 3 {
			t.Fatalf("alice from 10.0.0.1: %d failures, want 3", n)
		}
		if n := count("10.0.0.2", "alice", time.Hour); n != 1 {
			t.Fatalf("alice from 10.0.0.2: %d failures, want 1", n)
		}
		if n := count("10.0.0.1", "bob", time.Hour); n != 0 {
			t.Fatalf("bob: %d failures, want 0", n)
		}

		// A success forgets one user's failures from one address only.
		if err := s.ClearLoginFailures(ctx, "10.0.0.1", "alice"); err != nil {
			t.Fatal(err)
		}
		if n := count("10.0.0.1", "alice", time.Hour); n != 0 {
			t.Fatalf("after a success: %d failures, want 0", n)
		}
		if n := count("10.0.0.2", "alice", time.Hour); n != 1 {
			t.Fatalf("the other address: %d failures, want 1", n)
		}

		// Failures leave the window by the database clock, and the next
		// failure deletes them.
		const short = 300 * time.Millisecond
		if err := s.AddLoginFailure(ctx, "10.0.0.3", "carol", short); err != nil {
			t.Fatal(err)
		}
		if n := count("10.0.0.3", "carol", short); n != 1 {
			t.Fatalf("carol: %d failures, want 1", n)
		}
		deadline := time.Now().Add(10 * time.Second)
		for count("10.0.0.3", "carol", short) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("a failure never left its window")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := s.AddLoginFailure(ctx, "10.0.0.4", "dave", short); err != nil {
			t.Fatal(err)
		}
		rows, err := s.QueryRaw(ctx, "SELECT COUNT(*) FROM login_failures")
		if err != nil {
			t.Fatal(err)
		}
		var total int
		for rows.Next() {
			_ = rows.Scan(&total)
		}
		rows.Close()
		if total != 1 {
			t.Fatalf("%d rows left, want only dave's new one", total)
		}

		// A name longer than any user's still counts (as its prefix).
		long := strings.Repeat("é", 300)
		if err := s.AddLoginFailure(ctx, "10.0.0.5", long, time.Hour); err != nil {
			t.Fatal(err)
		}
		if n := count("10.0.0.5", long, time.Hour); n != 1 {
			t.Fatalf("long name: %d failures, want 1", n)
		}
	})
}
