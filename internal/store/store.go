// Package store opens the database (PostgreSQL in production, an embedded
// SQLite file by default) and applies the versioned migrations embedded in the
// binary. It is the only package that knows about drivers and DSNs.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the pure-Go "sqlite" driver

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/hook"
	_ "github.com/restored/restored/ent/runtime" // schema defaults and hooks
)

// DB is an open database: the ent client for the domain and the raw handle for
// health checks and migrations.
type DB struct {
	*ent.Client
	SQL     *sql.DB
	Dialect string // dialect.Postgres or dialect.SQLite
}

// Open connects to the database named by rawURL:
//   - postgres://… or postgresql://… for PostgreSQL;
//   - sqlite://PATH or file:PATH for SQLite (foreign keys on, WAL, busy timeout).
func Open(ctx context.Context, rawURL string) (*DB, error) {
	drv, dsn, dia, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(drv, dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// database/sql keeps 2 idle connections by default: under 50 concurrent
	// clients most requests then open a connection of their own (on SQLite
	// that is a file open plus the pragmas, half the CPU), so keep as many
	// idle as may be open.
	if dia == dialect.Postgres {
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(20)
	} else {
		db.SetMaxIdleConns(16)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database unreachable: %w", redactErr(err, rawURL))
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dia, db)))
	client.BackupItem.Use(backupItemsAppendOnly)
	return &DB{Client: client, SQL: db, Dialect: dia}, nil
}

// backupItemsAppendOnly keeps backup sets snapshots: an item is only ever
// added, never changed or deleted, and each addition moves its set's
// items_version in the same transaction (a page read at a version stays
// that page until then; server/pagecache.go relies on it).
func backupItemsAppendOnly(next ent.Mutator) ent.Mutator {
	return hook.BackupItemFunc(func(ctx context.Context, m *ent.BackupItemMutation) (ent.Value, error) {
		if !m.Op().Is(ent.OpCreate) {
			return nil, errors.New("backup items are append-only: a backup set is a snapshot")
		}
		v, err := next.Mutate(ctx, m)
		if err != nil {
			return v, err
		}
		setID, _ := m.BackupSetID()
		return v, m.Client().BackupSet.UpdateOneID(setID).AddItemsVersion(1).Exec(ctx)
	})
}

// Close closes the client and the pool.
func (db *DB) Close() error { return db.Client.Close() }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// WithTx runs fn in a transaction, committing when it returns nil.
func WithTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Client) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			tx.Rollback()
			panic(v)
		}
	}()
	if err := fn(tx.Client()); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return fmt.Errorf("%w (rollback: %v)", err, rerr)
		}
		return err
	}
	return tx.Commit()
}

// LockRows is a query predicate that adds FOR UPDATE on PostgreSQL. SQLite
// has no row locks (FOR UPDATE is a syntax error there) and needs none:
// ParseURL opens every SQLite transaction with BEGIN IMMEDIATE, so writing
// transactions already run one at a time.
func LockRows(s *entsql.Selector) {
	if s.Dialect() == dialect.Postgres {
		s.ForUpdate()
	}
}

// ParseURL maps a database URL to a database/sql driver name, its DSN and the
// ent dialect.
func ParseURL(rawURL string) (driver, dsn, dia string, err error) {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return "pgx", rawURL, dialect.Postgres, nil
	case strings.HasPrefix(rawURL, "sqlite://"), strings.HasPrefix(rawURL, "file:"):
		path := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite://"), "file:")
		query := ""
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path, query = path[:i], path[i+1:]
		}
		if path == "" {
			return "", "", "", errors.New("sqlite database URL has no path")
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return "", "", "", fmt.Errorf("sqlite database URL: %w", err)
		}
		// Foreign keys are off by default in SQLite; WAL lets readers run
		// beside the one writer; the busy timeout and immediate transactions
		// make concurrent writers wait instead of failing with SQLITE_BUSY.
		for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(15000)", "synchronous(NORMAL)"} {
			q.Add("_pragma", p)
		}
		if q.Get("_txlock") == "" {
			q.Set("_txlock", "immediate")
		}
		return "sqlite", "file:" + path + "?" + q.Encode(), dialect.SQLite, nil
	default:
		return "", "", "", errors.New("unsupported database URL: want postgres://… or sqlite://PATH")
	}
}

// redactErr keeps a driver error from echoing the password of the URL.
func redactErr(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}
