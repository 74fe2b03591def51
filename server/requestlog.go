package server

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/restored/restored/internal/platform/metrics"
	"github.com/restored/restored/internal/platform/tracing"
)

type requestKey struct{}

// requestInfo is what the log line of a request says, filled as it runs:
// by every subscription of a websocket at once, hence the lock.
type requestInfo struct {
	id string

	mu        sync.Mutex
	operation string // "query viewer", set by operationLog
	errors    int
}

// RequestID returns the id of the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	if ri, _ := ctx.Value(requestKey{}).(*requestInfo); ri != nil {
		return ri.id
	}
	return ""
}

// validRequestID accepts a caller's id only when it is short and plain, so
// it can be logged and echoed as is.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestLog gives every request an id (the caller's X-Request-Id when it
// sends a plain one, a new one otherwise), returns it in X-Request-Id, and
// logs one structured line per request when it ends: method, path, status,
// size, duration and id. The GraphQL operation's own line (name, type,
// errors) carries the same id. Nothing of the body or headers is logged.
func requestLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		ri := &requestInfo{id: id}
		ctx := context.WithValue(r.Context(), requestKey{}, ri)
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(ctx))
		level := slog.LevelInfo
		switch {
		case sw.status >= 500:
			level = slog.LevelError
		case r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics":
			level = slog.LevelDebug // probes and scrapes would drown the log
		}
		attrs := []slog.Attr{slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000)}
		ri.mu.Lock()
		if ri.operation != "" {
			attrs = append(attrs, slog.String("operation", ri.operation), slog.Int("graphql_errors", ri.errors))
		}
		ri.mu.Unlock()
		log.LogAttrs(ctx, level, "http request", attrs...)
	})
}

// statusWriter records the status and size of a response. It unwraps to
// the underlying writer, so websocket upgrades (Hijack) still work.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a websocket upgrade (gorilla asserts
// http.Hijacker directly).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.status, w.wrote = http.StatusSwitchingProtocols, true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Flush passes streaming flushes through.
func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// operationLog names the GraphQL operation in its request's log line
// ("query viewer", "mutation confirmRestoreRun", "query" when anonymous)
// and counts the errors it answered with.
type operationLog struct{ metrics *metrics.Metrics }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
} = operationLog{}

func (operationLog) ExtensionName() string                   { return "OperationLog" }
func (operationLog) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation accounts a subscription once, with its first response
// (its first event, or the error that refused it), not once per event: a
// subscription is one operation however many events it delivers, and
// 10,000 subscribers would otherwise pay the bookkeeping 10,000 times an
// event.
func (o operationLog) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	h := next(ctx)
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return h
	}
	counted := false // the transport calls a subscription's handler from one goroutine
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if !counted {
			counted = true
			o.record(ctx, resp)
		}
		return resp
	}
}

func (o operationLog) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if graphql.HasOperationContext(ctx) {
		if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Subscription {
			return resp // InterceptOperation accounts for it
		}
	}
	return o.record(ctx, resp)
}

// record counts an answered operation and names it in its request's log line.
func (o operationLog) record(ctx context.Context, resp *graphql.Response) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		// Refused before an operation existed (parse or validation).
		if resp != nil && len(resp.Errors) > 0 {
			o.metrics.Operation("", "unknown", true, 0)
		}
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	op := oc.Operation
	if op == nil && oc.Doc != nil && len(oc.Doc.Operations) == 1 {
		op = oc.Doc.Operations[0] // refused by validation: still name it
	}
	typ, name := describeOperation(oc, op)
	if resp != nil {
		o.metrics.Operation(name, typ, len(resp.Errors) > 0, time.Since(oc.Stats.OperationStart))
	}
	ri, _ := ctx.Value(requestKey{}).(*requestInfo)
	if ri == nil {
		return resp
	}
	ri.mu.Lock()
	defer ri.mu.Unlock()
	if op != nil && ri.operation == "" {
		ri.operation = strings.TrimSpace(typ + " " + name)
	}
	if resp != nil {
		ri.errors += len(resp.Errors)
	}
	return resp
}

// describeOperation names op for logs, metrics and traces: its type
// ("unknown" without one) and its name (the request's operationName, else
// the document's).
func describeOperation(oc *graphql.OperationContext, op *ast.OperationDefinition) (typ, name string) {
	typ, name = "unknown", oc.OperationName
	if op != nil {
		typ, name = string(op.Operation), cmp.Or(name, op.Name)
	}
	return typ, name
}

// operationTrace opens a span per query and mutation, so a trace runs from
// the request through the job it starts (see jobs) to each Graph request.
type operationTrace struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = operationTrace{}

func (operationTrace) ExtensionName() string                   { return "OperationTrace" }
func (operationTrace) Validate(graphql.ExecutableSchema) error { return nil }

func (operationTrace) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	typ, name := describeOperation(oc, oc.Operation)
	ctx, span := tracing.Tracer().Start(ctx, "graphql "+strings.TrimSpace(typ+" "+name),
		trace.WithAttributes(attribute.String("graphql.operation.type", typ),
			attribute.String("graphql.operation.name", name),
			attribute.String("restored.request_id", RequestID(ctx))))
	defer span.End()
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 0 {
		span.SetStatus(codes.Error, resp.Errors[0].Message)
	}
	return resp
}
