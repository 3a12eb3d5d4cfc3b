package flow

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// embeddedFlowYAML is what embeddedflowyamltest and multipleembeddedflowyamltest
// define: flows embedded two levels deep.
var embeddedFlowYAML = []string{
	"shell_end noop <- shell_pwd,shell_echo,embedded_flow1",
	"shell_pwd command $ pwd",
	`shell_echo command $ echo "This is an echoed text."`,
	"embedded_flow1 flow",
	"embedded_flow1:shell_end noop <- shell_echo,embedded_flow2",
	`embedded_flow1:shell_echo command $ echo "This is an echoed text from embedded_flow1."`,
	"embedded_flow1:embedded_flow2 flow <- shell_bash",
	"embedded_flow1:embedded_flow2:shell_end noop <- shell_pwd",
	"embedded_flow1:embedded_flow2:shell_pwd command $ pwd",
	"embedded_flow1:shell_bash command $ bash ./sample_script.sh",
}

var corpusValid = []struct {
	project string
	format  string
	flows   map[string][]string // flow name -> describe()
	jobs    map[string]int      // flow name -> JobCount()
	check   func(t *testing.T, p *Project)
}{
	{
		project: "basic-flow20",
		format:  FormatFlow20,
		flows: map[string][]string{
			"basic": {
				"jobC noop <- jobA,jobB",
				`jobA command $ echo "This is an echoed text."`,
				"jobB command $ pwd",
			},
			"embedded": {
				"jobC noop <- embedded_flow",
				"embedded_flow flow",
				"embedded_flow:jobB noop <- jobA",
				"embedded_flow:jobA command $ pwd",
			},
		},
		jobs: map[string]int{"basic": 3, "embedded": 3},
		check: func(t *testing.T, p *Project) {
			if got := p.Flow("basic").Config["failure.emails"]; got != "noreply@foo.com" {
				t.Errorf("basic failure.emails = %q", got)
			}
			if got := p.Flow("embedded").Nodes[1].Config["prop"]; got != "value" {
				t.Errorf("embedded_flow config prop = %q, want value", got)
			}
		},
	},
	{
		project: "basicflowyamltest",
		format:  FormatFlow20,
		flows: map[string][]string{
			"basic_flow": {
				"shell_end noop <- shell_pwd,shell_echo,shell_bash",
				`shell_echo command $ echo "This is an echoed text."`,
				"shell_pwd command $ pwd",
				"shell_bash command $ bash ./sample_script.sh",
			},
		},
		jobs: map[string]int{"basic_flow": 4},
		check: func(t *testing.T, p *Project) {
			if got := p.Flow("basic_flow").Config; !reflect.DeepEqual(got, map[string]string{"flow-level-parameter": "value"}) {
				t.Errorf("flow config = %v", got)
			}
		},
	},
	{
		project: "basicyamlshelltest",
		format:  FormatFlow20,
		flows: map[string][]string{
			"bashSleep": {
				"shell_end noop <- shell_sleep,shell_echo",
				`shell_echo command $ echo "This is an echoed text."`,
				"shell_sleep command $ sleep 5",
			},
		},
		jobs: map[string]int{"bashSleep": 3},
	},
	{
		project: "embeddedflowyamltest",
		format:  FormatFlow20,
		flows:   map[string][]string{"embedded_flow": embeddedFlowYAML},
		jobs:    map[string]int{"embedded_flow": 8},
	},
	{
		project: "multipleembeddedflowyamltest",
		format:  FormatFlow20,
		flows: map[string][]string{
			"embedded_flow":   embeddedFlowYAML,
			"embedded_flow_b": embeddedFlowYAML,
		},
		jobs: map[string]int{"embedded_flow": 8, "embedded_flow_b": 8},
	},
	{
		project: "legacy-command-hello",
		format:  FormatLegacy,
		flows:   map[string][]string{"command": {`command command $ echo "hello"`}},
		jobs:    map[string]int{"command": 1},
		check: func(t *testing.T, p *Project) {
			want := map[string]string{
				"command":   `echo "hello"`,
				"command.1": `echo "This is how one runs a command job"`,
				"command.2": "whoami",
			}
			if got := p.Flow("command").Nodes[0].Config; !reflect.DeepEqual(got, want) {
				t.Errorf("config = %v, want %v", got, want)
			}
		},
	},
}

func TestCorpusValid(t *testing.T) {
	for _, tc := range corpusValid {
		t.Run(tc.project, func(t *testing.T) {
			dir := corpusDir(t, tc.project)
			fromDir, err := LoadDir(dir, Limits{})
			if err != nil {
				t.Fatalf("LoadDir: %v", err)
			}
			fromZip, err := loadZip(zipDir(t, dir), Limits{})
			if err != nil {
				t.Fatalf("Load of ZipDir archive: %v", err)
			}
			if !reflect.DeepEqual(fromDir, fromZip) {
				t.Fatalf("LoadDir and Load disagree:\n%+v\n%+v", fromDir, fromZip)
			}
			for name, p := range map[string]*Project{"LoadDir": fromDir, "Load": fromZip} {
				if p.Format != tc.format {
					t.Errorf("%s: format %q, want %q", name, p.Format, tc.format)
				}
				wantNames := slices.Sorted(maps.Keys(tc.flows))
				if got := p.FlowNames(); !slices.Equal(got, wantNames) {
					t.Fatalf("%s: flows %q, want %q", name, got, wantNames)
				}
				for i, f := range p.Flows {
					if f.Name != wantNames[i] {
						t.Errorf("%s: Flows[%d] = %q: not sorted by name", name, i, f.Name)
					}
					if got := describe(f); !slices.Equal(got, tc.flows[f.Name]) {
						t.Errorf("%s: flow %s:\ngot  %q\nwant %q", name, f.Name, got, tc.flows[f.Name])
					}
					if got := f.JobCount(); got != tc.jobs[f.Name] {
						t.Errorf("%s: flow %s: JobCount() = %d, want %d", name, f.Name, got, tc.jobs[f.Name])
					}
					if f.Dir != "" {
						t.Errorf("%s: flow %s: Dir = %q, want the root", name, f.Name, f.Dir)
					}
				}
				if tc.check != nil {
					tc.check(t, p)
				}
			}
		})
	}
}

// A project zipped with its folder at the top loads the same, with the flows'
// Dir pointing at the folder.
func TestCorpusZippedWithTopLevelFolder(t *testing.T) {
	for _, tc := range corpusValid {
		t.Run(tc.project, func(t *testing.T) {
			dir := corpusDir(t, tc.project)
			var entries []entry
			err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(dir, p)
				data, err := os.ReadFile(p)
				entries = append(entries, entry{name: tc.project + "/" + filepath.ToSlash(rel), body: string(data)})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			p, err := loadZip(makeZip(t, entries...), Limits{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want, _ := LoadDir(dir, Limits{})
			for _, f := range p.Flows {
				if f.Dir != tc.project {
					t.Errorf("flow %s: Dir = %q, want %q", f.Name, f.Dir, tc.project)
				}
				f.Dir = ""
			}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("with a top-level folder:\n%+v\nwant\n%+v", p, want)
			}
		})
	}
}

func TestCorpusInvalid(t *testing.T) {
	tests := []struct {
		project string
		want    []string
	}{
		{"invalid/cyclefoundyamltest", []string{
			"cycle_found.flow: dependency cycle: shell_echo -> shell_pwd -> shell_bash -> shell_echo",
		}},
		{"invalid/dependencyundefinedyamltest", []string{
			`dependency_undefined.flow: node "shell_end" depends on undefined node "shell_bash"`,
		}},
		{"invalid/duplicatenodenamesyamltest", []string{
			`duplicate_nodename.flow: duplicate node name "shell_echo"`,
		}},
		{"invalid/invalidflowversiontest", []string{
			"basic_flow.project:1: ", "azkaban-flow-version", `"1.0"`,
		}},
		{"invalid/noflowversiontest", []string{
			"no_flow_version.project: ", "azkaban-flow-version", "missing",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.project, func(t *testing.T) {
			dir := corpusDir(t, tc.project)
			_, err := LoadDir(dir, Limits{})
			wantRefusal(t, err, tc.want...)
			_, err = loadZip(zipDir(t, dir), Limits{})
			wantRefusal(t, err, tc.want...)
		})
	}
}

// Extracting a corpus archive gives back a directory that loads the same.
func TestCorpusExtractRoundTrip(t *testing.T) {
	dir := corpusDir(t, "basicflowyamltest")
	data := zipDir(t, dir)
	dest := filepath.Join(t.TempDir(), "exec")
	if err := Extract(bytes.NewReader(data), int64(len(data)), dest, Limits{}); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	want, err := LoadDir(dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadDir(dest, Limits{})
	if err != nil {
		t.Fatalf("LoadDir of extracted project: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("extracted project differs:\n%+v\nwant\n%+v", got, want)
	}
	script, err := os.ReadFile(filepath.Join(dest, "sample_script.sh"))
	orig, _ := os.ReadFile(filepath.Join(dir, "sample_script.sh"))
	if err != nil || !bytes.Equal(script, orig) {
		t.Errorf("sample_script.sh = %q, %v; want %q", script, err, orig)
	}
}
