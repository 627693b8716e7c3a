package policy

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

func TestBaseline(t *testing.T) {
	fx := newFixture(71)
	old := sampleReport(fx)
	p := writeFile(t, "baseline.json", render(t, report.JSON, old, report.Options{}))
	b, err := LoadBaseline(p)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != len(old.Findings) || b.Path != p || b.Document == nil {
		t.Fatalf("baseline: %d known, path %q", b.Len(), b.Path)
	}
	// The known credentials found again — one in a new place, lines moved
	// — plus a new one.
	again := old.Findings[0]
	again.Locations = []scanner.Location{loc("moved/elsewhere.env", 99)}
	fresh := fx.apiKey(loc("new.env", 2))
	now := []scanner.Finding{fresh, again, old.Findings[2]}
	gotNew, gotKnown := b.Filter(now)
	if len(gotNew) != 1 || gotNew[0].Fingerprint != fresh.Fingerprint {
		t.Errorf("new: %d findings", len(gotNew))
	}
	if len(gotKnown) != 2 || gotKnown[0].Fingerprint != again.Fingerprint {
		t.Errorf("known: %d findings", len(gotKnown))
	}
	var none *Baseline
	if n, k := none.Filter(now); len(n) != 3 || len(k) != 0 {
		t.Error("nil baseline filtered")
	}
}

func TestBaselineErrors(t *testing.T) {
	fx := newFixture(72)
	r := sampleReport(fx)
	for _, c := range []struct {
		name, content string
	}{
		{"sarif", render(t, report.SARIF, r, report.Options{})},
		{"csv", render(t, report.CSV, r, report.Options{})},
		{"text", render(t, report.Text, r, report.Options{})},
		{"other json", `{"results": []}`},
		{"empty", ""},
	} {
		p := writeFile(t, "report."+c.name, c.content)
		_, err := LoadBaseline(p)
		if !errors.Is(err, report.ErrNotReport) {
			t.Errorf("%s: error %v, want ErrNotReport", c.name, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, p) || !strings.Contains(msg, "not a leakstop JSON report") || !strings.Contains(msg, "--format json") {
			t.Errorf("%s: unclear error %q", c.name, msg)
		}
		for _, s := range secretsOf(r) {
			if strings.Contains(msg, s) {
				t.Errorf("%s: error reveals a secret", c.name)
			}
		}
	}
	if _, err := LoadBaseline(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("missing baseline: %v", err)
	}
	p := writeFile(t, "v9.json", `{"schema": "`+report.SchemaURI+`", "version": 9}`)
	if _, err := LoadBaseline(p); err == nil || errors.Is(err, report.ErrNotReport) || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("future version: %v", err)
	}
}
