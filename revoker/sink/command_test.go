package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a delivery program; see
// TestMain and runHelper.
const helperEnv = "SINKTEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper is the child side of the command tests.
func runHelper(mode string) int {
	in, _ := io.ReadAll(os.Stdin)
	switch mode {
	case "record":
		dir := os.Getenv("SINKTEST_OUT")
		_ = os.WriteFile(filepath.Join(dir, "stdin"), in, 0o600)
		for _, f := range []string{"cmdline", "environ"} {
			b, err := os.ReadFile("/proc/self/" + f)
			if err != nil {
				b = []byte("unavailable")
			}
			_ = os.WriteFile(filepath.Join(dir, f), b, 0o600)
		}
		return 0
	case "echo":
		// A careless program: it prints what it read, whole, in pieces and
		// in the middle of a long line, then fails.
		s := string(in)
		fmt.Fprintf(os.Stderr, "read token %s\n", s)
		fmt.Fprintf(os.Stderr, "prefix %s…\n", s[:12])
		fmt.Fprintf(os.Stderr, "split %s\n%s\n", s[:len(s)/2], s[len(s)/2:])
		fmt.Fprintf(os.Stderr, "\x1b[31mfatal:\x1b[0m vault is sealed\n")
		return 3
	case "flood":
		// Far more stderr than is kept, with the secret all through it.
		s := string(in)
		for i := range 20000 {
			fmt.Fprintf(os.Stderr, "line %d %s %s\n", i, s, strings.Repeat("x", i%50))
		}
		fmt.Fprintln(os.Stderr, "last words")
		return 1
	}
	return 2
}

func helperCommand(t *testing.T, mode string, cfg CommandConfig) (*Command, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cfg.Argv = append([]string{exe, "--sink-helper-arg"}, cfg.Argv...)
	cfg.Env = append(cfg.Env, helperEnv+"="+mode, "SINKTEST_OUT="+out)
	c, err := NewCommand(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, out
}

func TestCommandSecretOnStdinOnly(t *testing.T) {
	t.Setenv("LEAKSTOP_KIND", "stale-parent-value")
	c, out := helperCommand(t, "record", CommandConfig{Env: []string{"EXTRA=1"}})
	d := newAPIKeyDelivery(t)
	if err := c.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	stdin, _ := os.ReadFile(filepath.Join(out, "stdin"))
	if string(stdin) != d.Secret.Reveal() {
		t.Fatalf("stdin = %d bytes, want the secret exactly", len(stdin))
	}
	cmdline, _ := os.ReadFile(filepath.Join(out, "cmdline"))
	environ, _ := os.ReadFile(filepath.Join(out, "environ"))
	if string(cmdline) == "unavailable" {
		if runtime.GOOS == "linux" {
			t.Fatal("no /proc/self on linux")
		}
		t.Skip("no /proc/self: cannot inspect the child")
	}
	if !bytes.Contains(cmdline, []byte("--sink-helper-arg")) {
		t.Fatalf("cmdline does not look like the child's: %q", cmdline)
	}
	if bytes.Contains(cmdline, []byte(d.Secret.Reveal())) || bytes.Contains(environ, []byte(d.Secret.Reveal())) {
		t.Fatal("secret in the child's argv or environment")
	}
	env := map[string]string{}
	for _, kv := range bytes.Split(environ, []byte{0}) {
		k, v, _ := strings.Cut(string(kv), "=")
		env[k] = v
	}
	want := map[string]string{
		"LEAKSTOP_ACCOUNT_SID": d.AccountSID,
		"LEAKSTOP_KIND":        string(KindAPIKey),
		"LEAKSTOP_KEY_SID":     d.KeySID,
		"LEAKSTOP_ROTATION_ID": d.RotationID,
		"EXTRA":                "1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("child env %s = %q, want %q", k, env[k], v)
		}
	}
}

func TestCommandCleanEnv(t *testing.T) {
	t.Setenv("SINKTEST_PARENT_ONLY", "x")
	c, out := helperCommand(t, "record", CommandConfig{CleanEnv: true})
	if err := c.Deliver(context.Background(), newDelivery(t)); err != nil {
		t.Fatal(err)
	}
	environ, _ := os.ReadFile(filepath.Join(out, "environ"))
	if string(environ) == "unavailable" {
		t.Skip("no /proc/self")
	}
	if bytes.Contains(environ, []byte("SINKTEST_PARENT_ONLY")) {
		t.Fatal("CleanEnv passed the parent's environment on")
	}
}

func TestCommandInheritedEnvHoldingSecretDropped(t *testing.T) {
	d := newDelivery(t)
	t.Setenv("SINKTEST_LEAKY", "prefix-"+d.Secret.Reveal())
	c, out := helperCommand(t, "record", CommandConfig{})
	if err := c.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	environ, _ := os.ReadFile(filepath.Join(out, "environ"))
	if bytes.Contains(environ, []byte(d.Secret.Reveal())) {
		t.Fatal("secret reached the child's environment")
	}
}

func TestCommandShellScript(t *testing.T) {
	sh, err := lookSh()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "hook.sh")
	body := "#!/bin/sh\nset -e\ncat > \"$OUT\"\nprintf '%s %s %s' \"$LEAKSTOP_ACCOUNT_SID\" \"$LEAKSTOP_KIND\" \"$LEAKSTOP_ROTATION_ID\" > \"$OUT.meta\"\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "delivered")
	c, err := NewCommand(CommandConfig{Argv: []string{sh, script}, Env: []string{"OUT=" + out}, Newline: true, Label: "hook"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "command:hook" {
		t.Fatalf("Name = %q", c.Name())
	}
	d := newDelivery(t)
	if err := c.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	meta, _ := os.ReadFile(out + ".meta")
	if string(got) != d.Secret.Reveal()+"\n" {
		t.Fatal("script did not get the secret and a newline on stdin")
	}
	if want := d.AccountSID + " auth-token " + d.RotationID; string(meta) != want {
		t.Fatalf("meta = %q, want %q", meta, want)
	}
}

func TestCommandFailureIsScrubbed(t *testing.T) {
	c, _ := helperCommand(t, "echo", CommandConfig{})
	d := newDelivery(t)
	err := c.Deliver(context.Background(), d)
	var ce *CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %T %v", err, err)
	}
	msg := err.Error()
	t.Logf("error: %v", msg)
	if ce.ExitCode != 3 || !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "fatal: vault is sealed") {
		t.Fatalf("err = %v", err)
	}
	assertNoSecretPiece(t, msg, d)
	assertNoSecretPiece(t, ce.Stderr, d)
	if strings.Contains(msg, "\x1b") {
		t.Fatal("terminal escapes in the error")
	}
}

func TestCommandStderrFloodIsBoundedAndScrubbed(t *testing.T) {
	c, _ := helperCommand(t, "flood", CommandConfig{})
	d := newDelivery(t)
	err := c.Deliver(context.Background(), d)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitCode != 1 {
		t.Fatalf("err = %v", err)
	}
	if !strings.HasSuffix(ce.Stderr, "last words") || strings.Count(ce.Stderr, "\n") != stderrLines-1 {
		t.Fatalf("stderr tail = %q", ce.Stderr)
	}
	assertNoSecretPiece(t, err.Error(), d)
}

func TestCommandTimeoutKillsProcessGroup(t *testing.T) {
	sh, err := lookSh()
	if err != nil {
		t.Skip(err)
	}
	c, err := NewCommand(CommandConfig{Argv: []string{sh, "-c", "sleep 30 & sleep 30"}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Deliver(context.Background(), newDelivery(t))
	var ce *CommandError
	if !errors.As(err, &ce) || !ce.TimedOut || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %s: the background child kept the pipes open", el)
	}
}

func TestCommandCancelled(t *testing.T) {
	sh, err := lookSh()
	if err != nil {
		t.Skip(err)
	}
	c, _ := NewCommand(CommandConfig{Argv: []string{sh, "-c", "sleep 30"}})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := c.Deliver(ctx, newDelivery(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestCommandRefusesSecretInArgvOrEnv(t *testing.T) {
	d := newDelivery(t)
	for _, cfg := range []CommandConfig{
		{Argv: []string{"true", "token=" + d.Secret.Reveal()}},
		{Argv: []string{"true"}, Env: []string{"TOKEN=" + d.Secret.Reveal()}},
	} {
		c, err := NewCommand(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Deliver(context.Background(), d)
		if err == nil || !strings.Contains(err.Error(), "standard input only") || strings.Contains(err.Error(), d.Secret.Reveal()) {
			t.Fatalf("err = %v", err)
		}
	}
}

func TestCommandNotFound(t *testing.T) {
	c, _ := NewCommand(CommandConfig{Argv: []string{filepath.Join(t.TempDir(), "missing")}})
	if err := c.Deliver(context.Background(), newDelivery(t)); err == nil || !strings.Contains(err.Error(), "start ") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewCommandValidates(t *testing.T) {
	for _, cfg := range []CommandConfig{{}, {Argv: []string{""}}, {Argv: []string{"x"}, Env: []string{"NOEQUALS"}}} {
		if _, err := NewCommand(cfg); err == nil {
			t.Errorf("NewCommand(%+v) = nil error", cfg)
		}
	}
}

func lookSh() (string, error) {
	for _, p := range []string{"/bin/sh", "/usr/bin/sh"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no /bin/sh")
}

// assertNoSecretPiece fails when text holds the secret or any 8-character
// run of it.
func assertNoSecretPiece(t *testing.T, text string, d Delivery) {
	t.Helper()
	const minPiece = 8 // what secret.Scrub removes
	sv := d.Secret.Reveal()
	for i := 0; i+minPiece <= len(sv); i++ {
		if strings.Contains(text, sv[i:i+minPiece]) {
			t.Fatalf("a piece of the secret leaked into %q", text)
		}
	}
}
