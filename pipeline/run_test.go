package pipeline

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/policy"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestRunSources: stdin and files give the same findings for the same
// content; the ignore file filters; the report is written, to a file
// atomically and readable by its owner only; git options on a directory
// that is not a repository are an error, not a files scan.
func TestRunSources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sid, tok := "AC"+randHex(t, 16), randHex(t, 16)
	sid2, tok2 := "AC"+randHex(t, 16), randHex(t, 16)
	content := "TWILIO_ACCOUNT_SID=" + sid + "\nTWILIO_AUTH_TOKEN=" + tok + "\n"
	if err := os.WriteFile(filepath.Join(dir, "a.env"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.env"), []byte("TWILIO_ACCOUNT_SID="+sid2+"\nTWILIO_AUTH_TOKEN="+tok2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ignored := scanner.Fingerprint("twilio-auth-token", sid2, tok2)
	if err := os.WriteFile(filepath.Join(dir, report.IgnoreFileName), []byte(ignored+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report.json")
	files, err := Run(ctx, Options{Source: Source{Kind: SourceFiles, Path: dir}, Policy: policy.Options{Dir: dir},
		Reports: []Output{{Format: report.JSON, Path: out}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(files.Findings) != 1 || len(files.Ignored) != 1 || files.Ignored[0].Fingerprint != ignored {
		t.Fatalf("files: %d findings, %d ignored", len(files.Findings), len(files.Ignored))
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("report file: %v", err)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), files.Findings[0].Fingerprint) || strings.Contains(string(b), tok) {
		t.Error("the report lacks the finding, or holds its secret")
	}

	var w bytes.Buffer
	stdin, err := Run(ctx, Options{Source: Source{Kind: SourceStdin, Stdin: strings.NewReader(content)}, Policy: policy.Options{Dir: dir},
		Reports: []Output{{Format: report.Text, W: &w}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(stdin.Findings) != 1 || stdin.Findings[0].Fingerprint != files.Findings[0].Fingerprint || !strings.Contains(w.String(), sid) {
		t.Fatalf("stdin: %d findings", len(stdin.Findings))
	}
	if stdin.Findings[0].Locations[0].Path != "stdin" {
		t.Errorf("stdin is named %q", stdin.Findings[0].Locations[0].Path)
	}

	_, err = Run(ctx, Options{Source: Source{Path: dir, Git: scanner.GitOptions{Branch: "main"}}, Policy: policy.Options{Dir: dir}})
	if err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("git options on a directory: %v", err)
	}
	if _, err := Run(ctx, Options{Source: Source{Kind: SourceNothing}, Policy: policy.Options{Dir: dir}}); err != nil {
		t.Errorf("nothing: %v", err)
	}
	// A broken ignore file stops the run: nothing is reported as clean.
	if err := os.WriteFile(filepath.Join(dir, report.IgnoreFileName), []byte("nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, Options{Source: Source{Kind: SourceFiles, Path: dir}, Policy: policy.Options{Dir: dir}}); err == nil {
		t.Error("a broken ignore file was not an error")
	}
}
