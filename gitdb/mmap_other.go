//go:build !unix

package gitdb

import "os"

// mapFile reads a file whole where mmap is not available.
func mapFile(path string) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	return data, func() error { return nil }, err
}

func dropPages([]byte) {}
