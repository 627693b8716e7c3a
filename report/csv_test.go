package report

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/scanner"
)

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, s)
	}
	return rows
}

func TestCSV(t *testing.T) {
	fx := newFixture(51)
	r := sampleReport(fx)
	rows := readCSV(t, render(t, CSV, r, Options{}))
	if !slices.Equal(rows[0], csvHeader) {
		t.Errorf("header %v", rows[0])
	}
	if len(rows) != 1+countLocations(r.Findings) {
		t.Fatalf("%d rows, want header + one per location", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	a := r.Findings[0]
	c := a.Locations[1].Commit
	row := rows[2]
	for name, want := range map[string]string{
		"fingerprint": a.Fingerprint, "rule": a.RuleID, "credential": "auth-token", "identifier": a.Identifier,
		"secret": a.Secret.String(), "confidence": "high", "test": "false", "path": "deploy/app.yaml",
		"line": "12", "column": "19", "commit": c.Hash, "author": c.Author, "date": c.Date,
	} {
		if got := row[col[name]]; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if rows[1][col["commit"]] != "" || rows[4][col["test"]] != "true" {
		t.Errorf("rows %v / %v", rows[1], rows[4])
	}
	full := readCSV(t, render(t, CSV, r, Options{NoRedact: true}))
	if full[1][col["secret"]] != a.Secret.Reveal() {
		t.Error("NoRedact: full secret not in the secret column")
	}
}

func TestCSVInjection(t *testing.T) {
	fx := newFixture(52)
	evil := []string{"=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"}
	var fs []scanner.Finding
	for _, e := range evil {
		f := fx.authToken(loc(e, 2))
		f.Locations[0].Commit = &scanner.Commit{Hash: e, Author: e, Date: e}
		f.RuleID = e
		fs = append(fs, f)
	}
	// A newline in a name stays inside its quoted cell.
	fs = append(fs, fx.authToken(loc("two\nlines.env", 2)))
	rows := readCSV(t, render(t, CSV, Report{Findings: fs}, Options{}))
	if len(rows) != 1+len(fs) {
		t.Fatalf("%d rows, want %d", len(rows), 1+len(fs))
	}
	for _, row := range rows[1 : 1+len(evil)] {
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("column %s: cell %q would run as a formula", csvHeader[i], cell)
			}
		}
		if !strings.HasPrefix(row[7], "'") {
			t.Errorf("path cell %q not defused", row[7])
		}
	}
	if got := rows[len(rows)-1][7]; got != "two\nlines.env" {
		t.Errorf("newline path cell %q", got)
	}
	for in, want := range map[string]string{"": "", "a=b": "a=b", "=x": "'=x", "-": "'-", "0-1": "0-1"} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
