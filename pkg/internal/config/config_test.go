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
