package policy

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

func FuzzParseIgnore(f *testing.F) {
	fp := scanner.Fingerprint("r", "i", randomHex(16))
	f.Add(fp + "  # comment\n\n# full line\n")
	f.Add(strings.ToUpper(fp) + "#x\r\n" + fp[:10])
	f.Add("\xef\xbb\xbf" + fp)
	f.Add("not a fingerprint\n")
	f.Fuzz(func(t *testing.T, content string) {
		ig, err := ParseIgnore(strings.NewReader(content), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, e := range ig.Entries() {
			if !report.ValidFingerprint(e.Fingerprint) || !ig.Has(e.Fingerprint) || e.Line < 1 {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}

// FuzzBaseline: whatever JSON report is read, a baseline of it filters
// findings without failing (was part of report's FuzzReadJSON).
func FuzzBaseline(f *testing.F) {
	fx := newFixture(82)
	one := fx.authToken(loc("a", 2))
	b, err := json.Marshal(report.NewDocument(report.Report{Findings: []scanner.Finding{one}}, report.Options{}))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"schema": "` + report.SchemaURI + `", "version": 1, "findings": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := report.ReadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		fs := doc.ScannerFindings()
		fresh, known := NewBaseline(doc).Filter(fs)
		if len(fresh)+len(known) != len(fs) {
			t.Fatal("findings lost")
		}
	})
}
