package ghaction

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// releaseVersion reads the version the action's source declares, the same
// line install.sh parses.
func releaseVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../cmd/leakstop/version.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^const releaseVersion = "([0-9][0-9.]*)"$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("cmd/leakstop/version.go declares no releaseVersion in the shape install.sh reads")
	}
	return string(m[1])
}

type fakeRelease struct {
	version   string
	assets    map[string][]byte // name → content
	checksums string            // served as checksums.txt; "" → 404
	status    int               // non-zero: every request answers this
	requests  atomic.Int32
}

func (f *fakeRelease) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if f.status != 0 {
		http.Error(w, "boom", f.status)
		return
	}
	prefix := "/leakstop/leakstop/releases/download/v" + f.version + "/"
	name, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "checksums.txt" && f.checksums != "" {
		fmt.Fprint(w, f.checksums)
		return
	}
	if b, ok := f.assets[name]; ok {
		w.Write(b)
		return
	}
	http.NotFound(w, r)
}

type installResult struct {
	code    int
	outputs map[string]string
	stderr  string
	binDir  string
}

func runInstall(t *testing.T, serverURL string, env ...string) installResult {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	temp := t.TempDir()
	outFile := filepath.Join(temp, "github_output")
	cmd := exec.Command("bash", filepath.Join(root, "ghaction", "install.sh"))
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"ACTION_PATH=" + root,
		"ACTION_REPOSITORY=leakstop/leakstop",
		"GITHUB_SERVER_URL=" + serverURL,
		"RUNNER_OS=Linux",
		"RUNNER_ARCH=X64",
		"RUNNER_TEMP=" + temp,
		"GITHUB_OUTPUT=" + outFile,
	}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	res := installResult{outputs: map[string]string{}, stderr: stderr.String(), binDir: filepath.Join(temp, "leakstop-bin")}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(outFile)
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			res.outputs[k] = v
		}
	}
	return res
}

func newRelease(t *testing.T) (*fakeRelease, []byte) {
	v := releaseVersion(t)
	bin := make([]byte, 4096)
	rand.Read(bin)
	sum := sha256.Sum256(bin)
	name := "leakstop_" + v + "_linux_amd64"
	other := "leakstop_" + v + "_windows_arm64.exe"
	return &fakeRelease{
		version: v,
		assets:  map[string][]byte{name: bin, other: []byte("other")},
		checksums: fmt.Sprintf("%s  %s\n%s  %s\n", hex.EncodeToString(sum[:]), name,
			strings.Repeat("ab", 32), other),
	}, bin
}

func TestInstallReleaseBinary(t *testing.T) {
	v := releaseVersion(t)
	major, minor, _ := strings.Cut(v, ".")
	minor, _, _ = strings.Cut(minor, ".")
	for _, ref := range []string{"v" + major, "v" + major + "." + minor, "v" + v} {
		t.Run(ref, func(t *testing.T) {
			rel, bin := newRelease(t)
			srv := httptest.NewServer(rel)
			defer srv.Close()
			r := runInstall(t, srv.URL, "ACTION_REF="+ref)
			if r.code != 0 || r.outputs["installed"] != "true" {
				t.Fatalf("exit %d, outputs %v, stderr:\n%s", r.code, r.outputs, r.stderr)
			}
			got, err := os.ReadFile(r.outputs["bin"])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, bin) {
				t.Fatal("installed binary is not the release asset")
			}
			if fi, _ := os.Stat(r.outputs["bin"]); fi.Mode()&0o111 == 0 {
				t.Fatal("installed binary is not executable")
			}
			if r.outputs["version"] != v {
				t.Fatalf("version output %q, want %q", r.outputs["version"], v)
			}
		})
	}
}

func TestInstallRefusesChecksumMismatch(t *testing.T) {
	rel, bin := newRelease(t)
	bin[0] ^= 0xff // the served asset is not what checksums.txt says
	srv := httptest.NewServer(rel)
	defer srv.Close()
	r := runInstall(t, srv.URL, "ACTION_REF=v"+rel.version)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "does not match its checksum") {
		t.Fatalf("stderr does not name the mismatch:\n%s", r.stderr)
	}
	if r.outputs["installed"] != "" {
		t.Fatalf("installed=%q after a mismatch; the action must not build instead", r.outputs["installed"])
	}
	if _, err := os.Stat(r.outputs["bin"]); !os.IsNotExist(err) {
		t.Fatal("a binary whose checksum did not match was installed")
	}
}

func TestInstallServerErrorFails(t *testing.T) {
	rel, _ := newRelease(t)
	rel.status = http.StatusInternalServerError
	srv := httptest.NewServer(rel)
	defer srv.Close()
	r := runInstall(t, srv.URL, "ACTION_REF=v"+rel.version)
	if r.code != 2 || r.outputs["installed"] != "" {
		t.Fatalf("exit %d, outputs %v; want exit 2 and no installed output\n%s", r.code, r.outputs, r.stderr)
	}
}

// Refs that are not release tags, runners without a prebuilt binary and
// releases without assets fall back to building from source.
func TestInstallFallsBackToSource(t *testing.T) {
	v := releaseVersion(t)
	cases := []struct {
		name     string
		env      []string
		mutate   func(*fakeRelease)
		requests bool
	}{
		{name: "branch", env: []string{"ACTION_REF=main"}},
		{name: "sha", env: []string{"ACTION_REF=0123456789abcdef0123456789abcdef01234567"}},
		{name: "other major", env: []string{"ACTION_REF=v999"}},
		{name: "tag suffix", env: []string{"ACTION_REF=v" + v + "-rc1"}},
		{name: "32-bit runner", env: []string{"ACTION_REF=v" + v, "RUNNER_ARCH=X86"}},
		{name: "no checksums", env: []string{"ACTION_REF=v" + v}, mutate: func(f *fakeRelease) { f.checksums = "" }, requests: true},
		{name: "asset not listed", env: []string{"ACTION_REF=v" + v, "RUNNER_OS=macOS"}, requests: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rel, _ := newRelease(t)
			if c.mutate != nil {
				c.mutate(rel)
			}
			srv := httptest.NewServer(rel)
			defer srv.Close()
			r := runInstall(t, srv.URL, c.env...)
			if r.code != 0 || r.outputs["installed"] != "false" {
				t.Fatalf("exit %d, outputs %v; want installed=false\n%s", r.code, r.outputs, r.stderr)
			}
			if !strings.Contains(r.stderr, "building leakstop from the action's source") {
				t.Fatalf("no notice of the source build:\n%s", r.stderr)
			}
			if got := rel.requests.Load() > 0; got != c.requests {
				t.Fatalf("made requests: %v, want %v", got, c.requests)
			}
			if !strings.HasPrefix(r.outputs["bin"], r.binDir) {
				t.Fatalf("bin output %q is not under RUNNER_TEMP", r.outputs["bin"])
			}
		})
	}
}

func TestInstallWindowsBinaryName(t *testing.T) {
	rel, _ := newRelease(t)
	srv := httptest.NewServer(rel)
	defer srv.Close()
	// The fake lists a windows/arm64 asset with a checksum that does not
	// match it: the name is right (it was fetched), the content is refused.
	r := runInstall(t, srv.URL, "ACTION_REF=v"+rel.version, "RUNNER_OS=Windows", "RUNNER_ARCH=ARM64")
	if r.code != 2 || !strings.HasSuffix(r.outputs["bin"], "leakstop.exe") {
		t.Fatalf("exit %d, outputs %v\n%s", r.code, r.outputs, r.stderr)
	}
}

// The build cache key follows the action's go.sum, which setup-go's own
// cache cannot see from outside GITHUB_WORKSPACE.
func TestCacheKeyFollowsGoSum(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	script, err := filepath.Abs("cachekey.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key := func(gosum string) map[string]string {
		t.Helper()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "go.sum"), []byte(gosum), 0o644)
		out := filepath.Join(t.TempDir(), "out")
		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(), "ACTION_PATH="+dir, "GITHUB_OUTPUT="+out, "RUNNER_OS=Linux", "RUNNER_ARCH=X64")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		b, _ := os.ReadFile(out)
		m := map[string]string{}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	a, b := key("a v1.0.0 h1:x\n"), key("a v1.0.1 h1:y\n")
	if a["key"] == "" || a["key"] == b["key"] {
		t.Fatalf("keys %q and %q: a changed go.sum must change the key", a["key"], b["key"])
	}
	if !strings.HasPrefix(a["key"], a["restore-key"]) || a["restore-key"] != b["restore-key"] {
		t.Fatalf("restore key %q is not the shared prefix of %q", a["restore-key"], a["key"])
	}
	if a["gocache"] == "" || a["gomodcache"] == "" {
		t.Fatalf("no cache folders in %v", a)
	}
}
