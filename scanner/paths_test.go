//go:build unix

package scanner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestPathsSource: the named files are one snapshot (an identifier in one
// pairs with a secret in another), files not named are not read, and a
// name that is missing or not a regular file is an error, not a skip.
func TestPathsSource(t *testing.T) {
	d := defaultDetector(t)
	sid, token := newCreds(t, 91).pair()
	root := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("conf/sid.env", "TWILIO_ACCOUNT_SID="+sid+"\n")
	write("conf/token.env", "TWILIO_AUTH_TOKEN="+token+"\n")
	write("other/leak.env", envFile(sid, token, 0))
	ctx := context.Background()

	res, err := Collect(ctx, d, PathsSource{Root: root, Paths: []string{"conf/sid.env", "conf/token.env"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Identifier != sid {
		t.Fatalf("findings = %v, want the pair across the two files", where(res))
	}
	if got := where(res); len(got) != 1 || !strings.Contains(got[0], " conf/token.env:1:") {
		t.Fatalf("locations = %v, want conf/token.env:1", got)
	}
	if res.Stats.Files != 2 {
		t.Fatalf("files = %d, want 2", res.Stats.Files)
	}

	// Only what is named is read.
	res, err = Collect(ctx, d, PathsSource{Root: root, Paths: []string{"conf/sid.env"}})
	if err != nil || len(res.Findings) != 0 {
		t.Fatalf("sid alone: %v, %v", where(res), err)
	}

	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"missing.env", "conf", "fifo"} {
		_, err := Collect(ctx, d, PathsSource{Root: root, Paths: []string{"conf/sid.env", bad}})
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: err = %v, want an error naming it", bad, err)
		}
	}
}
