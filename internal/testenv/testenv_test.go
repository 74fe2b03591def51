package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver for the embedded mode
)

// TestDatabaseURL checks the promise other packages rely on: every call gives
// a different database that exists, is empty and accepts writes.
func TestDatabaseURL(t *testing.T) {
	a, b := DatabaseURL(t), DatabaseURL(t)
	if a == b {
		t.Fatalf("two calls returned the same database %q", a)
	}
	for _, u := range []string{a, b} {
		if Postgres() != strings.HasPrefix(u, "postgres") {
			t.Errorf("Postgres()=%v but DatabaseURL returned %q", Postgres(), u)
		}
		checkEmptyAndUsable(t, u)
	}
}

// checkEmptyAndUsable opens the database behind u, checks it has no tables,
// and creates one, which proves the test user owns it.
func checkEmptyAndUsable(t *testing.T, u string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		db     *sql.DB
		err    error
		tables string
	)
	if Postgres() {
		db, err = sql.Open("pgx", u)
		tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
	} else {
		path, ok := strings.CutPrefix(u, "sqlite://")
		if !ok {
			t.Fatalf("embedded mode returned %q, want sqlite://PATH", u)
		}
		db, err = sql.Open("sqlite", "file:"+path)
		tables = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	}
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	defer db.Close()
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 on %s: %v (got %d)", u, err, one)
	}
	var n int
	if err := db.QueryRowContext(ctx, tables).Scan(&n); err != nil {
		t.Fatalf("count tables in %s: %v", u, err)
	}
	if n != 0 {
		t.Errorf("fresh database %s has %d tables, want 0", u, n)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE probe (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatalf("create table in %s: %v", u, err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO probe (id) VALUES (1)"); err != nil {
		t.Fatalf("insert into %s: %v", u, err)
	}
}

// TestRedis checks that prefixes never repeat and are safe as key parts, and
// that the URL is either empty (embedded Redis) or the configured one.
func TestRedis(t *testing.T) {
	url1, p1 := Redis(t)
	url2, p2 := Redis(t)
	if url1 != url2 {
		t.Errorf("URL changed between calls: %q vs %q", url1, url2)
	}
	if p1 == p2 {
		t.Fatalf("two calls returned the same prefix %q", p1)
	}
	valid := regexp.MustCompile(`^[A-Za-z0-9]*t[0-9a-f]{12}$`)
	for _, p := range []string{p1, p2} {
		if !valid.MatchString(p) {
			t.Errorf("prefix %q does not match %s", p, valid)
		}
	}
}

// TestKeyPrefixLead checks that the run's lead comes first and is filtered.
func TestKeyPrefixLead(t *testing.T) {
	p := keyPrefix("ci-2026:*x")
	if !strings.HasPrefix(p, "ci2026xt") || len(p) != len("ci2026xt")+12 {
		t.Errorf("prefix %q, want ci2026xt<12 hex>", p)
	}
}

// TestCIRequiresServices checks that CI never falls back to the embedded
// services: a missing or unreachable service must fail, not skip or pass.
func TestCIRequiresServices(t *testing.T) {
	cases := []struct {
		name, dbURL, redisURL string
		call                  func(testing.TB)
	}{
		{"db unset", "", "", func(tb testing.TB) { DatabaseURL(tb) }},
		{"db unreachable", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "", func(tb testing.TB) { DatabaseURL(tb) }},
		{"redis unset", "", "", func(tb testing.TB) { Redis(tb) }},
		{"redis unreachable", "", "redis://127.0.0.1:1/0", func(tb testing.TB) { Redis(tb) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvCI, "true")
			t.Setenv(EnvDatabaseURL, c.dbURL)
			t.Setenv(EnvRedisURL, c.redisURL)
			f := &fakeTB{TB: t}
			f.run(c.call)
			if !f.fatal {
				t.Fatalf("no fatal error under CI=true")
			}
			t.Logf("fatal as expected: %s", f.msg)
		})
	}
}

// fakeTB records Fatal instead of failing the real test, so the failure
// paths can be tested; everything else goes to the real test.
type fakeTB struct {
	testing.TB
	fatal bool
	msg   string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit() // like testing.T: stop the calling goroutine
}

func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// run calls fn on its own goroutine, which Fatalf may end.
func (f *fakeTB) run(fn func(testing.TB)) {
	var wg sync.WaitGroup
	wg.Go(func() { fn(f) })
	wg.Wait()
}
