package scanner

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"github.com/leakstop/leakstop/credential"
	"slices"
	"time"

	"github.com/leakstop/leakstop/secret"
)

// Confidence ranks how sure a finding is.
type Confidence int

const (
	// Low: a secret under a Twilio-specific name with no identifier found.
	Low Confidence = iota + 1
	// Medium: paired by proximity (a bare value near a SID) or across files.
	Medium
	// High: a secret matched with its context (a key name) and paired with
	// an identifier in the same file.
	High
)

func (c Confidence) String() string {
	switch c {
	case High:
		return "high"
	case Medium:
		return "medium"
	case Low:
		return "low"
	}
	return "unknown"
}

// MarshalText writes the name.
func (c Confidence) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads the name.
func (c *Confidence) UnmarshalText(b []byte) error {
	switch string(b) {
	case "high":
		*c = High
	case "medium":
		*c = Medium
	default:
		*c = Low
	}
	return nil
}

// Finding is one credential, found in one or more places.
type Finding struct {
	// RuleID is the pair that matched, or the secret rule when unpaired.
	RuleID      string
	Description string
	// Credential is the kind: "auth-token" or "api-key".
	Credential credential.Kind
	// Identifier is the SID (AC… or SK…); empty when unpaired.
	Identifier string
	// Account is, for an API key, an Account SID found with it, if any.
	Account string
	// Secret is the token or key secret. It prints redacted.
	Secret      secret.Value
	Fingerprint string
	Confidence  Confidence
	// Test is true when the credential looks like Twilio test credentials.
	Test      bool
	Locations []Location
	// Verification is what Twilio said of the credential when it was
	// checked (scan --verify): "live", "dead", "unknown" or "test"; empty
	// when it was not checked. VerifiedAt is when.
	Verification string
	VerifiedAt   time.Time
}

// IsTestCredential reports whether f is Twilio test credentials: named so
// where it was found, or so answered by Twilio (403, error 20008). Those
// are reported as notes and do not fail a scan unless asked to.
func (f *Finding) IsTestCredential() bool { return f.Test || f.Verification == "test" }

// Location is one place a credential was found.
type Location struct {
	Path string
	// Line and Column (1-based, bytes) locate the secret; EndColumn is one
	// past its last byte.
	Line, Column, EndColumn int
	// IdentifierPath and IdentifierLine locate the identifier it was
	// paired with.
	IdentifierPath string
	IdentifierLine int
	// Offset is the byte offset of the secret (of its encoded form) in
	// the file or blob.
	Offset int64
	// Binary is true when the secret is in a printable run of binary
	// content (a database, a compiled file): Offset locates it; Line
	// counts newline bytes and means little.
	Binary bool
	// Encoding is how the secret was hidden: "", "base64", "url", "json".
	Encoding string
	// State is, in a repository, where the content is: "committed" (in
	// history), "staged" (in the index, not committed), "modified"
	// (changed in the work tree, not staged) or "untracked" (a new
	// file, not ignored). Empty outside a repository.
	State string
	// Commit is set by git sources.
	Commit *Commit
	// Blob is the git blob id holding the content, when known.
	Blob string
}

// Commit is the provenance of a location in git history.
type Commit struct {
	Hash    string
	Author  string
	Email   string
	Date    string // RFC 3339
	Summary string
	// AtTips lists the branch tips where the content is still present.
	AtTips []string
}

// Fingerprint hashes a credential's content: stable when lines move, and
// the same wherever the credential is found. The secret's 128 bits of
// entropy make the unkeyed hash safe to print. It is 40 hex digits, not 32, so
// that a report listing fingerprints beside SIDs does not itself look like
// a SID and an Auth Token.
func Fingerprint(rule, identifier, secretValue string) string {
	h := sha256.New()
	h.Write([]byte("leakstop-fingerprint-v1\x00"))
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write([]byte(identifier))
	h.Write([]byte{0})
	h.Write([]byte(secretValue))
	return hex.EncodeToString(h.Sum(nil)[:20])
}

// Collector merges findings from many fragments: one credential found in N
// places is one Finding with N locations.
type Collector struct {
	byFP  map[string]*Finding
	order []string
}

// NewCollector returns an empty Collector.
func NewCollector() *Collector { return &Collector{byFP: map[string]*Finding{}} }

// Add merges f.
func (c *Collector) Add(fs ...Finding) {
	for _, f := range fs {
		have, ok := c.byFP[f.Fingerprint]
		if !ok {
			cp := f
			cp.Locations = slices.Clone(f.Locations)
			c.byFP[f.Fingerprint] = &cp
			c.order = append(c.order, f.Fingerprint)
			continue
		}
		if f.Confidence > have.Confidence {
			have.Confidence = f.Confidence
		}
		have.Test = have.Test || f.Test
		if have.Account == "" {
			have.Account = f.Account
		}
		have.Locations = append(have.Locations, f.Locations...)
	}
}

// Findings returns the merged findings with duplicate locations removed,
// in a deterministic order: by first location.
func (c *Collector) Findings() []Finding {
	out := make([]Finding, 0, len(c.byFP))
	for _, fp := range c.order {
		f := *c.byFP[fp]
		slices.SortFunc(f.Locations, compareLocation)
		f.Locations = slices.CompactFunc(f.Locations, func(a, b Location) bool { return compareLocation(a, b) == 0 })
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Finding) int {
		if c := compareLocation(a.Locations[0], b.Locations[0]); c != 0 {
			return c
		}
		return cmp.Compare(a.Fingerprint, b.Fingerprint)
	})
	return out
}

func compareLocation(a, b Location) int {
	ac, bc := "", ""
	if a.Commit != nil {
		ac = a.Commit.Hash
	}
	if b.Commit != nil {
		bc = b.Commit.Hash
	}
	return cmp.Or(
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column),
		cmp.Compare(ac, bc),
		cmp.Compare(a.Encoding, b.Encoding),
		cmp.Compare(a.State, b.State),
		cmp.Compare(a.Offset, b.Offset),
	)
}

// The states of a location in a repository (Location.State).
const (
	StateCommitted = "committed"
	StateStaged    = "staged"
	StateModified  = "modified"
	StateUntracked = "untracked"
)
