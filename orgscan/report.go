package orgscan

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/leakstop/leakstop/credential"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// ReportSchema names the JSON form of an OrgReport; Version changes only
// when a field is removed or changes meaning (fields may be added).
const (
	ReportSchema  = "leakstop-org-report"
	ReportVersion = 1
)

// OrgReport is a round's report on the whole organisation: every
// credential still reachable from the refs of a listed repository —
// found this round or in an earlier one — with every repository and
// location, and every listed repository that could not be scanned.
//
// JSON (WriteJSON) field names are stable: see the struct tags.
type OrgReport struct {
	Schema  string      `json:"schema"`
	Version int         `json:"version"`
	Round   RoundInfo   `json:"round"`
	Summary OrgSummary  `json:"summary"`
	Creds   []OrgCred   `json:"credentials"`
	Failed  []RepoFail  `json:"failed_repositories"`
	Repos   []RepoState `json:"repositories"`
}

// OrgSummary counts what a report holds.
type OrgSummary struct {
	Repositories int `json:"repositories"`
	// ScannedThisRound read the mirror this round (full, incremental,
	// unchanged tips or empty); the others were unchanged since an earlier
	// round or failed.
	ScannedThisRound int   `json:"scanned_this_round"`
	Failed           int   `json:"failed"`
	Credentials      int   `json:"credentials"`
	New              int   `json:"new"`
	Test             int   `json:"test_credentials"`
	Locations        int   `json:"locations"`
	BlobsRead        int64 `json:"blobs_read"`
	BytesRead        int64 `json:"bytes_read"`
	BlobsKnownClean  int64 `json:"blobs_known_clean"`
}

// OrgCred is one credential across the organisation.
type OrgCred struct {
	// Fingerprint is the credential's keyed id (CredentialID): stable for
	// one state database, and not checkable against a guessed secret.
	Fingerprint string          `json:"fingerprint"`
	Kind        credential.Kind `json:"credential"`
	Rule        string          `json:"rule"`
	Identifier  string          `json:"identifier"`
	Account     string          `json:"account"`
	// Secret is always the redacted form: the state holds no more.
	Secret     string    `json:"secret"`
	Confidence string    `json:"confidence"`
	Test       bool      `json:"test"`
	FirstSeen  time.Time `json:"first_seen"`
	FirstRound string    `json:"first_round"`
	LastSeen   time.Time `json:"last_seen"`
	// New is true when the credential was first seen this round.
	New          bool       `json:"new"`
	Repositories []CredRepo `json:"repositories"`
}

// CredRepo is one repository holding a credential.
type CredRepo struct {
	ID        int64          `json:"id"`
	FullName  string         `json:"full_name"`
	Locations []CredLocation `json:"locations"`
}

// CredLocation is one place of a credential in a repository's history.
type CredLocation struct {
	Path           string   `json:"path"`
	Line           int      `json:"line"`
	Column         int      `json:"column"`
	EndColumn      int      `json:"end_column"`
	Encoding       string   `json:"encoding,omitempty"`
	Binary         bool     `json:"binary,omitempty"`
	Offset         int64    `json:"offset,omitempty"`
	IdentifierPath string   `json:"identifier_path,omitempty"`
	IdentifierLine int      `json:"identifier_line,omitempty"`
	Commit         string   `json:"commit"`
	Author         string   `json:"author"`
	Date           string   `json:"date"`
	Summary        string   `json:"summary"`
	Blob           string   `json:"blob"`
	AtTips         []string `json:"at_tips"`
	FirstRound     string   `json:"first_round"`
}

// RepoFail is a listed repository that could not be scanned.
type RepoFail struct {
	ID       int64     `json:"id"`
	FullName string    `json:"full_name"`
	Reason   string    `json:"reason"`
	Round    string    `json:"round"`
	At       time.Time `json:"at,omitzero"`
}

// RepoState is a listed repository's last scan.
type RepoState struct {
	ID       int64  `json:"id"`
	FullName string `json:"full_name"`
	// Status is "ok" or "failed" ("never scanned" repositories are failed).
	Status           string    `json:"status"`
	ScannedThisRound bool      `json:"scanned_this_round"`
	ScannedAt        time.Time `json:"scanned_at,omitzero"`
	Mode             string    `json:"mode"`
	Reason           string    `json:"reason"`
	Stats            ScanStats `json:"stats"`
	Credentials      int       `json:"credentials"`
	Error            string    `json:"error,omitempty"`
}

// ExitCode is the org scan's exit status: 2 if a repository could not be
// scanned, else 1 if any credential other than Twilio test credentials
// is reachable, else 0.
func (r *OrgReport) ExitCode() int {
	switch {
	case len(r.Failed) > 0:
		return 2
	case r.Summary.Credentials > r.Summary.Test:
		return 1
	}
	return 0
}

// Report builds the round's report from the state for the repositories
// listed this round (repos), and marks the credentials it reports as
// last seen this round. Repositories no longer listed (deleted, moved
// out of the organisations) and their credentials are left out. A listed
// repository whose last scan failed, or that was never scanned, is a
// failure.
func Report(ctx context.Context, st state.Store, repos []Repo, round RoundInfo) (*OrgReport, error) {
	out := &OrgReport{Schema: ReportSchema, Version: ReportVersion, Round: round, Creds: []OrgCred{}, Failed: []RepoFail{}, Repos: []RepoState{}}
	listed := map[int64]Repo{}
	for _, r := range repos {
		listed[r.ID] = r
	}
	byID := map[string]*OrgCred{}
	byRepoID := slices.Clone(repos)
	slices.SortFunc(byRepoID, func(a, b Repo) int { return cmp.Compare(a.ID, b.ID) })
	err := st.Tx(ctx, func(tx state.Tx) error {
		// Rows are written in id order, as every writer does, so that
		// concurrent transactions cannot deadlock.
		for _, r := range byRepoID {
			if err := touchRepo(ctx, tx, r, round.At); err != nil {
				return err
			}
		}
		rows, err := allRepos(ctx, tx)
		if err != nil {
			return err
		}
		if err := readCreds(ctx, tx, listed, byID); err != nil {
			return err
		}
		perRepo := map[int64]int{}
		for _, c := range byID {
			for _, cr := range c.Repositories {
				perRepo[cr.ID]++
			}
		}
		for _, r := range repos {
			row := rows[r.ID]
			rs := RepoState{
				ID: r.ID, FullName: r.FullName, Status: "ok", ScannedThisRound: row.ScannedRound == round.ID && row.scannedSuccessfully,
				ScannedAt: row.ScannedAt, Mode: row.Mode, Reason: row.Reason, Stats: row.Stats, Credentials: perRepo[r.ID],
			}
			switch {
			case row.Error != "":
				rs.Status, rs.Error = "failed", row.Error
				out.Failed = append(out.Failed, RepoFail{ID: r.ID, FullName: r.FullName, Reason: row.Error, Round: row.ErrorRound, At: row.ErrorAt})
			case !row.scannedSuccessfully:
				rs.Status, rs.Error = "failed", "not scanned"
				out.Failed = append(out.Failed, RepoFail{ID: r.ID, FullName: r.FullName, Reason: "not scanned", Round: round.ID})
			}
			if rs.ScannedThisRound {
				out.Summary.ScannedThisRound++
				out.Summary.BlobsRead += row.Stats.Blobs
				out.Summary.BytesRead += row.Stats.Bytes
				out.Summary.BlobsKnownClean += row.Stats.KnownClean
			}
			out.Repos = append(out.Repos, rs)
		}
		ids := make([]string, 0, len(byID))
		for id := range byID {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for chunk := range slices.Chunk(ids, 500) {
			args := []any{micros(round.At), round.ID}
			for _, id := range chunk {
				args = append(args, id)
			}
			if _, err := tx.Exec(ctx, `UPDATE orgscan_credentials SET last_seen = ?, last_round = ? WHERE id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
				return fmt.Errorf("mark credentials seen: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build org report: %w", err)
	}
	for _, c := range byID {
		c.LastSeen = round.At
		c.New = c.FirstRound == round.ID
		for i := range c.Repositories {
			cr := &c.Repositories[i]
			slices.SortFunc(cr.Locations, func(a, b CredLocation) int {
				return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), cmp.Compare(a.Commit, b.Commit), cmp.Compare(a.Encoding, b.Encoding))
			})
			out.Summary.Locations += len(cr.Locations)
		}
		slices.SortFunc(c.Repositories, func(a, b CredRepo) int { return cmp.Compare(a.FullName, b.FullName) })
		out.Creds = append(out.Creds, *c)
		if c.New {
			out.Summary.New++
		}
		if c.Test {
			out.Summary.Test++
		}
	}
	slices.SortFunc(out.Creds, func(a, b OrgCred) int {
		return cmp.Or(cmp.Compare(a.Repositories[0].FullName, b.Repositories[0].FullName), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	slices.SortFunc(out.Failed, func(a, b RepoFail) int { return cmp.Compare(a.FullName, b.FullName) })
	slices.SortFunc(out.Repos, func(a, b RepoState) int { return cmp.Compare(a.FullName, b.FullName) })
	out.Summary.Repositories = len(repos)
	out.Summary.Failed = len(out.Failed)
	out.Summary.Credentials = len(out.Creds)
	return out, nil
}

// readCreds reads the credentials with a location in a listed repository.
func readCreds(ctx context.Context, tx state.Tx, listed map[int64]Repo, byID map[string]*OrgCred) error {
	rows, err := tx.Query(ctx, `SELECT c.id, c.kind, c.rule_id, c.identifier, c.account, c.redacted, c.confidence, c.test,
			c.first_seen, c.first_round, c.last_seen,
			l.repo_id, l.commit_id, l.path, l.line, l.col, l.end_col, l.encoding, l.byte_offset, l.is_binary,
			l.identifier_path, l.identifier_line, l.blob, l.author, l.commit_date, l.summary, l.at_tips, l.first_round
		FROM orgscan_locations l JOIN orgscan_credentials c ON c.id = l.credential_id
		ORDER BY c.id, l.repo_id, l.id`)
	if err != nil {
		return fmt.Errorf("read credentials: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c OrgCred
		var l CredLocation
		var conf, test, bin int
		var first, last, repoID int64
		var tips string
		if err := rows.Scan(&c.Fingerprint, &c.Kind, &c.Rule, &c.Identifier, &c.Account, &c.Secret, &conf, &test,
			&first, &c.FirstRound, &last,
			&repoID, &l.Commit, &l.Path, &l.Line, &l.Column, &l.EndColumn, &l.Encoding, &l.Offset, &bin,
			&l.IdentifierPath, &l.IdentifierLine, &l.Blob, &l.Author, &l.Date, &l.Summary, &tips, &l.FirstRound); err != nil {
			return fmt.Errorf("read credentials: %w", err)
		}
		repo, ok := listed[repoID]
		if !ok {
			continue
		}
		if err := json.Unmarshal([]byte(tips), &l.AtTips); err != nil {
			return fmt.Errorf("read credentials: branch tips: %w", err)
		}
		if l.AtTips == nil {
			l.AtTips = []string{}
		}
		l.Binary = bin != 0
		have, ok := byID[c.Fingerprint]
		if !ok {
			c.Confidence = scanner.Confidence(conf).String()
			c.Test = test != 0
			c.FirstSeen, c.LastSeen = fromMicros(first), fromMicros(last)
			have = &c
			byID[c.Fingerprint] = have
		}
		i := slices.IndexFunc(have.Repositories, func(r CredRepo) bool { return r.ID == repoID })
		if i < 0 {
			have.Repositories = append(have.Repositories, CredRepo{ID: repoID, FullName: repo.FullName})
			i = len(have.Repositories) - 1
		}
		have.Repositories[i].Locations = append(have.Repositories[i].Locations, l)
	}
	return rows.Err()
}

// WriteJSON writes the report as one indented JSON document.
func (r *OrgReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write org report: %w", err)
	}
	return nil
}

// WriteText writes a summary for people: every credential with its
// repositories, then the repositories that could not be scanned.
func (r *OrgReport) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, c := range r.Creds {
		tag := ""
		if c.New {
			tag = "NEW "
		}
		what := string(c.Kind)
		if c.Test {
			what += " (Twilio test credentials)"
		}
		fmt.Fprintf(&b, "%s%s %s secret %s  fingerprint %s\n", tag, safe(what), safe(c.Identifier), safe(c.Secret), c.Fingerprint)
		fmt.Fprintf(&b, "  first seen %s (round %s), in %s\n", c.FirstSeen.UTC().Format(time.RFC3339), safe(c.FirstRound), plural(len(c.Repositories), "repository"))
		for _, cr := range c.Repositories {
			for _, l := range cr.Locations {
				tips := "history only"
				if len(l.AtTips) > 0 {
					tips = "at tip of " + strings.Join(l.AtTips, ", ")
				}
				fmt.Fprintf(&b, "  %s %s:%d  commit %.12s (%s)\n", safe(cr.FullName), safe(l.Path), l.Line, l.Commit, safe(tips))
			}
		}
	}
	s := r.Summary
	fmt.Fprintf(&b, "%s (%d new) in %s across %s (%d scanned this round, %d failed); %s read, %d skipped as known clean\n",
		plural(s.Credentials, "credential"), s.New, plural(s.Locations, "place"), plural(s.Repositories, "repository"),
		s.ScannedThisRound, s.Failed, plural(int(s.BlobsRead), "blob"), s.BlobsKnownClean)
	for _, f := range r.Failed {
		fmt.Fprintf(&b, "leakstop: error: repository %s could not be scanned: %s\n", safe(f.FullName), safe(f.Reason))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write org report: %w", err)
	}
	return nil
}

// plural is "1 credential", "2 credentials", "2 repositories".
func plural(n int, one string) string {
	switch {
	case n == 1:
		return "1 " + one
	case strings.HasSuffix(one, "y"):
		return strconv.Itoa(n) + " " + strings.TrimSuffix(one, "y") + "ies"
	}
	return strconv.Itoa(n) + " " + one + "s"
}

// safe quotes text from repositories (paths, names) that holds control
// characters, so that it cannot drive a terminal.
func safe(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			q := strconv.Quote(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// validName is a GitHub owner or repository name: what may become a
// file name under the SARIF directory.
var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// SARIFPath is where WriteSARIF puts repository owner/name's file under
// dir: dir/OWNER/NAME.sarif. Names that GitHub would not allow (and that
// could leave dir) are an error.
func SARIFPath(dir, fullName string) (string, error) {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || !validName.MatchString(owner) || !validName.MatchString(name) ||
		owner == "." || owner == ".." || name == "." || name == ".." {
		return "", fmt.Errorf("repository name %q: want OWNER/NAME of letters, digits, '.', '-' and '_'", fullName)
	}
	return filepath.Join(dir, owner, name+".sarif"), nil
}

// WriteSARIF writes one SARIF file per listed repository that was
// scanned (dir/OWNER/NAME.sarif, see SARIFPath), for code scanning
// upload: every credential reachable from the repository's refs, inherited
// fork history included. A repository without findings gets an empty
// run, which closes fixed alerts; a failed one gets no file, so that an
// upload cannot close alerts it could not check. It returns the files
// written, by repository full name.
func (r *OrgReport) WriteSARIF(dir string, o report.Options) (map[string]string, error) {
	perRepo := map[int64][]scanner.Finding{}
	for _, c := range r.Creds {
		for _, cr := range c.Repositories {
			perRepo[cr.ID] = append(perRepo[cr.ID], c.finding(cr))
		}
	}
	written := map[string]string{}
	for _, rs := range r.Repos {
		if rs.Status != "ok" {
			continue
		}
		path, err := SARIFPath(dir, rs.FullName)
		if err != nil {
			return written, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return written, fmt.Errorf("write SARIF for %s: %w", rs.FullName, err)
		}
		rep := report.Report{Findings: perRepo[rs.ID], Target: rs.FullName, Scope: "history of every ref"}
		o.NoRedact = false
		if err := report.WriteFile(path, report.SARIF, rep, o); err != nil {
			return written, fmt.Errorf("write SARIF for %s: %w", rs.FullName, err)
		}
		written[rs.FullName] = path
	}
	return written, nil
}

// finding is c's form for package report, with cr's locations; the
// secret is the redacted form.
func (c *OrgCred) finding(cr CredRepo) scanner.Finding {
	var conf scanner.Confidence
	_ = conf.UnmarshalText([]byte(c.Confidence))
	f := scanner.Finding{
		RuleID: c.Rule, Credential: c.Kind, Identifier: c.Identifier, Account: c.Account,
		Secret: secret.New(c.Secret), Fingerprint: c.Fingerprint, Confidence: conf, Test: c.Test,
	}
	for _, l := range cr.Locations {
		f.Locations = append(f.Locations, scanner.Location{
			Path: l.Path, Line: l.Line, Column: l.Column, EndColumn: l.EndColumn,
			IdentifierPath: l.IdentifierPath, IdentifierLine: l.IdentifierLine,
			Offset: l.Offset, Binary: l.Binary, Encoding: l.Encoding, State: scanner.StateCommitted, Blob: l.Blob,
			Commit: &scanner.Commit{Hash: l.Commit, Author: l.Author, Date: l.Date, Summary: l.Summary, AtTips: l.AtTips},
		})
	}
	return f
}
