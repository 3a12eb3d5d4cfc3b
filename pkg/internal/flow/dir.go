package flow

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// LoadDir parses and validates a project directory by the same rules as
// Load. It skips .git directories and macOS metadata, and refuses symbolic
// links and special files anywhere below dir (dir itself may be a link).
// Refusals are *ValidationError values naming paths relative to dir.
func LoadDir(dir string, lim Limits) (*Project, error) {
	lim = lim.orDefault()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fsys := root.FS()

	u := newUnpacked(lim)
	var files []sourceFile
	count := 0
	err = walkProject(fsys, func(name string, d fs.DirEntry) error {
		if count++; count > lim.MaxFiles {
			return tooManyFiles(lim.MaxFiles)
		}
		if d.IsDir() {
			return nil
		}
		if !isDefinition(name) {
			info, err := d.Info()
			if err != nil {
				return err
			}
			return u.charge(name, info.Size())
		}
		data, err := readDefinition(fsys, name, u)
		if err != nil {
			return err
		}
		files = append(files, sourceFile{path: name, data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return parseProject(files)
}

// readDefinition reads the definition file name, counting it against u.
func readDefinition(fsys fs.FS, name string, u *unpacked) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	err = u.copy(name, &buf, io.LimitReader(f, maxDefinitionBytes+1))
	if re, ok := errors.AsType[readError](err); ok {
		return nil, fmt.Errorf("reading %s: %w", name, re.err)
	}
	if err != nil {
		return nil, err
	}
	if buf.Len() > maxDefinitionBytes {
		return nil, definitionTooBig(name)
	}
	return buf.Bytes(), nil
}

// ZipDir writes the project directory dir to w as a zip archive that Load
// and Extract accept: entries use '/'-separated relative paths, files keep
// their permission bits (notably the executable bit), and .git directories
// and macOS metadata are left out. A symbolic link or special file below dir
// is refused with a *ValidationError.
func ZipDir(dir string, w io.Writer) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	fsys := root.FS()

	zw := zip.NewWriter(w)
	err = walkProject(fsys, func(name string, d fs.DirEntry) error {
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name = name
		if d.IsDir() {
			hdr.Name += "/"
			hdr.Method = zip.Store
			_, err := zw.CreateHeader(hdr)
			return err
		}
		hdr.Method = zip.Deflate
		zf, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		f, err := fsys.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(zf, f)
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

// walkProject calls fn, in lexical order, for every file and directory of a
// project directory except .git and macOS metadata. It refuses symbolic links
// and special files.
func walkProject(fsys fs.FS, fn func(name string, d fs.DirEntry) error) error {
	return fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if d.Name() == ".git" || ignored(name) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			return invalid(name, 0, "symbolic links are not allowed in a project")
		case !t.IsDir() && !t.IsRegular():
			return invalid(name, 0, "special files (%v) are not allowed in a project", t)
		}
		return fn(name, d)
	})
}
