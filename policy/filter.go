package policy

import (
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

// Filtered is what Filter keeps and leaves out.
type Filtered struct {
	// Findings are those to report.
	Findings []scanner.Finding
	// Published are Twilio's published example credentials (the rules'
	// [published_examples]), known not to be live; Ignored are listed in
	// the ignore file in force; Known are in the baseline.
	Published, Ignored, Known []scanner.Finding
	// Pending maps the fingerprint of a reported finding that a
	// proposal's own configuration (its ignore file, an inline allow it
	// adds) would silence to the note saying so; PendingNotes lists the
	// notes in use, in order.
	Pending      map[string]string
	PendingNotes []string
}

// PendingNote says why a finding that a proposal's own ignore file lists
// is still reported.
func PendingNote(noun string) string {
	return "allowed by a " + report.IgnoreFileName + " entry that this " + noun +
		" adds: it takes effect once a maintainer merges it"
}

// InlineAllowNote says why a finding on a line a proposal allows inline
// is still reported.
func InlineAllowNote(noun string) string {
	return "allowed by an inline " + scanner.AllowComment + " that this " + noun +
		" adds: it takes effect once a maintainer merges it"
}

// Filter applies the ignore file, then the baseline, to findings, and
// for a proposal marks those its own configuration would silence:
// inlineAdded holds the fingerprints InlineAllowed reported for a
// proposal's own allow alone.
func (p *Policy) Filter(findings []scanner.Finding, inlineAdded map[string]bool) Filtered {
	var r Filtered
	findings, r.Published = p.filterPublished(findings)
	r.Findings, r.Ignored = p.Ignore.Filter(findings)
	if p.Baseline != nil {
		r.Findings, r.Known = p.Baseline.Filter(r.Findings)
	}
	r.Pending = map[string]string{}
	if p.proposal == nil {
		return r
	}
	noun := p.proposal.Noun
	if p.proposed != nil {
		for _, f := range r.Findings {
			if p.proposed.Has(f.Fingerprint) {
				r.Pending[f.Fingerprint] = PendingNote(noun)
			}
		}
		if len(r.Pending) > 0 {
			r.PendingNotes = append(r.PendingNotes, PendingNote(noun))
		}
	}
	inline := 0
	for _, f := range r.Findings {
		if inlineAdded[f.Fingerprint] && r.Pending[f.Fingerprint] == "" {
			r.Pending[f.Fingerprint] = InlineAllowNote(noun)
			inline++
		}
	}
	if inline > 0 {
		r.PendingNotes = append(r.PendingNotes, InlineAllowNote(noun))
	}
	return r
}

// filterPublished leaves out the findings whose secret is a published
// example credential.
func (p *Policy) filterPublished(findings []scanner.Finding) (kept, published []scanner.Finding) {
	if p.Rules == nil || len(p.Rules.Published) == 0 {
		return findings, nil
	}
	for _, f := range findings {
		if p.Rules.IsPublishedExample(f.Secret.Reveal()) {
			published = append(published, f)
			continue
		}
		kept = append(kept, f)
	}
	return kept, published
}

// PendingCount is the number of findings marked with note.
func (r Filtered) PendingCount(note string) int {
	n := 0
	for _, v := range r.Pending {
		if v == note {
			n++
		}
	}
	return n
}
