package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
)

// migrations holds the versioned migrations, one directory per dialect, made
// by `make migration NAME=…` (store/migrategen) from the ent schema.
//
//go:embed migrations
var migrations embed.FS

// MigrationDir returns the embedded migration directory of a dialect as an
// Atlas directory (its atlas.sum is checked by Migrate).
func MigrationDir(dia string) (*migrate.MemDir, error) {
	sub := path.Join("migrations", dirName(dia))
	entries, err := fs.ReadDir(migrations, sub)
	if err != nil {
		return nil, err
	}
	dir := &migrate.MemDir{}
	for _, e := range entries {
		data, err := migrations.ReadFile(path.Join(sub, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := dir.WriteFile(e.Name(), data); err != nil {
			return nil, err
		}
	}
	return dir, nil
}

func dirName(dia string) string {
	if dia == dialect.Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Migrate applies every embedded migration not applied yet, each in its own
// transaction, and returns the versions it applied. Concurrent callers (several
// replicas starting at once) are serialized by a PostgreSQL advisory lock, or
// by SQLite's single writer.
func (db *DB) Migrate(ctx context.Context) (applied []string, err error) {
	dir, err := MigrationDir(db.Dialect)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	if err := migrate.Validate(dir); err != nil {
		return nil, fmt.Errorf("migrations do not match atlas.sum: %w", err)
	}
	files, err := dir.Files()
	if err != nil {
		return nil, err
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if db.Dialect == dialect.Postgres {
		// An arbitrary constant: the key of restored's migration lock.
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7402310001)"); err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7402310001)")
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS restored_schema_migrations (
		version varchar(255) PRIMARY KEY, applied_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		return nil, fmt.Errorf("create migration table: %w", err)
	}
	done := map[string]bool{}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM restored_schema_migrations")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, err
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	mark := "INSERT INTO restored_schema_migrations (version) VALUES ($1)"
	recorded := "SELECT COUNT(*) FROM restored_schema_migrations WHERE version = $1"
	if db.Dialect == dialect.SQLite {
		mark = "INSERT INTO restored_schema_migrations (version) VALUES (?)"
		recorded = "SELECT COUNT(*) FROM restored_schema_migrations WHERE version = ?"
	}
	for _, f := range files {
		if done[f.Version()] {
			continue
		}
		stmts, err := f.Stmts()
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", f.Name(), err)
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return applied, err
		}
		// SQLite has no advisory lock: another process may have applied this
		// migration since the read above. The immediate transaction holds the
		// write lock from BEGIN, so checking again here is race-free.
		var n int
		if err := tx.QueryRowContext(ctx, recorded, f.Version()).Scan(&n); err != nil {
			tx.Rollback()
			return applied, err
		}
		if n > 0 {
			tx.Rollback()
			continue
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				tx.Rollback()
				return applied, fmt.Errorf("migration %s: %s: %w", f.Name(), firstLine(s), err)
			}
		}
		if _, err := tx.ExecContext(ctx, mark, f.Version()); err != nil {
			tx.Rollback()
			return applied, err
		}
		if err := tx.Commit(); err != nil {
			return applied, err
		}
		applied = append(applied, f.Version())
	}
	return applied, nil
}

// Pending returns the versions of embedded migrations not yet applied.
func (db *DB) Pending(ctx context.Context) ([]string, error) {
	dir, err := MigrationDir(db.Dialect)
	if err != nil {
		return nil, err
	}
	files, err := dir.Files()
	if err != nil {
		return nil, err
	}
	var done []string
	var exists int
	// A database never migrated has no migration table: everything is pending.
	q := "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'restored_schema_migrations' AND table_schema = current_schema()"
	if db.Dialect == dialect.SQLite {
		q = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'restored_schema_migrations'"
	}
	if err := db.SQL.QueryRowContext(ctx, q).Scan(&exists); err != nil {
		return nil, err
	}
	if exists > 0 {
		rows, err := db.SQL.QueryContext(ctx, "SELECT version FROM restored_schema_migrations")
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return nil, err
			}
			done = append(done, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var pending []string
	for _, f := range files {
		if !slices.Contains(done, f.Version()) {
			pending = append(pending, f.Version())
		}
	}
	return pending, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
