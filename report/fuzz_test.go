package report

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/leakstop/leakstop/scanner"
)

// Seeds are generated at run time: no credential-shaped literal is stored.

func FuzzReadJSON(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input it finds, which is
	// slow for a full multi-kilobyte report.
	fx := newFixture(81)
	one := fx.authToken(loc("a", 2))
	one.Locations[0].Commit = gitCommit("main")
	for _, o := range []Options{{}, {NoRedact: true}} {
		b, err := json.Marshal(NewDocument(Report{Findings: []scanner.Finding{one}}, o))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"schema": "` + SchemaURI + `", "version": 1, "findings": [{"locations": [{"commit": {}}]}]}`))
	f.Add([]byte(`{"schema": "` + SchemaURI + `", "version": 1, "findings": null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		fs := doc.ScannerFindings()
		if len(fs) != len(doc.Findings) {
			t.Fatal("findings lost")
		}
		// A report that reads writes again, and reads back the same.
		var b bytes.Buffer
		if err := json.NewEncoder(&b).Encode(doc); err != nil {
			t.Fatal(err)
		}
		doc2, err := ReadJSON(&b)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(doc2.Findings) != len(doc.Findings) {
			t.Fatal("findings lost on re-read")
		}
		for _, f := range Formats() {
			if err := Write(&bytes.Buffer{}, f, Report{Findings: fs, Notes: doc.Notes}, Options{}); err != nil {
				t.Fatalf("write %s: %v", f, err)
			}
		}
	})
}

// FuzzSafeText: whatever a file name holds, text output of it is one line
// of printable characters.
func FuzzSafeText(f *testing.F) {
	for _, n := range hostileNames {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{safePath(s), safeText(s)} {
			if !utf8.ValidString(out) || !printable(out) {
				t.Fatalf("%q escaped to unprintable %q", s, out)
			}
		}
		if q := safePath(s); q != s && q[0] != '"' {
			t.Fatalf("%q changed without quoting: %q", s, q)
		}
	})
}
