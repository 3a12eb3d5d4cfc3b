package flow

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
)

// Sizes and signatures of the zip records that tooManyEntries reads.
const (
	zipDirEndLen       = 22 // end of central directory record, without comment
	zipDirHeaderLen    = 46 // central directory file header, without name, extra, comment
	zipDir64LocatorLen = 20
	zipDir64EndLen     = 56

	zipDirEndSig       = 0x06054b50
	zipDirHeaderSig    = 0x02014b50
	zipDir64LocatorSig = 0x07064b50
	zipDir64EndSig     = 0x06064b50
)

// tooManyEntries reports whether the central directory of a zip archive
// holds more than max entries. It runs before zip.NewReader, which parses
// every entry into memory whatever count the archive declares (a 200 MiB
// archive of empty entries would cost over a gigabyte). It locates the
// central directory as archive/zip does, trying both places archive/zip may
// start reading from, and counts entries without keeping them. For a
// malformed archive it returns false and leaves the diagnosis to archive/zip.
func tooManyEntries(r io.ReaderAt, size int64, max int) bool {
	if size/zipDirHeaderLen <= int64(max) {
		return false // not enough room for that many entries
	}
	end, endOffset := findDirectoryEnd(r, size)
	if end == nil {
		return false
	}
	records := binary.LittleEndian.Uint16(end[10:])
	dirSize := uint64(binary.LittleEndian.Uint32(end[12:]))
	dirOffset := uint64(binary.LittleEndian.Uint32(end[16:]))
	// The same test as archive/zip for a zip64 archive.
	if records == 0xffff || dirSize == 0xffff || dirOffset == 0xffffffff {
		loc := make([]byte, zipDir64LocatorLen)
		if endOffset >= zipDir64LocatorLen {
			if _, err := r.ReadAt(loc, endOffset-zipDir64LocatorLen); err != nil {
				return false
			}
			if binary.LittleEndian.Uint32(loc) == zipDir64LocatorSig &&
				binary.LittleEndian.Uint32(loc[4:]) == 0 && binary.LittleEndian.Uint32(loc[16:]) == 1 {
				p := binary.LittleEndian.Uint64(loc[8:])
				end64 := make([]byte, zipDir64EndLen)
				if p > math.MaxInt64 {
					return false
				}
				if _, err := r.ReadAt(end64, int64(p)); err != nil || binary.LittleEndian.Uint32(end64) != zipDir64EndSig {
					return false
				}
				dirSize, dirOffset = binary.LittleEndian.Uint64(end64[40:]), binary.LittleEndian.Uint64(end64[48:])
				endOffset = int64(p)
			}
		}
	}
	if dirSize > math.MaxInt64 || dirOffset > math.MaxInt64 {
		return false
	}
	for _, start := range []int64{endOffset - int64(dirSize), int64(dirOffset)} {
		if start >= 0 && start < size && countDirectoryHeaders(r, start, size, max) > max {
			return true
		}
	}
	return false
}

// findDirectoryEnd returns the end of central directory record and its
// offset, searched for as archive/zip does: backwards in the last KiB, then
// in the last 65 KiB.
func findDirectoryEnd(r io.ReaderAt, size int64) ([]byte, int64) {
	for _, n := range []int64{1024, 65 * 1024} {
		n = min(n, size)
		buf := make([]byte, n)
		if _, err := r.ReadAt(buf, size-n); err != nil && err != io.EOF {
			return nil, 0
		}
		for i := len(buf) - zipDirEndLen; i >= 0; i-- {
			if binary.LittleEndian.Uint32(buf[i:]) != zipDirEndSig {
				continue
			}
			if commentLen := int(binary.LittleEndian.Uint16(buf[i+zipDirEndLen-2:])); i+zipDirEndLen+commentLen > len(buf) {
				return nil, 0 // truncated comment: archive/zip gives up too
			}
			return buf[i:], size - n + int64(i)
		}
		if n == size {
			break
		}
	}
	return nil, 0
}

// countDirectoryHeaders counts the consecutive central directory headers
// from offset start, stopping after max+1.
func countDirectoryHeaders(r io.ReaderAt, start, size int64, max int) int {
	br := bufio.NewReader(io.NewSectionReader(r, start, size-start))
	var hdr [zipDirHeaderLen]byte
	n := 0
	for ; n <= max; n++ {
		if _, err := io.ReadFull(br, hdr[:]); err != nil || binary.LittleEndian.Uint32(hdr[:]) != zipDirHeaderSig {
			break
		}
		variable := int(binary.LittleEndian.Uint16(hdr[28:])) + // name
			int(binary.LittleEndian.Uint16(hdr[30:])) + // extra
			int(binary.LittleEndian.Uint16(hdr[32:])) // comment
		if _, err := br.Discard(variable); err != nil {
			break
		}
	}
	return n
}
