// Package mmap gives the io/ codecs read-only views of whole files: a shared
// read-only memory mapping where the platform has one, else the file read
// into memory. Both readers (safetensors, gguf) parse the returned bytes
// directly and hand out sub-slices of them as zero-copy tensor views.
package mmap

import (
	"fmt"
	"math"
	"os"
)

// File is the content of a file, memory-mapped or read into memory.
// Its methods are safe for concurrent use except Close, which must come
// last; views obtained from Bytes are invalid after Close.
type File struct {
	data   []byte
	mapped bool
}

// Open returns the content of path. With useMmap it maps the file read-only
// (where the platform supports it); otherwise, or for an empty file, it
// reads the file into memory.
func Open(path string, useMmap bool) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("not a regular file (%s)", st.Mode().Type())}
	}
	size := st.Size()
	if size < 0 || uint64(size) > math.MaxInt {
		return nil, &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("file of %d bytes does not fit in memory", size)}
	}
	if useMmap && canMap && size > 0 {
		data, err := mapFile(f, int(size))
		if err != nil {
			return nil, &os.PathError{Op: "mmap", Path: path, Err: err}
		}
		return &File{data: data, mapped: true}, nil
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, err
	}
	return &File{data: data}, nil
}

// Bytes returns the whole content. The slice must not be written to (a
// mapping is read-only: writing faults) and is invalid after Close.
func (f *File) Bytes() []byte { return f.data }

// Mapped reports whether the content is a memory mapping.
func (f *File) Mapped() bool { return f.mapped }

// Release tells the kernel that bytes [off, off+n) will not be needed again
// soon, so their pages can leave the process's resident set. The content
// stays readable: touching it again reads it back from the file. It is a
// no-op for content read into memory, and off Linux.
func (f *File) Release(off, n int) error {
	if !f.mapped || n <= 0 {
		return nil
	}
	lo, hi := pageRange(off, n, len(f.data))
	if lo >= hi {
		return nil
	}
	return adviseDontNeed(f.data[lo:hi])
}

// Prefetch tells the kernel that bytes [off, off+n) will be read soon. It is
// a no-op for content read into memory, and off Linux.
func (f *File) Prefetch(off, n int) error {
	if !f.mapped || n <= 0 {
		return nil
	}
	lo, hi := pageRange(off, n, len(f.data))
	if lo >= hi {
		return nil
	}
	return adviseWillNeed(f.data[lo:hi])
}

// Close unmaps or drops the content.
func (f *File) Close() error {
	data, mapped := f.data, f.mapped
	f.data, f.mapped = nil, false
	if mapped {
		return unmap(data)
	}
	return nil
}

// pageRange widens [off, off+n) to whole pages, clipped to [0, size).
// Widening is safe: the mapping is read-only and file-backed, so dropping a
// page that a neighbouring view also uses costs at most a re-read.
func pageRange(off, n, size int) (lo, hi int) {
	if off < 0 {
		n += off
		off = 0
	}
	if off >= size || n <= 0 {
		return 0, 0
	}
	end := size
	if n < size-off {
		end = off + n
	}
	ps := os.Getpagesize()
	lo = off &^ (ps - 1)
	hi = (end + ps - 1) &^ (ps - 1)
	if hi > size {
		hi = size
	}
	return lo, hi
}
