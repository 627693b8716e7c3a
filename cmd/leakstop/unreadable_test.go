package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unprivileged returns the command prefix that runs a program as an
// unprivileged user (root reads a mode-000 file), or skips.
func unprivileged(t *testing.T) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	if p, err := exec.LookPath("setpriv"); err == nil {
		return []string{p, "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	}
	if p, err := exec.LookPath("runuser"); err == nil {
		return []string{p, "-u", "nobody", "--"}
	}
	t.Skip("running as root and neither setpriv nor runuser is installed: cannot drop privileges to test an unreadable file")
	return nil
}

// realBinary copies this test binary, which is leakstop when named so
// (testscript.Main), into a folder any user can read.
func realBinary(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	bin := filepath.Join(dir, "leakstop")
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// publicDir is a temporary folder that an unprivileged user can enter.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "leakstop-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runBin(t *testing.T, timeout time.Duration, argv ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+filepath.Dir(argv[len(argv)-1]))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v: did not end within %v (stderr: %s)", argv, timeout, stderr.String())
	}
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// TestUnreadableFileFails: an unreadable file in a scanned folder is an
// error (exit 2, named) — it was skipped with exit 0 — unless
// --skip-unreadable, which still warns and counts it.
func TestUnreadableFileFails(t *testing.T) {
	priv := unprivileged(t)
	dir := publicDir(t)
	bin := realBinary(t, dir)
	d := filepath.Join(dir, "d")
	if err := os.MkdirAll(filepath.Join(d, "locked"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "app.txt"), []byte("nothing here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := "TWILIO_ACCOUNT_SID=AC" + randHex(16) + "\nTWILIO_AUTH_TOKEN=" + randHex(16) + "\n"
	if err := os.WriteFile(filepath.Join(d, "s.env"), []byte(secret), 0o000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(d, "s.env"), 0o000); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runBin(t, time.Minute, append(priv, bin, "scan", d)...)
	if code != 2 || !strings.Contains(errOut, "s.env") || !strings.Contains(errOut, "permission denied") || strings.Contains(out, "No Twilio credentials found") {
		t.Fatalf("unreadable file: exit %d, stdout %q, stderr %q; want exit 2 naming s.env", code, out, errOut)
	}
	code, out, errOut = runBin(t, time.Minute, append(priv, bin, "scan", "--skip-unreadable", d)...)
	if code != 0 || !strings.Contains(errOut, "s.env") || !strings.Contains(out, "1 unreadable") {
		t.Fatalf("--skip-unreadable: exit %d, stdout %q, stderr %q; want exit 0, a warning and the count", code, out, errOut)
	}

	// An unreadable folder too.
	if err := os.Chmod(filepath.Join(d, "s.env"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(d, "s.env"), filepath.Join(d, "locked", "s.env")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(d, "locked"), 0o000); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runBin(t, time.Minute, append(priv, bin, "scan", d)...)
	if code != 2 || !strings.Contains(errOut, "locked") {
		t.Fatalf("unreadable folder: exit %d, stdout %q, stderr %q; want exit 2 naming it", code, out, errOut)
	}
	_ = os.Chmod(filepath.Join(d, "locked"), 0o755)
}

// TestSpecialFilesInFolderNotOpened: a FIFO inside a scanned folder is
// never opened (it would block): warned about, counted as skipped by
// type, and the rest of the folder is scanned.
func TestSpecialFilesInFolderNotOpened(t *testing.T) {
	dir := publicDir(t)
	bin := realBinary(t, dir)
	d := filepath.Join(dir, "d")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"x.env", "y.pem"} {
		if err := syscall.Mkfifo(filepath.Join(d, name), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	sid, tok := "AC"+randHex(16), randHex(16)
	if err := os.WriteFile(filepath.Join(d, "app.env"), []byte("TWILIO_ACCOUNT_SID="+sid+"\nTWILIO_AUTH_TOKEN="+tok+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runBin(t, 20*time.Second, bin, "scan", d)
	if code != 1 || !strings.Contains(out, sid) || !strings.Contains(errOut, "x.env") || !strings.Contains(errOut, "not a regular file") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the leak in app.env and a warning for the FIFOs", code, out, errOut)
	}
	// A FIFO named as the target is refused, not read.
	code, _, errOut = runBin(t, 20*time.Second, bin, "scan", "--no-git", filepath.Join(d, "x.env"))
	if code != 2 || !strings.Contains(errOut, "not a regular file") {
		t.Fatalf("FIFO target: exit %d, stderr %q; want exit 2", code, errOut)
	}
}
