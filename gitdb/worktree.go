package gitdb

import (
	"os"
	"path/filepath"
)

// FindWorkTree returns the top of the git work tree that holds path (a
// file or a directory below the top, not the top itself) and path
// relative to it, with forward slashes; ok is false when path is not
// inside a work tree. It looks for a .git directory or file in path's
// parents; it does not follow GIT_DIR or a bare repository's layout.
func FindWorkTree(path string) (top, rel string, ok bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", false
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if fi, err := os.Stat(filepath.Join(dir, ".git")); err == nil && (fi.IsDir() || fi.Mode().IsRegular()) {
			r, err := filepath.Rel(dir, abs)
			if err != nil {
				return "", "", false
			}
			r = filepath.ToSlash(r)
			if r == ".git" || len(r) > 5 && r[:5] == ".git/" {
				return "", "", false // inside the git directory: not content
			}
			return dir, r, true
		}
		if parent := filepath.Dir(dir); parent == dir {
			return "", "", false
		}
	}
}
