// Package config reads restored's configuration from flags and environment
// variables (flags win). Every setting has a default that gives a working
// single-machine system: SQLite in the data dir, an in-process Redis.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of one process.
type Config struct {
	DatabaseURL string // RESTORED_DATABASE_URL; default sqlite://<data-dir>/restored.db
	RedisURL    string // RESTORED_REDIS_URL; default "" = in-process Redis
	KeyPrefix   string // RESTORED_KEY_PREFIX; prefixes queue and channel names
	Addr        string // RESTORED_ADDR
	DataDir     string // RESTORED_DATA_DIR
	SecretKey   []byte // RESTORED_SECRET_KEY (hex, 32 bytes); encrypts tenant credentials
	LogLevel    slog.Level
	LogFormat   string // text or json

	Dev      bool   // --dev: seed demo data, GraphiQL, fixed dev token
	DevToken string // RESTORED_DEV_TOKEN / --dev-token

	Worker            bool // run the Asynq worker in this process
	WorkerConcurrency int
	AutoMigrate       bool // apply pending migrations at start-up

	MaxBodyBytes  int64
	MaxDepth      int
	MaxComplexity int
	// MaxResponseBytes is the largest GraphQL response data served.
	MaxResponseBytes int
	// PageCacheBytes is the memory kept for pages of backup items
	// (server/pagecache.go); 0 turns the cache off.
	PageCacheBytes int
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
	// TrustedDocuments names a file of the only operations accepted.
	TrustedDocuments string
	// MetricsToken, when set, is the bearer token /metrics requires (the
	// scrape config's bearer_token); "" leaves /metrics open.
	MetricsToken string
	// OTLPEndpoint receives traces (OTLP/HTTP); "" leaves tracing off.
	OTLPEndpoint string
	// MaxSubscriptionsPerSocket and MaxSubscriptionsPerToken cap live
	// subscriptions (per process), so one client cannot exhaust the server.
	MaxSubscriptionsPerSocket int
	MaxSubscriptionsPerToken  int
	// TokenRecheckEvery is how often an open websocket re-checks its token
	// as a backstop: revocations and role changes reach it at once through
	// the event bus, and expiry through a timer.
	TokenRecheckEvery time.Duration
	// GraphRateLimit paces Microsoft Graph requests per tenant, across all
	// processes, at Microsoft's published Intune limits.
	GraphRateLimit bool
	// GraphRateWindow is the window of the limiter's budgets: Microsoft's
	// 20 s when zero. Shorter only against a simulated Graph whose windows
	// are shortened alike (benchmarks run Microsoft's limits time-scaled);
	// it has no flag, as no real tenant counts that way.
	GraphRateWindow time.Duration
	// ExecuteConcurrency is how many items of one restore run are written
	// at once (the tenant's limiter paces them all).
	ExecuteConcurrency int
	ShutdownTimeout    time.Duration
	// RestoreMaxAge is how long restore checks and previews stay current.
	RestoreMaxAge time.Duration
	// ReconcileInterval is how often the leading worker process reconciles
	// queued and running operation runs with the queue.
	ReconcileInterval time.Duration

	// GraphsimURL and GraphsimCAFile point environments at a standalone
	// simulated Graph (`restored graphsim`): environments on its host get
	// their tokens from it and trust its certificate.
	GraphsimURL    string
	GraphsimCAFile string
}

// Getenv is os.Getenv's shape, so tests can pass their own environment.
type Getenv func(string) string

// Parse reads the flags of a subcommand from args and the environment from
// getenv. The flag set is returned unparsed-args-free; extra flags can be
// registered by the caller through extra before parsing.
func Parse(name string, args []string, getenv Getenv, stderr io.Writer, extra func(*flag.FlagSet)) (*Config, *flag.FlagSet, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	var bad []string
	envBool := func(k, def string) bool {
		b, err := strconv.ParseBool(env(k, def))
		if err != nil {
			bad = append(bad, k+": want true or false")
		}
		return b
	}
	envInt := func(k, def string) int {
		n, err := strconv.Atoi(env(k, def))
		if err != nil || n < 0 {
			bad = append(bad, k+": want a non-negative integer")
		}
		return n
	}
	envDuration := func(k, def string) time.Duration {
		d, err := time.ParseDuration(env(k, def))
		if err != nil {
			bad = append(bad, k+": want a duration such as 30s")
		}
		return d
	}
	c := &Config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DatabaseURL, "database-url", env("RESTORED_DATABASE_URL", ""), "database URL: postgres://… or sqlite://PATH (default: SQLite file in the data dir)")
	fs.StringVar(&c.RedisURL, "redis-url", env("RESTORED_REDIS_URL", ""), "Redis URL: redis://, rediss://, redis-sentinel:// (default: in-process Redis)")
	fs.StringVar(&c.KeyPrefix, "key-prefix", env("RESTORED_KEY_PREFIX", "restored"), "prefix of Redis queue and channel names")
	fs.StringVar(&c.Addr, "addr", env("RESTORED_ADDR", ":8080"), "listen address")
	fs.StringVar(&c.DataDir, "data-dir", env("RESTORED_DATA_DIR", "data"), "directory for the SQLite file and the generated dev secret key")
	secret := fs.String("secret-key", env("RESTORED_SECRET_KEY", ""), "hex-encoded 32-byte key that encrypts tenant credentials (generated into the data dir in --dev)")
	level := fs.String("log-level", env("RESTORED_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", env("RESTORED_LOG_FORMAT", "text"), "log format: text or json")
	fs.BoolVar(&c.Dev, "dev", envBool("RESTORED_DEV", "false"), "development mode: seed demo data and accept the dev token")
	fs.StringVar(&c.DevToken, "dev-token", env("RESTORED_DEV_TOKEN", ""), "fixed owner token accepted in --dev (must start with rst_)")
	fs.BoolVar(&c.Worker, "worker", envBool("RESTORED_WORKER", "true"), "run the job worker in this process")
	fs.IntVar(&c.WorkerConcurrency, "worker-concurrency", envInt("RESTORED_WORKER_CONCURRENCY", "10"), "concurrent jobs per worker process")
	fs.IntVar(&c.ExecuteConcurrency, "execute-concurrency", envInt("RESTORED_EXECUTE_CONCURRENCY", "4"), "items of one restore run written at once (0: the default, 4)")
	fs.BoolVar(&c.AutoMigrate, "migrate", envBool("RESTORED_MIGRATE", "true"), "apply pending database migrations at start-up")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", int64(envInt("RESTORED_MAX_BODY_BYTES", "1048576")), "largest accepted request body (and websocket message)")
	fs.IntVar(&c.MaxDepth, "max-depth", envInt("RESTORED_MAX_DEPTH", "12"), "deepest accepted query")
	fs.IntVar(&c.MaxComplexity, "max-complexity", envInt("RESTORED_MAX_COMPLEXITY", "50000"), "most complex accepted query: each field costs 1 plus its children, times first/last (50 when absent) on lists")
	corsOrigins := fs.String("cors-origins", env("RESTORED_CORS_ORIGINS", ""), "comma-separated browser origins (https://admin.example.com) allowed to call the API from another origin; * for any (tokens are never cookies, so no credentials are allowed)")
	fs.StringVar(&c.MetricsToken, "metrics-token", env("RESTORED_METRICS_TOKEN", ""), "bearer token that GET /metrics requires (Prometheus' bearer_token); open when empty: its labels name tenants")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", env("RESTORED_OTLP_ENDPOINT", ""), "OpenTelemetry collector (OTLP/HTTP, e.g. http://otel-collector:4318) to send traces to; off when empty")
	fs.StringVar(&c.TrustedDocuments, "trusted-documents", env("RESTORED_TRUSTED_DOCUMENTS", ""), "JSON file of sha256 → GraphQL document: when set, only these operations are accepted (by hash or by text)")
	fs.IntVar(&c.MaxResponseBytes, "max-response-bytes", envInt("RESTORED_MAX_RESPONSE_BYTES", "8388608"), "largest GraphQL response served (bigger ones are refused: ask for smaller pages)")
	fs.IntVar(&c.PageCacheBytes, "page-cache-bytes", envInt("RESTORED_PAGE_CACHE_BYTES", "67108864"), "memory kept for pages of backup items, answered again while their set has no new item (0: off)")
	fs.IntVar(&c.MaxSubscriptionsPerSocket, "max-subscriptions-per-socket", envInt("RESTORED_MAX_SUBSCRIPTIONS_PER_SOCKET", "100"), "live subscriptions one websocket may hold")
	fs.IntVar(&c.MaxSubscriptionsPerToken, "max-subscriptions-per-token", envInt("RESTORED_MAX_SUBSCRIPTIONS_PER_TOKEN", "500"), "live subscriptions one API token may hold across its websockets (per process)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration("RESTORED_SHUTDOWN_TIMEOUT", "30s"), "how long graceful shutdown waits for requests and jobs")
	fs.BoolVar(&c.GraphRateLimit, "graph-rate-limit", envBool("RESTORED_GRAPH_RATE_LIMIT", "true"), "pace Microsoft Graph requests per tenant at Microsoft's published Intune limits, shared by every process through Redis")
	fs.DurationVar(&c.TokenRecheckEvery, "token-recheck-interval", envDuration("RESTORED_TOKEN_RECHECK_INTERVAL", "1m"), "how often open websockets re-check their token besides the instant revocation events")
	fs.DurationVar(&c.ReconcileInterval, "reconcile-interval", envDuration("RESTORED_RECONCILE_INTERVAL", "30s"), "how often the leading worker re-enqueues runs whose task was lost and hands back or fails runs whose worker is gone")
	fs.DurationVar(&c.RestoreMaxAge, "restore-max-age", envDuration("RESTORED_RESTORE_MAX_AGE", "1h"), "how long restore safety checks and previews stay current before they must be run again")
	fs.StringVar(&c.GraphsimURL, "graphsim-url", env("RESTORED_GRAPHSIM_URL", ""), "URL of a standalone simulated Graph (restored graphsim) that environments may use")
	fs.StringVar(&c.GraphsimCAFile, "graphsim-ca-file", env("RESTORED_GRAPHSIM_CA_FILE", ""), "CA certificate (PEM) of that simulated Graph")
	before := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { before[f.Name] = true })
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() { usage(fs, name, before) }
	if len(bad) > 0 {
		return nil, nil, errors.New("bad environment: " + strings.Join(bad, "; "))
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	var err error
	if c.LogLevel, err = parseLevel(*level); err != nil {
		return nil, nil, err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, nil, fmt.Errorf("log format %q: want text or json", c.LogFormat)
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://" + filepath.Join(c.DataDir, "restored.db")
	}
	if *secret != "" {
		if c.SecretKey, err = hex.DecodeString(*secret); err != nil || len(c.SecretKey) != 32 {
			return nil, nil, errors.New("secret key must be 64 hex characters (32 bytes)")
		}
	}
	for _, o := range strings.Split(*corsOrigins, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o == "" {
			continue
		}
		if u, err := url.Parse(o); o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "") {
			return nil, nil, fmt.Errorf("CORS origin %q: want scheme://host[:port], such as https://admin.example.com, or *", o)
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	if c.DevToken != "" && !strings.HasPrefix(c.DevToken, "rst_") {
		return nil, nil, errors.New("dev token must start with rst_")
	}
	return c, fs, nil
}

// EnsureDataDir creates the data directory when the configuration uses it.
func (c *Config) EnsureDataDir() error {
	return os.MkdirAll(c.DataDir, 0o700)
}

// LoadOrCreateSecretKey fills SecretKey from <data-dir>/secret.key, creating
// that file with a random key when absent. Only --dev does this: production
// must configure the key explicitly, or a lost data dir would silently make
// every stored credential unreadable.
func (c *Config) LoadOrCreateSecretKey() error {
	if c.SecretKey != nil {
		return nil
	}
	path := filepath.Join(c.DataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) != 32 {
			return fmt.Errorf("%s does not hold a 32-byte hex key", path)
		}
		c.SecretKey = key
		return nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return err
	}
	c.SecretKey = key
	return nil
}

// Logger builds the process logger.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// storeFlags are the flags of the commands that only open the database.
var storeFlags = map[string]bool{"database-url": true, "data-dir": true, "log-level": true, "log-format": true, "secret-key": true}

// usage prints a command's own flags: serve and worker take them all; the
// administrative commands take the database flags and their own (those not
// in common, registered through Parse's extra).
func usage(fs *flag.FlagSet, name string, common map[string]bool) {
	w := fs.Output()
	fmt.Fprintf(w, "usage: restored %s [flags]\n\nflags (each also settable by its RESTORED_* environment variable, see README.md):\n", name)
	all := name == "serve" || name == "worker"
	fs.VisitAll(func(f *flag.Flag) {
		if !all && common[f.Name] && !storeFlags[f.Name] {
			return
		}
		fmt.Fprintf(w, "  --%s", f.Name)
		if typ, _ := flag.UnquoteUsage(f); typ != "" {
			fmt.Fprintf(w, " %s", typ)
		}
		fmt.Fprintf(w, "\n    \t%s", f.Usage)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
