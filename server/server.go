// Package server wires restored's HTTP surface: GraphQL over HTTP and
// websockets at /graphql, GraphiQL at /, and the health endpoints. It holds no
// business rules: those live in the domain packages the resolvers call.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"github.com/hibiken/asynq"
	"log/slog"
	"net/http"
	"time"

	"github.com/restored/restored/graph"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/platform/metrics"
	"github.com/restored/restored/internal/platform/redisconn"
	"github.com/restored/restored/server/graphiql"
)

// Pinger is something whose health /readyz reports.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configure the server.
type Options struct {
	Resolver      *graph.Resolver
	Auth          *auth.Authenticator
	Log           *slog.Logger
	Database      Pinger
	Redis         Pinger
	MaxBodyBytes  int64
	MaxDepth      int
	MaxComplexity int
	// MaxResponseBytes refuses larger responses (0: no limit).
	MaxResponseBytes int
	// PageCacheBytes is the memory the backup-item page cache may hold
	// (0: no cache; see pagecache.go).
	PageCacheBytes int
	// RevalidateEvery is how often an open websocket re-checks its token, so a
	// revoked or expired token loses its live subscriptions within that time.
	RevalidateEvery time.Duration
	// Bus tells open websockets when their workspace's tokens or members
	// change, so they re-check their token at once (nil: periodic only).
	Bus *events.Bus
	// MaxSubscriptionsPerSocket and MaxSubscriptionsPerToken cap live
	// subscriptions (0: no cap).
	MaxSubscriptionsPerSocket int
	MaxSubscriptionsPerToken  int
	// CORSOrigins are the browser origins allowed to call the API from
	// another origin ("*": any; none by default).
	CORSOrigins []string
	// Metrics is served at /metrics and counts operations and
	// subscriptions (nil: no /metrics).
	Metrics *metrics.Metrics
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// Queues is the Asynq connection the owners' dashboard at
	// /admin/queues reads (nil: no dashboard).
	Queues asynq.RedisConnOpt
	// PersistedQueries stores automatic persisted queries in Redis, shared
	// by every replica (nil: in this process only).
	PersistedQueries *redisconn.Conn
	// TrustedDocuments, when set, is the only operations accepted (hash →
	// document); automatic persisted queries are then off.
	TrustedDocuments map[string]string
	// GraphiQLToken prefills GraphiQL's Authorization header (--dev only:
	// the page then carries an owner token).
	GraphiQLToken string
}

// New returns restored's HTTP handler.
func New(o Options) http.Handler {
	mux := http.NewServeMux()
	gql := newGraphQL(o)
	mux.Handle("/graphql", cors(o.CORSOrigins, limitBody(o.MaxBodyBytes, authenticate(o.Auth, o.Log, graphQLOverHTTP(gql)))))
	page := graphiql.Options{Endpoint: "/graphql"}
	if o.GraphiQLToken != "" {
		page.Headers = map[string]string{"Authorization": "Bearer " + o.GraphiQLToken}
	}
	mux.Handle("GET /{$}", graphiql.Page(page))
	mux.Handle("GET "+graphiql.AssetPrefix, graphiql.Assets())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		status, code := map[string]string{"database": "ok", "redis": "ok"}, http.StatusOK
		if err := o.Database.Ping(ctx); err != nil {
			status["database"], code = "unreachable", http.StatusServiceUnavailable
			o.Log.Warn("readyz: database", "err", err)
		}
		if err := o.Redis.Ping(ctx); err != nil {
			status["redis"], code = "unreachable", http.StatusServiceUnavailable
			o.Log.Warn("readyz: redis", "err", err)
		}
		writeJSON(w, code, status)
	})
	if o.Metrics != nil {
		// It shows counts, durations and tenant ids, never tokens or
		// payloads: open by default like most Prometheus targets, behind a
		// bearer token of its own (not an API token: a scraper is no user)
		// when --metrics-token is set.
		mux.Handle("GET /metrics", bearerOnly(o.MetricsToken, o.Metrics.Handler()))
	}
	if o.Queues != nil {
		admin := adminQueues(o.Auth, o.Queues, o.Log)
		mux.Handle(AdminQueuesPath, admin)
		mux.Handle(AdminQueuesPath+"/", admin)
	}
	return requestLog(o.Log, mux)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// bearerOnly lets through requests carrying "Authorization: Bearer token",
// compared in constant time; an empty token lets every request through.
func bearerOnly(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			graphQLError(w, http.StatusUnauthorized, apperr.Unauthenticated, "GET /metrics needs the metrics token: Authorization: Bearer <--metrics-token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}
