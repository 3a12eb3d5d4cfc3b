package flow

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLimits keep each fuzzed archive small and fast to check.
var fuzzLimits = Limits{MaxArchiveBytes: 1 << 20, MaxUnpackedBytes: 4 << 20, MaxFiles: 1000}

// FuzzLoad checks that Load never panics, and either refuses an archive with
// a *ValidationError or returns flows that are DAGs: names unique among
// siblings, every dependency defined, no cycle, at every level of embedding.
func FuzzLoad(f *testing.F) {
	var projects []string
	for _, pattern := range []string{"*", "invalid/*"} {
		dirs, err := filepath.Glob(filepath.Join(corpusRoot, pattern))
		if err != nil {
			f.Fatal(err)
		}
		for _, d := range dirs {
			if st, err := os.Stat(d); err == nil && st.IsDir() && filepath.Base(d) != "invalid" {
				projects = append(projects, d)
			}
		}
	}
	if len(projects) < 11 {
		f.Fatalf("found %d corpus projects under %s, want 11", len(projects), corpusRoot)
	}
	for _, d := range projects {
		data := zipDir(f, d)
		f.Add(data)
		f.Add(data[:len(data)/2]) // truncated
	}
	f.Add([]byte{})
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add(makeZip(f, append(validEntries(), entry{name: "../evil.sh", body: "x"})...))
	f.Add(makeZip(f, entry{name: "p.project", body: project20}, entry{name: "f.flow", body: "nodes: [\n"}))
	f.Add(makeZip(f,
		entry{name: "a.job", body: "type=flow\nflow.name=b\ndependencies=c\n"},
		entry{name: "b.job", body: "type=command\ncommand=echo b\n"},
		entry{name: "c.job", body: "type=noop\ndependencies=a\n"},
	))
	f.Add(makeZip(f,
		entry{name: "common.properties", body: "type=command\n"},
		entry{name: "x/a.job", body: "command=echo a\ndependencies=b\n"},
		entry{name: "x/b.job", body: "command=echo b\n"},
	))

	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := loadZip(data, fuzzLimits)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %q (%T) is not a *ValidationError", err, err)
			}
			return
		}
		if len(p.Flows) == 0 {
			t.Fatal("project without flows accepted")
		}
		for i, fl := range p.Flows {
			if i > 0 && p.Flows[i-1].Name >= fl.Name {
				t.Errorf("flows not sorted by unique name: %q before %q", p.Flows[i-1].Name, fl.Name)
			}
			if err := checkDAG(fl.Name, fl.Nodes); err != nil {
				t.Errorf("flow %s: %v", fl.Name, err)
			}
		}
	})
}

// FuzzParse fuzzes the definition files themselves, which FuzzLoad rarely
// reaches past the archive's checksums: data is used as a .flow file and as a
// .job file, with the same properties as FuzzLoad.
func FuzzParse(f *testing.F) {
	for _, name := range []string{
		"basic-flow20/basic.flow", "basic-flow20/embedded.flow",
		"embeddedflowyamltest/embedded_flow.flow",
		"invalid/cyclefoundyamltest/cycle_found.flow",
		"invalid/duplicatenodenamesyamltest/duplicate_nodename.flow",
		"legacy-command-hello/command.job",
	} {
		data, err := os.ReadFile(filepath.Join(corpusRoot, filepath.FromSlash(name)))
		if err != nil {
			f.Fatalf("corpus file: %v", err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [{name: x, type: noop}]\nnodes: [{name: f, type: flow, nodes: *a}, {<<: {name: m}, type: noop, dependsOn: f}]\n"))
	f.Add([]byte("type=flow\nflow.name=x\ndependencies=x\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, files := range [][]sourceFile{
			{{path: "p.project", data: []byte(project20)}, {path: "f.flow", data: data}},
			{{path: "x.job", data: data}, {path: "y.job", data: []byte("type=noop\ndependencies=x\n")}},
		} {
			p, err := parseProject(files)
			if err != nil {
				if _, ok := errors.AsType[*ValidationError](err); !ok {
					t.Fatalf("error %q (%T) is not a *ValidationError", err, err)
				}
				continue
			}
			for _, fl := range p.Flows {
				if err := checkDAG(fl.Name, fl.Nodes); err != nil {
					t.Errorf("flow %s: %v", fl.Name, err)
				}
			}
		}
	})
}
