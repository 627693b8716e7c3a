// Package gitdb reads a git repository's object database directly: pack
// files and their indexes (mapped, never copied), loose objects,
// alternates, deltas, trees, commits, refs and the index file. It is built
// for scanning: a full pass inflates every object of every pack once, in
// parallel, and point reads serve the few objects a partial walk (a range
// of commits, the staged index) needs.
//
// It knows nothing of what is scanned for; package scanner runs the
// detector on what gitdb reads.
package gitdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// Hash names a git object.
type Hash = plumbing.Hash

// ObjectType is the type of a git object.
type ObjectType = plumbing.ObjectType

// ErrCorrupt marks a pack, index or object whose bytes are malformed.
var ErrCorrupt = errors.New("corrupt object database")

// ErrCorrupt is the historical name used throughout the pack code.

// DB is an open repository. Its methods are safe for concurrent use,
// except where noted.
type DB struct {
	path string
	repo *git.Repository
	st   storage.Storer

	// lookup are the packs mapped for point reads (objects.go).
	lookupOnce sync.Once
	lookup     []*pack
	lookupErr  error
	objDirs    []string

	shallowOnce sync.Once
	shallow     map[Hash]bool
	shallowErr  error

	mu sync.Mutex
	// packs are the packs mapped and parsed by a full pass (EachBlob).
	packs []*pack
	// blobs is every blob read by EachBlob, to tell a tree naming a
	// missing blob; nil before.
	blobs map[Hash]struct{}
	// objs and pcommits hold the trees and commits of the packs, decoded
	// once by IndexTrees: trees reduced to what a TreeWalker needs.
	objs     objTable
	names    nameTable
	pcommits map[Hash]*Commit
	// large receives the loose blobs over largeSize bytes as streams.
	large     BlobStreamFunc
	largeSize int64
}

// IsRepo reports whether path is the top of a git work tree (with a .git
// directory or .git file) or a bare repository.
func IsRepo(path string) bool {
	if fi, err := os.Stat(filepath.Join(path, ".git")); err == nil && (fi.IsDir() || fi.Mode().IsRegular()) {
		return true
	}
	return isBareDir(path)
}

func isBareDir(path string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(path, name)); err != nil {
			return false
		}
	}
	return true
}

// Open opens the repository at path (a work tree, a linked worktree or a
// bare repository). Close releases its mapped files.
func Open(path string) (*DB, error) {
	repo, err := openGoGit(path)
	if err != nil {
		return nil, err
	}
	return &DB{path: path, repo: repo, st: repo.Storer}, nil
}

// Close unmaps every pack the DB mapped. The DB is not used after.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, p := range db.packs {
		p.close()
	}
	for _, p := range db.lookup {
		p.close()
	}
	db.packs, db.lookup = nil, nil
	return nil
}

// openGoGit opens the repository at path with go-git, used for refs, the
// index and storage layouts the direct readers do not know. go-git does
// not follow alternates outside the repository (git clone --shared,
// --reference) unless told where they may be: the storage is then built
// by hand.
func openGoGit(path string) (*git.Repository, error) {
	gitDir, common, err := gitDirs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(common, "objects", "info", "alternates")); err != nil {
		return git.PlainOpenWithOptions(path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	}
	var fs billy.Filesystem = osfs.New(gitDir)
	if common != gitDir {
		fs = dotgit.NewRepositoryFilesystem(fs, osfs.New(common))
	}
	st := filesystem.NewStorageWithOptions(fs, cache.NewObjectLRUDefault(), filesystem.Options{AlternatesFS: osfs.New("/")})
	return git.Open(st, nil)
}

// gitDirs returns the git directory of the repository at path and its
// common directory (they differ for a linked worktree).
func gitDirs(path string) (gitDir, commonDir string, err error) {
	gitDir = path
	dotGit := filepath.Join(path, ".git")
	if fi, err := os.Stat(dotGit); err == nil {
		if fi.IsDir() {
			gitDir = dotGit
		} else {
			b, err := os.ReadFile(dotGit)
			if err != nil {
				return "", "", err
			}
			rest, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
			if !ok {
				return "", "", fmt.Errorf("%s: not a gitdir file", dotGit)
			}
			gitDir = strings.TrimSpace(rest)
			if !filepath.IsAbs(gitDir) {
				gitDir = filepath.Join(path, gitDir)
			}
		}
	}
	commonDir = gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		commonDir = filepath.Clean(c)
	}
	return gitDir, commonDir, nil
}

// objectDirs returns the object directories of the repository at path:
// its own (the common one, for a linked worktree) and its alternates.
func objectDirs(path string) ([]string, error) {
	_, common, err := gitDirs(path)
	if err != nil {
		return nil, err
	}
	dirs := []string{filepath.Join(common, "objects")}
	for i := 0; i < len(dirs) && i < 8; i++ {
		b, err := os.ReadFile(filepath.Join(dirs[i], "info", "alternates"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if !filepath.IsAbs(l) {
				l = filepath.Join(dirs[i], l)
			}
			dirs = append(dirs, filepath.Clean(l))
		}
	}
	return dirs, nil
}

// Shallow returns the commits of the shallow boundary (empty when the
// repository is complete). It is read once.
func (db *DB) Shallow() (map[Hash]bool, error) {
	db.shallowOnce.Do(func() {
		sh, err := db.st.Shallow()
		if err != nil {
			db.shallowErr = fmt.Errorf("read shallow file: %w", err)
			return
		}
		db.shallow = make(map[Hash]bool, len(sh))
		for _, h := range sh {
			db.shallow[h] = true
		}
	})
	return db.shallow, db.shallowErr
}
