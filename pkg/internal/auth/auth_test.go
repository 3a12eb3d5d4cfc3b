package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "0123456789abcdefXYZ\nignored second line\n", 0o600)
	cases := []struct {
		file, value, want, err string
	}{
		{good, "", "0123456789abcdefXYZ", ""},
		{write("open", "0123456789abcdefXYZ\n", 0o644), "", "", "chmod 600"},
		{write("others", "0123456789abcdefXYZ\n", 0o604), "", "", "chmod 600"},
		// Readable by the group of this process (a pod's fsGroup, a
		// service's group): accepted.
		{write("group", "0123456789abcdefXYZ\n", 0o640), "", "0123456789abcdefXYZ", ""},
		{write("short", "short\n", 0o600), "", "", "shorter than 16"},
		{filepath.Join(dir, "missing"), "", "", "no such file"},
		{"", "  from-the-environment-0123  ", "from-the-environment-0123", ""},
		{"", "short", "", "shorter than 16"},
		{"", "", "", ""},
	}
	for _, c := range cases {
		got, err := LoadSecret(c.file, c.value)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("LoadSecret(%q, %q) error %v, want %q", c.file, c.value, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("LoadSecret(%q, %q) = %q, %v; want %q", c.file, c.value, got, err, c.want)
		}
	}
}

func TestRolesAndSecrets(t *testing.T) {
	if !Allows(Admin, Operator) || !Allows(Operator, Viewer) || Allows(Viewer, Operator) || Allows("", Viewer) || Allows("root", Viewer) {
		t.Fatal("role order is wrong")
	}
	if SecretMatches("", "") || SecretMatches("s3cret-s3cret-s3cret", "s3cret") || !SecretMatches("s3cret-s3cret-s3cret", "s3cret-s3cret-s3cret") {
		t.Fatal("secret comparison is wrong")
	}
	tok, hash, prefix := NewToken()
	tok2, _, _ := NewToken()
	if tok == tok2 || !strings.HasPrefix(tok, "cct_") || !strings.HasPrefix(tok, prefix) || HashToken(tok) != hash || strings.Contains(hash, tok) {
		t.Fatalf("token %q hash %q prefix %q", tok, hash, prefix)
	}
	h, err := HashPassword("correct horse")
	if err != nil || !CheckPassword(h, "correct horse") || CheckPassword(h, "wrong horse") {
		t.Fatal("password hashing is wrong")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("a 5-character password was accepted")
	}
}

// An unknown user's login makes the same bcrypt comparison as a known
// one's, at the same cost, so that its timing does not tell them apart.
func TestCheckLoginComparesForUnknownUsers(t *testing.T) {
	if cost, err := bcrypt.Cost([]byte(dummyHash)); err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("dummy hash cost = %d, %v; want %d", cost, err, bcrypt.DefaultCost)
	}
	hash, err := HashPassword("the-right-password")
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost([]byte(hash)); cost != bcrypt.DefaultCost {
		t.Fatalf("password hash cost = %d, want %d", cost, bcrypt.DefaultCost)
	}
	var compared []string
	real := compareHash
	compareHash = func(h, pw []byte) error {
		compared = append(compared, string(h))
		return real(h, pw)
	}
	defer func() { compareHash = real }()

	if CheckLogin(false, "", "the-right-password") {
		t.Fatal("an unknown user logged in")
	}
	if len(compared) != 1 || compared[0] != dummyHash {
		t.Fatalf("unknown user: comparisons = %q, want one against the dummy hash", compared)
	}
	compared = nil
	if CheckLogin(true, hash, "a-wrong-password") {
		t.Fatal("a wrong password logged in")
	}
	if !CheckLogin(true, hash, "the-right-password") {
		t.Fatal("the right password was refused")
	}
	if len(compared) != 2 || compared[0] != hash || compared[1] != hash {
		t.Fatalf("known user: comparisons = %q, want two against its hash", compared)
	}
}
