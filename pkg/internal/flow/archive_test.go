package flow

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// validEntries is a minimal valid Flow 2.0 project.
func validEntries() []entry {
	return []entry{
		{name: "p.project", body: project20},
		{name: "f.flow", body: "nodes:\n  - {name: a, type: command, config: {command: ./run.sh}}\n"},
	}
}

// extractZip runs Extract on an in-memory archive.
func extractZip(data []byte, dest string, lim Limits) error {
	return Extract(bytes.NewReader(data), int64(len(data)), dest, lim)
}

// assertEmptyDir fails unless dir exists and is empty.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > 0 {
		t.Errorf("%s holds %v, want nothing", dir, names)
	}
}

func assertMissing(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists (%v), want nothing written", p, err)
	}
}

func TestUnsafeEntryNames(t *testing.T) {
	abs := filepath.ToSlash(filepath.Join(t.TempDir(), "abs-target"))
	tests := []struct {
		name  string
		entry string
		want  string
	}{
		{"parent", "../x", "../x: path escapes the project archive"},
		{"parent after a folder", "a/../../x", "a/../../x: path escapes the project archive"},
		{"dot parent", "./../x", "./../x: path escapes the project archive"},
		{"absolute", abs, abs + ": absolute path not allowed in a project archive"},
		{"backslash", `a\..\..\x`, `a\..\..\x: entry name contains a backslash`},
		{"windows drive", "C:/x", "C:/x: absolute path not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The bad entry comes last: nothing before it may be written either.
			data := makeZip(t, append(validEntries(), entry{name: tc.entry, body: "#!/bin/sh\nrm -rf ~\n", mode: 0o755})...)
			_, err := loadZip(data, Limits{})
			wantRefusal(t, err, tc.want)

			base := t.TempDir()
			dest := filepath.Join(base, "dest")
			wantRefusal(t, extractZip(data, dest, Limits{}), tc.want)
			assertEmptyDir(t, base)
			assertMissing(t, filepath.FromSlash(abs))

			// An existing destination is left as it was.
			if err := os.Mkdir(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			wantRefusal(t, extractZip(data, dest, Limits{}), tc.want)
			assertEmptyDir(t, dest)
			assertMissing(t, filepath.Join(base, "x"))
		})
	}
}

// A name with ".." that stays inside the archive is only cleaned.
func TestHarmlessDotDot(t *testing.T) {
	data := makeZip(t, append(validEntries(), entry{name: "a/../b/./c.txt", body: "c"})...)
	if _, err := loadZip(data, Limits{}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	dest := filepath.Join(t.TempDir(), "dest")
	if err := extractZip(data, dest, Limits{}); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dest, "b", "c.txt")); err != nil || string(got) != "c" {
		t.Errorf("b/c.txt = %q, %v", got, err)
	}
}

func TestSpecialEntries(t *testing.T) {
	tests := []struct {
		name string
		e    entry
		want string
	}{
		{"symlink", entry{name: "link.sh", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}, "link.sh: symbolic links are not allowed in a project archive"},
		{"symlinked folder", entry{name: "lib", body: "/", mode: fs.ModeSymlink | 0o777}, "lib: symbolic links are not allowed"},
		{"named pipe", entry{name: "fifo", mode: fs.ModeNamedPipe | 0o644}, "fifo: special files"},
		{"device", entry{name: "dev", mode: fs.ModeDevice | 0o644}, "dev: special files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := makeZip(t, append(validEntries(), tc.e)...)
			_, err := loadZip(data, Limits{})
			wantRefusal(t, err, tc.want)
			base := t.TempDir()
			wantRefusal(t, extractZip(data, filepath.Join(base, "dest"), Limits{}), tc.want)
			assertEmptyDir(t, base)
		})
	}
}

func TestDuplicateAndConflictingEntries(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		want    string
	}{
		{"same file twice", []entry{{name: "run.sh"}, {name: "./run.sh"}}, "./run.sh: entry appears twice in the archive"},
		{"file and folder", []entry{{name: "lib"}, {name: "lib/", mode: fs.ModeDir | 0o755}}, "lib/: entry appears twice"},
		{"file holding a file", []entry{{name: "lib"}, {name: "lib/x.sh"}}, "lib/x.sh: entry is inside lib, which the archive also has as a file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := makeZip(t, append(validEntries(), tc.entries...)...)
			_, err := loadZip(data, Limits{})
			wantRefusal(t, err, tc.want)
			wantRefusal(t, extractZip(data, filepath.Join(t.TempDir(), "dest"), Limits{}), tc.want)
		})
	}
	// Folder entries may repeat.
	data := makeZip(t, append(validEntries(), entry{name: "d/", mode: fs.ModeDir | 0o755}, entry{name: "d/", mode: fs.ModeDir | 0o755})...)
	if _, err := loadZip(data, Limits{}); err != nil {
		t.Errorf("repeated folder entry: %v", err)
	}
}

// deflatedZeros returns a raw deflate stream of mib MiB of zeros and its
// CRC-32. It repeats the compressed form of one MiB instead of compressing
// them all, which would make the test slow: after the first MiB, the history
// the stream refers back to is zeros wherever the repeated part starts.
func deflatedZeros(t *testing.T, mib int) ([]byte, uint32) {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	part := func(last bool) []byte {
		if !last {
			fw.Write(zeros)
		}
		var err error
		if last {
			err = fw.Close()
		} else {
			err = fw.Flush()
		}
		if err != nil {
			t.Fatal(err)
		}
		defer buf.Reset()
		return bytes.Clone(buf.Bytes())
	}
	first, next := part(false), part(false)
	out := first
	for range mib - 1 {
		out = append(out, next...)
	}
	out = append(out, part(true)...)
	crc := crc32.NewIEEE()
	for range mib {
		crc.Write(zeros)
	}
	return out, crc.Sum32()
}

// zipWithRaw returns a valid project plus an entry stored as given.
func zipWithRaw(t *testing.T, hdr *zip.FileHeader, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range validEntries() {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e.body)
	}
	w, err := zw.CreateRaw(hdr)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestZipBomb(t *testing.T) {
	compressed, crc := deflatedZeros(t, 50)
	data := zipWithRaw(t, &zip.FileHeader{
		Name:               "data/zeros.bin",
		Method:             zip.Deflate,
		CRC32:              crc,
		CompressedSize64:   uint64(len(compressed)),
		UncompressedSize64: 50 << 20,
	}, compressed)
	if len(data) > 100<<10 {
		t.Fatalf("bomb is %d bytes compressed, want a small archive", len(data))
	}
	lim := Limits{MaxUnpackedBytes: 1 << 20}
	want := "archive unpacks to 50.0 MiB, over the 1 MiB limit (set --max-unpacked-size)"
	_, err := loadZip(data, lim)
	wantRefusal(t, err, want)

	base := t.TempDir()
	wantRefusal(t, extractZip(data, filepath.Join(base, "dest"), lim), want)
	assertEmptyDir(t, base)
}

// A bomb whose headers lie about its size is stopped by what is actually
// decompressed, not by what the headers say.
func TestZipBombWithLyingHeader(t *testing.T) {
	compressed, crc := deflatedZeros(t, 20)
	data := zipWithRaw(t, &zip.FileHeader{
		Name:               "small.txt",
		Method:             zip.Deflate,
		CRC32:              crc,
		CompressedSize64:   uint64(len(compressed)),
		UncompressedSize64: 100, // a lie
	}, compressed)

	lim := Limits{MaxUnpackedBytes: 1 << 20}
	_, err := loadZip(data, lim)
	wantRefusal(t, err, "small.txt: corrupt archive entry")

	dest := t.TempDir() // exists: Extract leaves what it wrote
	wantRefusal(t, extractZip(data, dest, lim), "small.txt: corrupt archive entry")
	if st, err := os.Stat(filepath.Join(dest, "small.txt")); err == nil && st.Size() > 1<<20 {
		t.Errorf("wrote %d bytes of the bomb", st.Size())
	}
}

// zeroReader is an endless stream of zeros.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// The unpacked counter stops an endless entry just past the limit.
func TestUnpackedStopsAtLimit(t *testing.T) {
	u := newUnpacked(Limits{MaxUnpackedBytes: 1000})
	var w countingWriter
	err := u.copy("endless.bin", &w, zeroReader{})
	wantRefusal(t, err, "endless.bin: project unpacks to more than 1000 bytes, over the limit (set --max-unpacked-size)")
	if w.n > 1001 {
		t.Errorf("wrote %d bytes, want at most the limit plus one", w.n)
	}
	// The allowance is shared by all entries.
	u = newUnpacked(Limits{MaxUnpackedBytes: 1000})
	if err := u.copy("a", io.Discard, strings.NewReader(strings.Repeat("x", 600))); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, u.copy("b", io.Discard, strings.NewReader(strings.Repeat("x", 600))), "b: project unpacks to more than 1000 bytes")
}

// panicReaderAt fails the test when read: the archive must be refused first.
type panicReaderAt struct{ t *testing.T }

func (r panicReaderAt) ReadAt([]byte, int64) (int, error) {
	r.t.Fatal("archive read although its size is over the limit")
	return 0, nil
}

func TestMaxArchiveBytes(t *testing.T) {
	want := "archive is 300 MiB, over the 200 MiB limit (set --max-archive-size)"
	_, err := Load(panicReaderAt{t}, 300<<20, Limits{})
	wantRefusal(t, err, want)
	base := t.TempDir()
	wantRefusal(t, Extract(panicReaderAt{t}, 300<<20, filepath.Join(base, "dest"), Limits{}), want)
	assertEmptyDir(t, base)

	data := makeZip(t, validEntries()...)
	_, err = loadZip(data, Limits{MaxArchiveBytes: int64(len(data)) - 1})
	wantRefusal(t, err, "over the", "limit (set --max-archive-size)")
	if _, err := loadZip(data, Limits{MaxArchiveBytes: int64(len(data))}); err != nil {
		t.Errorf("archive of exactly the limit: %v", err)
	}
}

func TestMaxFiles(t *testing.T) {
	entries := validEntries()
	for i := range 9 {
		entries = append(entries, entry{name: "data/" + string(rune('a'+i)), body: "x"})
	}
	lim := Limits{MaxFiles: 10}
	want := "project has more than 10 files and directories, over the limit"
	_, err := loadZip(makeZip(t, entries...), lim)
	wantRefusal(t, err, want)
	wantRefusal(t, extractZip(makeZip(t, entries...), filepath.Join(t.TempDir(), "d"), lim), want)
	if _, err := loadZip(makeZip(t, entries[:10]...), lim); err != nil {
		t.Errorf("10 entries: %v", err)
	}

	dir := t.TempDir()
	for _, e := range entries {
		writeTree(t, dir, map[string]string{e.name: e.body})
	}
	// 11 files and the data folder.
	_, err = LoadDir(dir, Limits{MaxFiles: 11})
	wantRefusal(t, err, "more than 11 files")
	if _, err := LoadDir(dir, Limits{MaxFiles: 12}); err != nil {
		t.Errorf("LoadDir at the limit: %v", err)
	}
}

func TestLoadDirMaxUnpacked(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"p.project": project20, "f.flow": "nodes:\n  - {name: a, type: noop}\n"})
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDir(dir, Limits{MaxUnpackedBytes: 1 << 20})
	wantRefusal(t, err, "big.bin: project unpacks to more than 1 MiB")
}

func TestNotAZip(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("hello, world"), []byte("PK\x03\x04 truncated")} {
		_, err := loadZip(data, Limits{})
		wantRefusal(t, err, "not a zip archive: ")
	}
}

// errReaderAt fails like a broken disk.
type errReaderAt struct{ err error }

func (r errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, r.err }

// A failing reader is reported as such, not as a problem of the project.
func TestReaderFailure(t *testing.T) {
	diskErr := errors.New("disk on fire")
	_, err := Load(errReaderAt{diskErr}, 1000, Limits{})
	if !errors.Is(err, diskErr) {
		t.Fatalf("err = %v, want it to wrap the reader's error", err)
	}
	if _, ok := errors.AsType[*ValidationError](err); ok {
		t.Errorf("reader failure reported as a validation error: %v", err)
	}
}

func TestCorruptEntry(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range validEntries() {
		w, _ := zw.Create(e.name)
		io.WriteString(w, e.body)
	}
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "data.txt", Method: zip.Store})
	io.WriteString(w, "original content")
	zw.Close()
	data := buf.Bytes()
	i := bytes.Index(data, []byte("original content"))
	data[i] = 'O' // the CRC no longer matches

	_, err := loadZip(data, Limits{})
	wantRefusal(t, err, "data.txt: corrupt archive entry: zip: checksum error")
	base := t.TempDir()
	wantRefusal(t, extractZip(data, filepath.Join(base, "dest"), Limits{}), "data.txt: corrupt archive entry")
	assertEmptyDir(t, base) // what was extracted before is removed with dest
}

func TestMacMetadataIgnored(t *testing.T) {
	data := makeZip(t, append(validEntries(),
		entry{name: "__MACOSX/", mode: fs.ModeDir | 0o755},
		entry{name: "__MACOSX/._f.flow", body: "\x00\x05\x16\x07 not yaml: ["},
		entry{name: "__MACOSX/._p.project", body: "azkaban-flow-version: 9"},
		entry{name: "sub/.DS_Store", body: "\x00\x00\x00\x01Bud1"},
	)...)
	p, err := loadZip(data, Limits{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !slices.Equal(p.FlowNames(), []string{"f"}) {
		t.Errorf("flows %q", p.FlowNames())
	}
	dest := filepath.Join(t.TempDir(), "dest")
	if err := extractZip(data, dest, Limits{}); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	assertMissing(t, filepath.Join(dest, "__MACOSX"))
	assertMissing(t, filepath.Join(dest, "sub", ".DS_Store"))
}

// writeProject writes a project with an executable script, a nested file and
// a .git folder, and returns its folder.
func writeProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"p.project":            project20,
		"f.flow":               "nodes:\n  - {name: a, type: command, config: {command: ./run.sh}}\n",
		"data/nested/info.txt": "some data\n",
		".git/HEAD":            "ref: refs/heads/main\n",
		".git/broken.flow":     "{{{ not a flow",
	})
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestZipDir(t *testing.T) {
	data := zipDir(t, writeProject(t))
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]fs.FileMode{}
	for _, f := range zr.File {
		modes[f.Name] = f.Mode()
	}
	want := []string{"data/", "data/nested/", "data/nested/info.txt", "empty/", "f.flow", "p.project", "run.sh"}
	if got := slices.Sorted(maps.Keys(modes)); !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	if modes["run.sh"]&0o111 == 0 {
		t.Errorf("run.sh mode %v lost its executable bit", modes["run.sh"])
	}
	if modes["f.flow"]&0o111 != 0 {
		t.Errorf("f.flow mode %v is executable", modes["f.flow"])
	}
}

func TestExtractPreservesContentAndMode(t *testing.T) {
	src := writeProject(t)
	data := zipDir(t, src)
	dest := filepath.Join(t.TempDir(), "exec", "1")
	if err := extractZip(data, dest, Limits{}); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	for name, wantMode := range map[string]fs.FileMode{
		"run.sh":               0o755,
		"f.flow":               0o644,
		"p.project":            0o644,
		"data/nested/info.txt": 0o644,
	} {
		p := filepath.Join(dest, filepath.FromSlash(name))
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode() != wantMode {
			t.Errorf("%s mode %v, want %v", name, st.Mode(), wantMode)
		}
		got, _ := os.ReadFile(p)
		orig, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(name)))
		if !bytes.Equal(got, orig) {
			t.Errorf("%s = %q, want %q", name, got, orig)
		}
	}
	if st, err := os.Stat(filepath.Join(dest, "empty")); err != nil || !st.IsDir() {
		t.Errorf("empty folder not extracted: %v", err)
	}
	assertMissing(t, filepath.Join(dest, ".git"))
}

func TestLoadDirSkipsGit(t *testing.T) {
	p, err := LoadDir(writeProject(t), Limits{})
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if !slices.Equal(p.FlowNames(), []string{"f"}) {
		t.Errorf("flows %q", p.FlowNames())
	}
}

func TestSymlinksInDirRefused(t *testing.T) {
	for _, target := range []string{"/etc/passwd", "/", "f.flow"} {
		dir := writeProject(t)
		if err := os.Symlink(target, filepath.Join(dir, "data", "link")); err != nil {
			t.Fatal(err)
		}
		want := "data/link: symbolic links are not allowed in a project"
		_, err := LoadDir(dir, Limits{})
		wantRefusal(t, err, want)
		wantRefusal(t, ZipDir(dir, io.Discard), want)
	}
}

// The project folder itself may be reached through a link.
func TestLoadDirThroughLink(t *testing.T) {
	link := filepath.Join(t.TempDir(), "project")
	if err := os.Symlink(writeProject(t), link); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(link, Limits{}); err != nil {
		t.Errorf("LoadDir through a link: %v", err)
	}
}
