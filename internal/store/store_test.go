package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/migrate"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/platform/ids"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/internal/testenv"
)

// mustOpen opens a fresh, empty test database (SQLite or PostgreSQL, see
// testenv) and closes it when the test ends.
func mustOpen(tb testing.TB) *store.DB {
	tb.Helper()
	return mustOpenURL(tb, testenv.DatabaseURL(tb))
}

// mustOpenURL opens the database at rawURL and closes it when the test ends.
func mustOpenURL(tb testing.TB, rawURL string) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), rawURL)
	if err != nil {
		tb.Fatalf("store.Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// mustMigrate opens a fresh database and applies every migration.
func mustMigrate(tb testing.TB) *store.DB {
	tb.Helper()
	db := mustOpen(tb)
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return db
}

// embeddedVersions lists the versions of the embedded migrations of dia.
func embeddedVersions(tb testing.TB, dia string) []string {
	tb.Helper()
	dir, err := store.MigrationDir(dia)
	if err != nil {
		tb.Fatalf("MigrationDir(%s): %v", dia, err)
	}
	files, err := dir.Files()
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("no embedded migrations for %s", dia)
	}
	var vs []string
	for _, f := range files {
		vs = append(vs, f.Version())
	}
	return vs
}

// recordedVersions returns the versions recorded in the migration table, in
// order, duplicates included.
func recordedVersions(tb testing.TB, db *store.DB) []string {
	tb.Helper()
	rows, err := db.SQL.QueryContext(context.Background(), "SELECT version FROM restored_schema_migrations ORDER BY version")
	if err != nil {
		tb.Fatalf("read migration table: %v", err)
	}
	defer rows.Close()
	var vs []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			tb.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return vs
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	want := embeddedVersions(t, db.Dialect)

	pending, err := db.Pending(ctx)
	if err != nil {
		t.Fatalf("Pending before Migrate: %v", err)
	}
	if diff := cmp.Diff(want, pending); diff != "" {
		t.Errorf("Pending on a fresh database mismatch (-want +got):\n%s", diff)
	}

	applied, err := db.Migrate(ctx)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if diff := cmp.Diff(want, applied); diff != "" {
		t.Errorf("first Migrate applied mismatch (-want +got):\n%s", diff)
	}

	applied, err = db.Migrate(ctx)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("second Migrate applied %v, want nothing", applied)
	}

	pending, err = db.Pending(ctx)
	if err != nil {
		t.Fatalf("Pending after Migrate: %v", err)
	}
	if len(pending) != 0 {
		t.Errorf("Pending after Migrate = %v, want none", pending)
	}
	if diff := cmp.Diff(want, recordedVersions(t, db)); diff != "" {
		t.Errorf("migration table mismatch (-want +got):\n%s", diff)
	}

	// The schema is usable: a row round-trips through ent.
	ws, err := db.Workspace.Create().SetSlug("acme").SetName("Acme").Save(ctx)
	if err != nil {
		t.Fatalf("create workspace after Migrate: %v", err)
	}
	if got := ids.Prefix(ws.ID); got != ids.Workspace {
		t.Errorf("workspace id %q has prefix %q, want %q", ws.ID, got, ids.Workspace)
	}
}

// TestMigrationsMatchSchema fails when the ent schema changed without a new
// migration (or a migration was edited by hand): it applies the embedded
// migrations, then asks ent to plan the migration from that database to the
// schema. Any planned statement is drift.
func TestMigrationsMatchSchema(t *testing.T) {
	ctx := context.Background()
	db := mustMigrate(t)

	// An empty directory passes NamedDiff's atlas.sum validation (no files,
	// no sum), and the planner writes the new file plus a new atlas.sum into
	// it only when there is a change.
	dir := &atlasmigrate.MemDir{}
	m, err := schema.NewMigrate(entsql.OpenDB(db.Dialect, db.SQL),
		schema.WithDir(dir),
		schema.WithDialect(db.Dialect),
		schema.WithFormatter(atlasmigrate.DefaultFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
	if err != nil {
		t.Fatalf("schema.NewMigrate: %v", err)
	}
	if err := m.NamedDiff(ctx, "check", migrate.Tables...); err != nil {
		t.Fatalf("NamedDiff: %v", err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) > 0 {
		var b strings.Builder
		for _, f := range files {
			fmt.Fprintf(&b, "--- %s\n%s\n", f.Name(), f.Bytes())
		}
		t.Fatalf("the %s migrations do not produce the ent schema; the missing changes are:\n%s\n"+
			"Run `make migration NAME=<short_name>` to add a migration for them (never edit an applied migration).",
			db.Dialect, b.String())
	}
}

// TestMigrateConcurrent starts two replicas on one fresh database at once:
// both must succeed, every migration must be applied exactly once, and the
// database must end up current.
func TestMigrateConcurrent(t *testing.T) {
	ctx := context.Background()
	rawURL := testenv.DatabaseURL(t)
	dbs := []*store.DB{mustOpenURL(t, rawURL), mustOpenURL(t, rawURL)}
	want := embeddedVersions(t, dbs[0].Dialect)

	applied := make([][]string, len(dbs))
	errs := make([]error, len(dbs))
	var start, wg sync.WaitGroup
	start.Add(1)
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			applied[i], errs[i] = db.Migrate(ctx)
		}()
	}
	start.Done()
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Migrate: %v", i, err)
		}
	}
	all := slices.Concat(applied...)
	sort.Strings(all)
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("migrations applied by both replicas together mismatch (-want +got):\n%s\n(replica 0 applied %v, replica 1 applied %v)",
			diff, applied[0], applied[1])
	}
	if diff := cmp.Diff(want, recordedVersions(t, dbs[0])); diff != "" {
		t.Errorf("migration table mismatch (-want +got):\n%s", diff)
	}
	for i, db := range dbs {
		pending, err := db.Pending(ctx)
		if err != nil {
			t.Fatalf("replica %d: Pending: %v", i, err)
		}
		if len(pending) != 0 {
			t.Errorf("replica %d: Pending = %v, want none", i, pending)
		}
	}
}

func TestParseURL(t *testing.T) {
	sqlitePragmas := []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(15000)", "synchronous(NORMAL)"}
	type result struct {
		Driver, Path, Dialect string
		Query                 url.Values // SQLite only
		DSN                   string     // PostgreSQL only: passed through untouched
	}
	tests := []struct {
		name string
		in   string
		want result
	}{
		{
			name: "postgres",
			in:   "postgres://u:p@db.example:5432/restored?sslmode=disable",
			want: result{Driver: "pgx", Dialect: dialect.Postgres, DSN: "postgres://u:p@db.example:5432/restored?sslmode=disable"},
		},
		{
			name: "postgresql",
			in:   "postgresql://db.example/restored",
			want: result{Driver: "pgx", Dialect: dialect.Postgres, DSN: "postgresql://db.example/restored"},
		},
		{
			name: "sqlite absolute",
			in:   "sqlite:///var/lib/restored/restored.db",
			want: result{Driver: "sqlite", Dialect: dialect.SQLite, Path: "/var/lib/restored/restored.db",
				Query: url.Values{"_pragma": sqlitePragmas, "_txlock": {"immediate"}}},
		},
		{
			name: "sqlite relative",
			in:   "sqlite://data/restored.db",
			want: result{Driver: "sqlite", Dialect: dialect.SQLite, Path: "data/restored.db",
				Query: url.Values{"_pragma": sqlitePragmas, "_txlock": {"immediate"}}},
		},
		{
			name: "file",
			in:   "file:/tmp/x.db",
			want: result{Driver: "sqlite", Dialect: dialect.SQLite, Path: "/tmp/x.db",
				Query: url.Values{"_pragma": sqlitePragmas, "_txlock": {"immediate"}}},
		},
		{
			name: "sqlite keeps given parameters",
			in:   "sqlite:///tmp/x.db?_txlock=deferred&cache=shared",
			want: result{Driver: "sqlite", Dialect: dialect.SQLite, Path: "/tmp/x.db",
				Query: url.Values{"_pragma": sqlitePragmas, "_txlock": {"deferred"}, "cache": {"shared"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drv, dsn, dia, err := store.ParseURL(tt.in)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.in, err)
			}
			got := result{Driver: drv, Dialect: dia}
			if dia == dialect.SQLite {
				rest, ok := strings.CutPrefix(dsn, "file:")
				if !ok {
					t.Fatalf("SQLite DSN %q does not start with file:", dsn)
				}
				path, query, _ := strings.Cut(rest, "?")
				got.Path = path
				if got.Query, err = url.ParseQuery(query); err != nil {
					t.Fatalf("SQLite DSN %q: %v", dsn, err)
				}
			} else {
				got.DSN = dsn
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseURL(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		wantIn string // a substring of the error
	}{
		{"empty", "", "unsupported database URL"},
		{"mysql", "mysql://db/restored", "unsupported database URL"},
		{"no scheme", "/var/lib/restored.db", "unsupported database URL"},
		{"http", "http://db.example", "unsupported database URL"},
		{"sqlite without path", "sqlite://", "no path"},
		{"sqlite query only", "sqlite://?_txlock=immediate", "no path"},
		{"file without path", "file:", "no path"},
		{"sqlite bad query", "sqlite:///tmp/x.db?a=%zz", "sqlite database URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drv, dsn, dia, err := store.ParseURL(tt.in)
			if err == nil {
				t.Fatalf("ParseURL(%q) = %q, %q, %q; want an error", tt.in, drv, dsn, dia)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("ParseURL(%q) error = %q, want it to contain %q", tt.in, err, tt.wantIn)
			}
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	// Nothing listens on port 1; the password must not leak into the error.
	_, err := store.Open(context.Background(), "postgres://restored:s3cret-pw@127.0.0.1:1/restored?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable PostgreSQL succeeded")
	}
	if !strings.Contains(err.Error(), "database unreachable") {
		t.Errorf("error %q does not say the database is unreachable", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error %q leaks the password", err)
	}
}

// TestForeignKeysEnforced checks that references are enforced in both
// dialects; SQLite does so only with the foreign_keys pragma ParseURL adds.
func TestForeignKeysEnforced(t *testing.T) {
	ctx := context.Background()
	db := mustMigrate(t)
	ws, err := db.Workspace.Create().SetSlug("acme").SetName("Acme").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}

	err = db.Membership.Create().
		SetWorkspaceID(ws.ID).
		SetUserID(ids.New(ids.User)). // no such user
		SetRole(access.Operator).
		Exec(ctx)
	if err == nil {
		t.Fatal("membership of a missing user was stored: foreign keys are not enforced")
	}
	if !ent.IsConstraintError(err) {
		t.Errorf("membership of a missing user: error %v is not a constraint error", err)
	}
	if n, err := db.Membership.Query().Count(ctx); err != nil || n != 0 {
		t.Errorf("memberships after the failed insert: %d, %v; want 0, nil", n, err)
	}

	// The same insert with a real user works, so the failure above was the
	// reference and nothing else.
	u, err := db.User.Create().SetEmail("a@acme.test").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Membership.Create().SetWorkspaceID(ws.ID).SetUserID(u.ID).SetRole(access.Operator).Exec(ctx); err != nil {
		t.Fatalf("membership of an existing user: %v", err)
	}
}

func TestWithTx(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		fnErr   error
		wantErr error
		wantN   int // workspaces stored afterwards
	}{
		{"commit on nil", nil, nil, 1},
		{"rollback on error", errBoom, errBoom, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			db := mustMigrate(t)
			err := store.WithTx(ctx, db.Client, func(tx *ent.Client) error {
				if _, err := tx.Workspace.Create().SetSlug("acme").SetName("Acme").Save(ctx); err != nil {
					return err
				}
				return tt.fnErr
			})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("WithTx = %v, want %v", err, tt.wantErr)
			}
			if n, err := db.Workspace.Query().Count(ctx); err != nil || n != tt.wantN {
				t.Errorf("workspaces after WithTx: %d, %v; want %d, nil", n, err, tt.wantN)
			}
		})
	}
}

func TestWithTxPanic(t *testing.T) {
	ctx := context.Background()
	db := mustMigrate(t)
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want the panic value %q re-raised", v, "boom")
			}
		}()
		store.WithTx(ctx, db.Client, func(tx *ent.Client) error {
			if _, err := tx.Workspace.Create().SetSlug("acme").SetName("Acme").Save(ctx); err != nil {
				t.Errorf("create in tx: %v", err)
			}
			panic("boom")
		})
	}()
	if n, err := db.Workspace.Query().Count(ctx); err != nil || n != 0 {
		t.Errorf("workspaces after a panic in WithTx: %d, %v; want 0, nil", n, err)
	}
	// The connection went back to the pool usable: a later write commits.
	if _, err := db.Workspace.Create().SetSlug("acme").SetName("Acme").Save(ctx); err != nil {
		t.Errorf("create after the panic: %v", err)
	}
}
