package orgscan

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leakstop/leakstop/gitdb"
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// StateSchema holds the org scan's tables; give it to state.Open in
// state.Options.Schemas. No secret is ever written to them: a credential
// is keyed by a keyed hash (state.Store.Hash) of its kind, identifier and
// secret — the same identity the revoker keys its rotations by — and
// shown by its redacted form.
//
//   - orgscan_repos: one row per repository, by GitHub id (a rename or a
//     transfer keeps the row): the pushed_at, ref tips (JSON ref→commit)
//     and rules hash of the last successful scan, when it ran and what it
//     read, and the last failure (cleared by a success).
//   - orgscan_rules: rules hashes, numbered, so that the clean-blob table
//     holds an integer instead of the hash on each of its rows.
//   - orgscan_clean_blobs: (rules, blob id as 20 bytes) for every blob the
//     organisation scanned with no hit under those rules. Primary key
//     (rules_id, blob): lookups are batched "blob IN (…)" point queries;
//     about 60 bytes a row with its index, 10 million rows ≈ 600 MB.
//   - orgscan_credentials: one row per credential (id: keyed hash), with
//     kind, rule, identifier (a SID, not secret), redacted secret, and
//     when and in which round it was first and last seen.
//   - orgscan_locations: where each credential is, per repository: commit,
//     path, line, blob, the round it was first recorded in, and the scan
//     generation of the repository that last recorded it (a full rescan
//     drops what it did not find again), the branch tips still holding
//     it, and the keyed hash of the scanner's fingerprint (finding_key)
//     to update those tips after an incremental scan.
var StateSchema = state.Schema{
	Name: "orgscan",
	Migrations: [][]string{
		nil,
		{
			`CREATE TABLE orgscan_repos (
				id            BIGINT PRIMARY KEY,
				full_name     TEXT NOT NULL,
				owner         TEXT NOT NULL,
				pushed_at     BIGINT NOT NULL DEFAULT 0,
				tips          TEXT NOT NULL DEFAULT '{}',
				rules_hash    TEXT NOT NULL DEFAULT '',
				scanned_at    BIGINT NOT NULL DEFAULT 0,
				scanned_round TEXT NOT NULL DEFAULT '',
				scan_gen      BIGINT NOT NULL DEFAULT 0,
				last_mode     TEXT NOT NULL DEFAULT '',
				last_reason   TEXT NOT NULL DEFAULT '',
				last_stats    TEXT NOT NULL DEFAULT '{}',
				error         TEXT NOT NULL DEFAULT '',
				error_round   TEXT NOT NULL DEFAULT '',
				error_at      BIGINT NOT NULL DEFAULT 0,
				updated_at    BIGINT NOT NULL
			)`,
			`CREATE TABLE orgscan_rules (
				id   {{serial}},
				hash TEXT NOT NULL UNIQUE
			)`,
			`CREATE TABLE orgscan_clean_blobs (
				rules_id BIGINT NOT NULL,
				blob     BYTEA NOT NULL,
				PRIMARY KEY (rules_id, blob)
			)`,
			`CREATE TABLE orgscan_credentials (
				id          TEXT PRIMARY KEY,
				kind        TEXT NOT NULL,
				rule_id     TEXT NOT NULL,
				identifier  TEXT NOT NULL DEFAULT '',
				account     TEXT NOT NULL DEFAULT '',
				redacted    TEXT NOT NULL,
				confidence  INTEGER NOT NULL,
				test        INTEGER NOT NULL DEFAULT 0,
				first_seen  BIGINT NOT NULL,
				first_round TEXT NOT NULL,
				last_seen   BIGINT NOT NULL,
				last_round  TEXT NOT NULL
			)`,
			`CREATE TABLE orgscan_locations (
				id              {{serial}},
				credential_id   TEXT NOT NULL REFERENCES orgscan_credentials (id),
				finding_key     TEXT NOT NULL,
				repo_id         BIGINT NOT NULL,
				commit_id       TEXT NOT NULL,
				path            TEXT NOT NULL,
				line            INTEGER NOT NULL,
				col             INTEGER NOT NULL,
				end_col         INTEGER NOT NULL,
				encoding        TEXT NOT NULL DEFAULT '',
				byte_offset     BIGINT NOT NULL DEFAULT 0,
				is_binary       INTEGER NOT NULL DEFAULT 0,
				identifier_path TEXT NOT NULL DEFAULT '',
				identifier_line INTEGER NOT NULL DEFAULT 0,
				blob            TEXT NOT NULL DEFAULT '',
				author          TEXT NOT NULL DEFAULT '',
				commit_date     TEXT NOT NULL DEFAULT '',
				summary         TEXT NOT NULL DEFAULT '',
				at_tips         TEXT NOT NULL DEFAULT '[]',
				first_round     TEXT NOT NULL,
				scan_gen        BIGINT NOT NULL,
				UNIQUE (repo_id, credential_id, commit_id, path, line, col, encoding)
			)`,
			`CREATE INDEX orgscan_locations_credential ON orgscan_locations (credential_id)`,
		},
	},
}

// repoRow is a repository's row.
type repoRow struct {
	ID                          int64
	FullName, Owner             string
	PushedAt                    time.Time
	Tips                        map[string]string
	RulesHash                   string
	ScannedAt                   time.Time
	ScannedRound                string
	Gen                         int64
	Mode, Reason                string
	Stats                       ScanStats
	Error, ErrorRound           string
	ErrorAt                     time.Time
	exists, scannedSuccessfully bool
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

const repoColumns = `id, full_name, owner, pushed_at, tips, rules_hash, scanned_at, scanned_round, scan_gen,
	last_mode, last_reason, last_stats, error, error_round, error_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanRepoRow(rs rowScanner) (repoRow, error) {
	var r repoRow
	var pushed, scanned, errAt int64
	var tips, stats string
	err := rs.Scan(&r.ID, &r.FullName, &r.Owner, &pushed, &tips, &r.RulesHash, &scanned, &r.ScannedRound, &r.Gen,
		&r.Mode, &r.Reason, &stats, &r.Error, &r.ErrorRound, &errAt)
	if err != nil {
		return r, err
	}
	r.PushedAt, r.ScannedAt, r.ErrorAt = fromMicros(pushed), fromMicros(scanned), fromMicros(errAt)
	if err := json.Unmarshal([]byte(tips), &r.Tips); err != nil {
		return r, fmt.Errorf("read tips of repository %d: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(stats), &r.Stats); err != nil {
		return r, fmt.Errorf("read stats of repository %d: %w", r.ID, err)
	}
	r.exists, r.scannedSuccessfully = true, scanned != 0
	return r, nil
}

// loadRepo reads a repository's row; a repository never seen has a zero
// row with exists false.
func loadRepo(ctx context.Context, tx state.Tx, id int64) (repoRow, error) {
	r, err := scanRepoRow(tx.QueryRow(ctx, `SELECT `+repoColumns+` FROM orgscan_repos WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return repoRow{ID: id}, nil
	}
	if err != nil {
		return repoRow{}, fmt.Errorf("read repository %d: %w", id, err)
	}
	return r, nil
}

// allRepos reads every repository's row, by id.
func allRepos(ctx context.Context, tx state.Tx) (map[int64]repoRow, error) {
	rows, err := tx.Query(ctx, `SELECT `+repoColumns+` FROM orgscan_repos`)
	if err != nil {
		return nil, fmt.Errorf("read repositories: %w", err)
	}
	defer rows.Close()
	out := map[int64]repoRow{}
	for rows.Next() {
		r, err := scanRepoRow(rows)
		if err != nil {
			return nil, fmt.Errorf("read repositories: %w", err)
		}
		out[r.ID] = r
	}
	return out, rows.Err()
}

// touchRepo creates a repository's row or updates its names (a rename
// or transfer keeps the id).
func touchRepo(ctx context.Context, tx state.Tx, r Repo, now time.Time) error {
	owner := r.Owner
	if owner == "" {
		owner, _, _ = strings.Cut(r.FullName, "/")
	}
	_, err := tx.Exec(ctx, `INSERT INTO orgscan_repos (id, full_name, owner, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET full_name = excluded.full_name, owner = excluded.owner, updated_at = excluded.updated_at`,
		r.ID, r.FullName, owner, micros(now))
	if err != nil {
		return fmt.Errorf("record repository %s: %w", r.FullName, err)
	}
	return nil
}

// saveScan records a successful scan on the repository's row.
func saveScan(ctx context.Context, tx state.Tx, row repoRow, now time.Time) error {
	tips, err := json.Marshal(row.Tips)
	if err != nil {
		return err
	}
	stats, err := json.Marshal(row.Stats)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE orgscan_repos SET pushed_at = ?, tips = ?, rules_hash = ?, scanned_at = ?, scanned_round = ?,
		scan_gen = ?, last_mode = ?, last_reason = ?, last_stats = ?, error = '', error_round = '', error_at = 0, updated_at = ?
		WHERE id = ?`,
		micros(row.PushedAt), string(tips), row.RulesHash, micros(row.ScannedAt), row.ScannedRound,
		row.Gen, row.Mode, row.Reason, string(stats), micros(now), row.ID)
	if err != nil {
		return fmt.Errorf("record scan of repository %d: %w", row.ID, err)
	}
	return nil
}

// rulesID numbers a rules hash, adding it when new.
func rulesID(ctx context.Context, st state.Store, hash string) (int64, error) {
	var id int64
	err := st.Tx(ctx, func(tx state.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO orgscan_rules (hash) VALUES (?) ON CONFLICT (hash) DO NOTHING`, hash); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT id FROM orgscan_rules WHERE hash = ?`, hash).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("record rules hash: %w", err)
	}
	return id, nil
}

// knownClean answers which of hs the organisation scanned with no hit
// under the rules numbered rid.
func knownClean(ctx context.Context, st state.Store, rid int64, hs []gitdb.Hash) (map[gitdb.Hash]bool, error) {
	out := map[gitdb.Hash]bool{}
	err := st.Tx(ctx, func(tx state.Tx) error {
		for chunk := range slices.Chunk(hs, scanner.KnownCleanBatch) {
			args := make([]any, 0, len(chunk)+1)
			args = append(args, rid)
			for _, h := range chunk {
				args = append(args, h[:])
			}
			rows, err := tx.Query(ctx, `SELECT blob FROM orgscan_clean_blobs WHERE rules_id = ? AND blob IN (`+placeholders(len(chunk))+`)`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var b []byte
				if err := rows.Scan(&b); err != nil {
					rows.Close()
					return err
				}
				var h gitdb.Hash
				if len(b) != len(h) {
					rows.Close()
					return fmt.Errorf("clean blob id of %d bytes", len(b))
				}
				copy(h[:], b)
				out[h] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read clean blobs: %w", err)
	}
	return out, nil
}

// addClean records blobs scanned with no hit under the rules numbered rid.
func addClean(ctx context.Context, st state.Store, rid int64, hs []gitdb.Hash) error {
	err := st.Tx(ctx, func(tx state.Tx) error {
		for chunk := range slices.Chunk(hs, 500) {
			args := make([]any, 0, 2*len(chunk))
			vals := make([]string, 0, len(chunk))
			for _, h := range chunk {
				args = append(args, rid, h[:])
				vals = append(vals, "(?, ?)")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO orgscan_clean_blobs (rules_id, blob) VALUES `+strings.Join(vals, ", ")+
				` ON CONFLICT (rules_id, blob) DO NOTHING`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record clean blobs: %w", err)
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// CredentialID is the key of a credential in the state and the reports:
// the first 40 hex digits of the store's keyed hash of its kind,
// identifier and secret — the identity the revoker keys its rotations by,
// so one credential found by several rules or in several repositories is
// one entry. Unlike scanner.Finding.Fingerprint it cannot be checked
// against a guessed secret without the store's key.
func CredentialID(st state.Store, f *scanner.Finding) string {
	return st.Hash("leakstop-credential\x00" + string(f.Credential) + "\x00" + f.Identifier + "\x00" + f.Secret.Reveal())[:40]
}

// findingKey is the stored form of a scanner fingerprint: keyed, as
// everything derived from a secret is.
func findingKey(st state.Store, fingerprint string) string {
	return st.Hash("leakstop-finding\x00" + fingerprint)[:40]
}

// recordFindings writes the credentials and locations of one scan of a
// repository, as scan generation gen of the repository, in tx.
func recordFindings(ctx context.Context, tx state.Tx, st state.Store, repoID int64, gen int64, fs []scanner.Finding, round RoundInfo) error {
	at := micros(round.At)
	// Credentials are written in id order: transactions of workers that
	// share credentials then lock their rows in the same order and
	// cannot deadlock.
	ids := make([]string, len(fs))
	order := make([]int, len(fs))
	for i := range fs {
		ids[i], order[i] = CredentialID(st, &fs[i]), i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(ids[a], ids[b]) })
	for _, i := range order {
		f := &fs[i]
		id := ids[i]
		test := 0
		if f.Test {
			test = 1
		}
		_, err := tx.Exec(ctx, `INSERT INTO orgscan_credentials
			(id, kind, rule_id, identifier, account, redacted, confidence, test, first_seen, first_round, last_seen, last_round)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET
				confidence = CASE WHEN excluded.confidence > orgscan_credentials.confidence THEN excluded.confidence ELSE orgscan_credentials.confidence END,
				account = CASE WHEN orgscan_credentials.account = '' THEN excluded.account ELSE orgscan_credentials.account END,
				test = CASE WHEN excluded.test > orgscan_credentials.test THEN excluded.test ELSE orgscan_credentials.test END,
				last_seen = excluded.last_seen, last_round = excluded.last_round`,
			id, string(f.Credential), f.RuleID, f.Identifier, f.Account, secret.Redact(f.Secret.Reveal()), int(f.Confidence), test,
			at, round.ID, at, round.ID)
		if err != nil {
			return fmt.Errorf("record credential %s: %w", id, err)
		}
		for _, l := range f.Locations {
			c := l.Commit
			if c == nil {
				c = &scanner.Commit{}
			}
			tips, err := json.Marshal(append([]string{}, c.AtTips...))
			if err != nil {
				return err
			}
			bin := 0
			if l.Binary {
				bin = 1
			}
			_, err = tx.Exec(ctx, `INSERT INTO orgscan_locations
				(credential_id, finding_key, repo_id, commit_id, path, line, col, end_col, encoding, byte_offset, is_binary,
				 identifier_path, identifier_line, blob, author, commit_date, summary, at_tips, first_round, scan_gen)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (repo_id, credential_id, commit_id, path, line, col, encoding) DO UPDATE SET
					scan_gen = excluded.scan_gen, at_tips = excluded.at_tips, identifier_path = excluded.identifier_path,
					identifier_line = excluded.identifier_line`,
				id, findingKey(st, f.Fingerprint), repoID, c.Hash, l.Path, l.Line, l.Column, l.EndColumn, l.Encoding, l.Offset, bin,
				l.IdentifierPath, l.IdentifierLine, l.Blob, c.Author, c.Date, c.Summary, string(tips), round.ID, gen)
			if err != nil {
				return fmt.Errorf("record location of credential %s: %w", id, err)
			}
		}
	}
	return nil
}

// dropStaleLocations removes the locations of a repository that its scan
// generation gen (a full rescan) did not find again.
func dropStaleLocations(ctx context.Context, tx state.Tx, repoID, gen int64) (int64, error) {
	res, err := tx.Exec(ctx, `DELETE FROM orgscan_locations WHERE repo_id = ? AND scan_gen < ?`, repoID, gen)
	if err != nil {
		return 0, fmt.Errorf("drop old locations of repository %d: %w", repoID, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PruneCleanBlobs deletes the known-clean blobs recorded under rules
// other than s.RulesHash: after a rules change they are never asked
// for again. It returns how many rows it deleted.
func (s *RepoScanner) PruneCleanBlobs(ctx context.Context) (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var n int64
	err := s.Store.Tx(ctx, func(tx state.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM orgscan_clean_blobs WHERE rules_id IN (SELECT id FROM orgscan_rules WHERE hash <> ?)`, s.RulesHash)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM orgscan_rules WHERE hash <> ?`, s.RulesHash)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune clean blobs: %w", err)
	}
	return n, nil
}
