package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("db: sqlite:///file.db\nport: 1\nexecutor:\n  port: 2\n  label: {zone: a, gpu: false}\nname: fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	db := fs.String("db", "", "")
	port := fs.Int("port", 12321, "")
	name := fs.String("name", "host", "")
	labels := fs.StringArray("label", nil, "")
	hb := fs.Duration("heartbeat", 0, "")
	if err := fs.Parse([]string{"--name", "fromflag"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CRAWLCTL_DB", "mysql://env/db")
	t.Setenv("CRAWLCTL_HEARTBEAT", "2s")
	if err := Apply(fs, "executor", f); err != nil {
		t.Fatal(err)
	}
	if *db != "mysql://env/db" || *port != 2 || *name != "fromflag" || hb.String() != "2s" {
		t.Fatalf("db=%q port=%d name=%q hb=%v", *db, *port, *name, *hb)
	}
	if len(*labels) != 2 || (*labels)[0] != "gpu=false" || (*labels)[1] != "zone=a" {
		t.Fatalf("labels = %v", *labels)
	}
}

func TestBadValueNamesTheVariable(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.Int("port", 0, "")
	t.Setenv("CRAWLCTL_PORT", "abc")
	err := Apply(fs, "", File{})
	if err == nil || !contains(err.Error(), "CRAWLCTL_PORT") {
		t.Fatalf("err = %v, want one naming CRAWLCTL_PORT", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestUnknownKeysAreNamedWithTheFile(t *testing.T) {
	keys := Keys{Top: []string{"db", "log-level", "heartbeat", "port"}, Sections: map[string][]string{"executor": {"db", "port", "heartbeat"}, "web": {"listen"}}}
	good := File{"db": "x", "executor": map[string]any{"port": 1, "heartbeat": "5s"}, "web": map[string]any{}}
	if err := good.Check("/etc/crawlctl.yaml", keys); err != nil {
		t.Fatalf("known keys refused: %v", err)
	}
	for _, c := range []struct {
		f    File
		want string
	}{
		{File{"heartbeet": "5s"}, `config /etc/crawlctl.yaml: unknown key "heartbeet" (did you mean "heartbeat"?)`},
		{File{"executor": map[string]any{"heartbeet": "5s"}}, `config /etc/crawlctl.yaml: unknown key "executor.heartbeet" (did you mean "executor.heartbeat"?)`},
		{File{"executor": map[string]any{"listen": "x"}}, `config /etc/crawlctl.yaml: unknown key "executor.listen"`},
		{File{"exector": map[string]any{"port": 1}}, `config /etc/crawlctl.yaml: unknown key "exector" (did you mean "executor"?)`},
		{File{"zzz": 1, "db": "x"}, `config /etc/crawlctl.yaml: unknown key "zzz"`},
		{File{"web": "0.0.0.0:8081"}, `config /etc/crawlctl.yaml: key "web" must hold the settings of web (key: value lines)`},
		{File{"b": 1, "a": 2}, `config /etc/crawlctl.yaml: unknown key "a"; unknown key "b" (did you mean "db"?)`},
	} {
		err := c.f.Check("/etc/crawlctl.yaml", keys)
		if err == nil || err.Error() != c.want {
			t.Errorf("%v: err = %v\nwant %s", c.f, err, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	for _, c := range []struct{ s, want string }{
		{"heartbeet", "heartbeat"}, {"dv", "db"}, {"xyz", ""}, {"port", "port"}, {"", ""},
	} {
		if got := closest(c.s, []string{"heartbeat", "db", "port", "poll"}); got != c.want {
			t.Errorf("closest(%q) = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestAzkabanDottedKeys(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/c.yaml"
	if err := os.WriteFile(path, []byte("web:\n  mail.host: smtp.example.com\n  mail.port: 587\nmail.sender: crawlctl@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	host := fs.String("mail-host", "", "")
	port := fs.Int("mail-port", 25, "")
	sender := fs.String("mail-sender", "", "")
	if err := f.Check(path, Keys{Top: []string{"mail-sender"}, Sections: map[string][]string{"web": {"mail-host", "mail-port", "mail-sender"}}}); err != nil {
		t.Fatal(err)
	}
	if err := Apply(fs, "web", f); err != nil {
		t.Fatal(err)
	}
	if *host != "smtp.example.com" || *port != 587 || *sender != "crawlctl@example.com" {
		t.Fatalf("got %q %d %q", *host, *port, *sender)
	}
	if err := os.WriteFile(path, []byte("mail.host: a\nmail-host: b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "same setting") {
		t.Fatalf("both spellings: %v", err)
	}
}
