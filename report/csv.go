package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"
)

// csvHeader is the CSV report's first row; each further row is one
// location of one credential.
var csvHeader = []string{
	"fingerprint", "rule", "credential", "identifier", "secret", "confidence", "test",
	"path", "line", "column", "commit", "author", "date", "verification", "verified_at",
}

func writeCSV(w io.Writer, r Report, o Options) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		for _, l := range f.Locations {
			var commit, author, date, verifiedAt string
			if l.Commit != nil {
				commit, author, date = l.Commit.Hash, l.Commit.Author, l.Commit.Date
			}
			if !f.VerifiedAt.IsZero() {
				verifiedAt = f.VerifiedAt.UTC().Format(time.RFC3339)
			}
			row := []string{
				f.Fingerprint, f.RuleID, string(f.Credential), f.Identifier, secretText(f, o.NoRedact),
				f.Confidence.String(), strconv.FormatBool(f.Test),
				l.Path, strconv.Itoa(l.Line), strconv.Itoa(l.Column), commit, author, date,
				f.Verification, verifiedAt,
			}
			for j := range row {
				row[j] = csvSafe(row[j])
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses formula injection: a spreadsheet runs a cell that starts
// with = + - @ (or a tab or carriage return, which some strip first) as a
// formula, so such a cell gets a leading single quote.
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
