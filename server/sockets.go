package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/server/gorillaws"
)

// closeForbidden is graphql-transport-ws's 4403 ("Forbidden"): the token
// was refused, revoked, expired or demoted; reconnecting with it cannot help.
// (The graphql-ws JS client retries 4403 unless told not to: see
// examples/ws.)
const closeForbidden = 4403

// socket is one authenticated websocket: the token it was opened with, its
// live subscriptions, and whether that token still holds. Every delivery
// checks ended (an atomic load), so a revoked or demoted token stops
// receiving the moment it is noticed, not at the next event's end.
type socket struct {
	viewer *auth.Viewer
	subs   atomic.Int64
	ended  atomic.Bool
}

type socketKey struct{}

// wsInit authenticates a websocket from its connection_init payload
// ({"Authorization": "Bearer rst_…"} or {"token": "rst_…"}). The socket then
// re-checks its token when the workspace's tokens or members change (the
// access topic), at the token's expiry, and every revalidate period as a
// backstop; once the token is revoked, expired or its role changed, the
// socket closes with 4403.
func wsInit(a *auth.Authenticator, bus *events.Bus, revalidate time.Duration) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		secret := p.GetString("token")
		if secret == "" {
			h := p.Authorization()
			if h == "" {
				h = p.GetString("authorization")
			}
			secret, _ = bearer(h)
		}
		refuse := func(msg string) (context.Context, *transport.InitPayload, error) {
			ctx := transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, msg), closeForbidden)
			return ctx, nil, errors.New(msg)
		}
		if secret == "" {
			return refuse("UNAUTHENTICATED: send the API token in connection_init as {\"Authorization\": \"Bearer <token>\"}")
		}
		v, err := a.Authenticate(ctx, secret)
		if apperr.CodeOf(err) == apperr.Unauthenticated {
			return refuse("UNAUTHENTICATED: invalid, expired or revoked API token")
		}
		if err != nil {
			return refuse("INTERNAL: authentication is unavailable, try again")
		}
		s := &socket{viewer: v}
		ctx, cancel := context.WithCancel(context.WithValue(auth.WithViewer(ctx, v), socketKey{}, s))
		end := func(reason string) {
			if s.ended.CompareAndSwap(false, true) {
				gorillaws.SetCloseCode(ctx, closeForbidden, reason)
				cancel()
			}
		}
		recheck := func() {
			now, err := a.Revalidate(ctx, secret)
			switch {
			case apperr.CodeOf(err) == apperr.Unauthenticated:
				end("UNAUTHENTICATED: API token revoked or expired")
			case err == nil && now.Role != v.Role:
				end("FORBIDDEN: the token's role changed; reconnect to continue with the new role")
			}
		}
		var changes <-chan []byte
		if bus != nil {
			sub, err := bus.Subscribe(ctx, events.AccessTopic(v.WorkspaceID))
			if err != nil {
				cancel()
				return refuse("INTERNAL: live events are unavailable, try again")
			}
			changes = sub.C()
		}
		go func() {
			t := time.NewTicker(revalidate)
			defer t.Stop()
			var expiry <-chan time.Time
			if v.ExpiresAt != nil {
				e := time.NewTimer(time.Until(*v.ExpiresAt))
				defer e.Stop()
				expiry = e.C
			}
			for {
				select {
				case <-ctx.Done():
					return
				case <-expiry:
					expiry = nil
					recheck()
				case _, ok := <-changes:
					if !ok {
						// The bus ended this subscription (reconnect or overload):
						// fall back to the periodic check alone.
						changes = nil
						continue
					}
					recheck()
				case <-t.C:
					recheck()
				}
			}
		}()
		return transport.AppendCloseReason(ctx, "UNAUTHENTICATED: API token revoked or expired"), nil, nil
	}
}

// subscriptionGuard caps live subscriptions per socket and per token (in
// this process) and stops delivery the moment a socket's token is ended.
type subscriptionGuard struct {
	perSocket, perToken int

	mu      sync.Mutex
	byToken map[string]int
}

func newSubscriptionGuard(perSocket, perToken int) *subscriptionGuard {
	return &subscriptionGuard{perSocket: perSocket, perToken: perToken, byToken: map[string]int{}}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = (*subscriptionGuard)(nil)

func (*subscriptionGuard) ExtensionName() string                   { return "SubscriptionGuard" }
func (*subscriptionGuard) Validate(graphql.ExecutableSchema) error { return nil }

func (g *subscriptionGuard) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	s, _ := ctx.Value(socketKey{}).(*socket)
	if s == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	if msg := g.acquire(s); msg != "" {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message:    msg,
			Extensions: map[string]any{"code": string(apperr.BadUserInput), "reason": "SUBSCRIPTION_LIMIT"},
		}}})
	}
	// The operation's context ends with the subscription, however it ends.
	context.AfterFunc(ctx, func() { g.release(s) })
	h := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		if s.ended.Load() {
			return nil
		}
		r := h(ctx)
		if s.ended.Load() {
			return nil // checked on delivery: nothing reaches an ended token
		}
		return r
	}
}

// acquire counts a new subscription of s, or says why it is refused.
func (g *subscriptionGuard) acquire(s *socket) string {
	if n := s.subs.Add(1); g.perSocket > 0 && n > int64(g.perSocket) {
		s.subs.Add(-1)
		return fmt.Sprintf("this websocket already holds %d live subscriptions, the most allowed: complete one first", g.perSocket)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	tok := s.viewer.TokenID
	if g.perToken > 0 && g.byToken[tok] >= g.perToken {
		s.subs.Add(-1)
		return fmt.Sprintf("this API token already holds %d live subscriptions, the most allowed: complete some first", g.perToken)
	}
	g.byToken[tok]++
	return ""
}

func (g *subscriptionGuard) release(s *socket) {
	s.subs.Add(-1)
	g.mu.Lock()
	defer g.mu.Unlock()
	tok := s.viewer.TokenID
	if g.byToken[tok]--; g.byToken[tok] <= 0 {
		delete(g.byToken, tok)
	}
}
