package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent/membership"
	"github.com/restored/restored/ent/user"
	"github.com/restored/restored/ent/workspace"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/config"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/internal/testenv"
)

// testEnv returns the environment of one test's restored: a fresh database,
// the test Redis (or none, meaning in-process) with a private key prefix, and
// a private data dir. Tests may change the map before calling getenv.
func testEnv(tb testing.TB) map[string]string {
	tb.Helper()
	redisURL, prefix := testenv.Redis(tb)
	return map[string]string{
		"RESTORED_DATABASE_URL": testenv.DatabaseURL(tb),
		"RESTORED_REDIS_URL":    redisURL,
		"RESTORED_KEY_PREFIX":   prefix,
		"RESTORED_DATA_DIR":     tb.TempDir(),
	}
}

// getenv reads from env only, never from the process environment.
func getenv(env map[string]string) config.Getenv {
	return func(k string) string { return env[k] }
}

// runCmd runs the command line args with env and returns its stdout, its
// stderr and its error.
func runCmd(tb testing.TB, env map[string]string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, getenv(env), &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustOpenDB opens the test database of env for inspection.
func mustOpenDB(tb testing.TB, env map[string]string) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), env["RESTORED_DATABASE_URL"])
	if err != nil {
		tb.Fatalf("store.Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// mustTokenCreate runs `token create` and returns the token it printed,
// checking that stdout is that token alone on one line.
func mustTokenCreate(tb testing.TB, env map[string]string, args ...string) string {
	tb.Helper()
	stdout, stderr, err := runCmd(tb, env, append([]string{"token", "create"}, args...)...)
	if err != nil {
		tb.Fatalf("token create %v: %v\nstderr: %s", args, err, stderr)
	}
	if strings.Count(stdout, "\n") != 1 || !strings.HasSuffix(stdout, "\n") {
		tb.Fatalf("token create printed %q on stdout, want exactly one line", stdout)
	}
	tok := strings.TrimSuffix(stdout, "\n")
	if !strings.HasPrefix(tok, "rst_") || len(tok) < 20 || strings.ContainsAny(tok, " \t") {
		tb.Fatalf("token create printed %q, want a token starting with rst_", tok)
	}
	if strings.Contains(stderr, tok) {
		tb.Errorf("token create wrote the secret to stderr too: %q", stderr)
	}
	return tok
}

// authenticate resolves tok against the database of env.
func authenticate(tb testing.TB, db *store.DB, tok string) *auth.Viewer {
	tb.Helper()
	v, err := (&auth.Authenticator{Client: db.Client}).Authenticate(context.Background(), tok)
	if err != nil {
		tb.Fatalf("Authenticate(%q): %v", tok, err)
	}
	return v
}

func TestTokenCreate(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)

	tok := mustTokenCreate(t, env, "--workspace", "acme", "--email", "a@acme.test", "--role", "operator")
	db := mustOpenDB(t, env)
	acme, err := db.Workspace.Query().Where(workspace.Slug("acme")).Only(ctx)
	if err != nil {
		t.Fatalf("workspace acme after token create: %v", err)
	}
	type viewer struct {
		Email, WorkspaceID string
		Role               access.Role
	}
	v := authenticate(t, db, tok)
	want := viewer{Email: "a@acme.test", WorkspaceID: acme.ID, Role: access.Operator}
	if diff := cmp.Diff(want, viewer{v.User.Email, v.WorkspaceID, v.Role}); diff != "" {
		t.Errorf("viewer of the new token mismatch (-want +got):\n%s", diff)
	}

	// Asking again for the same user with a higher role issues a new token
	// but must not promote the existing membership: the effective role is
	// the lesser of the token's (owner) and the membership's (operator).
	tok2 := mustTokenCreate(t, env, "--workspace", "acme", "--email", "A@acme.test", "--role", "owner", "--name", "second")
	if tok2 == tok {
		t.Fatalf("second token create printed the same token %q", tok)
	}
	v2 := authenticate(t, db, tok2)
	if diff := cmp.Diff(want, viewer{v2.User.Email, v2.WorkspaceID, v2.Role}); diff != "" {
		t.Errorf("viewer of the owner token for an operator mismatch (-want +got):\n%s", diff)
	}
	m, err := db.Membership.Query().
		Where(membership.WorkspaceID(acme.ID), membership.HasUserWith(user.Email("a@acme.test"))).
		Only(ctx)
	if err != nil {
		t.Fatalf("membership: %v", err)
	}
	if m.Role != access.Operator {
		t.Errorf("membership role after token create --role owner = %s, want it kept at %s", m.Role, access.Operator)
	}
	if n, err := db.User.Query().Count(ctx); err != nil || n != 1 {
		t.Errorf("users = %d, %v; want 1 (emails are case-insensitive)", n, err)
	}
	// The first token still works.
	if got := authenticate(t, db, tok).Role; got != access.Operator {
		t.Errorf("first token role after the second create = %s, want %s", got, access.Operator)
	}
}

func TestTokenCreateErrors(t *testing.T) {
	env := testEnv(t)
	tests := []struct {
		name   string
		args   []string
		wantIn string
	}{
		{"no workspace", []string{"--email", "a@acme.test", "--role", "operator"}, "--workspace"},
		{"no email", []string{"--workspace", "acme", "--role", "operator"}, "--email"},
		{"no role", []string{"--workspace", "acme", "--email", "a@acme.test"}, "--role"},
		{"no flags", nil, "--workspace, --email and --role"},
		{"bad role", []string{"--workspace", "acme", "--email", "a@acme.test", "--role", "admin"}, `unknown role "admin"`},
		{"bad email", []string{"--workspace", "acme", "--email", "nobody", "--role", "auditor"}, "email"},
		{"bad slug", []string{"--workspace", "Acme Corp", "--email", "a@acme.test", "--role", "auditor"}, "slug"},
		{"bad expiry", []string{"--workspace", "acme", "--email", "a@acme.test", "--role", "auditor", "--expires-in", "soon"}, "expires-in"},
		{"no create", nil, `want "token create"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"token", "create"}, tt.args...)
			if tt.name == "no create" {
				args = []string{"token", "list"}
			}
			stdout, stderr, err := runCmd(t, env, args...)
			if err == nil {
				t.Fatalf("%v succeeded, printing %q; want an error", args, stdout)
			}
			if !strings.Contains(err.Error(), tt.wantIn) && !strings.Contains(stderr, tt.wantIn) {
				t.Errorf("%v: error %q (stderr %q) does not mention %q", args, err, stderr, tt.wantIn)
			}
			if stdout != "" {
				t.Errorf("%v printed %q on stdout, want nothing", args, stdout)
			}
		})
	}
}

func TestMigrateCommand(t *testing.T) {
	env := testEnv(t)
	dia := dialect.SQLite
	if testenv.Postgres() {
		dia = dialect.Postgres
	}
	dir, err := store.MigrationDir(dia)
	if err != nil {
		t.Fatal(err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, f := range files {
		fmt.Fprintf(&want, "applied %s\n", f.Version())
	}

	stdout, stderr, err := runCmd(t, env, "migrate")
	if err != nil {
		t.Fatalf("first migrate: %v\nstderr: %s", err, stderr)
	}
	if diff := cmp.Diff(want.String(), stdout); diff != "" {
		t.Errorf("first migrate stdout mismatch (-want +got):\n%s", diff)
	}

	stdout, stderr, err = runCmd(t, env, "migrate")
	if err != nil {
		t.Fatalf("second migrate: %v\nstderr: %s", err, stderr)
	}
	if diff := cmp.Diff("database is up to date\n", stdout); diff != "" {
		t.Errorf("second migrate stdout mismatch (-want +got):\n%s", diff)
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		env    func(map[string]string)
		wantIn string
	}{
		{"no command", nil, nil, "no command"},
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{"worker without redis", []string{"worker"}, func(env map[string]string) { env["RESTORED_REDIS_URL"] = "" }, "needs --redis-url"},
		{"serve bad flag", []string{"serve", "--no-such-flag"}, nil, "no-such-flag"},
		{"serve bad env", []string{"serve"}, func(env map[string]string) { env["RESTORED_MAX_DEPTH"] = "deep" }, "RESTORED_MAX_DEPTH"},
		{"migrate bad database", []string{"migrate", "--database-url", "mysql://db/x"}, nil, "unsupported database URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"RESTORED_DATA_DIR": t.TempDir()}
			if tt.env != nil {
				tt.env(env)
			}
			_, _, err := runCmd(t, env, tt.args...)
			if err == nil {
				t.Fatalf("%v succeeded, want an error", tt.args)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("%v: error %q does not mention %q", tt.args, err, tt.wantIn)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	stdout, _, err := runCmd(t, nil, "help")
	if err != nil {
		t.Fatalf("help: %v", err)
	}
	for _, cmd := range []string{"serve", "worker", "migrate", "token create"} {
		if !strings.Contains(stdout, cmd) {
			t.Errorf("help output does not mention %q:\n%s", cmd, stdout)
		}
	}
}

// TestSubcommandHelp: every subcommand's --help lists its own flags (and
// only those: migrate has no listen address) and is not a failure: run
// returns flag.ErrHelp, which main turns into exit status 0.
func TestSubcommandHelp(t *testing.T) {
	tests := []struct {
		args          []string
		want, notWant []string
	}{
		{[]string{"serve", "--help"}, []string{"--addr", "--dev", "--max-response-bytes"}, nil},
		{[]string{"worker", "-h"}, []string{"--worker-concurrency", "--redis-url"}, nil},
		{[]string{"migrate", "--help"}, []string{"--database-url"}, []string{"--addr", "--dev", "--max-depth"}},
		{[]string{"token", "create", "--help"}, []string{"--workspace", "--email", "--role", "--database-url"}, []string{"--addr", "--max-depth"}},
		{[]string{"keys", "rotate", "--help"}, []string{"--new-key"}, []string{"--addr"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, err := runCmd(t, map[string]string{"RESTORED_DATA_DIR": t.TempDir()}, tt.args...)
			if !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("err = %v, want flag.ErrHelp (exit 0)", err)
			}
			out := stdout + stderr
			if !strings.Contains(out, "usage: restored "+tt.args[0]) {
				t.Errorf("no usage line:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w+" ") && !strings.Contains(out, w+"\n") {
					t.Errorf("help does not list %s:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w+" ") || strings.Contains(out, w+"\n") {
					t.Errorf("help lists %s, which is serve's:\n%s", w, out)
				}
			}
		})
	}
	t.Run("token --help", func(t *testing.T) {
		stdout, _, err := runCmd(t, nil, "token", "--help")
		if err != nil || !strings.Contains(stdout, "token create") {
			t.Fatalf("token --help: %v %q", err, stdout)
		}
	})
	t.Run("version", func(t *testing.T) {
		stdout, _, err := runCmd(t, nil, "version")
		if err != nil || !strings.HasPrefix(stdout, "restored ") || !strings.Contains(stdout, "go1.") {
			t.Fatalf("version: %v %q", err, stdout)
		}
	})
}

// server is a restored command (serve or worker) running in the background.
type server struct {
	URL    string // serve only
	Stdout *testenv.LockedBuffer
	Stderr *testenv.LockedBuffer
	stop   func() error
}

// Stop cancels the command's context and returns what run returned; it fails
// the test if run does not return within 20 s (no graceful shutdown).
func (s *server) Stop() error { return s.stop() }

// startCmd runs args with env until the test ends or Stop is called, and
// waits (up to 60 s) until ready reports true for the output so far.
func startCmd(tb testing.TB, env map[string]string, args []string, ready func(stdout, stderr string) bool) *server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{Stdout: &testenv.LockedBuffer{}, Stderr: &testenv.LockedBuffer{}}
	var runErr error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		runErr = run(ctx, args, getenv(env), s.Stdout, s.Stderr)
	}()
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case <-finished:
				stopErr = runErr
			case <-time.After(20 * time.Second):
				stopErr = fmt.Errorf("%v did not return within 20 s of cancellation", args)
				tb.Errorf("%v\nstderr:\n%s", stopErr, s.Stderr)
			}
		})
		return stopErr
	}
	tb.Cleanup(func() { s.stop() })

	deadline := time.Now().Add(60 * time.Second)
	for !ready(s.Stdout.String(), s.Stderr.String()) {
		select {
		case <-finished:
			tb.Fatalf("%v returned before it was ready: %v\nstdout:\n%s\nstderr:\n%s", args, runErr, s.Stdout, s.Stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%v was not ready within 60 s\nstdout:\n%s\nstderr:\n%s", args, s.Stdout, s.Stderr)
		}
	}
	return s
}

// listening matches serve's announcement of its address.
var listening = regexp.MustCompile(`(?m)^restored listening on (http://\S+) `)

// startServe runs `serve args...` in the background and returns it once it
// has announced its address.
func startServe(tb testing.TB, env map[string]string, args ...string) *server {
	tb.Helper()
	s := startCmd(tb, env, append([]string{"serve"}, args...), func(stdout, _ string) bool {
		return listening.MatchString(stdout)
	})
	s.URL = listening.FindStringSubmatch(s.Stdout.String())[1]
	return s
}

var httpClient = &http.Client{Timeout: 15 * time.Second}

// get fetches url and returns the status and body.
func get(tb testing.TB, url string) (int, string) {
	tb.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// viewerOf asks the server at base who token is and returns the role and
// workspace slug.
func viewerOf(tb testing.TB, base, token string) (role, slug string) {
	tb.Helper()
	d := gqlData(tb, base, token, "{ viewer { role workspace { slug } } }", nil)
	role, _ = dig(d, "viewer", "role").(string)
	slug, _ = dig(d, "viewer", "workspace", "slug").(string)
	return role, slug
}

// seededMember is one member line serve --dev prints.
type seededMember struct{ Role, Email, Token string }

// seededMembers parses the member lines of serve --dev's stdout.
func seededMembers(stdout string) []seededMember {
	var ms []seededMember
	line := regexp.MustCompile(`(?m)^  (\S+)\s+(\S+@\S+)\s+(.+)$`)
	for _, m := range line.FindAllStringSubmatch(stdout, -1) {
		ms = append(ms, seededMember{m[1], m[2], m[3]})
	}
	return ms
}

func TestServeDev(t *testing.T) {
	const devToken = "rst_test_dev_token"
	env := testEnv(t)
	args := []string{"--dev", "--dev-token", devToken, "--addr", "127.0.0.1:0"}

	srv := startServe(t, env, args...)

	if code, body := get(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz = %d %s, want 200", code, body)
	}
	code, body := get(t, srv.URL+"/readyz")
	if code != http.StatusOK {
		t.Errorf("GET /readyz = %d %s, want 200", code, body)
	}
	var ready map[string]string
	if err := json.Unmarshal([]byte(body), &ready); err != nil {
		t.Fatalf("GET /readyz body %q: %v", body, err)
	}
	if diff := cmp.Diff(map[string]string{"database": "ok", "redis": "ok"}, ready); diff != "" {
		t.Errorf("GET /readyz mismatch (-want +got):\n%s", diff)
	}

	role, slug := viewerOf(t, srv.URL, devToken)
	if diff := cmp.Diff([2]string{"OWNER", "demo"}, [2]string{role, slug}); diff != "" {
		t.Errorf("viewer of the dev token mismatch (-want +got):\n%s", diff)
	}

	members := seededMembers(srv.Stdout.String())
	wantMembers := []struct{ role, email string }{
		{"owner", "owner@demo.restored.test"},
		{"operator", "operator@demo.restored.test"},
		{"auditor", "auditor@demo.restored.test"},
	}
	if len(members) != len(wantMembers) {
		t.Fatalf("serve --dev listed %d members, want %d; stdout:\n%s", len(members), len(wantMembers), srv.Stdout)
	}
	for i, w := range wantMembers {
		m := members[i]
		if m.Role != w.role || m.Email != w.email || !strings.HasPrefix(m.Token, "rst_") {
			t.Errorf("member line %d = %+v, want role %s, email %s and an rst_ token", i, m, w.role, w.email)
		}
	}
	if members[0].Token != devToken {
		t.Errorf("owner token = %q, want the dev token %q", members[0].Token, devToken)
	}
	// The printed tokens work, with their member's role.
	if role, slug := viewerOf(t, srv.URL, members[2].Token); role != "AUDITOR" || slug != "demo" {
		t.Errorf("auditor token: viewer role %s in %q, want AUDITOR in demo", role, slug)
	}

	if err := srv.Stop(); err != nil {
		t.Fatalf("serve after cancellation: %v, want nil (graceful shutdown)\nstderr:\n%s", err, srv.Stderr)
	}
	if _, err := httpClient.Get(srv.URL + "/healthz"); err == nil {
		t.Errorf("GET /healthz succeeded after shutdown; the listener is still open")
	}

	// A restart against the same database and data dir seeds nothing twice
	// and the dev token keeps working.
	srv2 := startServe(t, env, args...)
	role, slug = viewerOf(t, srv2.URL, devToken)
	if diff := cmp.Diff([2]string{"OWNER", "demo"}, [2]string{role, slug}); diff != "" {
		t.Errorf("viewer of the dev token after restart mismatch (-want +got):\n%s", diff)
	}
	members2 := seededMembers(srv2.Stdout.String())
	if len(members2) != len(wantMembers) {
		t.Fatalf("restarted serve --dev listed %d members, want %d; stdout:\n%s", len(members2), len(wantMembers), srv2.Stdout)
	}
	if members2[0].Token != devToken {
		t.Errorf("owner token after restart = %q, want the dev token %q", members2[0].Token, devToken)
	}
	for _, m := range members2[1:] {
		if strings.HasPrefix(m.Token, "rst_") {
			t.Errorf("restart issued a new token for %s, want the one from the first start kept", m.Email)
		}
	}
	// The first start's operator token still works after the restart.
	if role, _ := viewerOf(t, srv2.URL, members[1].Token); role != "OPERATOR" {
		t.Errorf("operator token after restart: role %s, want OPERATOR", role)
	}
	if err := srv2.Stop(); err != nil {
		t.Fatalf("restarted serve after cancellation: %v, want nil\nstderr:\n%s", err, srv2.Stderr)
	}

	ctx := context.Background()
	db := mustOpenDB(t, env)
	counts := map[string]int{}
	for name, count := range map[string]func(context.Context) (int, error){
		"workspaces":   db.Workspace.Query().Count,
		"users":        db.User.Query().Count,
		"memberships":  db.Membership.Query().Count,
		"api tokens":   db.APIToken.Query().Count,
		"environments": db.Environment.Query().Count,
	} {
		n, err := count(ctx)
		if err != nil {
			t.Fatalf("count %s: %v", name, err)
		}
		counts[name] = n
	}
	wantCounts := map[string]int{"workspaces": 1, "users": 3, "memberships": 3, "api tokens": 3, "environments": 2}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("rows after two dev starts mismatch (-want +got):\n%s", diff)
	}
}

// TestServeAddrInUse checks that serve reports a listen failure instead of
// hanging, and still shuts down what it started.
func TestServeAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	env := testEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr testenv.LockedBuffer
	err = run(ctx, []string{"serve", "--addr", ln.Addr().String()}, getenv(env), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("serve on a used address = %v, want an address-in-use error", err)
	}
}

// TestWorker runs the worker alone against the shared Redis: it starts and
// stops gracefully. Only a real Redis can be shared, so without one (see
// testenv) it is skipped; TestCommandErrors covers the refusal.
func TestWorker(t *testing.T) {
	env := testEnv(t)
	if env["RESTORED_REDIS_URL"] == "" {
		t.Skipf("no shared Redis (%s unset): a separate worker needs one", testenv.EnvRedisURL)
	}
	if _, stderr, err := runCmd(t, env, "migrate"); err != nil {
		t.Fatalf("migrate: %v\nstderr: %s", err, stderr)
	}
	w := startCmd(t, env, []string{"worker"}, func(_, stderr string) bool {
		return strings.Contains(stderr, "worker started")
	})
	if want := env["RESTORED_KEY_PREFIX"] + "-default"; !strings.Contains(w.Stderr.String(), want) {
		t.Errorf("worker log does not name its queue %q:\n%s", want, w.Stderr)
	}
	if err := w.Stop(); err != nil {
		t.Fatalf("worker after cancellation: %v, want nil\nstderr:\n%s", err, w.Stderr)
	}
	if out := w.Stdout.String(); out != "" {
		t.Errorf("worker printed %q on stdout, want nothing (logs go to stderr)", out)
	}
}

// TestServeDevWithStandaloneGraphsim: --dev serves its own simulated tenants
// and still trusts a standalone `restored graphsim` given by --graphsim-url,
// so an environment onboarded onto the standalone one verifies too.
func TestServeDevWithStandaloneGraphsim(t *testing.T) {
	const devToken = "rst_test_dev_token"
	caFile := t.TempDir() + "/graphsim-ca.pem"
	simListening := regexp.MustCompile(`(?m)^graphsim listening on (https://\S+) `)
	sim := startCmd(t, nil, []string{"graphsim", "--addr", "127.0.0.1:0", "--tenants", "standalone", "--policies", "3", "--ca-out", caFile},
		func(stdout, _ string) bool { return strings.Contains(stdout, "point restored at it") })
	simURL := simListening.FindStringSubmatch(sim.Stdout.String())[1]

	env := testEnv(t)
	srv := startServe(t, env, "--dev", "--dev-token", devToken, "--addr", "127.0.0.1:0",
		"--graphsim-url", simURL, "--graphsim-ca-file", caFile)
	// The dev tenants answered: serve printed their ready backup sets.
	if !strings.Contains(srv.Stdout.String(), "one ready backup set each") {
		t.Fatalf("serve --dev did not bind its own tenants; stdout:\n%s", srv.Stdout)
	}

	ws := gqlData(t, srv.URL, devToken, `{ viewer { workspace { id } } }`, nil)
	wsID := dig(ws, "viewer", "workspace", "id").(string)
	created := gqlData(t, srv.URL, devToken, `mutation($in: CreateEnvironmentInput!) { createEnvironment(input: $in) { id } }`,
		map[string]any{"in": map[string]any{
			"workspaceId": wsID, "displayName": "Standalone", "kind": "TEST", "azureTenantId": "standalone",
			"clientId": "sim-client-standalone", "clientSecret": "sim-secret-standalone",
			"graphBaseUrl": strings.TrimSuffix(simURL, "/") + "/t/standalone/beta",
		}})
	envID := dig(created, "createEnvironment", "id").(string)
	op := gqlData(t, srv.URL, devToken, `mutation($id: ID!) { verifyEnvironment(environmentId: $id) { id } }`, map[string]any{"id": envID})
	opID := dig(op, "verifyEnvironment", "id").(string)

	deadline := time.Now().Add(30 * time.Second)
	for {
		n := gqlData(t, srv.URL, devToken, `query($id: ID!) { node(id: $id) { ... on OperationRun { status outcome errorCode } } }`, map[string]any{"id": opID})
		if dig(n, "node", "status") == "COMPLETED" {
			if got := dig(n, "node", "outcome"); got != "SUCCEEDED" {
				t.Fatalf("verify of the standalone tenant: outcome %v (error %v), want SUCCEEDED: --graphsim-url is not trusted next to --dev", got, dig(n, "node", "errorCode"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify of the standalone tenant did not complete within 30 s: %v", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rep := gqlData(t, srv.URL, devToken, `query($id: ID!) { node(id: $id) { ... on Environment { permissionReport { verified canRead } } } }`, map[string]any{"id": envID})
	if dig(rep, "node", "permissionReport", "verified") != true || dig(rep, "node", "permissionReport", "canRead") != true {
		t.Errorf("standalone environment permission report = %v, want verified and readable", dig(rep, "node", "permissionReport"))
	}
}

// gqlData posts a GraphQL operation as token and returns its data, failing
// the test on any error.
func gqlData(tb testing.TB, base, token, query string, vars map[string]any) map[string]any {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		tb.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Data   map[string]any
		Errors []json.RawMessage
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) > 0 || out.Data == nil {
		tb.Fatalf("POST /graphql %q: status %d, body %s", query, resp.StatusCode, raw)
	}
	return out.Data
}

// dig walks nested JSON objects by key; nil when a key is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
