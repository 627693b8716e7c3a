package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/leakstop/leakstop/internal/wait"
	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultPath is where leakstop keeps its SQLite state unless told
// otherwise: xdgStateHome/leakstop/state.db when xdgStateHome (the value of
// $XDG_STATE_HOME, which the caller reads) is an absolute path, else
// ~/.local/state/leakstop/state.db.
func DefaultPath(xdgStateHome string) (string, error) {
	if d := xdgStateHome; d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "leakstop", "state.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "leakstop", "state.db"), nil
}

// Open opens (creating and migrating as needed) the store named by dsn:
//
//	postgres://… or postgresql://…   PostgreSQL
//	sqlite:PATH, sqlite://PATH       SQLite file
//	PATH                             SQLite file
//
// An empty DSN is an error: the caller chooses the default (DefaultPath).
// A new SQLite file and its directory are created readable by the owner only.
// opts sets the connection pool and adds further schemas; see Options.
func Open(ctx context.Context, dsn string, opts Options) (Store, error) {
	if err := checkSchemas(opts.Schemas); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err := openPostgres(ctx, dsn, opts)
		if err != nil {
			return nil, fmt.Errorf("open postgres store %s: %w", redactDSN(dsn), err)
		}
		return s, nil
	default:
		path, err := sqlitePath(dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		s, err := openSQLite(ctx, path, opts)
		if err != nil {
			return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
		}
		return s, nil
	}
}

func sqlitePath(dsn string) (string, error) {
	p := dsn
	switch {
	case strings.HasPrefix(p, "sqlite://"):
		p = strings.TrimPrefix(p, "sqlite://")
	case strings.HasPrefix(p, "sqlite:"):
		p = strings.TrimPrefix(p, "sqlite:")
	case strings.HasPrefix(p, "file:"):
		p = strings.TrimPrefix(p, "file:")
	case strings.Contains(p, "://"):
		return "", fmt.Errorf("unsupported state DSN scheme in %q: want postgres://, sqlite: or a file path", redactDSN(dsn))
	}
	if p == "" {
		return "", errors.New("no state store given: pass a DSN (DefaultPath is the usual SQLite file)")
	}
	if strings.ContainsAny(p, "?#") {
		return "", fmt.Errorf("state path %q must not contain '?' or '#'", p)
	}
	if strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("expand ~: %w", err)
		}
		p = filepath.Join(home, p[2:])
	}
	return filepath.Abs(p)
}

// sqliteBusyTimeout is how long an SQLite statement waits for another
// writer before it fails.
const sqliteBusyTimeout = 10 * time.Second

func openSQLite(ctx context.Context, path string, opts Options) (*sqlStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	// Create the file ourselves so that it is private from the start; SQLite
	// gives the -wal and -shm files the same permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create state file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("create state file: %w", err)
	}
	// _txlock=immediate: every transaction starts with BEGIN IMMEDIATE, so a
	// read-then-write (a lease, a state transition) cannot be interleaved
	// with another writer; busy_timeout makes the others wait, not fail.
	dsn := path + "?_txlock=immediate&_busy_timeout=" + strconv.FormatInt(sqliteBusyTimeout.Milliseconds(), 10) +
		"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	opts.apply(db)
	if err := connectSQLite(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	s := &sqlStore{db: db, d: sqliteDialect{}, location: path}
	if err := s.init(ctx, opts.Schemas); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// connectSQLite makes the handle's first connection. When several
// processes open a new database at once, the one that switches it to WAL
// holds it exclusively for a moment, and SQLite answers the others'
// connection set-up (its journal_mode pragma) with SQLITE_BUSY without
// waiting for busy_timeout. That is retried here for as long as
// busy_timeout would have waited; once the database is in WAL mode, which
// persists, later connections set up without contention.
func connectSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	for {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("connect: %w", err)
			}
			return nil
		}
		if err := wait.Sleep(ctx, 5*time.Millisecond+rand.N(20*time.Millisecond)); err != nil {
			return fmt.Errorf("connect: %w", err)
		}
	}
}

// openPostgres connects through pgx's database/sql adapter. The DSN is
// parsed by pgx (after the pool parameters are taken out), so every pgx
// connection parameter is honoured.
func openPostgres(ctx context.Context, dsn string, opts Options) (*sqlStore, error) {
	opts, dsn, err := opts.postgresPool(dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("parse DSN: invalid PostgreSQL connection string") // the error may quote the password
	}
	db := stdlib.OpenDB(*cfg)
	opts.apply(db)
	s := &sqlStore{db: db, d: postgresDialect{}, location: redactDSN(dsn)}
	if err := s.init(ctx, opts.Schemas); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// redactDSN removes a password from a URL-shaped DSN.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		if strings.Contains(dsn, "://") {
			return "(unparsable DSN)"
		}
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
