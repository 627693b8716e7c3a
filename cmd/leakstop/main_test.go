package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"leakstop": func() {
			os.Exit(runProcess(os.Args[1:]))
		},
	})
}

// TestScript runs the CLI tests in testdata/script. Each script gets fresh
// credentials in $SID, $TOKEN, $SID2, $TOKEN2, $KEYSID, $KEYSECRET (and
// $BASIC, the HTTP Basic encoding of SID:TOKEN), generated at run time so
// that the repository holds none.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "../../testdata/script",
		Setup: func(e *testscript.Env) error {
			sid, tok := "AC"+randHex(16), randHex(16)
			e.Setenv("SID", sid)
			e.Setenv("TOKEN", tok)
			e.Setenv("SID2", "AC"+randHex(16))
			e.Setenv("TOKEN2", randHex(16))
			e.Setenv("KEYSID", "SK"+randHex(16))
			e.Setenv("KEYSECRET", randAlnum(32))
			e.Setenv("BASIC", base64.StdEncoding.EncodeToString([]byte(sid+":"+tok)))
			e.Setenv("NO_COLOR", "1")
			e.Values[twilioFakeKey{}] = &twilioFake{}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// expand FILE...: replace $VAR and ${VAR} in files with the
			// script's environment.
			"expand": func(ts *testscript.TestScript, neg bool, args []string) {
				for _, f := range args {
					b := ts.ReadFile(f)
					out := os.Expand(b, ts.Getenv)
					if err := os.WriteFile(ts.MkAbs(f), []byte(out), 0o644); err != nil {
						ts.Fatalf("expand %s: %v", f, err)
					}
				}
			},
			// status N CMD ARGS...: run CMD, require exit status N, and
			// keep its output in $WORK/status.stdout and status.stderr.
			"status": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: status N CMD [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("status: %v", err)
				}
				// A command that hangs (a FIFO opened for reading) fails
				// the script instead of the whole test run.
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, args[1], args[2:]...)
				cmd.Dir = ts.MkAbs(".")
				var env []string
				for _, k := range []string{"PATH", "HOME", "NO_COLOR", "TMPDIR", "GIT_CONFIG_NOSYSTEM", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"} {
					env = append(env, k+"="+ts.Getenv(k))
				}
				cmd.Env = env
				var out, errb bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errb
				err = cmd.Run()
				got := 0
				if ee, ok := err.(*exec.ExitError); ok {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("status: %v", err)
				}
				ts.Check(os.WriteFile(ts.MkAbs("status.stdout"), out.Bytes(), 0o644))
				ts.Check(os.WriteFile(ts.MkAbs("status.stderr"), errb.Bytes(), 0o644))
				if (got == want) == neg {
					ts.Fatalf("exit status %d, want %d\nstderr: %s", got, want, errb.String())
				}
			},
			// twiliofake start | account NAME [test] | secondary NAME |
			// works USER PASSWORD | mutations N | promotions N: a fake
			// Twilio in the test process (see twilioFakeCmd).
			"twiliofake": twilioFakeCmd,
			"bigfiles":   bigFilesCmd,
			"interrupt":  interruptCmd,
			"within":     withinCmd,
			// fingerprint REPORT.json VAR: set VAR to the first finding's
			// fingerprint.
			"fingerprint": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: fingerprint REPORT VAR")
				}
				var doc struct {
					Findings []struct {
						Fingerprint string `json:"fingerprint"`
					} `json:"findings"`
				}
				if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc); err != nil {
					ts.Fatalf("parse %s: %v", args[0], err)
				}
				if len(doc.Findings) == 0 {
					ts.Fatalf("%s has no findings", args[0])
				}
				ts.Setenv(args[1], doc.Findings[0].Fingerprint)
			},
		},
	})
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// randAlnum returns an API-key-secret-like value: 32 letters and digits,
// with at least one digit (as real ones practically always have).
func randAlnum(n int) string {
	const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		digit := false
		for i := range b {
			b[i] = abc[int(b[i])%len(abc)]
			digit = digit || b[i] >= '0' && b[i] <= '9'
		}
		if digit {
			return string(b)
		}
	}
}
