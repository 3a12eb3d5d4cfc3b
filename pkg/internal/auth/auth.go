// Package auth is crawlctl's access control: users with roles (admin,
// operator, viewer), bcrypt password hashes, API tokens stored only as
// SHA-256 hashes, the cluster secret that the web server and executors share,
// and a limiter for failed logins. The web server wraps its REST API with
// Middleware; the executor checks the cluster secret on its servlet; the CLI
// creates the first admin through the database.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// Roles, from least to most privileged.
const (
	Viewer   = "viewer"   // read everything
	Operator = "operator" // projects, runs, schedules, cancel
	Admin    = "admin"    // everything, including users and executor activation
)

var rank = map[string]int{Viewer: 1, Operator: 2, Admin: 3}

// ValidRole reports whether r is a role.
func ValidRole(r string) bool { return rank[r] > 0 }

// Allows reports whether role may do what needs the role need.
func Allows(role, need string) bool { return rank[role] >= rank[need] && rank[role] > 0 }

// HashPassword hashes a password with bcrypt.
func HashPassword(pw string) (string, error) {
	if len(pw) < 8 {
		return "", errors.New("password too short: use at least 8 characters")
	}
	if len(pw) > 72 {
		return "", errors.New("password too long: bcrypt uses at most 72 bytes")
	}
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(b), err
}

// CheckPassword compares a password with its hash in constant time.
func CheckPassword(hash, pw string) bool {
	return compareHash([]byte(hash), []byte(pw)) == nil
}

// dummyHash is the bcrypt hash, at bcrypt.DefaultCost, of a random password
// nobody knows. A login for an unknown user is checked against it, so that
// it takes as long as one for a real user and timing does not tell which
// users exist.
const dummyHash = "$2a$10$NEQ29EEJfXuVPMXG414Z4e4/T.9q0QsJHNP8m6HIe2RQxewgcZgsy"

// compareHash is bcrypt's comparison (a variable so that tests can count
// the comparisons made).
var compareHash = bcrypt.CompareHashAndPassword

// CheckLogin reports whether pw is the password of a user whose stored hash
// is hash; found says whether the user exists. An unknown user's login costs
// one bcrypt comparison too, against a fixed dummy hash of the same cost,
// and always fails.
func CheckLogin(found bool, hash, pw string) bool {
	if !found {
		_ = compareHash([]byte(dummyHash), []byte(pw))
		return false
	}
	return CheckPassword(hash, pw)
}

// tokenPrefix marks crawlctl tokens so secret scanners can find leaked ones.
const tokenPrefix = "cct_"

// NewToken returns a random token, its hash (what is stored) and a short
// prefix that identifies it in listings without revealing it.
func NewToken() (token, hash, prefix string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // the OS random source does not fail
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), token[:len(tokenPrefix)+6]
}

// HashToken is the stored form of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// BearerToken extracts the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// SecretMatches compares a presented cluster secret in constant time.
func SecretMatches(secret, presented string) bool {
	if secret == "" || presented == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// LoadSecret reads the cluster secret from a file (see ReadSecretFile) or
// returns value when no file is given.
func LoadSecret(file, value string) (string, error) {
	if file == "" {
		v := strings.TrimSpace(value)
		if v != "" && len(v) < 16 {
			return "", errors.New("CRAWLCTL_CLUSTER_SECRET is shorter than 16 characters")
		}
		return v, nil
	}
	s, err := ReadSecretFile(file, "cluster secret file")
	if err != nil {
		return "", err
	}
	if len(s) < 16 {
		return "", fmt.Errorf("cluster secret in %s is shorter than 16 characters", file)
	}
	return s, nil
}

// ReadSecretFile returns the first line, trimmed, of a file holding a
// secret; what names it in errors. The file must be readable by nobody but
// its owner and, at most, the group this process runs as (a service's own
// group, or a Kubernetes pod's fsGroup, which the kubelet gives read access
// to mounted secrets): a file readable by others, or by another group, is
// refused.
func ReadSecretFile(file, what string) (string, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	perm := fi.Mode().Perm()
	if perm&0o007 != 0 || (perm&0o070 != 0 && !ownGroup(fi)) {
		return "", fmt.Errorf("%s %s is readable by others or by another group than this process's (mode %v): chmod 600 it", what, file, perm)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]), nil
}

// ownGroup reports whether a file belongs to this process's group.
func ownGroup(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Gid) == os.Getegid()
}

// NewSecret returns a random cluster secret.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

type ctxKey struct{}

// Identity is who made a request.
type Identity struct {
	User string
	Role string
}

// FromContext returns the identity of an authenticated request.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// WithIdentity attaches an identity to ctx.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// ErrUnauthorized marks a missing or bad token (as opposed to a database
// that could not be asked).
var ErrUnauthorized = errors.New("unauthorized")

// Authenticate resolves a bearer token to an identity.
func Authenticate(ctx context.Context, st *store.Store, token string) (Identity, error) {
	if token == "" {
		return Identity{}, fmt.Errorf("%w: missing token: log in with `crawlctl login` or set CRAWLCTL_TOKEN", ErrUnauthorized)
	}
	u, err := st.TokenUser(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, fmt.Errorf("%w: invalid, expired or revoked token: log in again with `crawlctl login`", ErrUnauthorized)
	}
	if err != nil {
		return Identity{}, err
	}
	return Identity{User: u.Name, Role: u.Role}, nil
}

// Limiter slows down password guessing: after Max failed logins of one
// user from one address within Window, further attempts are refused until
// the oldest of them is Window old. The failures are kept in the database,
// so the limit holds across every web server and across restarts.
type Limiter struct {
	Max    int
	Window time.Duration
	st     *store.Store
}

// NewLimiter allows max failures per user and address per window.
func NewLimiter(st *store.Store, max int, window time.Duration) *Limiter {
	return &Limiter{Max: max, Window: window, st: st}
}

// Blocked reports whether user must wait before trying again from remote,
// and how long.
func (l *Limiter) Blocked(ctx context.Context, remote, user string) (bool, time.Duration, error) {
	ages, err := l.st.RecentLoginFailures(ctx, remote, user, l.Window)
	if err != nil || len(ages) < l.Max {
		return false, 0, err
	}
	// Allowed again once all but Max-1 of them have left the window.
	return true, max(l.Window-ages[len(ages)-l.Max], 0), nil
}

// Fail records a failed login.
func (l *Limiter) Fail(ctx context.Context, remote, user string) error {
	return l.st.AddLoginFailure(ctx, remote, user, l.Window)
}

// Reset forgets the failures of user from remote after a success.
func (l *Limiter) Reset(ctx context.Context, remote, user string) error {
	return l.st.ClearLoginFailures(ctx, remote, user)
}

// insecureEvery is how often WarnInsecure repeats itself.
const insecureEvery = time.Hour

// WarnInsecure logs that --insecure is set and what that leaves open, at once
// and then every hour until ctx ends.
func WarnInsecure(ctx context.Context, log zerolog.Logger, open string) {
	t := time.NewTicker(insecureEvery)
	defer t.Stop()
	for {
		log.Warn().Msg("INSECURE: --insecure is set; " + open)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
