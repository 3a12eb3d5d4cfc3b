package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// addUser adds a user or fails the test.
func addUser(t *testing.T, s *store.Store, name, role, hash string) *store.User {
	t.Helper()
	u, err := s.AddUser(context.Background(), name, role, hash)
	if err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	return u
}

// addToken adds a token of user with this hash or fails the test.
func addToken(t *testing.T, s *store.Store, user, hash string, expires time.Time) *store.Token {
	t.Helper()
	tok, err := s.AddToken(context.Background(), user, "token "+hash, hash, hash[:4], expires)
	if err != nil {
		t.Fatalf("add token %s of %s: %v", hash, user, err)
	}
	return tok
}

// checkHash fails unless user's password hash is want.
func checkHash(t *testing.T, s *store.Store, user, want string) {
	t.Helper()
	u, hash, err := s.UserPasswordHash(context.Background(), user)
	if err != nil || u.Name != user || hash != want {
		t.Fatalf("password hash of %s = %v %q, %v; want %q", user, u, hash, err, want)
	}
}

// tokenOwner is the user a token hash authenticates, "" when it does not.
func tokenOwner(t *testing.T, s *store.Store, hash string) string {
	t.Helper()
	u, err := s.TokenUser(context.Background(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("check token %s: %v", hash, err)
	}
	return u.Name
}

func TestUsers(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if n, err := s.CountUsers(ctx); n != 0 || err != nil {
			t.Fatalf("users of a new database = %d, %v", n, err)
		}
		bob := addUser(t, s, "bob", "viewer", "hash-b")
		alice := addUser(t, s, "alice", "admin", "hash-a")
		if alice.ID == 0 || alice.ID == bob.ID || alice.Name != "alice" || alice.Role != "admin" || alice.CreatedAt.IsZero() {
			t.Fatalf("added %+v after %+v", alice, bob)
		}
		// A taken name is a conflict and changes nothing.
		if _, err := s.AddUser(ctx, "alice", "viewer", "other"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second alice = %v, want ErrConflict", err)
		}
		checkHash(t, s, "alice", "hash-a")
		if got, err := s.GetUser(ctx, "alice"); err != nil || *got != *alice {
			t.Fatalf("GetUser = %+v, %v; want %+v", got, err, alice)
		}
		list, err := s.ListUsers(ctx, store.Page{})
		if err != nil || len(list) != 2 || list[0] != *alice || list[1] != *bob {
			t.Fatalf("ListUsers = %+v, %v; want alice then bob", list, err)
		}
		if n, err := s.CountUsers(ctx); n != 2 || err != nil {
			t.Fatalf("CountUsers = %d, %v", n, err)
		}

		// Passwords: changed, set again to the same (no row changes), or of
		// nobody.
		for _, hash := range []string{"hash-a2", "hash-a2"} {
			if err := s.SetPasswordHash(ctx, "alice", hash); err != nil {
				t.Fatalf("set password to %s: %v", hash, err)
			}
			checkHash(t, s, "alice", hash)
		}
		checkHash(t, s, "bob", "hash-b")

		// Deleting a user revokes its tokens; the others keep theirs.
		addToken(t, s, "alice", "aaaa1", time.Time{})
		addToken(t, s, "bob", "bbbb1", time.Time{})
		if err := s.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if owner := tokenOwner(t, s, "aaaa1"); owner != "" {
			t.Fatalf("the token of a deleted user authenticates %q", owner)
		}
		if owner := tokenOwner(t, s, "bbbb1"); owner != "bob" {
			t.Fatalf("bob's token authenticates %q", owner)
		}
		// The name is free again, for a new user with no old tokens.
		again := addUser(t, s, "alice", "operator", "hash-a3")
		if again.ID == alice.ID || tokenOwner(t, s, "aaaa1") != "" {
			t.Fatalf("re-added alice %+v inherits the old one's id or token", again)
		}

		wantErrors(t, "of an unknown user", store.ErrNotFound, map[string]func() error{
			"GetUser":          func() error { _, err := s.GetUser(ctx, "carol"); return err },
			"UserPasswordHash": func() error { _, _, err := s.UserPasswordHash(ctx, "carol"); return err },
			"SetPasswordHash":  func() error { return s.SetPasswordHash(ctx, "carol", "h") },
			"DeleteUser":       func() error { return s.DeleteUser(ctx, "carol") },
			"AddToken":         func() error { _, err := s.AddToken(ctx, "carol", "n", "cccc1", "cccc", time.Time{}); return err },
		})
		if toks, err := s.ListTokens(ctx, "carol", store.Page{}); err != nil || len(toks) != 0 {
			t.Fatalf("tokens of an unknown user = %+v, %v", toks, err)
		}
	})
}

func TestTokens(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		addUser(t, s, "alice", "admin", "h")
		addUser(t, s, "bob", "viewer", "h")
		now, err := s.Now(ctx)
		if err != nil {
			t.Fatal(err)
		}
		later := now.Add(time.Hour).Truncate(time.Second)

		forever := addToken(t, s, "alice", "aaaa1", time.Time{})
		if forever.ID == 0 || forever.User != "alice" || forever.Name != "token aaaa1" || forever.Prefix != "aaaa" ||
			forever.CreatedAt.IsZero() || forever.ExpiresAt != nil || forever.RevokedAt != nil {
			t.Fatalf("token = %+v", forever)
		}
		expiring := addToken(t, s, "alice", "aaaa2", later)
		if expiring.ExpiresAt == nil || !expiring.ExpiresAt.Equal(later) {
			t.Fatalf("expiry = %v, want %v", expiring.ExpiresAt, later)
		}
		addToken(t, s, "alice", "aaaa3", now.Add(-time.Minute)) // expired by the database clock
		bobs := addToken(t, s, "bob", "bbbb1", time.Time{})

		// The hash is the token's identity: a second one is a conflict.
		if _, err := s.AddToken(ctx, "bob", "again", "aaaa1", "aaaa", time.Time{}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate token hash = %v, want ErrConflict", err)
		}
		for hash, want := range map[string]string{"aaaa1": "alice", "aaaa2": "alice", "aaaa3": "", "bbbb1": "bob", "zzzz1": ""} {
			if got := tokenOwner(t, s, hash); got != want {
				t.Errorf("token %s authenticates %q, want %q", hash, got, want)
			}
		}

		listed := func(user string) []int64 {
			t.Helper()
			toks, err := s.ListTokens(ctx, user, store.Page{})
			return idsOf(t, toks, err, func(tok store.Token) int64 { return tok.ID })
		}
		if ids := listed("alice"); len(ids) != 3 || ids[0] != forever.ID || ids[1] != expiring.ID {
			t.Fatalf("alice's tokens = %v", ids)
		}
		if ids := listed(""); len(ids) != 4 || ids[3] != bobs.ID {
			t.Fatalf("everyone's tokens = %v", ids)
		}

		// Revoking: only its owner's (or anyone's, for an admin), once.
		if err := s.RevokeToken(ctx, forever.ID, "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("bob revoking alice's token = %v, want ErrNotFound", err)
		}
		if tokenOwner(t, s, "aaaa1") != "alice" {
			t.Fatal("a refused revoke revoked the token")
		}
		if err := s.RevokeToken(ctx, forever.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, bobs.ID, ""); err != nil {
			t.Fatal(err)
		}
		for _, hash := range []string{"aaaa1", "bbbb1"} {
			if got := tokenOwner(t, s, hash); got != "" {
				t.Fatalf("revoked token %s authenticates %q", hash, got)
			}
		}
		if err := s.RevokeToken(ctx, forever.ID, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second revoke = %v, want ErrNotFound", err)
		}
		toks, _ := s.ListTokens(ctx, "alice", store.Page{})
		if toks[0].RevokedAt == nil || toks[1].RevokedAt != nil {
			t.Fatalf("revoked_at after revoking the first: %v, %v", toks[0].RevokedAt, toks[1].RevokedAt)
		}
	})
}

// TestConcurrentAddUser: the database decides who gets a name; every other
// add of it is a conflict (409), never a server error.
func TestConcurrentAddUser(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.AddUser(ctx, "alice", "admin", fmt.Sprintf("hash-%d", i))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("adds %d and %d of one name both succeeded", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("a losing add = %v, want ErrConflict", err)
			}
		}
		if winner < 0 {
			t.Fatal("no add succeeded")
		}
		checkHash(t, s, "alice", fmt.Sprintf("hash-%d", winner))
		if c, err := s.CountUsers(ctx); c != 1 || err != nil {
			t.Fatalf("users = %d, %v; want 1", c, err)
		}
	})
}

// TestTokenRevokedElsewhereStopsWithinTheCacheTime: a store keeps a checked
// token for store.TokenCacheTTL. Revoked through another store on the same
// database (another web server) it is refused once that time has passed;
// revoked through the same store, at once.
func TestTokenRevokedElsewhereStopsWithinTheCacheTime(t *testing.T) {
	ctx := context.Background()
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			dsn := storetest.NewMigratedDSN(t, d)
			var stores [2]*store.Store
			for i := range stores {
				s, err := store.Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				stores[i] = s
			}
			here, there := stores[0], stores[1]
			addUser(t, here, "ann", "operator", "h")
			tok := addToken(t, here, "ann", "aaaa1111", time.Time{})
			if u, err := here.TokenUser(ctx, "aaaa1111"); err != nil || u.Name != "ann" {
				t.Fatalf("fresh token: %v, %v", u, err)
			}
			if err := there.RevokeToken(ctx, tok.ID, ""); err != nil {
				t.Fatal(err)
			}
			revoked := time.Now()
			for {
				_, err := here.TokenUser(ctx, "aaaa1111")
				if errors.Is(err, store.ErrNotFound) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if time.Since(revoked) > 3*store.TokenCacheTTL {
					t.Fatalf("token still accepted %s after another store revoked it", time.Since(revoked))
				}
				time.Sleep(20 * time.Millisecond)
			}

			tok2 := addToken(t, here, "ann", "bbbb2222", time.Time{})
			if _, err := here.TokenUser(ctx, "bbbb2222"); err != nil {
				t.Fatal(err)
			}
			if err := here.RevokeToken(ctx, tok2.ID, ""); err != nil {
				t.Fatal(err)
			}
			if u, err := here.TokenUser(ctx, "bbbb2222"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("token revoked through this store: %v, %v; want ErrNotFound at once", u, err)
			}
		})
	}
}
