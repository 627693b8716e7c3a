package hook

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/sourcegraph/conc/pool"

	"github.com/leakstop/leakstop/scanner"
)

// lfsPointerPrefix starts every Git LFS pointer file.
var lfsPointerPrefix = []byte("version https://git-lfs.github.com/spec/v1")

// stagedFile is one path whose staged content differs from HEAD's.
type stagedFile struct {
	path string
	blob string
}

// ScanStaged scans what the next commit would add: every blob of the index
// that differs from HEAD (on an unborn branch, every staged blob). Files
// with no changes, unstaged changes, untracked files and history are not
// read. Identifiers and secrets pair across the staged files.
//
// It asks git itself (git diff --cached, git cat-file --batch), so it
// honours GIT_INDEX_FILE: "git commit -a" and "git commit PATH" run the
// hook with a temporary index that holds what is really being committed.
// Symbolic links and submodules are skipped. Anything git cannot read is
// an error, never a clean result.
func ScanStaged(ctx context.Context, d *scanner.Detector, dir string, opts scanner.Options) (*scanner.Result, error) {
	files, err := stagedFiles(ctx, dir)
	if err != nil {
		return nil, err
	}
	res := &scanner.Result{}
	if len(files) == 0 {
		return res, nil
	}
	blobs := make([]string, 0, len(files))
	seen := map[string]bool{}
	for _, f := range files {
		if !seen[f.blob] {
			seen[f.blob] = true
			blobs = append(blobs, f.blob)
		}
	}
	hits, stats, err := scanBlobs(ctx, d, dir, blobs, opts)
	if err != nil {
		return nil, err
	}
	res.Stats = stats
	var fh []scanner.FileHits
	for _, f := range files {
		if h := hits[f.blob]; len(h) > 0 {
			fh = append(fh, scanner.FileHits{Path: f.path, Hits: h, Blob: f.blob})
		}
	}
	c := scanner.NewCollector()
	if len(fh) > 0 {
		c.Add(d.Pair(fh)...)
	}
	res.Findings = c.Findings()
	return res, nil
}

// stagedFiles lists the paths whose staged blob differs from HEAD's.
func stagedFiles(ctx context.Context, dir string) ([]stagedFile, error) {
	// diff --cached compares with the empty tree on an unborn branch.
	out, err := git(ctx, dir, "-c", "core.quotePath=false", "diff", "--cached", "--raw", "-z",
		"--no-abbrev", "--no-renames", "--no-ext-diff", "--no-textconv", "--ignore-submodules=all",
		"--diff-filter=d")
	if err != nil {
		return nil, fmt.Errorf("list staged files: %w", err)
	}
	var files []stagedFile
	fields := bytes.Split(out, []byte{0})
	for i := 0; i+1 < len(fields); i += 2 {
		// ":100644 100644 OLD NEW M" then the path.
		meta := strings.Fields(strings.TrimPrefix(string(fields[i]), ":"))
		if len(meta) != 5 {
			return nil, fmt.Errorf("list staged files: unexpected git output %q", fields[i])
		}
		mode, blob := meta[1], meta[3]
		switch mode {
		case "100644", "100755":
		default:
			continue // symbolic link (120000), submodule (160000)
		}
		files = append(files, stagedFile{path: string(fields[i+1]), blob: blob})
	}
	return files, nil
}

// scanBlobs reads blobs with one git cat-file --batch and scans them in a
// bounded pool.
func scanBlobs(ctx context.Context, d *scanner.Detector, dir string, blobs []string, opts scanner.Options) (map[string][]scanner.Hit, scanner.Stats, error) {
	var st scanner.Stats
	maxSize := opts.MaxFileSize
	if maxSize <= 0 {
		maxSize = scanner.DefaultMaxFileSize
	}
	warn := func(format string, a ...any) {
		if opts.Warn != nil {
			opts.Warn(fmt.Sprintf(format, a...))
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "cat-file", "--batch")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Join(blobs, "\n") + "\n")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, st, fmt.Errorf("read staged blobs: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, st, fmt.Errorf("read staged blobs: %w", err)
	}

	var mu sync.Mutex
	hits := map[string][]scanner.Hit{}
	workers := opts.Workers
	if workers <= 0 {
		workers = 4
	}
	p := pool.New().WithMaxGoroutines(workers)
	r := bufio.NewReaderSize(stdout, 64<<10)
	readErr := func() error {
		for range blobs {
			header, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("read staged blobs: %w", err)
			}
			f := strings.Fields(header)
			if len(f) == 2 && f[1] == "missing" {
				return fmt.Errorf("read staged blobs: object %s is missing from the repository", f[0])
			}
			if len(f) != 3 {
				return fmt.Errorf("read staged blobs: unexpected git output %q", strings.TrimSpace(header))
			}
			oid, typ := f[0], f[1]
			size, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || typ != "blob" {
				return fmt.Errorf("read staged blobs: unexpected git output %q", strings.TrimSpace(header))
			}
			st.Blobs++
			if size > maxSize {
				warn("skipped staged blob %s: %d bytes is over the %d-byte limit (--max-file-size)", oid, size, maxSize)
				st.SkippedLarge++
				if _, err := io.CopyN(io.Discard, r, size+1); err != nil {
					return fmt.Errorf("read staged blobs: %w", err)
				}
				continue
			}
			data := make([]byte, size+1) // with the trailing newline
			if _, err := io.ReadFull(r, data); err != nil {
				return fmt.Errorf("read staged blobs: %w", err)
			}
			data = data[:size]
			if bytes.HasPrefix(data, lfsPointerPrefix) {
				st.SkippedOther++
				continue
			}
			text := scanner.Text(data)
			if text == nil {
				st.SkippedBinary++
				continue
			}
			st.Files++
			st.Bytes += size
			p.Go(func() {
				h := d.Hits(text)
				if len(h) == 0 {
					return
				}
				mu.Lock()
				hits[oid] = h
				mu.Unlock()
			})
		}
		return nil
	}()
	p.Wait()
	if readErr != nil {
		cancel()
		_ = cmd.Wait()
		if msg := strings.TrimSpace(errb.String()); msg != "" {
			return nil, st, fmt.Errorf("%w (git: %s)", readErr, firstLine(msg))
		}
		return nil, st, readErr
	}
	if err := cmd.Wait(); err != nil {
		return nil, st, &GitError{Args: []string{"cat-file", "--batch"}, Stderr: errb.String(), Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	return hits, st, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
