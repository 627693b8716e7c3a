package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// A minimal database/sql driver over a pgx connection. pgx's own adapter,
// pgx/v5/stdlib, also pulls in pgxpool and its pool dependency, which this
// module does not carry; the store needs only text, integers, transactions
// and cancellation, which this provides. Swapping in stdlib.OpenDB(*cfg) later is
// a one-line change in openPostgres.

type pgConnector struct{ cfg *pgx.ConnConfig }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, c.cfg)
	if err != nil {
		return nil, err
	}
	return &pgConn{c: conn}, nil
}

func (c pgConnector) Driver() driver.Driver { return pgDriver{} }

type pgDriver struct{}

func (pgDriver) Open(name string) (driver.Conn, error) {
	cfg, err := pgx.ParseConfig(name)
	if err != nil {
		return nil, errors.New("parse DSN: invalid PostgreSQL connection string")
	}
	return pgConnector{cfg: cfg}.Connect(context.Background())
}

type pgConn struct {
	c  *pgx.Conn
	tx pgx.Tx
}

var (
	_ driver.Conn               = (*pgConn)(nil)
	_ driver.ConnBeginTx        = (*pgConn)(nil)
	_ driver.ExecerContext      = (*pgConn)(nil)
	_ driver.QueryerContext     = (*pgConn)(nil)
	_ driver.Pinger             = (*pgConn)(nil)
	_ driver.SessionResetter    = (*pgConn)(nil)
	_ driver.Validator          = (*pgConn)(nil)
	_ driver.ConnPrepareContext = (*pgConn)(nil)
)

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *pgConn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	return &pgStmt{c: c, query: query}, nil
}

func (c *pgConn) Close() error { return c.c.Close(context.Background()) }

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var o pgx.TxOptions
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadCommitted:
		o.IsoLevel = pgx.ReadCommitted
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		o.IsoLevel = pgx.RepeatableRead
	case sql.LevelSerializable:
		o.IsoLevel = pgx.Serializable
	default:
		return nil, fmt.Errorf("unsupported isolation level %d", opts.Isolation)
	}
	if opts.ReadOnly {
		o.AccessMode = pgx.ReadOnly
	}
	tx, err := c.c.BeginTx(ctx, o)
	if err != nil {
		return nil, err
	}
	c.tx = tx
	return pgTx{c: c}, nil
}

type pgTx struct{ c *pgConn }

// Commit fails (pgx.ErrTxCommitRollback) if the transaction had been
// aborted by an earlier error, instead of silently rolling back.
func (t pgTx) Commit() error {
	tx := t.c.tx
	t.c.tx = nil
	return tx.Commit(context.Background())
}

func (t pgTx) Rollback() error {
	tx := t.c.tx
	t.c.tx = nil
	return tx.Rollback(context.Background())
}

func args(nv []driver.NamedValue) []any {
	a := make([]any, len(nv))
	for i, v := range nv {
		a[i] = v.Value
	}
	return a
}

func (c *pgConn) ExecContext(ctx context.Context, query string, nv []driver.NamedValue) (driver.Result, error) {
	tag, err := c.c.Exec(ctx, query, args(nv)...)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *pgConn) QueryContext(ctx context.Context, query string, nv []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.c.Query(ctx, query, args(nv)...)
	if err != nil {
		return nil, err
	}
	return &pgRows{r: rows}, nil
}

func (c *pgConn) Ping(ctx context.Context) error { return c.c.Ping(ctx) }

func (c *pgConn) ResetSession(context.Context) error {
	if c.c.IsClosed() {
		return driver.ErrBadConn
	}
	return nil
}

func (c *pgConn) IsValid() bool { return !c.c.IsClosed() }

type pgStmt struct {
	c     *pgConn
	query string
}

func (s *pgStmt) Close() error  { return nil }
func (s *pgStmt) NumInput() int { return -1 }

func (s *pgStmt) Exec(a []driver.Value) (driver.Result, error) {
	return s.c.ExecContext(context.Background(), s.query, named(a))
}

func (s *pgStmt) Query(a []driver.Value) (driver.Rows, error) {
	return s.c.QueryContext(context.Background(), s.query, named(a))
}

func named(a []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(a))
	for i, v := range a {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

type pgRows struct{ r pgx.Rows }

func (r *pgRows) Columns() []string {
	fds := r.r.FieldDescriptions()
	cols := make([]string, len(fds))
	for i, fd := range fds {
		cols[i] = fd.Name
	}
	return cols
}

func (r *pgRows) Close() error {
	r.r.Close()
	return r.r.Err()
}

func (r *pgRows) Next(dest []driver.Value) error {
	if !r.r.Next() {
		if err := r.r.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vals, err := r.r.Values()
	if err != nil {
		return err
	}
	for i, v := range vals {
		switch v := v.(type) {
		case nil, int64, float64, bool, string:
			dest[i] = v
		case int32:
			dest[i] = int64(v)
		case int16:
			dest[i] = int64(v)
		case float32:
			dest[i] = float64(v)
		case []byte:
			dest[i] = append([]byte(nil), v...)
		default:
			if t, ok := v.(interface{ Value() (driver.Value, error) }); ok {
				dv, err := t.Value()
				if err != nil {
					return err
				}
				dest[i] = dv
				continue
			}
			dest[i] = v // time.Time and other driver-compatible values
		}
	}
	return nil
}
