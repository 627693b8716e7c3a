package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

type stage struct {
	from, name string
	ins        []instruction
}

// parseDockerfile splits a Dockerfile into stages of instructions. It
// knows what this repository's Dockerfile uses: comments, backslash
// continuations, FROM … AS name.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var cur strings.Builder
	start := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) == 0 {
			t.Fatalf("%s:%d: %s before FROM", path, in.line, in.cmd)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// TestDockerfile checks the image's essentials without a container
// engine: a Go builder matching go.mod's version building a static,
// trimmed binary; a Debian runtime with git and CA certificates; the
// binary copied from the builder; a non-root user; leakstop as the entry
// point; no secret baked in; the build context without .git. With
// LEAKSTOP_TEST_IMAGE_BUILD=1 it also runs the builder's go build command
// as written (from the repository root, output redirected) and the
// binary it made.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "../Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2 (builder, runtime)", len(stages))
	}
	build, run := stages[0], stages[1]

	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVer == nil {
		t.Fatal("no go directive in go.mod")
	}
	if want := "golang:" + string(goVer[1]); !strings.HasPrefix(build.from, want) || build.name == "" {
		t.Errorf("builder is FROM %s AS %q, want %s… AS a name", build.from, build.name, want)
	}
	var goBuild string
	for _, in := range build.all("RUN") {
		if strings.Contains(in.args, "go build") {
			goBuild = in.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/leakstop", "-o "} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("the builder's go build lacks %q: %q", want, goBuild)
		}
	}
	out := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(goBuild)

	if run.from != "debian:bookworm-slim" {
		t.Errorf("runtime FROM %s, want debian:bookworm-slim", run.from)
	}
	var apt string
	for _, in := range run.all("RUN") {
		if strings.Contains(in.args, "apt-get install") {
			apt = in.args
		}
	}
	for _, pkg := range []string{" git ", " ca-certificates "} {
		if !strings.Contains(apt+" ", pkg) {
			t.Errorf("the runtime does not install%s: %q", pkg, apt)
		}
	}
	if !strings.Contains(apt, "rm -rf /var/lib/apt/lists") {
		t.Error("the apt lists stay in the image")
	}
	copies := run.all("COPY")
	if len(copies) != 1 || out == nil || copies[0].args != "--from="+build.name+" "+out[1]+" /usr/local/bin/leakstop" {
		t.Errorf("runtime COPY = %v, want only --from=%s %s /usr/local/bin/leakstop", copies, build.name, out)
	}
	users := run.all("USER")
	if len(users) == 0 {
		t.Fatal("the runtime has no USER: it would run as root")
	}
	user := users[len(users)-1].args
	if u, _, _ := strings.Cut(user, ":"); u == "root" || u == "0" {
		t.Errorf("USER %s is root", user)
	}
	if !strings.Contains(apt, "useradd") || !strings.Contains(apt, "--uid "+strings.Split(user, ":")[0]) {
		t.Errorf("USER %s is not created by useradd in the image: %q", user, apt)
	}
	ep := run.all("ENTRYPOINT")
	if len(ep) != 1 || ep[0].args != `["leakstop"]` {
		t.Errorf("ENTRYPOINT = %v, want [\"leakstop\"] (exec form)", ep)
	}
	secretName := regexp.MustCompile(`(?i)token|password|secret|dsn|key`)
	for _, s := range stages {
		for _, in := range s.ins {
			if in.cmd != "ENV" && in.cmd != "ARG" {
				continue
			}
			name, _, _ := strings.Cut(in.args, "=")
			if secretName.MatchString(name) {
				t.Errorf("line %d: %s %s: a secret in a build argument or the environment is baked into the image", in.line, in.cmd, in.args)
			}
		}
	}
	b, _ := os.ReadFile("../Dockerfile")
	checkNoSecrets(t, "Dockerfile", b)
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatalf("no .dockerignore: %v", err)
	}
	if !regexp.MustCompile(`(?m)^\.git$`).Match(ignore) {
		t.Error(".dockerignore does not leave .git out of the build context")
	}

	// Without cgo every package of leakstop still builds (go list fails
	// on a package whose files are all excluded by CGO_ENABLED=0).
	list := exec.Command("go", "list", "-trimpath", "-deps", "./cmd/leakstop")
	list.Dir = ".."
	list.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := list.CombinedOutput(); err != nil {
		t.Errorf("CGO_ENABLED=0 go list -deps ./cmd/leakstop: %v\n%s", err, b)
	}
	// The builder's command as written, output in a temporary directory,
	// then the binary it made. A cold build recompiles every dependency
	// with -trimpath (minutes on a loaded machine): only on request.
	t.Run("go build", func(t *testing.T) {
		testBuilderCommand(t, goBuild, out[1])
	})
}

func testBuilderCommand(t *testing.T, goBuild, out string) {
	if os.Getenv("LEAKSTOP_TEST_IMAGE_BUILD") != "1" {
		t.Skip("set LEAKSTOP_TEST_IMAGE_BUILD=1 to run the builder's go build")
	}
	dir := t.TempDir()
	cmdline := strings.ReplaceAll(goBuild, out, filepath.Join(dir, "leakstop"))
	cmdline = strings.ReplaceAll(cmdline, "${VERSION}", "0.0.0-test")
	sh := exec.Command("sh", "-c", cmdline)
	sh.Dir = ".."
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	v, err := exec.Command(filepath.Join(dir, "leakstop"), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "0.0.0-test") {
		t.Errorf("leakstop version of the image's build: %v: %s", err, v)
	}
}
