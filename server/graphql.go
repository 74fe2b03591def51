package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/restored/restored/graph/generated"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/fanout"
	"github.com/restored/restored/server/gorillaws"
)

// newGraphQL builds the gqlgen handler with explicit transports (websocket
// first, so an upgrade is never mistaken for a GET), the limits, and the one
// error presenter.
func newGraphQL(o Options) http.Handler {
	es := generated.NewExecutableSchema(generated.Config{Resolvers: o.Resolver})
	srv := handler.New(sizedSchema{fanout.Schema(es, o.Metrics.SubscriptionResponse)})
	readLimit := o.MaxBodyBytes
	revalidate := o.RevalidateEvery
	if revalidate <= 0 {
		revalidate = 5 * time.Second
	}
	srv.AddTransport(transport.Websocket{
		// Dead peers are found by the adapter's ping frames, sent to all
		// sockets from one goroutine, not by gqlgen's PingPongInterval, which
		// costs a goroutine per socket.
		Implementation: gorillaws.New(gorillaws.Options{WriteTimeout: 10 * time.Second, Logger: o.Log,
			CheckOrigin: websocketOrigin(o.CORSOrigins), PingInterval: 15 * time.Second}),
		InitFunc:              wsInit(o.Auth, o.Bus, revalidate),
		InitTimeout:           10 * time.Second,
		KeepAlivePingInterval: 15 * time.Second, // the legacy graphql-ws protocol's "ka"
		PayloadReadLimit:      &readLimit,
		ErrorFunc: func(ctx context.Context, err error) {
			o.Log.Debug("websocket", "err", err)
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(newSubscriptionGuard(o.MaxSubscriptionsPerSocket, o.MaxSubscriptionsPerToken, o.Metrics))
	srv.Use(extension.Introspection{})
	switch {
	case o.TrustedDocuments != nil:
		srv.Use(trustedDocuments{docs: o.TrustedDocuments})
	case o.PersistedQueries != nil:
		srv.Use(extension.AutomaticPersistedQuery{Cache: persistedQueries{o.PersistedQueries}})
	default:
		srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	}
	if o.MaxComplexity > 0 {
		srv.Use(extension.FixedComplexityLimit(o.MaxComplexity))
	}
	if o.MaxDepth > 0 {
		srv.Use(depthLimit(o.MaxDepth))
	}
	if o.MaxResponseBytes > 0 {
		srv.Use(responseLimit{max: o.MaxResponseBytes})
	}
	srv.Use(operationLog{metrics: o.Metrics})
	srv.Use(operationTrace{})
	if o.PageCacheBytes > 0 && o.Resolver != nil && o.Resolver.Backup != nil {
		// Last: innermost, so a page from memory is logged, counted and
		// size-checked like any other response.
		srv.Use(newPageCache(o.PageCacheBytes, es.Schema(), o.Resolver.Backup.ReadableSet, o.Metrics))
	}
	srv.SetErrorPresenter(presenter(o))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		o.Log.Error("resolver panic", "request_id", RequestID(ctx), "panic", fmt.Sprint(p))
		return errors.New("internal panic")
	})
	return srv
}

// presenter maps every error to a client-safe message and extensions.code.
// Domain errors keep their message; anything else is INTERNAL: logged here
// with its cause, shown as a generic message, so no driver error, token or
// payload ever reaches a client.
func presenter(o Options) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		if e, ok := apperr.As(err); ok {
			gqlErr.Message = e.Message
			gqlErr.Extensions["code"] = string(e.Code)
			if e.Field != "" {
				gqlErr.Extensions["field"] = e.Field
			}
			if len(e.Gates) > 0 {
				gqlErr.Extensions["gates"] = e.Gates
			}
			return gqlErr
		}
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Err != nil {
			if field, ok := argumentPath(ctx, ge); ok {
				// A value gqlgen could not coerce into an argument's type (an
				// unreadable cursor, say): the client's input, not our fault.
				// The cause is not shown: it names our decoders.
				gqlErr.Message = fmt.Sprintf("%s: not a valid value for this argument", field)
				if strings.HasSuffix(field, "after") || strings.HasSuffix(field, "before") {
					gqlErr.Message = field + ": not a cursor this API returned (use pageInfo.endCursor or an edge's cursor)"
				}
				gqlErr.Extensions = map[string]any{"code": string(apperr.BadUserInput), "field": field}
				return gqlErr
			}
		}
		if errors.As(err, &ge) && ge.Err == nil {
			// Errors gqlgen itself raised about the request: parse, validation,
			// limits, variables. They are the client's fault and safe to show,
			// except the JSON decoding error, which echoes the whole body.
			reason, _ := gqlErr.Extensions["code"].(string)
			if reason == "" {
				reason = "BAD_REQUEST"
			}
			if strings.HasPrefix(gqlErr.Message, "json request body could not be decoded") {
				gqlErr.Message = "the request body is not a GraphQL request: want JSON with a string query, an object of variables and a string operationName"
			}
			gqlErr.Extensions["code"] = string(apperr.BadUserInput)
			gqlErr.Extensions["reason"] = reason
			return gqlErr
		}
		if errors.Is(err, context.Canceled) {
			gqlErr.Message = "request cancelled"
			gqlErr.Extensions = map[string]any{"code": string(apperr.Internal)}
			return gqlErr
		}
		o.Log.Error("internal error", "request_id", RequestID(ctx), "path", gqlErr.Path.String(), "err", err)
		gqlErr.Message = "internal error"
		gqlErr.Extensions = map[string]any{"code": string(apperr.Internal)}
		return gqlErr
	}
}

// depthLimit refuses operations nested deeper than max fields. Introspection
// fields are not counted: GraphiQL's own schema query is deep by nature.
func depthLimit(max int) graphql.HandlerExtension { return depthLimiter{max: max} }

type depthLimiter struct{ max int }

func (depthLimiter) ExtensionName() string                   { return "DepthLimit" }
func (depthLimiter) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimiter) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, 0, map[string]bool{}); depth > d.max {
		err := gqlerror.Errorf("query depth %d exceeds the limit of %d", depth, d.max)
		errcode.Set(err, "DEPTH_LIMIT_EXCEEDED")
		return err
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, depth int, seen map[string]bool) int {
	deepest := depth
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				continue
			}
			d = selectionDepth(s.SelectionSet, depth+1, seen)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, depth, seen)
		case *ast.FragmentSpread:
			// Validation rejects fragment cycles, but guard anyway.
			if s.Definition == nil || seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			d = selectionDepth(s.Definition.SelectionSet, depth, seen)
			delete(seen, s.Name)
		}
		if d > deepest {
			deepest = d
		}
	}
	return deepest
}

// argumentPath reports whether ge was raised while coercing an argument of
// the field being resolved, and names the argument ("after", or
// "input.targets" for a nested value). gqlgen raises such errors on the field's
// path extended by the argument's; errors of the resolver itself carry the
// field's own path.
func argumentPath(ctx context.Context, ge *gqlerror.Error) (string, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return "", false
	}
	base := fc.Path()
	if len(ge.Path) <= len(base) {
		return "", false
	}
	name, ok := ge.Path[len(base)].(ast.PathName)
	if !ok || fc.Field.Arguments.ForName(string(name)) == nil {
		return "", false
	}
	parts := []string{string(name)}
	for _, el := range ge.Path[len(base)+1:] {
		if n, ok := el.(ast.PathName); ok {
			parts = append(parts, string(n))
		}
	}
	return strings.Join(parts, "."), true
}
