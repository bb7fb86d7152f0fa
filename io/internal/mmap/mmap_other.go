//go:build !(linux || darwin)

package mmap

import (
	"errors"
	"os"
)

const canMap = false

var errNoMmap = errors.New("memory mapping is not supported on this platform")

func mapFile(*os.File, int) ([]byte, error) { return nil, errNoMmap }

func unmap([]byte) error { return nil }
