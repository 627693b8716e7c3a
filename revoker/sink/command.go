package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/leakstop/leakstop/secret"
)

// CommandConfig says which program receives a delivery.
type CommandConfig struct {
	// Argv is the program and its arguments, run without a shell, e.g.
	// {"vault", "kv", "put", "secret/twilio", "token=-"}. Required.
	Argv []string
	// Timeout bounds one run; default 1 minute. On timeout the program's
	// whole process group is killed.
	Timeout time.Duration
	// Dir is the working directory; empty means leakstop's.
	Dir string
	// Env holds extra KEY=VALUE entries for the child. They are not for
	// secrets: the new secret comes on standard input only.
	Env []string
	// CleanEnv starts the child from PATH, HOME, TMPDIR, LANG, LC_ALL and
	// TZ only, instead of leakstop's whole environment.
	CleanEnv bool
	// Newline appends "\n" after the secret on standard input.
	Newline bool
	// Label names the sink "command:LABEL"; default the joined Argv.
	Label string
}

// Command delivers by running a program with the new secret on its
// standard input, never in its arguments or environment. The child's
// environment also gets LEAKSTOP_ACCOUNT_SID, LEAKSTOP_KIND,
// LEAKSTOP_KEY_SID and LEAKSTOP_ROTATION_ID, none of them secret. Its
// standard output is discarded; the last lines of its standard error,
// scrubbed of the secret, go into the error when it fails.
type Command struct {
	cfg CommandConfig
}

var _ Sink = (*Command)(nil)

const (
	defaultCommandTimeout = time.Minute
	stderrKeep            = 64 << 10 // bytes of stderr kept
	stderrLines           = 10       // lines of stderr in an error
	stderrLineMax         = 300      // bytes of one such line
	commandWaitDelay      = 2 * time.Second
)

// NewCommand checks cfg and returns the sink.
func NewCommand(cfg CommandConfig) (*Command, error) {
	if len(cfg.Argv) == 0 || cfg.Argv[0] == "" {
		return nil, errors.New("new command sink: no program")
	}
	for _, kv := range cfg.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("new command sink: environment entry %q is not KEY=VALUE", k)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultCommandTimeout
	}
	cfg.Argv = append([]string(nil), cfg.Argv...)
	cfg.Env = append([]string(nil), cfg.Env...)
	return &Command{cfg: cfg}, nil
}

// Name is "command:" followed by Label or the joined arguments.
func (c *Command) Name() string {
	if c.cfg.Label != "" {
		return "command:" + c.cfg.Label
	}
	return "command:" + strings.Join(c.cfg.Argv, " ")
}

// CommandError is a program that failed or timed out. Stderr holds its
// last lines with the secret scrubbed out.
type CommandError struct {
	Program  string
	ExitCode int // -1 when killed by a signal or timed out
	Status   string
	TimedOut bool
	Timeout  time.Duration
	Stderr   string
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s: ", e.Program)
	if e.TimedOut {
		fmt.Fprintf(&b, "timed out after %s", e.Timeout)
	} else {
		b.WriteString(e.Status)
	}
	if e.Stderr != "" {
		fmt.Fprintf(&b, "; stderr: %q", e.Stderr)
	}
	return b.String()
}

// Deliver runs the program once with d.Secret on its standard input.
func (c *Command) Deliver(ctx context.Context, d Delivery) error {
	// The name and program come from configuration; should the secret be
	// there by mistake, it must not reach the error through them.
	name := secret.Scrub(c.Name(), d.Secret)
	if err := c.run(ctx, d); err != nil {
		return fmt.Errorf("deliver to %s: %w", name, secret.ScrubError(err, d.Secret))
	}
	return nil
}

func (c *Command) run(ctx context.Context, d Delivery) error {
	if err := d.Validate(); err != nil {
		return err
	}
	sv := d.Secret.Reveal()
	for i, a := range c.cfg.Argv {
		if strings.Contains(a, sv) {
			return fmt.Errorf("argument %d holds the secret: it goes on standard input only", i)
		}
	}
	for _, kv := range c.cfg.Env {
		if strings.Contains(kv, sv) {
			k, _, _ := strings.Cut(kv, "=")
			return fmt.Errorf("environment entry %s holds the secret: it goes on standard input only", secret.Scrub(k, d.Secret))
		}
	}

	runCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, c.cfg.Argv[0], c.cfg.Argv[1:]...)
	cmd.Dir = c.cfg.Dir
	cmd.Env = c.environ(d)
	input := []byte(sv)
	if c.cfg.Newline {
		input = append(input, '\n')
	}
	cmd.Stdin = bytes.NewReader(input)
	stderr := &tailBuffer{keep: stderrKeep}
	cmd.Stderr = stderr
	cmd.WaitDelay = commandWaitDelay
	setProcessGroup(cmd)

	err := cmd.Run()
	if err == nil {
		return nil
	}
	program := c.cfg.Argv[0]
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) && cmd.ProcessState == nil {
		// Never started: not found, not executable, bad directory.
		return fmt.Errorf("start %s: %w", program, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("run %s: %w", program, ctx.Err())
	}
	ce := &CommandError{
		Program:  program,
		ExitCode: -1,
		Status:   err.Error(),
		Stderr:   stderr.lastLines(d),
		Timeout:  c.cfg.Timeout,
		TimedOut: errors.Is(runCtx.Err(), context.DeadlineExceeded),
	}
	if exitErr != nil {
		ce.ExitCode = exitErr.ExitCode()
		ce.Status = exitErr.ProcessState.String()
	}
	return ce
}

// environ builds the child's environment: leakstop's (or a clean one),
// minus anything holding the secret, plus Env, plus the LEAKSTOP_ values.
func (c *Command) environ(d Delivery) []string {
	sv := d.Secret.Reveal()
	var env []string
	keepClean := map[string]bool{"PATH": true, "HOME": true, "TMPDIR": true, "LANG": true, "LC_ALL": true, "TZ": true}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.Contains(kv, sv) || strings.HasPrefix(k, "LEAKSTOP_") || (c.cfg.CleanEnv && !keepClean[k]) {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, c.cfg.Env...)
	return append(env,
		"LEAKSTOP_ACCOUNT_SID="+d.AccountSID,
		"LEAKSTOP_KIND="+string(d.Kind),
		"LEAKSTOP_KEY_SID="+d.KeySID,
		"LEAKSTOP_ROTATION_ID="+d.RotationID,
	)
}

// tailBuffer keeps about the last keep bytes written to it.
type tailBuffer struct {
	keep      int
	buf       []byte
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.keep {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.keep:]...)
		t.truncated = true
	}
	return len(p), nil
}

// lastLines returns the last complete lines of stderr, scrubbed of the
// secret, printable, each cut to stderrLineMax bytes.
func (t *tailBuffer) lastLines(d Delivery) string {
	text := string(t.buf)
	if t.truncated {
		// The first line may be a piece cut out of the middle of a line,
		// even of the secret: drop it.
		_, text, _ = strings.Cut(text, "\n")
	}
	text = secret.Scrub(text, d.Secret)
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = printable(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > stderrLines {
		lines = lines[len(lines)-stderrLines:]
	}
	for i, l := range lines {
		if len(l) > stderrLineMax {
			cut := stderrLineMax
			for cut > 0 && !utf8.RuneStart(l[cut]) {
				cut--
			}
			lines[i] = l[:cut] + "…"
		}
	}
	return strings.Join(lines, "\n")
}

// ansiEscape matches terminal escape sequences: CSI (colours, cursor
// moves) and OSC (titles, hyperlinks).
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]`)

// printable drops terminal escapes, control characters (carriage returns,
// bells) and trailing space.
func printable(s string) string {
	s = ansiEscape.ReplaceAllString(s, "")
	s = strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	return strings.TrimRightFunc(s, unicode.IsSpace)
}
