package config_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/platform/config"
)

// envOf returns a getenv that reads only from m, so tests never see the
// environment of the process running them.
func envOf(m map[string]string) config.Getenv {
	return func(k string) string { return m[k] }
}

// mustParse parses args and env for the serve command and fails the test on
// an error.
func mustParse(tb testing.TB, args []string, env map[string]string) *config.Config {
	tb.Helper()
	var stderr bytes.Buffer
	c, _, err := config.Parse("serve", args, envOf(env), &stderr, nil)
	if err != nil {
		tb.Fatalf("Parse(%q, %v): %v (stderr: %s)", args, env, err, stderr.String())
	}
	return c
}

// parseErr parses and returns the error, failing the test when there is none.
func parseErr(tb testing.TB, args []string, env map[string]string) error {
	tb.Helper()
	var stderr bytes.Buffer
	_, _, err := config.Parse("serve", args, envOf(env), &stderr, nil)
	if err == nil {
		tb.Fatalf("Parse(%q, %v) succeeded, want an error", args, env)
	}
	return err
}

func TestParseDefaults(t *testing.T) {
	got := mustParse(t, nil, nil)
	want := &config.Config{
		DatabaseURL:               "sqlite://" + filepath.Join("data", "restored.db"),
		RedisURL:                  "", // in-process Redis
		KeyPrefix:                 "restored",
		Addr:                      ":8080",
		DataDir:                   "data",
		SecretKey:                 nil,
		LogLevel:                  slog.LevelInfo,
		LogFormat:                 "text",
		Dev:                       false,
		DevToken:                  "",
		Worker:                    true,
		WorkerConcurrency:         10,
		ExecuteConcurrency:        4,
		AutoMigrate:               true,
		MaxBodyBytes:              1 << 20,
		MaxDepth:                  12,
		MaxComplexity:             50000,
		MaxResponseBytes:          8 << 20,
		PageCacheBytes:            64 << 20,
		MaxSubscriptionsPerSocket: 100,
		MaxSubscriptionsPerToken:  500,
		TokenRecheckEvery:         time.Minute,
		GraphRateLimit:            true,
		ShutdownTimeout:           30 * time.Second,
		RestoreMaxAge:             time.Hour,
		ReconcileInterval:         30 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults mismatch (-want +got):\n%s", diff)
	}
}

func TestParseDatabaseURLFollowsDataDir(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"env data dir", nil, map[string]string{"RESTORED_DATA_DIR": "/var/lib/restored"}, "sqlite:///var/lib/restored/restored.db"},
		{"flag data dir", []string{"--data-dir", "/srv/r"}, map[string]string{"RESTORED_DATA_DIR": "/var/lib/restored"}, "sqlite:///srv/r/restored.db"},
		{"explicit URL wins", []string{"--data-dir", "/srv/r"}, map[string]string{"RESTORED_DATABASE_URL": "postgres://db/restored"}, "postgres://db/restored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.args, tt.env).DatabaseURL
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DatabaseURL mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// fullEnv sets every variable Parse reads to a non-default value.
var fullEnv = map[string]string{
	"RESTORED_DATABASE_URL":                 "postgres://db.example/restored",
	"RESTORED_REDIS_URL":                    "redis://redis.example:6379/2",
	"RESTORED_KEY_PREFIX":                   "prod",
	"RESTORED_ADDR":                         "127.0.0.1:9000",
	"RESTORED_DATA_DIR":                     "/var/lib/restored",
	"RESTORED_SECRET_KEY":                   strings.Repeat("ab", 32),
	"RESTORED_LOG_LEVEL":                    "debug",
	"RESTORED_LOG_FORMAT":                   "json",
	"RESTORED_DEV":                          "true",
	"RESTORED_DEV_TOKEN":                    "rst_from_env",
	"RESTORED_WORKER":                       "false",
	"RESTORED_WORKER_CONCURRENCY":           "3",
	"RESTORED_EXECUTE_CONCURRENCY":          "2",
	"RESTORED_MIGRATE":                      "0",
	"RESTORED_MAX_BODY_BYTES":               "2048",
	"RESTORED_MAX_DEPTH":                    "7",
	"RESTORED_MAX_COMPLEXITY":               "99",
	"RESTORED_SHUTDOWN_TIMEOUT":             "5s",
	"RESTORED_MAX_SUBSCRIPTIONS_PER_SOCKET": "3",
	"RESTORED_MAX_SUBSCRIPTIONS_PER_TOKEN":  "4",
	"RESTORED_TOKEN_RECHECK_INTERVAL":       "5s",
	"RESTORED_GRAPH_RATE_LIMIT":             "false",
	"RESTORED_MAX_RESPONSE_BYTES":           "1000",
	"RESTORED_PAGE_CACHE_BYTES":             "0",
	"RESTORED_CORS_ORIGINS":                 "https://admin.example.com, http://localhost:5173/",
}

func TestParseEnv(t *testing.T) {
	got := mustParse(t, nil, fullEnv)
	want := &config.Config{
		DatabaseURL:               "postgres://db.example/restored",
		RedisURL:                  "redis://redis.example:6379/2",
		KeyPrefix:                 "prod",
		Addr:                      "127.0.0.1:9000",
		DataDir:                   "/var/lib/restored",
		SecretKey:                 bytes.Repeat([]byte{0xab}, 32),
		LogLevel:                  slog.LevelDebug,
		LogFormat:                 "json",
		Dev:                       true,
		DevToken:                  "rst_from_env",
		Worker:                    false,
		WorkerConcurrency:         3,
		ExecuteConcurrency:        2,
		AutoMigrate:               false,
		MaxBodyBytes:              2048,
		MaxDepth:                  7,
		MaxComplexity:             99,
		MaxResponseBytes:          1000,
		PageCacheBytes:            0,
		CORSOrigins:               []string{"https://admin.example.com", "http://localhost:5173"},
		MaxSubscriptionsPerSocket: 3,
		MaxSubscriptionsPerToken:  4,
		TokenRecheckEvery:         5 * time.Second,
		GraphRateLimit:            false,
		ShutdownTimeout:           5 * time.Second,
		RestoreMaxAge:             time.Hour,
		ReconcileInterval:         30 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config from env mismatch (-want +got):\n%s", diff)
	}
}

func TestParseFlagsOverrideEnv(t *testing.T) {
	args := []string{
		"--database-url", "sqlite:///tmp/flag.db",
		"--redis-url", "redis://flag:6379/0",
		"--key-prefix", "flagprefix",
		"--addr", ":9999",
		"--data-dir", "/flag/data",
		"--secret-key", strings.Repeat("cd", 32),
		"--log-level", "warn",
		"--log-format", "text",
		"--dev=false",
		"--dev-token", "rst_from_flag",
		"--worker=true",
		"--worker-concurrency", "4",
		"--execute-concurrency", "6",
		"--migrate=true",
		"--max-body-bytes", "4096",
		"--max-depth", "8",
		"--max-complexity", "100",
		"--max-subscriptions-per-socket", "5",
		"--max-subscriptions-per-token", "6",
		"--token-recheck-interval", "7s",
		"--graph-rate-limit=false",
		"--shutdown-timeout", "1m",
		"--max-response-bytes", "2000",
		"--page-cache-bytes", "4096",
		"--cors-origins", "*",
	}
	got := mustParse(t, args, fullEnv)
	want := &config.Config{
		DatabaseURL:               "sqlite:///tmp/flag.db",
		RedisURL:                  "redis://flag:6379/0",
		KeyPrefix:                 "flagprefix",
		Addr:                      ":9999",
		DataDir:                   "/flag/data",
		SecretKey:                 bytes.Repeat([]byte{0xcd}, 32),
		LogLevel:                  slog.LevelWarn,
		LogFormat:                 "text",
		Dev:                       false,
		DevToken:                  "rst_from_flag",
		Worker:                    true,
		WorkerConcurrency:         4,
		ExecuteConcurrency:        6,
		AutoMigrate:               true,
		MaxBodyBytes:              4096,
		MaxDepth:                  8,
		MaxComplexity:             100,
		MaxResponseBytes:          2000,
		PageCacheBytes:            4096,
		CORSOrigins:               []string{"*"},
		MaxSubscriptionsPerSocket: 5,
		MaxSubscriptionsPerToken:  6,
		TokenRecheckEvery:         7 * time.Second,
		GraphRateLimit:            false,
		ShutdownTimeout:           time.Minute,
		RestoreMaxAge:             time.Hour,
		ReconcileInterval:         30 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config from flags over env mismatch (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		// wantIn are substrings the error message must contain.
		wantIn []string
	}{
		{"bad int env", nil, map[string]string{"RESTORED_MAX_DEPTH": "abc"}, []string{"RESTORED_MAX_DEPTH"}},
		{"negative int env", nil, map[string]string{"RESTORED_WORKER_CONCURRENCY": "-1"}, []string{"RESTORED_WORKER_CONCURRENCY"}},
		{"bad bool env", nil, map[string]string{"RESTORED_WORKER": "maybe"}, []string{"RESTORED_WORKER"}},
		{"bad duration env", nil, map[string]string{"RESTORED_SHUTDOWN_TIMEOUT": "soon"}, []string{"RESTORED_SHUTDOWN_TIMEOUT"}},
		{"every bad env named", nil, map[string]string{"RESTORED_MAX_DEPTH": "abc", "RESTORED_DEV": "maybe"}, []string{"RESTORED_MAX_DEPTH", "RESTORED_DEV"}},
		// A bad variable is an error even when a flag would override it: a
		// typo in the deployment's environment must not go unnoticed.
		{"bad env under flag", []string{"--max-depth", "3"}, map[string]string{"RESTORED_MAX_DEPTH": "abc"}, []string{"RESTORED_MAX_DEPTH"}},
		{"bad int flag", []string{"--max-depth", "abc"}, nil, []string{"max-depth"}},
		{"unknown flag", []string{"--no-such-flag"}, nil, []string{"no-such-flag"}},
		{"short secret key", nil, map[string]string{"RESTORED_SECRET_KEY": strings.Repeat("ab", 31)}, []string{"secret key", "32 bytes"}},
		{"long secret key", []string{"--secret-key", strings.Repeat("ab", 33)}, nil, []string{"secret key", "32 bytes"}},
		{"non-hex secret key", nil, map[string]string{"RESTORED_SECRET_KEY": strings.Repeat("zz", 32)}, []string{"secret key"}},
		{"dev token prefix", []string{"--dev-token", "devtoken"}, nil, []string{"rst_"}},
		{"dev token prefix env", nil, map[string]string{"RESTORED_DEV_TOKEN": "tok_123"}, []string{"rst_"}},
		{"bad log level", nil, map[string]string{"RESTORED_LOG_LEVEL": "loud"}, []string{"log level", "loud"}},
		{"bad log format", []string{"--log-format", "xml"}, nil, []string{"log format", "xml"}},
		{"CORS origin with a path", []string{"--cors-origins", "https://a.example/app"}, nil, []string{"CORS origin", "scheme://host"}},
		{"CORS origin without scheme", nil, map[string]string{"RESTORED_CORS_ORIGINS": "https://ok.example, admin.example"}, []string{"admin.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseErr(t, tt.args, tt.env)
			for _, s := range tt.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestParseExtraFlags(t *testing.T) {
	var slug string
	c, fs, err := config.Parse("token create", []string{"--workspace", "acme", "--addr", ":1"}, envOf(nil), &bytes.Buffer{}, func(fs *flag.FlagSet) {
		fs.StringVar(&slug, "workspace", "", "")
	})
	if err != nil {
		t.Fatal(err)
	}
	if slug != "acme" || c.Addr != ":1" {
		t.Errorf("slug = %q, addr = %q; want acme and :1", slug, c.Addr)
	}
	if fs.Name() != "token create" {
		t.Errorf("flag set name = %q, want %q", fs.Name(), "token create")
	}
}

func TestLoadOrCreateSecretKey(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, []string{"--data-dir", dir}, nil)
	if err := c.LoadOrCreateSecretKey(); err != nil {
		t.Fatalf("create: %v", err)
	}
	if len(c.SecretKey) != 32 {
		t.Fatalf("created key has %d bytes, want 32", len(c.SecretKey))
	}
	path := filepath.Join(dir, "secret.key")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != hex.EncodeToString(c.SecretKey) {
		t.Errorf("file holds %q, want the key %x", got, c.SecretKey)
	}

	// A second process start reads the same key back.
	again := mustParse(t, []string{"--data-dir", dir}, nil)
	if err := again.LoadOrCreateSecretKey(); err != nil {
		t.Fatalf("load: %v", err)
	}
	if diff := cmp.Diff(c.SecretKey, again.SecretKey); diff != "" {
		t.Errorf("reloaded key mismatch (-want +got):\n%s", diff)
	}

	// A configured key wins and the file is neither read nor rewritten.
	configured := mustParse(t, []string{"--data-dir", dir, "--secret-key", strings.Repeat("01", 32)}, nil)
	if err := configured.LoadOrCreateSecretKey(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(bytes.Repeat([]byte{0x01}, 32), configured.SecretKey); diff != "" {
		t.Errorf("configured key mismatch (-want +got):\n%s", diff)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
		t.Errorf("secret.key changed from %q to %q although a key was configured", data, after)
	}
}

func TestLoadOrCreateSecretKeyCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.key"), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, []string{"--data-dir", dir}, nil)
	err := c.LoadOrCreateSecretKey()
	if err == nil || !strings.Contains(err.Error(), "32-byte hex key") {
		t.Fatalf("LoadOrCreateSecretKey with a corrupt file = %v, want an error about the 32-byte hex key", err)
	}
	if c.SecretKey != nil {
		t.Errorf("SecretKey = %x after an error, want nil", c.SecretKey)
	}
}
