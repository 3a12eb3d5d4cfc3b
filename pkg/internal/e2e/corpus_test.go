package e2e

import (
	"archive/zip"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// corpusDir is the Azkaban compatibility corpus beside the repository.
func corpusDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "corpus", "azkaban")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("Azkaban corpus missing at %s: %v", dir, err)
	}
	return dir
}

// TestCorpusRunsOnTheCluster uploads every valid corpus project with the CLI
// and runs every one of its flows to SUCCEEDED on a real executor.
func TestCorpusRunsOnTheCluster(t *testing.T) {
	corpus := corpusDir(t)
	c := testcluster.New(t, func(o *testcluster.Options) {
		o.Dialect = "sqlite"
		o.ExecutorNames = []string{"runner"}
		o.Activate = true
	})

	logs := map[string]string{ // project/flow/job -> text its log must hold
		"basicflowyamltest/basic_flow/shell_bash": "This is a bash script.",
		"legacy-command-hello/command/command":    "This is how one runs a command job",
	}
	projects := []string{"basic-flow20", "basicflowyamltest", "basicyamlshelltest", "embeddedflowyamltest", "legacy-command-hello", "multipleembeddedflowyamltest"}
	for _, p := range projects {
		t.Run(p, func(t *testing.T) {
			c.MustCLI("project", "upload", filepath.Join(corpus, p))
			var flows []struct{ Name string }
			c.Read(&flows, func(ctx context.Context, cl *client.Client) (any, error) { return cl.Flows(ctx, p) })
			if len(flows) == 0 {
				t.Fatalf("%s has no flows", p)
			}
			for _, f := range flows {
				id := submit(t, c, p, f.Name)
				e := waitStatus(t, c, id, 60*time.Second, "SUCCEEDED", "FAILED", "KILLED")
				if e.Status != "SUCCEEDED" {
					t.Fatalf("%s/%s: %s: %s\n%s", p, f.Name, e.Status, e.Error, c.MustCLI("exec", "logs", strconv.FormatInt(id, 10)))
				}
				for _, j := range e.Jobs {
					if want, ok := logs[p+"/"+f.Name+"/"+j.Name]; ok {
						out := c.MustCLI("exec", "logs", strconv.FormatInt(id, 10), "--job", j.Name)
						if !strings.Contains(out, want) {
							t.Fatalf("log of %s/%s/%s = %q, want %q", p, f.Name, j.Name, out, want)
						}
					}
				}
			}
		})
	}
	// The same project zipped inside a top-level folder, as many users zip
	// it: its commands still run from the folder of the .flow file.
	zipPath := filepath.Join(t.TempDir(), "nested.zip")
	zipWithFolder(t, filepath.Join(corpus, "basicflowyamltest"), "basicflowyamltest/", zipPath)
	c.MustCLI("project", "upload", zipPath)
	id := submit(t, c, "nested", "basic_flow")
	if e := waitStatus(t, c, id, 60*time.Second, "SUCCEEDED", "FAILED"); e.Status != "SUCCEEDED" {
		t.Fatalf("nested zip: %s %s", e.Status, e.Error)
	}
	if out := c.MustCLI("exec", "logs", strconv.FormatInt(id, 10), "--job", "shell_bash"); !strings.Contains(out, "This is a bash script.") {
		t.Fatalf("nested zip: script output %q", out)
	}

	var list []struct{ Name string }
	c.Read(&list, projectList)
	if len(list) != len(projects)+1 {
		t.Fatalf("project list has %d projects, want %d", len(list), len(projects))
	}
}

// zipWithFolder zips the files of dir under prefix into path.
func zipWithFolder(t *testing.T, dir, prefix, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(prefix + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestInvalidCorpusIsRefused uploads each invalid project and checks the
// one-line reason and that nothing was stored.
func TestInvalidCorpusIsRefused(t *testing.T) {
	corpus := filepath.Join(corpusDir(t), "invalid")
	c := testcluster.New(t)
	c.StartWeb()
	cases := map[string][]string{
		"cyclefoundyamltest":          {"cycle", "shell_echo", "shell_pwd", "shell_bash"},
		"dependencyundefinedyamltest": {"shell_bash", "undefined"},
		"duplicatenodenamesyamltest":  {"duplicate", "shell_echo"},
		"invalidflowversiontest":      {"azkaban-flow-version"},
		"noflowversiontest":           {"azkaban-flow-version"},
	}
	for dir, wants := range cases {
		r := c.CLI("project", "upload", filepath.Join(corpus, dir))
		if r.Code != 2 {
			t.Errorf("%s: exit %d, want 2: %s", dir, r.Code, r.Stderr)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("%s: error %q does not mention %q", dir, strings.TrimSpace(r.Stderr), w)
			}
		}
		if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n != 0 {
			t.Errorf("%s: error is %d lines, want one", dir, n+1)
		}
	}
	var list []struct{ Name string }
	c.Read(&list, projectList)
	if len(list) != 0 {
		t.Fatalf("refused uploads stored projects: %+v", list)
	}
}
