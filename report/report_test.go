package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseFormat(t *testing.T) {
	for _, f := range Formats() {
		got, err := ParseFormat(strings.ToUpper(string(f)))
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "sarif") {
		t.Errorf("ParseFormat(xml) error = %v, want one listing the formats", err)
	}
	if err := Write(&bytes.Buffer{}, Format("xml"), Report{}, Options{}); err == nil {
		t.Error("Write accepted an unknown format")
	}
}

// TestRedactionEveryFormat: without NoRedact no format holds a full secret;
// with it text, JSON and CSV do, and SARIF still does not.
func TestRedactionEveryFormat(t *testing.T) {
	fx := newFixture(11)
	r := sampleReport(fx)
	for _, f := range Formats() {
		for _, noRedact := range []bool{false, true} {
			out := render(t, f, r, Options{NoRedact: noRedact, ToolVersion: "1.0.0"})
			for i, s := range secretsOf(r) {
				full := strings.Contains(out, s)
				want := noRedact && f != SARIF
				if full != want {
					t.Errorf("%s NoRedact=%v: finding %d full secret present=%v, want %v", f, noRedact, i, full, want)
				}
				if red := r.Findings[i].Secret.String(); !noRedact && !strings.Contains(out, red) {
					t.Errorf("%s: finding %d: redacted form %q missing", f, i, red)
				}
				// Identifiers are not secrets: always in full.
				if id := r.Findings[i].Identifier; id != "" && !strings.Contains(out, id) {
					t.Errorf("%s: finding %d: identifier missing", f, i)
				}
			}
		}
	}
}

func TestEmptyReportEveryFormat(t *testing.T) {
	for _, f := range Formats() {
		out := render(t, f, Report{}, Options{})
		if out == "" {
			t.Errorf("%s: empty output for an empty report", f)
		}
	}
}

func TestWriteError(t *testing.T) {
	r := sampleReport(newFixture(12))
	for _, f := range Formats() {
		if err := Write(failWriter{}, f, r, Options{}); err == nil {
			t.Errorf("%s: write error not returned", f)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errTestWrite }

var errTestWrite = &writeErr{}

type writeErr struct{}

func (*writeErr) Error() string { return "disk full" }
