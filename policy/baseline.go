package policy

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

// Baseline is a set of known findings, read from an earlier JSON report
// (--baseline REPORT.json), so that only new credentials are reported.
// Findings match by fingerprint: a known credential found in a new place
// is still known.
type Baseline struct {
	// Path is the report the baseline came from.
	Path string
	// Document is the report itself.
	Document *report.Document
	known    map[string]bool
}

// LoadBaseline reads the JSON report at path as a baseline. A file that is
// not a leakstop JSON report is an error wrapping report.ErrNotReport.
func LoadBaseline(path string) (*Baseline, error) {
	if err := CheckRegular("baseline", path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	defer f.Close()
	doc, err := report.ReadJSON(f)
	if errors.Is(err, report.ErrNotReport) {
		return nil, fmt.Errorf("baseline %s: %w; write one with --format json", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	b := NewBaseline(doc)
	b.Path = path
	return b, nil
}

// NewBaseline makes a baseline of the findings in doc.
func NewBaseline(doc *report.Document) *Baseline {
	b := &Baseline{Document: doc, known: map[string]bool{}}
	if doc != nil {
		for _, f := range doc.Findings {
			b.known[strings.ToLower(f.Fingerprint)] = true
		}
	}
	return b
}

// Len is the number of known fingerprints.
func (b *Baseline) Len() int {
	if b == nil {
		return 0
	}
	return len(b.known)
}

// Has reports whether fingerprint fp is in the baseline.
func (b *Baseline) Has(fp string) bool {
	return b != nil && b.known[strings.ToLower(fp)]
}

// Filter splits findings into new ones and those already in the baseline,
// keeping their order. A nil Baseline knows nothing.
func (b *Baseline) Filter(findings []scanner.Finding) (fresh, known []scanner.Finding) {
	for _, f := range findings {
		if b.Has(f.Fingerprint) {
			known = append(known, f)
		} else {
			fresh = append(fresh, f)
		}
	}
	return fresh, known
}
