package orgscan

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/leakstop/leakstop/state"
)

// The round's own tables, in the state database (state.Options.Schemas):
// River's jobs say what is left to do; these say what a round is and what
// became of each repository, and outlive River's cleanup of finished jobs.
var queueSchema = state.Schema{
	Name: "orgqueue",
	Migrations: [][]string{
		1: {
			`CREATE TABLE orgqueue_rounds (
				id          TEXT PRIMARY KEY,
				named       INTEGER NOT NULL,
				state       TEXT NOT NULL CHECK (state IN ('open', 'complete', 'failed')),
				error       TEXT NOT NULL DEFAULT '',
				repos       INTEGER NOT NULL DEFAULT 0,
				started_at  BIGINT NOT NULL,
				listed_at   BIGINT NOT NULL DEFAULT 0,
				finished_at BIGINT NOT NULL DEFAULT 0
			)`,
			`CREATE INDEX orgqueue_rounds_open ON orgqueue_rounds (named, state, started_at)`,
			`CREATE TABLE orgqueue_repos (
				round_id    TEXT NOT NULL REFERENCES orgqueue_rounds (id),
				repo_id     BIGINT NOT NULL,
				full_name   TEXT NOT NULL,
				repo        TEXT NOT NULL,
				state       TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'done', 'failed')),
				reason      TEXT NOT NULL DEFAULT '',
				worker      TEXT NOT NULL DEFAULT '',
				finished_at BIGINT NOT NULL DEFAULT 0,
				PRIMARY KEY (round_id, repo_id)
			)`,
		},
	},
}

// Round and repository states in the round's tables.
const (
	roundOpen       = "open"
	roundComplete   = "complete"
	roundFailed     = "failed"
	roundRepoQueued = "queued"
	roundRepoDone   = "done"
	roundRepoFailed = "failed"
)

type roundRow struct {
	id                              string
	state, err                      string
	repos                           int
	startedAt, listedAt, finishedAt int64
}

const roundColumns = `id, state, error, repos, started_at, listed_at, finished_at`

func scanRound(row interface{ Scan(...any) error }) (roundRow, error) {
	var rd roundRow
	err := row.Scan(&rd.id, &rd.state, &rd.err, &rd.repos, &rd.startedAt, &rd.listedAt, &rd.finishedAt)
	return rd, err
}

// joinRound returns the round named name, or for "" the latest open
// unnamed one, creating it if there is none; created says whether it did.
func joinRound(ctx context.Context, st state.Store, name string) (rd roundRow, created bool, err error) {
	err = st.Tx(ctx, func(tx state.Tx) error {
		if st.Dialect() == "postgres" {
			// Serialise joiners, so that two cannot both create a round.
			// (An SQLite transaction holds the write lock already.)
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('leakstop orgqueue rounds ' || current_schema(), 0))`); err != nil {
				return err
			}
		}
		q := `SELECT ` + roundColumns + ` FROM orgqueue_rounds WHERE id = ?`
		args := []any{name}
		if name == "" {
			q = `SELECT ` + roundColumns + ` FROM orgqueue_rounds WHERE named = 0 AND state = 'open' ORDER BY started_at DESC LIMIT 1`
			args = nil
		}
		rd, err = scanRound(tx.QueryRow(ctx, q, args...))
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		rd = roundRow{id: name, state: roundOpen, startedAt: now.UnixMicro()}
		named := 1
		if name == "" {
			named = 0
			if rd.id, err = newRoundID(now); err != nil {
				return err
			}
		}
		created = true
		_, err = tx.Exec(ctx, `INSERT INTO orgqueue_rounds (id, named, state, started_at) VALUES (?, ?, 'open', ?)`, rd.id, named, rd.startedAt)
		return err
	})
	if err != nil {
		return roundRow{}, false, fmt.Errorf("join round: %w", err)
	}
	return rd, created, nil
}

// readRound reads the round id, and the time by the database's clock
// (the server's on PostgreSQL), which judges leases.
func readRound(ctx context.Context, st state.Store, id string) (rd roundRow, now time.Time, err error) {
	err = st.Tx(ctx, func(tx state.Tx) error {
		if now, err = tx.Now(ctx); err != nil {
			return err
		}
		rd, err = scanRound(tx.QueryRow(ctx, `SELECT `+roundColumns+` FROM orgqueue_rounds WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return roundRow{}, time.Time{}, fmt.Errorf("read round %s: %w", id, err)
	}
	return rd, now, nil
}

// finishRound completes the open round id, its queue being empty: a
// repository whose job ended without a result (its workers kept dying, or
// overran the lease, until its attempts ran out) is recorded as failed. A
// round never listed failed to list. It returns the round as it is then.
func finishRound(ctx context.Context, st state.Store, id string) (rd roundRow, err error) {
	err = st.Tx(ctx, func(tx state.Tx) error {
		rd, err = scanRound(tx.QueryRow(ctx, `SELECT `+roundColumns+` FROM orgqueue_rounds WHERE id = ?`+tx.ForUpdate(), id))
		if err != nil || rd.state != roundOpen {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		rd.finishedAt = now.UnixMicro()
		if rd.listedAt == 0 {
			rd.state, rd.err = roundFailed, fmt.Sprintf("not listed: the lister died, stopped or overran the lease %d times", queueMaxAttempts)
		} else {
			rd.state = roundComplete
			if _, err := tx.Exec(ctx, `UPDATE orgqueue_repos SET state = 'failed', reason = ?, finished_at = ? WHERE round_id = ? AND state = 'queued'`,
				fmt.Sprintf("not scanned: its worker died or stopped mid-scan %d times", queueMaxAttempts), rd.finishedAt, id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE orgqueue_rounds SET state = ?, error = ?, finished_at = ? WHERE id = ?`, rd.state, rd.err, rd.finishedAt, id); err != nil {
			return err
		}
		// Forget rounds finished long ago: their results were reported.
		old := rd.finishedAt - roundRetention.Microseconds()
		if _, err := tx.Exec(ctx, `DELETE FROM orgqueue_repos WHERE round_id IN
			(SELECT id FROM orgqueue_rounds WHERE state <> 'open' AND finished_at < ?)`, old); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM orgqueue_rounds WHERE state <> 'open' AND finished_at < ?`, old)
		return err
	})
	if err != nil {
		return roundRow{}, fmt.Errorf("finish round %s: %w", id, err)
	}
	return rd, nil
}

// roundRetention is how long a finished round's records are kept.
const roundRetention = 30 * 24 * time.Hour

// failRound records that the round could not list its repositories.
func failRound(ctx context.Context, st state.Store, id, reason string) error {
	err := st.Tx(ctx, func(tx state.Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE orgqueue_rounds SET state = 'failed', error = ?, finished_at = ? WHERE id = ? AND state = 'open'`,
			truncateReason(reason), now.UnixMicro(), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("fail round %s: %w", id, err)
	}
	return nil
}

// addRoundRepos records the round's repositories; ones already recorded (by a
// lister that died) are kept.
func addRoundRepos(ctx context.Context, st state.Store, id string, repos []Repo) error {
	err := st.Tx(ctx, func(tx state.Tx) error {
		for _, rp := range repos {
			j, err := encodeRoundRepo(rp)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO orgqueue_repos (round_id, repo_id, full_name, repo) VALUES (?, ?, ?, ?)
				ON CONFLICT (round_id, repo_id) DO NOTHING`, id, rp.ID, rp.FullName, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record repositories of round %s: %w", id, err)
	}
	return nil
}

func markRoundListed(ctx context.Context, st state.Store, id string, n int) error {
	err := st.Tx(ctx, func(tx state.Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE orgqueue_rounds SET listed_at = ?, repos = ? WHERE id = ? AND listed_at = 0`, now.UnixMicro(), n, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark round %s listed: %w", id, err)
	}
	return nil
}

// finishRoundRepo records a repository's scan: done, or failed for reason.
func finishRoundRepo(ctx context.Context, st state.Store, id string, repoID int64, worker, reason string) error {
	s := roundRepoDone
	if reason != "" {
		s = roundRepoFailed
	}
	err := st.Tx(ctx, func(tx state.Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE orgqueue_repos SET state = ?, reason = ?, worker = ?, finished_at = ? WHERE round_id = ? AND repo_id = ?`,
			s, truncateReason(reason), worker, now.UnixMicro(), id, repoID)
		return err
	})
	if err != nil {
		return fmt.Errorf("record scan of repository %d: %w", repoID, err)
	}
	return nil
}

type roundRepo struct {
	repo          Repo
	state, reason string
	worker        string
}

// roundRepos lists a round's repositories by id.
func roundRepos(ctx context.Context, st state.Store, id string) ([]roundRepo, error) {
	var out []roundRepo
	err := st.Tx(ctx, func(tx state.Tx) error {
		rows, err := tx.Query(ctx, `SELECT repo, state, reason, worker FROM orgqueue_repos WHERE round_id = ? ORDER BY repo_id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var rr roundRepo
			var j string
			if err := rows.Scan(&j, &rr.state, &rr.reason, &rr.worker); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(j), &rr.repo); err != nil {
				return fmt.Errorf("decode repository: %w", err)
			}
			out = append(out, rr)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read repositories of round %s: %w", id, err)
	}
	return out, nil
}

// truncateReason bounds a recorded reason.
func truncateReason(s string) string {
	const limit = 2000
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "…"
}

func encodeRoundRepo(rp Repo) (string, error) {
	b, err := json.Marshal(rp)
	if err != nil {
		return "", fmt.Errorf("encode repository %d: %w", rp.ID, err)
	}
	return string(b), nil
}

func roundTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
