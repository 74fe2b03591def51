// Command restored is the one binary of restored: the API server, the job
// worker, database migrations and token administration.
//
//	restored serve [--dev]   API + worker (GraphQL at /graphql, GraphiQL at /)
//	restored worker          job worker only (needs a shared Redis)
//	restored migrate         apply database migrations
//	restored token create    issue an API token (creating workspace and user if needed)
//	restored graphsim        a simulated Microsoft Graph, for trying restored without a tenant
//	restored run watch ID    follow a restore run live (also: run list)
package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/restored/restored/internal/app"
	"github.com/restored/restored/internal/devseed"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/accounts"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/config"
	"github.com/restored/restored/internal/platform/tracing"
	"github.com/restored/restored/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // help was asked for and printed: not a failure
		}
		fmt.Fprintln(os.Stderr, "restored:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

const usage = `usage: restored <command> [flags]

commands:
  serve          run the API (and, unless --worker=false, the job worker)
  worker         run the job worker only
  migrate        apply pending database migrations
  token create   issue an API token: --workspace SLUG --email E --role owner|operator|auditor
  graphsim       serve a simulated Microsoft Graph with generated tenants
  keys rotate    re-encrypt stored tenant secrets with --new-key HEX (run with restored stopped)
  run list       restore runs of an environment (--environment ID), against a running server
  run watch ID   follow a restore run live; the exit status says how it ended
  version        print the version and build of this binary

Run "restored <command> -h" for the flags of a command. Every flag can also be
set by an environment variable (see README.md).
`

// run is main without globals, so tests can run the real binary's logic.
func run(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr, true)
	case "worker":
		return serve(ctx, args[1:], getenv, stdout, stderr, false)
	case "migrate":
		return migrate(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		if len(args) >= 2 && isHelp(args[1]) {
			fmt.Fprint(stdout, "usage: restored token create --workspace SLUG --email E --role owner|operator|auditor [flags]\n\nRun \"restored token create -h\" for every flag.\n")
			return nil
		}
		if len(args) < 2 || args[1] != "create" {
			fmt.Fprint(stderr, usage)
			return errors.New(`unknown token command: want "token create"`)
		}
		return tokenCreate(ctx, args[2:], getenv, stdout, stderr)
	case "keys":
		return keys(ctx, args[1:], getenv, stdout, stderr)
	case "graphsim":
		return runGraphsim(ctx, args[1:], getenv, stdout, stderr)
	case "run":
		return runCommand(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// versionString names the build: the module version (or the VCS revision
// of a source build) and the Go release.
func versionString() string {
	v, rev, modified := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	out := "restored " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += " " + rev
		if modified {
			out += "+dirty"
		}
	}
	return out + " " + runtime.Version()
}

// serve runs the API (api=true) or only the worker (api=false) until ctx ends,
// then shuts down gracefully: the listener closes, in-flight requests finish,
// websockets close, running jobs finish (up to the shutdown timeout).
func serve(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer, api bool) error {
	name := "serve"
	if !api {
		name = "worker"
	}
	cfg, _, err := config.Parse(name, args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	if !api && cfg.RedisURL == "" {
		return errors.New("restored worker needs --redis-url: the in-process Redis is private to one process, so a separate worker would never see a task")
	}
	if err := cfg.EnsureDataDir(); err != nil && strings.HasPrefix(cfg.DatabaseURL, "sqlite://") {
		return err
	}
	if cfg.Dev {
		if err := cfg.LoadOrCreateSecretKey(); err != nil {
			return err
		}
	} else if cfg.SecretKey == nil {
		log.Warn("no --secret-key set: tenant credentials cannot be stored until one is configured")
	}
	stopTracing, err := tracing.Setup(ctx, cfg.OTLPEndpoint, versionString())
	if err != nil {
		return err
	}
	defer func() { _ = stopTracing(context.WithoutCancel(ctx)) }()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.Dev && api {
		members, err := devseed.Seed(ctx, a.Accounts, cfg.DevToken)
		if err != nil {
			return fmt.Errorf("seed demo data: %w", err)
		}
		fmt.Fprintf(stdout, "dev mode: workspace %q seeded\n", devseed.Workspace)
		for _, m := range members {
			if m.Role == access.Owner {
				a.GraphiQLToken = cmp.Or(m.Token, cfg.DevToken)
			}
			tok := m.Token
			if tok == "" {
				tok = "(issued at an earlier start; see its output or create one with `restored token create`)"
			}
			fmt.Fprintf(stdout, "  %-8s %-30s %s\n", strings.ToLower(string(m.Role)), m.Email, tok)
		}
	}
	// The simulated tenants of --dev are trusted before the worker starts, so
	// no job ever sees the trust list change under it.
	var dev *devTenants
	if cfg.Dev && api {
		if !cfg.Worker {
			return errors.New("--dev needs the in-process worker (--worker=true) to capture the initial backups")
		}
		if dev, err = startDevTenants(a, log); err != nil {
			return fmt.Errorf("simulated tenants: %w", err)
		}
		defer dev.stop()
	}
	if cfg.Worker || !api {
		if err := a.StartWorker(); err != nil {
			return err
		}
		log.Info("worker started", "queue", a.Redis.Queue(), "concurrency", cfg.WorkerConcurrency)
	}
	if dev != nil {
		if err := dev.bind(ctx, a, stdout); err != nil {
			return fmt.Errorf("simulated tenants: %w", err)
		}
	}
	if !api {
		<-ctx.Done()
		log.Info("shutting down worker")
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	// Websockets are hijacked connections that http.Server.Shutdown does not
	// wait for; cancelling their base context closes them cleanly.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
	}
	srv.RegisterOnShutdown(cancelBase)
	fmt.Fprintf(stdout, "restored listening on http://%s (GraphQL at /graphql, GraphiQL at /)\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	return nil
}

func migrate(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	cfg, _, err := config.Parse("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
	}
	for _, v := range applied {
		fmt.Fprintln(stdout, "applied", v)
	}
	return nil
}

func tokenCreate(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	var slug, email, role, name string
	var expires time.Duration
	cfg, _, err := config.Parse("token create", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&slug, "workspace", "", "workspace slug (created when it does not exist)")
		fs.StringVar(&email, "email", "", "the user the token acts as (created when it does not exist)")
		fs.StringVar(&role, "role", "", "owner, operator or auditor")
		fs.StringVar(&name, "name", "cli", "a name to recognise the token by")
		fs.DurationVar(&expires, "expires-in", 0, "lifetime, e.g. 720h (default: no expiry)")
	})
	if err != nil {
		return err
	}
	if slug == "" || email == "" || role == "" {
		return errors.New("token create needs --workspace, --email and --role")
	}
	r, err := access.ParseRole(role)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	svc := &accounts.Service{Client: db.Client, Audit: &audit.Recorder{}}
	ws, err := svc.EnsureWorkspace(ctx, slug, "")
	if err != nil {
		return err
	}
	u, err := svc.EnsureMember(ctx, ws.ID, email, r)
	if err != nil {
		return err
	}
	in := accounts.TokenInput{WorkspaceID: ws.ID, UserID: u.ID, Name: name, Role: r}
	if expires > 0 {
		t := time.Now().Add(expires)
		in.ExpiresAt = &t
	}
	_, secret, err := svc.CreateToken(ctx, in)
	if err != nil {
		return err
	}
	// The secret alone on stdout, so scripts can capture it; the rest on stderr.
	fmt.Fprintf(stderr, "token for %s (%s) in workspace %q; it is shown only once:\n", u.Email, strings.ToLower(string(r)), slug)
	fmt.Fprintln(stdout, secret)
	return nil
}

func openDB(ctx context.Context, cfg *config.Config) (*store.DB, error) {
	if strings.HasPrefix(cfg.DatabaseURL, "sqlite://") {
		if err := cfg.EnsureDataDir(); err != nil {
			return nil, err
		}
	}
	return store.Open(ctx, cfg.DatabaseURL)
}

// devTenants is the simulated Microsoft Graph of --dev.
type devTenants struct {
	sim  *graphsim.Server
	url  string
	stop func()
}

// startDevTenants serves the simulated Microsoft Graph of --dev on a loopback
// TLS port and makes a trust it.
func startDevTenants(a *app.App, log *slog.Logger) (*devTenants, error) {
	sim := graphsim.New(graphsim.Options{RequireAuth: true, Logger: log.With("component", "graphsim")})
	simURL, caPEM, stop, err := graphsim.ListenTLS("127.0.0.1:0", sim.Handler())
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	u, _ := url.Parse(simURL)
	a.TrustSimulatedGraph(app.SimTrust{Hosts: []string{u.Host}, AuthorityHost: simURL + "/", RootCAs: pool})
	return &devTenants{sim: sim, url: simURL, stop: stop}, nil
}

// bind points the demo environments at the simulated tenants and waits for
// their first backups (the worker must be running).
func (d *devTenants) bind(ctx context.Context, a *app.App, stdout io.Writer) error {
	if err := devseed.BindTenants(ctx, a.DB.Client, a.Secrets, a.Backup, d.sim, d.url, 2*time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  simulated Graph at %s: tenants", d.url)
	for _, t := range devseed.Tenants {
		fmt.Fprintf(stdout, " %s (%s)", t.ID, t.Environment)
	}
	fmt.Fprintf(stdout, ", %d objects each, one ready backup set each\n", devseed.PoliciesPerTenant)
	return nil
}
