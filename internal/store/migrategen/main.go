// Command migrategen writes a new versioned migration for each dialect from
// the ent schema, by replaying the existing migrations on a scratch database
// and diffing the result against the schema (what `atlas migrate diff` does,
// without the Atlas CLI). Run through `make migration NAME=…`.
//
// SQLite uses an in-memory database; PostgreSQL needs a server (-pg, default
// the local one), where a scratch database is created and dropped.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"strings"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/restored/restored/ent/migrate"
)

func main() {
	name := flag.String("name", "", "migration name (required)")
	pg := flag.String("pg", "postgres://127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server for the scratch database")
	only := flag.String("dialect", "", "only this dialect (sqlite or postgres)")
	flag.Parse()
	if *name == "" {
		log.Fatal("migrategen: -name is required")
	}
	ctx := context.Background()
	if *only == "" || *only == "sqlite" {
		db, err := sql.Open("sqlite", "file:migrategen?mode=memory&_pragma=foreign_keys(1)")
		check(err)
		check(diff(ctx, db, dialect.SQLite, "internal/store/migrations/sqlite", *name))
		db.Close()
	}
	if *only == "" || *only == "postgres" {
		admin, err := sql.Open("pgx", *pg)
		check(err)
		scratch := fmt.Sprintf("restored_migrategen_%d", os.Getpid())
		_, err = admin.ExecContext(ctx, "CREATE DATABASE "+scratch)
		check(err)
		defer admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+scratch)
		u, err := url.Parse(*pg)
		check(err)
		u.Path = "/" + scratch
		db, err := sql.Open("pgx", u.String())
		check(err)
		err = diff(ctx, db, dialect.Postgres, "internal/store/migrations/postgres", *name)
		db.Close()
		check(err)
	}
}

func diff(ctx context.Context, db *sql.DB, dia, path, name string) error {
	dir, err := atlas.NewLocalDir(path)
	if err != nil {
		return err
	}
	m, err := schema.NewMigrate(entsql.OpenDB(dia, db),
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dia),
		schema.WithFormatter(atlas.DefaultFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
	if err != nil {
		return err
	}
	if err := m.NamedDiff(ctx, strings.ReplaceAll(name, " ", "_"), migrate.Tables...); err != nil {
		return fmt.Errorf("%s: %w", dia, err)
	}
	return nil
}

func check(err error) {
	if err != nil {
		log.Fatalf("migrategen: %v", err)
	}
}
