package flow

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// corpusRoot is the Azkaban compatibility corpus, checked out beside the
// repository.
const corpusRoot = "../../../../shared/corpus/azkaban"

// corpusDir returns the corpus project dir, failing the test when the corpus
// is not there: the compatibility tests must not pass by being skipped.
func corpusDir(t testing.TB, project string) string {
	t.Helper()
	dir := filepath.Join(corpusRoot, filepath.FromSlash(project))
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("corpus project %s not found (want the corpus at %s): %v", project, corpusRoot, err)
	}
	return dir
}

// zipDir returns the archive ZipDir makes of dir.
func zipDir(t testing.TB, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := ZipDir(dir, &buf); err != nil {
		t.Fatalf("ZipDir(%s): %v", dir, err)
	}
	return buf.Bytes()
}

// entry is one entry of a test archive.
type entry struct {
	name string
	body string
	mode fs.FileMode // 0 means a regular file with mode 0644
}

// makeZip builds an archive of the given entries, in order.
func makeZip(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatalf("zip entry %s: %v", e.name, err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipFiles builds an archive of regular files, in path order.
func zipFiles(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var entries []entry
	for _, name := range slices.Sorted(maps.Keys(files)) {
		entries = append(entries, entry{name: name, body: files[name]})
	}
	return makeZip(t, entries...)
}

// writeTree writes files (by '/'-separated path) below dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadZip runs Load on an in-memory archive.
func loadZip(data []byte, lim Limits) (*Project, error) {
	return Load(bytes.NewReader(data), int64(len(data)), lim)
}

// loadBoth loads files as a directory with LoadDir and as an archive with
// Load, checks that both agree, and returns the result.
func loadBoth(t *testing.T, files map[string]string) (*Project, error) {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	fromDir, dirErr := LoadDir(dir, Limits{})
	fromZip, zipErr := loadZip(zipFiles(t, files), Limits{})
	if fmt.Sprint(dirErr) != fmt.Sprint(zipErr) {
		t.Fatalf("LoadDir and Load disagree:\nLoadDir: %v\nLoad:    %v", dirErr, zipErr)
	}
	if !reflect.DeepEqual(fromDir, fromZip) {
		t.Fatalf("LoadDir and Load disagree:\nLoadDir: %+v\nLoad:    %+v", fromDir, fromZip)
	}
	return fromZip, zipErr
}

// mustLoad is loadBoth for a project that must be valid.
func mustLoad(t *testing.T, files map[string]string) *Project {
	t.Helper()
	p, err := loadBoth(t, files)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

// wantRefusal checks that err is a *ValidationError whose message contains
// every one of want.
func wantRefusal(t testing.TB, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want a refusal containing %q", want)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %q (%T) is not a *ValidationError", err, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("message is not one line: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q does not contain %q", msg, w)
		}
	}
}

// describe lists the nodes of f as Walk visits them, one line each:
// "path type [<- deps] [$ command]".
func describe(f *Flow) []string {
	var lines []string
	f.Walk(func(path string, n *Node) {
		s := path + " " + n.Type
		if len(n.DependsOn) > 0 {
			s += " <- " + strings.Join(n.DependsOn, ",")
		}
		if n.Type == TypeCommand {
			s += " $ " + n.Config["command"]
		}
		lines = append(lines, s)
	})
	return lines
}

// checkDAG returns what is wrong in a level of nodes of a loaded flow and the
// levels embedded in it: the properties that Load guarantees.
func checkDAG(prefix string, nodes []*Node) error {
	if len(nodes) == 0 {
		return fmt.Errorf("%q: no nodes", prefix)
	}
	index := map[string]int{}
	for i, n := range nodes {
		if _, dup := index[n.Name]; dup {
			return fmt.Errorf("%q: duplicate %q", prefix, n.Name)
		}
		index[n.Name] = i
	}
	// Kahn's algorithm: every node must get scheduled.
	indegree := make([]int, len(nodes))
	dependents := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, d := range n.DependsOn {
			j, ok := index[d]
			if !ok {
				return fmt.Errorf("%q: %q depends on undefined %q", prefix, n.Name, d)
			}
			indegree[i]++
			dependents[j] = append(dependents[j], i)
		}
	}
	var ready []int
	for i, d := range indegree {
		if d == 0 {
			ready = append(ready, i)
		}
	}
	done := 0
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		done++
		for _, k := range dependents[i] {
			if indegree[k]--; indegree[k] == 0 {
				ready = append(ready, k)
			}
		}
	}
	if done != len(nodes) {
		return fmt.Errorf("%q: cycle", prefix)
	}
	for _, n := range nodes {
		if (n.Type == TypeFlow) != (len(n.Nodes) > 0) {
			return fmt.Errorf("%q: node %q of type %q has %d nested nodes", prefix, n.Name, n.Type, len(n.Nodes))
		}
		if len(n.Nodes) > 0 {
			if err := checkDAG(qualify(prefix, n.Name), n.Nodes); err != nil {
				return err
			}
		}
	}
	return nil
}
