package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/leakstop/leakstop/credential"
	"io"
	"strings"
	"time"

	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/secret"
)

// The JSON report schema, documented in docs/report-schema.md and
// docs/report.schema.json. Version 1 changes only by adding fields;
// readers ignore fields they do not know. A breaking change gets a new
// schema URI and version.
const (
	SchemaURI     = "https://leakstop.dev/schema/report/v1"
	SchemaVersion = 1

	schemaPrefix = "https://leakstop.dev/schema/report/"
)

// ErrNotReport is returned (wrapped) by ReadJSON when the input is JSON but
// not a leakstop report.
var ErrNotReport = errors.New("not a leakstop JSON report")

// Document is a JSON report: the versioned schema.
type Document struct {
	Schema  string  `json:"schema"`
	Version int     `json:"version"`
	Tool    DocTool `json:"tool"`
	Target  string  `json:"target"`
	Root    string  `json:"root"`
	// Scope says what the scan read (added in 1.x).
	Scope    string       `json:"scope,omitempty"`
	Summary  DocSummary   `json:"summary"`
	Stats    DocStats     `json:"stats"`
	Notes    []string     `json:"notes"`
	Findings []DocFinding `json:"findings"`
}

// DocTool names the program that wrote a report.
type DocTool struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	InformationURI string `json:"information_uri"`
}

// DocSummary counts what a report holds.
type DocSummary struct {
	Credentials int `json:"credentials"`
	Locations   int `json:"locations"`
	// PublishedExamples counts the credentials left out as Twilio's
	// published example values (absent: none, or an older report).
	PublishedExamples int `json:"published_examples_ignored,omitempty"`
}

// DocStats counts what a scan read and skipped.
type DocStats struct {
	Files           int64 `json:"files"`
	Bytes           int64 `json:"bytes"`
	SkippedBinary   int64 `json:"skipped_binary"`
	SkippedLarge    int64 `json:"skipped_large"`
	SkippedOther    int64 `json:"skipped_other"`
	SkippedSymlinks int64 `json:"skipped_symlinks"`
	Unreadable      int64 `json:"unreadable"`
	Commits         int64 `json:"commits"`
	Blobs           int64 `json:"blobs"`
	// Added in 1.x: binary content scanned, and the work tree's changes.
	Binary    int64 `json:"binary"`
	Staged    int64 `json:"staged"`
	Modified  int64 `json:"modified"`
	Untracked int64 `json:"untracked"`
}

// DocFinding is one credential and the places it was found.
type DocFinding struct {
	Fingerprint string          `json:"fingerprint"`
	Rule        string          `json:"rule"`
	Description string          `json:"description"`
	Credential  credential.Kind `json:"credential"`
	Identifier  string          `json:"identifier"`
	Account     string          `json:"account"`
	// Secret is the full secret, present only when the report was written
	// with --no-redact (SecretRedacted false). It prints redacted.
	Secret secret.Value `json:"-"`
	// Redacted is the redacted form of the secret, always set.
	Redacted string `json:"-"`
	// SecretRedacted is true when the report holds only the redacted form.
	SecretRedacted bool   `json:"secret_redacted"`
	Confidence     string `json:"confidence"`
	Test           bool   `json:"test"`
	// Level is "note" for Twilio test credentials (they do not fail a
	// scan unless --fail-on-test-credentials) and for a remark that is a
	// notice, else "error".
	Level string `json:"level"`
	// Remark is a front end's word on the finding (Options.Remarks), or "".
	Remark    string        `json:"remark"`
	Locations []DocLocation `json:"locations"`
	// Verification is "live", "dead", "unknown", "unreachable" or "test" when the
	// credential was checked against Twilio (scan --verify), else "".
	// VerifiedAt is when, RFC 3339, or "".
	Verification string `json:"verification"`
	VerifiedAt   string `json:"verified_at"`
}

// docFindingJSON is DocFinding on the wire: "secret" is the full secret or
// its redacted form, as secret_redacted says.
type docFindingJSON struct {
	Fingerprint    string          `json:"fingerprint"`
	Rule           string          `json:"rule"`
	Description    string          `json:"description"`
	Credential     credential.Kind `json:"credential"`
	Identifier     string          `json:"identifier"`
	Account        string          `json:"account"`
	Secret         string          `json:"secret"`
	SecretRedacted bool            `json:"secret_redacted"`
	Confidence     string          `json:"confidence"`
	Test           bool            `json:"test"`
	Level          string          `json:"level,omitempty"`
	Remark         string          `json:"remark,omitempty"`
	Locations      []DocLocation   `json:"locations"`
	Verification   string          `json:"verification"`
	VerifiedAt     string          `json:"verified_at"`
}

// MarshalJSON writes the full secret only when SecretRedacted is false.
func (f DocFinding) MarshalJSON() ([]byte, error) {
	w := docFindingJSON{
		Fingerprint: f.Fingerprint, Rule: f.Rule, Description: f.Description,
		Credential: f.Credential, Identifier: f.Identifier, Account: f.Account,
		SecretRedacted: f.SecretRedacted, Confidence: f.Confidence, Test: f.Test, Level: f.Level, Remark: f.Remark,
		Locations: f.Locations, Verification: f.Verification, VerifiedAt: f.VerifiedAt,
	}
	switch {
	case !f.SecretRedacted:
		w.Secret = f.Secret.Reveal()
	case f.Redacted != "":
		w.Secret = f.Redacted
	default:
		w.Secret = f.Secret.String()
	}
	if w.Locations == nil {
		w.Locations = []DocLocation{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // paths like "<stdin>" stay readable
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads "secret" into Secret only when secret_redacted is
// false; a report without the field is taken as redacted.
func (f *DocFinding) UnmarshalJSON(b []byte) error {
	w := docFindingJSON{SecretRedacted: true}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*f = DocFinding{
		Fingerprint: w.Fingerprint, Rule: w.Rule, Description: w.Description,
		Credential: w.Credential, Identifier: w.Identifier, Account: w.Account,
		SecretRedacted: w.SecretRedacted, Confidence: w.Confidence, Test: w.Test, Level: w.Level, Remark: w.Remark,
		Locations: w.Locations, Verification: w.Verification, VerifiedAt: w.VerifiedAt,
	}
	if w.SecretRedacted {
		f.Redacted = w.Secret
	} else {
		f.Secret = secret.New(w.Secret)
		f.Redacted = secret.Redact(w.Secret)
	}
	return nil
}

// DocLocation is one place a credential was found.
type DocLocation struct {
	Path           string     `json:"path"`
	Line           int        `json:"line"`
	Column         int        `json:"column"`
	EndColumn      int        `json:"end_column"`
	IdentifierPath string     `json:"identifier_path"`
	IdentifierLine int        `json:"identifier_line"`
	Encoding       string     `json:"encoding"`
	Blob           string     `json:"blob"`
	Commit         *DocCommit `json:"commit"`
	// Added in 1.x: byte offset, binary content, and where in a
	// repository ("committed", "staged", "modified", "untracked").
	Offset int64  `json:"offset"`
	Binary bool   `json:"binary"`
	State  string `json:"state"`
}

// DocCommit is the git provenance of a location.
type DocCommit struct {
	Hash    string   `json:"hash"`
	Author  string   `json:"author"`
	Email   string   `json:"email"`
	Date    string   `json:"date"`
	Summary string   `json:"summary"`
	AtTips  []string `json:"at_tips"`
}

// NewDocument builds the JSON document for r.
func NewDocument(r Report, o Options) *Document {
	s := r.Stats
	d := &Document{
		Schema:  SchemaURI,
		Version: SchemaVersion,
		Tool:    DocTool{Name: ToolName, Version: o.ToolVersion, InformationURI: InformationURI},
		Target:  r.Target,
		Root:    o.Root,
		Summary: DocSummary{Credentials: len(r.Findings), Locations: countLocations(r.Findings), PublishedExamples: r.PublishedExamples},
		Stats: DocStats{
			Files: s.Files, Bytes: s.Bytes, SkippedBinary: s.SkippedBinary,
			SkippedLarge: s.SkippedLarge, SkippedOther: s.SkippedOther,
			SkippedSymlinks: s.Symlinks, Unreadable: s.Unreadable,
			Commits: s.Commits, Blobs: s.Blobs,
			Binary: s.Binary, Staged: s.Staged, Modified: s.Modified, Untracked: s.Untracked,
		},
		Scope:    r.Scope,
		Notes:    append([]string{}, r.Notes...),
		Findings: make([]DocFinding, 0, len(r.Findings)),
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		df := DocFinding{
			Fingerprint: f.Fingerprint, Rule: f.RuleID, Description: f.Description,
			Credential: f.Credential, Identifier: f.Identifier, Account: f.Account,
			Redacted: f.Secret.String(), SecretRedacted: !o.NoRedact,
			Confidence: f.Confidence.String(), Test: f.Test, Level: o.level(f), Remark: o.Remarks[f.Fingerprint].Text,
			Locations:    make([]DocLocation, 0, len(f.Locations)),
			Verification: f.Verification,
		}
		if !f.VerifiedAt.IsZero() {
			df.VerifiedAt = f.VerifiedAt.UTC().Format(time.RFC3339)
		}
		if o.NoRedact {
			df.Secret = f.Secret
		}
		for _, l := range f.Locations {
			dl := DocLocation{
				Path: l.Path, Line: l.Line, Column: l.Column, EndColumn: l.EndColumn,
				IdentifierPath: l.IdentifierPath, IdentifierLine: l.IdentifierLine,
				Encoding: l.Encoding, Blob: l.Blob,
				Offset: l.Offset, Binary: l.Binary, State: l.State,
			}
			if c := l.Commit; c != nil {
				dl.Commit = &DocCommit{
					Hash: c.Hash, Author: c.Author, Email: c.Email, Date: c.Date,
					Summary: c.Summary, AtTips: append([]string{}, c.AtTips...),
				}
			}
			df.Locations = append(df.Locations, dl)
		}
		d.Findings = append(d.Findings, df)
	}
	return d
}

func writeJSON(w io.Writer, r Report, o Options) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(NewDocument(r, o))
}

// ReadJSON reads a JSON report written by Write. It fails with an error
// wrapping ErrNotReport when the input is not a leakstop report, and when
// the report's version is newer than this leakstop understands.
func ReadJSON(r io.Reader) (*Document, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, fmt.Errorf("read report: %w (not valid JSON: %v)", ErrNotReport, err)
	}
	// Look at the envelope first, so that other JSON (a SARIF file, say)
	// gets a clear "not a report" instead of a type error deep inside.
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Schema == nil || !strings.HasPrefix(*head.Schema, schemaPrefix) {
		return nil, fmt.Errorf("read report: %w (it has no \"schema\": %q)", ErrNotReport, SchemaURI)
	}
	if *head.Schema != SchemaURI {
		return nil, fmt.Errorf("read report: unsupported report schema %q (this leakstop reads %q)", *head.Schema, SchemaURI)
	}
	var doc Document
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	if doc.Version != SchemaVersion {
		return nil, fmt.Errorf("read report: unsupported report version %d (this leakstop reads version %d)", doc.Version, SchemaVersion)
	}
	for i := range doc.Findings {
		if err := doc.Findings[i].validate(); err != nil {
			return nil, fmt.Errorf("read report: findings[%d]: %w", i, err)
		}
	}
	return &doc, nil
}

func (f *DocFinding) validate() error {
	f.Fingerprint = strings.ToLower(f.Fingerprint)
	if !ValidFingerprint(f.Fingerprint) {
		return fmt.Errorf("fingerprint: want %d lower-case hexadecimal digits", FingerprintLen)
	}
	if _, ok := parseConfidence(f.Confidence); !ok {
		return fmt.Errorf("confidence %q: want high, medium or low", f.Confidence)
	}
	if f.VerifiedAt != "" {
		if _, err := time.Parse(time.RFC3339, f.VerifiedAt); err != nil {
			return fmt.Errorf("verified_at %q: want an RFC 3339 time", f.VerifiedAt)
		}
	}
	for j, l := range f.Locations {
		if l.Line < 0 || l.Column < 0 || l.EndColumn < 0 || l.IdentifierLine < 0 {
			return fmt.Errorf("locations[%d]: negative position", j)
		}
	}
	return nil
}

func parseConfidence(s string) (scanner.Confidence, bool) {
	switch s {
	case "high":
		return scanner.High, true
	case "medium":
		return scanner.Medium, true
	case "low":
		return scanner.Low, true
	}
	return 0, false
}

// ScannerFindings converts the report back into findings. A finding's
// Secret is set only when the report was written unredacted; otherwise it
// is zero and only the fingerprint and identifier identify the credential.
func (d *Document) ScannerFindings() []scanner.Finding {
	out := make([]scanner.Finding, 0, len(d.Findings))
	for _, df := range d.Findings {
		conf, _ := parseConfidence(df.Confidence)
		f := scanner.Finding{
			RuleID: df.Rule, Description: df.Description, Credential: df.Credential,
			Identifier: df.Identifier, Account: df.Account, Fingerprint: df.Fingerprint,
			Confidence: conf, Test: df.Test,
			Locations:    make([]scanner.Location, 0, len(df.Locations)),
			Verification: df.Verification,
		}
		if t, err := time.Parse(time.RFC3339, df.VerifiedAt); err == nil {
			f.VerifiedAt = t
		}
		if !df.SecretRedacted {
			f.Secret = df.Secret
		}
		for _, l := range df.Locations {
			loc := scanner.Location{
				Path: l.Path, Line: l.Line, Column: l.Column, EndColumn: l.EndColumn,
				IdentifierPath: l.IdentifierPath, IdentifierLine: l.IdentifierLine,
				Encoding: l.Encoding, Blob: l.Blob,
				Offset: l.Offset, Binary: l.Binary, State: l.State,
			}
			if c := l.Commit; c != nil {
				loc.Commit = &scanner.Commit{
					Hash: c.Hash, Author: c.Author, Email: c.Email, Date: c.Date,
					Summary: c.Summary, AtTips: append([]string(nil), c.AtTips...),
				}
			}
			f.Locations = append(f.Locations, loc)
		}
		out = append(out, f)
	}
	return out
}

// FingerprintLen is the length of a finding's fingerprint in hexadecimal
// digits, as scanner.Fingerprint makes them.
var FingerprintLen = len(scanner.Fingerprint("", "", ""))

// ValidFingerprint reports whether s is a fingerprint as leakstop prints
// them: FingerprintLen lower-case hexadecimal digits.
func ValidFingerprint(s string) bool {
	if len(s) != FingerprintLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// levelOf is "note" for Twilio test credentials, "error" for the rest.
func levelOf(f *scanner.Finding) string {
	if f.IsTestCredential() {
		return "note"
	}
	return "error"
}
