package flow

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// manyEntries returns an archive of n empty files.
func manyEntries(t *testing.T, n int, comment string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range n {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprint(i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.SetComment(comment); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTooManyEntries(t *testing.T) {
	plain := manyEntries(t, 1500, "")
	prefixed := append(bytes.Repeat([]byte("#!/bin/sh\n"), 100), plain...) // like a self-extracting archive
	commented := manyEntries(t, 1500, "a comment")
	// An end record declaring 10 entries: archive/zip would still parse
	// every entry before finding the count wrong.
	lying := bytes.Clone(plain)
	end := bytes.LastIndex(lying, []byte("PK\x05\x06"))
	binary.LittleEndian.PutUint16(lying[end+8:], 10)
	binary.LittleEndian.PutUint16(lying[end+10:], 10)

	for name, data := range map[string][]byte{"plain": plain, "prefixed": prefixed, "commented": commented, "lying": lying} {
		if name != "lying" {
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil || len(zr.File) != 1500 {
				t.Fatalf("%s: test archive unreadable: %v", name, err)
			}
		}
		if !tooManyEntries(bytes.NewReader(data), int64(len(data)), 1499) {
			t.Errorf("%s: 1500 entries not over 1499", name)
		}
		if name != "lying" && tooManyEntries(bytes.NewReader(data), int64(len(data)), 1500) {
			t.Errorf("%s: 1500 entries over 1500", name)
		}
		_, err := loadZip(data, Limits{MaxFiles: 1000})
		wantRefusal(t, err, "project has more than 1000 files and directories")
	}
	for _, data := range [][]byte{nil, []byte("PK\x05\x06"), plain[:len(plain)/2]} {
		if tooManyEntries(bytes.NewReader(data), int64(len(data)), 1) {
			t.Errorf("malformed archive of %d bytes counted as too many entries", len(data))
		}
	}
}
