package state

import (
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Options tune Open. The zero value is the defaults below.
//
// The pool settings bound database/sql's connection pool. For PostgreSQL
// they can also be given in the DSN, which wins over Options so that the
// operator who writes the DSN has the last word:
//
//	pool_max_conns           MaxOpenConns     (integer)
//	pool_max_idle_conns      MaxIdleConns     (integer)
//	pool_max_conn_lifetime   ConnMaxLifetime  (Go duration: 30m, 1h)
//	pool_max_conn_idle_time  ConnMaxIdleTime  (Go duration)
//
// These parameters are removed from the DSN before it reaches pgx; every
// other parameter (sslmode, connect_timeout, search_path, application_name,
// default_query_exec_mode, …) is pgx's, as pgx.ParseConfig documents.
type Options struct {
	// MaxOpenConns bounds the connections open at once: PostgreSQL default
	// 8, SQLite default unbounded. Negative: unbounded.
	MaxOpenConns int
	// MaxIdleConns bounds the idle connections kept: default 2. Negative:
	// none kept.
	MaxIdleConns int
	// ConnMaxLifetime closes a connection this long after it was opened:
	// PostgreSQL default 1h, SQLite default never. Negative: never.
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes a connection idle this long: PostgreSQL default
	// 30m, SQLite default never. Negative: never.
	ConnMaxIdleTime time.Duration

	// Schemas are further sets of tables, owned by other components (an org
	// scanner's cursors and queues, say), migrated after the core schema,
	// each in its own transaction and each at most once. See Schema.
	Schemas []Schema
}

// Pool defaults for PostgreSQL.
const (
	DefaultMaxOpenConns    = 8
	DefaultMaxIdleConns    = 2
	DefaultConnMaxLifetime = time.Hour
	DefaultConnMaxIdleTime = 30 * time.Minute
)

// poolParams are the DSN parameters that set the pool, in the order
// Options documents them.
var poolParams = []string{"pool_max_conns", "pool_max_idle_conns", "pool_max_conn_lifetime", "pool_max_conn_idle_time"}

// postgresPool returns o with the DSN's pool parameters applied and the
// PostgreSQL defaults filled in, and the DSN without those parameters.
func (o Options) postgresPool(dsn string) (Options, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return o, "", fmt.Errorf("parse DSN: invalid PostgreSQL connection URL")
	}
	q := u.Query()
	for _, p := range poolParams {
		if !q.Has(p) {
			continue
		}
		v := q.Get(p)
		q.Del(p)
		switch p {
		case "pool_max_conns", "pool_max_idle_conns":
			least := 0 // no idle connections is a choice
			if p == "pool_max_conns" {
				least = 1 // no connections at all is not
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < least {
				return o, "", fmt.Errorf("parse DSN: %s=%q: want a whole number of connections, at least %d", p, v, least)
			}
			switch {
			case p == "pool_max_conns":
				o.MaxOpenConns = n
			case n == 0:
				o.MaxIdleConns = -1 // zero would mean "the default"
			default:
				o.MaxIdleConns = n
			}
		default:
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return o, "", fmt.Errorf("parse DSN: %s=%q: want a positive duration such as 30m", p, v)
			}
			if p == "pool_max_conn_lifetime" {
				o.ConnMaxLifetime = d
			} else {
				o.ConnMaxIdleTime = d
			}
		}
	}
	u.RawQuery = q.Encode()
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = DefaultMaxOpenConns
	}
	if o.MaxIdleConns == 0 {
		o.MaxIdleConns = DefaultMaxIdleConns
	}
	if o.ConnMaxLifetime == 0 {
		o.ConnMaxLifetime = DefaultConnMaxLifetime
	}
	if o.ConnMaxIdleTime == 0 {
		o.ConnMaxIdleTime = DefaultConnMaxIdleTime
	}
	return o, u.String(), nil
}

// apply sets db's pool from o; a zero field leaves database/sql's default
// (unbounded, never closed), a negative one means the same explicitly.
func (o Options) apply(db *sql.DB) {
	if o.MaxOpenConns != 0 {
		db.SetMaxOpenConns(max(o.MaxOpenConns, 0))
	}
	if o.MaxIdleConns != 0 {
		db.SetMaxIdleConns(max(o.MaxIdleConns, 0))
	}
	if o.ConnMaxLifetime != 0 {
		db.SetConnMaxLifetime(max(o.ConnMaxLifetime, 0))
	}
	if o.ConnMaxIdleTime != 0 {
		db.SetConnMaxIdleTime(max(o.ConnMaxIdleTime, 0))
	}
}
