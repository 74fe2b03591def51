// Package testenv gives tests of other packages the external services they
// need, isolated per test: a fresh, empty database and a private Redis key
// prefix.
//
// The same test code runs in two modes, chosen by environment variables:
//
//   - Embedded (nothing set; a laptop with only Go): an SQLite file in the
//     test's temporary directory, and no Redis URL, so the code under test
//     starts its in-process Redis as it does in production without one.
//   - Real services (RESTORED_TEST_DATABASE_URL and RESTORED_TEST_REDIS_URL
//     set, as .ci/run does): a new PostgreSQL database per test on that
//     server, and the shared Redis with a random key prefix per test.
//
// Under CI=true the real services are mandatory: a missing or unreachable
// service fails the test instead of silently falling back to the embedded
// mode, because a green CI run that never touched PostgreSQL or Redis would
// prove nothing about production.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/redis/go-redis/v9"
)

// Environment variables read by this package.
const (
	// EnvDatabaseURL names a PostgreSQL database (postgres://…/DBNAME) on a
	// server where the user may CREATE DATABASE. Each test gets a sibling
	// database DBNAME_<8 hex> there; DBNAME itself is only used to connect.
	EnvDatabaseURL = "RESTORED_TEST_DATABASE_URL"
	// EnvRedisURL is a redis:// URL of a shared Redis server.
	EnvRedisURL = "RESTORED_TEST_REDIS_URL"
	// EnvKeyPrefix, if set, leads every key prefix returned by Redis, so that
	// keys left behind by a crashed run can be traced to that run.
	EnvKeyPrefix = "RESTORED_TEST_KEY_PREFIX"
	// EnvCI is "true" on CI, where real services are mandatory.
	EnvCI = "CI"
)

// serviceTimeout bounds every connection attempt and administrative
// statement, so a wedged server fails the test quickly instead of hanging
// until the go test timeout.
const serviceTimeout = 10 * time.Second

// maxIdentLen is PostgreSQL's identifier limit (NAMEDATALEN-1); longer names
// are silently truncated by the server, which would make the DROP miss.
const maxIdentLen = 63

// Postgres reports whether tests run against PostgreSQL, i.e. whether
// DatabaseURL returns postgres:// URLs. Tests use it to skip or adapt checks
// that only make sense for one dialect.
func Postgres() bool {
	return os.Getenv(EnvDatabaseURL) != ""
}

// CI reports whether the tests run on CI (CI=true), where real services are
// mandatory.
func CI() bool {
	v, _ := strconv.ParseBool(os.Getenv(EnvCI))
	return v
}

// DatabaseURL returns the URL of a fresh, empty database for one test, in the
// form store.Open accepts.
//
// With RESTORED_TEST_DATABASE_URL set it creates a new database on that
// PostgreSQL server, named after the configured one plus "_<8 hex>", returns
// the URL pointing at it, and drops it (WITH (FORCE), so connections the test
// leaked do not block the drop) when the test ends. An unreachable server
// fails the test: the variable was set on purpose, so falling back would hide
// a broken setup.
//
// Without it the URL is sqlite://<tb.TempDir()>/test.db, except under
// CI=true, where that fails the test.
func DatabaseURL(tb testing.TB) string {
	tb.Helper()
	raw := os.Getenv(EnvDatabaseURL)
	if raw == "" {
		if CI() {
			tb.Fatalf("testenv: %s is empty but CI=true: tests on CI must run against a real PostgreSQL server (.ci/run sets it)", EnvDatabaseURL)
		}
		return "sqlite://" + tb.TempDir() + "/test.db"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("testenv: %s must be a postgres:// URL, got %q", EnvDatabaseURL, redact(raw))
	}
	name := databaseName(strings.TrimPrefix(u.Path, "/"))

	admin, err := openPostgres(raw)
	if err != nil {
		tb.Fatalf("testenv: PostgreSQL at %s (%s) is unreachable: %v", redact(raw), EnvDatabaseURL, err)
	}
	// The admin connection is closed right after CREATE and reopened for the
	// DROP: holding one per running test would eat into max_connections,
	// which the code under test needs more.
	err = createDatabase(admin, name)
	admin.Close()
	if err != nil {
		tb.Fatalf("testenv: CREATE DATABASE %s on %s: %v", name, redact(raw), err)
	}
	tb.Cleanup(func() {
		admin, err := openPostgres(raw)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
			_, err = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			cancel()
			admin.Close()
		}
		if err != nil {
			tb.Errorf("testenv: drop test database %s: %v", name, err)
		}
	})

	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// databaseName derives the per-test database name from the configured one:
// the base keeps a leaked database traceable to its run (.ci/run drops all
// databases with its prefix), the random suffix keeps parallel tests apart.
// The base is cut so the whole name fits PostgreSQL's identifier limit.
func databaseName(base string) string {
	if base == "" {
		// No database in the URL: pgx would connect to the user's own
		// database, which says nothing useful about the run.
		base = "restored_test"
	}
	suffix := "_" + randomHex(4)
	if len(base) > maxIdentLen-len(suffix) {
		base = base[:maxIdentLen-len(suffix)]
	}
	return base + suffix
}

// openPostgres opens and pings a database/sql pool with the pgx driver, so
// that an unreachable server is reported here rather than at first use.
func openPostgres(rawURL string) (*sql.DB, error) {
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// createDatabase runs CREATE DATABASE, retrying briefly on "object in use":
// PostgreSQL refuses to copy template1 while any other session is connected
// to it (psql users, other tools), and that is transient.
func createDatabase(admin *sql.DB, name string) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
		_, err = admin.ExecContext(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		cancel()
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
	return err
}

// Redis returns the Redis server for one test and a fresh key prefix.
//
// url is RESTORED_TEST_REDIS_URL after a successful PING (5 s timeout; an
// unreachable server fails the test), or "" when the variable is unset,
// meaning the code under test starts its own in-process Redis. Under CI=true
// an unset variable fails the test.
//
// prefix is always new: RESTORED_TEST_KEY_PREFIX (letters and digits only)
// followed by "t" and 12 random hex digits, e.g. "ci1732370000t3f9a0c12be47".
// It is made only of [A-Za-z0-9], so it is safe as a key part, an Asynq
// queue name or a channel name; callers add their own separator. Using it
// for every key, queue and channel keeps parallel tests and concurrent CI
// runs on one server from seeing each other's data.
func Redis(tb testing.TB) (url, prefix string) {
	tb.Helper()
	prefix = keyPrefix(os.Getenv(EnvKeyPrefix))
	raw := os.Getenv(EnvRedisURL)
	if raw == "" {
		if CI() {
			tb.Fatalf("testenv: %s is empty but CI=true: tests on CI must run against a real Redis server (.ci/run sets it)", EnvRedisURL)
		}
		return "", prefix
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		tb.Fatalf("testenv: %s: %v", EnvRedisURL, err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		tb.Fatalf("testenv: Redis at %s (%s) is unreachable: %v", redact(raw), EnvRedisURL, err)
	}
	return raw, prefix
}

// keyPrefix builds a prefix from the run's lead and fresh randomness. The
// lead is filtered to letters and digits so that an odd CI value cannot
// inject separators or glob characters into keys.
func keyPrefix(lead string) string {
	var b strings.Builder
	for _, r := range lead {
		if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		}
	}
	b.WriteString("t")
	b.WriteString(randomHex(6))
	return b.String()
}

// randomHex returns 2n lowercase hex digits from crypto/rand, which (unlike
// math/rand seeded by time) cannot repeat across processes started together.
func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf) // never fails since Go 1.24; it panics instead
	return hex.EncodeToString(buf)
}

// redact hides the password of a service URL before it reaches test logs,
// which CI publishes.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}
