package gitdb

import (
	"bytes"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// Tree entry modes (the type bits).
const (
	ModeTypeMask = 0o170000
	ModeDir      = 0o040000
	ModeSymlink  = 0o120000
	ModeGitlink  = 0o160000
)

// TreeEntry is one entry of a raw tree. Name aliases the tree's bytes.
type TreeEntry struct {
	Mode uint32
	Name []byte
	Hash Hash
}

var errBadTree = fmt.Errorf("%w: malformed tree", ErrCorrupt)

// ParseTree calls fn for each entry of a raw tree object.
func ParseTree(data []byte, fn func(e TreeEntry) error) error {
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 {
			return fmt.Errorf("%w: bad entry mode", errBadTree)
		}
		var mode uint32
		for _, c := range data[:sp] {
			if c < '0' || c > '7' {
				return fmt.Errorf("%w: bad entry mode", errBadTree)
			}
			mode = mode<<3 | uint32(c-'0')
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || len(data) < nul+1+20 {
			return fmt.Errorf("%w: truncated entry", errBadTree)
		}
		e := TreeEntry{Mode: mode, Name: data[:nul]}
		copy(e.Hash[:], data[nul+1:nul+21])
		data = data[nul+21:]
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Object types, for ReadTyped.
const (
	ObjectCommit = plumbing.CommitObject
	ObjectTree   = plumbing.TreeObject
	ObjectBlob   = plumbing.BlobObject
	ObjectTag    = plumbing.TagObject
)
