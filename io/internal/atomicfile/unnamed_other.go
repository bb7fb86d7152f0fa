//go:build !linux

package atomicfile

import "os"

// openUnnamed: unnamed temporary files (O_TMPFILE) are Linux's.
func openUnnamed(dir, dst string) (*os.File, error) { return nil, errUnsupported }

func linkUnnamed(f *os.File, path string) error { return errUnsupported }
