// Package app assembles a running restored from a Config: database,
// migrations, Redis, the event bus, the domain services, the HTTP handler and
// the job worker. cmd/restored and the end-to-end tests both start the system
// through it, so what is tested is what runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/graph"
	"github.com/restored/restored/internal/domain/accounts"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/backup"
	"github.com/restored/restored/internal/domain/environments"
	"github.com/restored/restored/internal/domain/notifications"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/restore"
	"github.com/restored/restored/internal/msgraph"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/config"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/platform/metrics"
	"github.com/restored/restored/internal/platform/redisconn"
	"github.com/restored/restored/internal/platform/secrets"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/jobs"
	"github.com/restored/restored/server"
)

// App is a running restored.
type App struct {
	Config *config.Config
	Log    *slog.Logger
	DB     *store.DB
	Redis  *redisconn.Conn
	Bus    *events.Bus
	Queue  *jobs.Queue
	// Metrics is the process's Prometheus registry, served at /metrics.
	Metrics  *metrics.Metrics
	Worker   *jobs.Worker // nil unless the worker runs in this process
	Auth     *auth.Authenticator
	Accounts *accounts.Service
	Audit    *audit.Recorder
	Ops      *operations.Service
	Notes    *notifications.Service
	Backup   *backup.Service
	Restore  *restore.Service
	Envs     *environments.Service
	Secrets  *secrets.Box // nil without a configured key
	// Clock is the one clock every service reads.
	Clock *clock.Clock
	// GraphiQLToken prefills GraphiQL's Authorization header: set by
	// `serve --dev` to the demo owner's token before Handler is built.
	GraphiQLToken string

	tenants       *tenantClients
	trustedDocs   map[string]string
	AuditFeed     *events.Feed[*ent.AuditLog] // new audit entries, for auditLogAdded
	stopReconcile func()
}

// TrustSimulatedGraph makes environments on trust's hosts reach that
// simulated Microsoft Graph (dev mode, tests). Safe while jobs run: clients
// built before the call keep the trust they were built with.
func (a *App) TrustSimulatedGraph(trust SimTrust) { a.tenants.addTrust(trust) }

// New connects everything; call Close when done. With cfg.AutoMigrate the
// database is migrated first.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *App, err error) {
	a := &App{Config: cfg, Log: log, Clock: clock.System()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.DB, err = store.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	if cfg.AutoMigrate {
		applied, err := a.DB.Migrate(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		if len(applied) > 0 {
			log.Info("database migrated", "applied", applied)
		}
	} else if pending, err := a.DB.Pending(ctx); err != nil || len(pending) > 0 {
		return nil, fmt.Errorf("database schema is not current (pending %v): run `restored migrate`", pending)
	}
	if a.Redis, err = redisconn.Open(ctx, cfg.RedisURL, cfg.KeyPrefix); err != nil {
		return nil, err
	}
	if a.Redis.Embedded() {
		log.Info("using in-process redis (single process only)")
	}
	a.Bus = events.NewBus(a.Redis, log)
	a.Queue = jobs.NewQueue(a.Redis)
	a.Audit = &audit.Recorder{Bus: a.Bus, Log: log}
	a.AuditFeed = audit.NewFeed(a.Bus, a.DB.Client, log)
	a.Auth = &auth.Authenticator{Client: a.DB.Client, Clock: a.Clock, Bus: a.Bus}
	a.Accounts = &accounts.Service{Client: a.DB.Client, Audit: a.Audit, Bus: a.Bus, Auth: a.Auth, Clock: a.Clock}
	if cfg.SecretKey != nil {
		if a.Secrets, err = secrets.New(cfg.SecretKey); err != nil {
			return nil, err
		}
	}
	a.Notes = &notifications.Service{Client: a.DB.Client, Bus: a.Bus, Log: log, Clock: a.Clock}
	if cfg.TrustedDocuments != "" {
		if a.trustedDocs, err = server.LoadTrustedDocuments(cfg.TrustedDocuments); err != nil {
			return nil, err
		}
	}
	a.Metrics = metrics.New()
	a.Metrics.QueueDepth(a.Queue.Depth)
	a.Ops = &operations.Service{Client: a.DB.Client, Queue: a.Queue, Bus: a.Bus, Log: log, Notes: a.Notes, Clock: a.Clock, Audit: a.Audit, Metrics: a.Metrics}
	a.tenants = &tenantClients{box: a.Secrets, log: log, metrics: a.Metrics}
	if cfg.GraphRateLimit {
		limits := msgraph.IntuneLimits
		if cfg.GraphRateWindow > 0 {
			limits.Window = cfg.GraphRateWindow
		}
		a.tenants.limiter = msgraph.NewRedisLimiter(a.Redis.Client, a.Redis.Prefix, limits)
	}
	if cfg.GraphsimURL != "" {
		trust, err := simTrust(cfg.GraphsimURL, cfg.GraphsimCAFile)
		if err != nil {
			return nil, err
		}
		a.tenants.addTrust(*trust)
	}
	a.Backup = &backup.Service{Client: a.DB.Client, Ops: a.Ops, Tenants: a.tenants, Audit: a.Audit, Log: log, Clock: a.Clock}
	a.Envs = &environments.Service{Client: a.DB.Client, Secrets: a.Secrets, Audit: a.Audit, Clock: a.Clock}
	a.Restore = &restore.Service{Client: a.DB.Client, Dialect: a.DB.Dialect, Ops: a.Ops, Tenants: a.tenants, Writers: a.tenants, Audit: a.Audit, Bus: a.Bus, Log: log, MaxResultAge: cfg.RestoreMaxAge, Clock: a.Clock,
		ItemConcurrency: cfg.ExecuteConcurrency}
	return a, nil
}

// Handler returns the HTTP handler of the API.
func (a *App) Handler() http.Handler {
	return server.New(server.Options{
		Resolver: &graph.Resolver{
			Client:       a.DB.Client,
			Accounts:     a.Accounts,
			Backup:       a.Backup,
			Restore:      a.Restore,
			Environments: a.Envs,
			Ops:          a.Ops,
			Notes:        a.Notes,
			Bus:          a.Bus,
			AuditFeed:    a.AuditFeed,
			Log:          a.Log,
		},
		Auth:                      a.Auth,
		Log:                       a.Log,
		Database:                  a.DB,
		Redis:                     a.Redis,
		MaxBodyBytes:              a.Config.MaxBodyBytes,
		MaxDepth:                  a.Config.MaxDepth,
		MaxComplexity:             a.Config.MaxComplexity,
		MaxResponseBytes:          a.Config.MaxResponseBytes,
		PageCacheBytes:            a.Config.PageCacheBytes,
		CORSOrigins:               a.Config.CORSOrigins,
		Metrics:                   a.Metrics,
		MetricsToken:              a.Config.MetricsToken,
		GraphiQLToken:             a.GraphiQLToken,
		Queues:                    a.Redis.Asynq,
		PersistedQueries:          a.Redis,
		TrustedDocuments:          a.trustedDocs,
		Bus:                       a.Bus,
		MaxSubscriptionsPerSocket: a.Config.MaxSubscriptionsPerSocket,
		MaxSubscriptionsPerToken:  a.Config.MaxSubscriptionsPerToken,
		RevalidateEvery:           a.Config.TokenRecheckEvery,
	})
}

// StartWorker starts the job worker in this process, with every task handler
// of restored plus any given by register (tests add their own task types).
func (a *App) StartWorker(register ...func(*jobs.Worker)) error {
	if a.Worker != nil {
		return errors.New("worker already started")
	}
	w := jobs.NewWorker(a.Redis, jobs.WorkerOptions{
		Concurrency:     a.Config.WorkerConcurrency,
		ShutdownTimeout: a.Config.ShutdownTimeout,
		Log:             a.Log,
	})
	jobs.Register(w, jobs.Services{
		Ops: a.Ops, Backup: a.Backup, Restore: a.Restore, Environments: a.Envs,
		Roles: a.tenants, Log: a.Log,
	})
	for _, r := range register {
		r(w)
	}
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	a.Worker = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.stopReconcile = func() { cancel(); <-done }
	r := a.Reconciler()
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	return nil
}

// Reconciler returns the reconciler of this deployment: every worker process
// runs one, and one at a time leads (see jobs.Reconciler). Adapters decide
// runs from their domain's evidence (restore.execute from its restore run).
func (a *App) Reconciler() *jobs.Reconciler {
	return jobs.NewReconciler(a.Redis, a.Ops, a.Queue, a.Config.ReconcileInterval, operations.ReconcileOptions{
		Adapters: map[string]operations.Adapter{operations.TypeRestoreExecute: a.Restore},
	}, a.Log)
}

// StopWorker stops this process's worker the way a deploy does: running
// jobs stop at their next item boundary and are handed back to the queue.
// StartWorker may be called again afterwards.
func (a *App) StopWorker() {
	if a.stopReconcile != nil {
		a.stopReconcile()
		a.stopReconcile = nil
	}
	if a.Worker != nil {
		a.Worker.Shutdown()
		a.Worker = nil
	}
}

// Close stops the worker (waiting for running jobs) and closes connections.
func (a *App) Close() {
	a.StopWorker()
	if a.Queue != nil {
		a.Queue.Close()
	}
	if a.Bus != nil {
		a.Bus.Close()
	}
	if a.Redis != nil {
		a.Redis.Close()
	}
	if a.DB != nil {
		a.DB.Close()
	}
}
