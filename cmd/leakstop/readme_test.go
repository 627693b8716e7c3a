package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The rules files in the README's Rules section pass "leakstop rules
// test" as written: a user copying one gets a working start.
func TestREADMERulesExamples(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## Rules\n")
	if start < 0 {
		t.Fatal("README.md has no ## Rules section")
	}
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) == 0 {
		t.Fatal("the Rules section has no ```toml block")
	}
	if !strings.Contains(section, "Every rule needs at least one example") {
		t.Error("the Rules section does not say that examples are required")
	}
	dir := t.TempDir()
	for i, b := range blocks {
		path := filepath.Join(dir, "readme"+strconv.Itoa(i)+".toml")
		if err := os.WriteFile(path, []byte(b[1]), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"rules", "test", path}, &stdio{out: &out, err: &errb})
		if code != exitClean || !strings.HasPrefix(out.String(), "ok: ") {
			t.Errorf("README rules block %d: leakstop rules test exit %d\n%s%s\n--- block:\n%s", i+1, code, out.String(), errb.String(), b[1])
		}
	}
}
