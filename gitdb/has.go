package gitdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
)

// Has reports whether the repository holds object h, without reading it:
// a lookup in the packs' indexes, then a loose object's file.
func (db *DB) Has(h Hash) (bool, error) {
	packs, err := db.lookupPacks()
	if err != nil {
		return false, err
	}
	for _, p := range packs {
		if p.idx.find(h) >= 0 {
			return true, nil
		}
	}
	hex := h.String()
	for _, dir := range db.objDirs {
		_, err := os.Stat(filepath.Join(dir, hex[:2], hex[2:]))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("look up object %s: %w", h, err)
		}
	}
	// Other storage layouts: go-git.
	err = db.st.HasEncodedObject(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up object %s: %w", h, err)
	}
	return true, nil
}
