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
	"github.com/restored/restored/internal/platform/metrics"
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
	secret string
	ctx    context.Context
	end    func(reason string)
	subs   atomic.Int64
	ended  atomic.Bool
}

type socketKey struct{}

// wsInit authenticates a websocket from its connection_init payload
// ({"Authorization": "Bearer rst_…"} or {"token": "rst_…"}). The socket then
// re-checks its token when the workspace's tokens or members change (the
// access topic), at the token's expiry, and every revalidate period as a
// backstop; once the token is revoked, expired or its role changed, the
// socket closes with 4403. The re-checks are the process's socketWatch's:
// an open socket costs no goroutine or bus subscription of its own.
func wsInit(a *auth.Authenticator, bus *events.Bus, revalidate time.Duration) transport.WebsocketInitFunc {
	watch := &socketWatch{auth: a, bus: bus, every: revalidate, byWorkspace: map[string]*feed{}}
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
		s := &socket{viewer: v, secret: secret}
		ctx, cancel := context.WithCancel(context.WithValue(auth.WithViewer(ctx, v), socketKey{}, s))
		s.end = func(reason string) {
			if s.ended.CompareAndSwap(false, true) {
				gorillaws.SetCloseCode(ctx, closeForbidden, reason)
				cancel()
			}
		}
		s.ctx = ctx
		if err := watch.add(s); err != nil {
			cancel()
			return refuse("INTERNAL: live events are unavailable, try again")
		}
		return transport.AppendCloseReason(ctx, "UNAUTHENTICATED: API token revoked or expired"), nil, nil
	}
}

// socketWatch re-checks the tokens of a process's open sockets: one bus
// subscription and one goroutine per workspace with open sockets, one
// periodic sweep for all, and a timer per expiring token.
type socketWatch struct {
	auth  *auth.Authenticator
	bus   *events.Bus
	every time.Duration

	mu          sync.Mutex
	byWorkspace map[string]*feed
	sweeping    bool
}

// feed is a workspace's open sockets and its access-change subscription.
type feed struct {
	sockets map[*socket]struct{}
	sub     *events.Subscription
}

// recheckers bounds the concurrent token reads of one re-check.
const recheckers = 8

// add watches s until its context ends.
func (w *socketWatch) add(s *socket) error {
	ws := s.viewer.WorkspaceID
	w.mu.Lock()
	f := w.byWorkspace[ws]
	if f == nil {
		f = &feed{sockets: map[*socket]struct{}{}}
		if w.bus != nil {
			// Subscribing under the lock keeps one feed per workspace; it
			// is quick (the bus's shared Redis subscription is already up).
			sub, err := w.bus.Subscribe(context.Background(), events.AccessTopic(ws))
			if err != nil {
				w.mu.Unlock()
				return err
			}
			f.sub = sub
			go w.follow(ws, f)
		}
		w.byWorkspace[ws] = f
	}
	f.sockets[s] = struct{}{}
	if !w.sweeping {
		w.sweeping = true
		go w.sweep()
	}
	w.mu.Unlock()
	if exp := s.viewer.ExpiresAt; exp != nil {
		t := time.AfterFunc(time.Until(*exp), func() { w.check(s, true) })
		context.AfterFunc(s.ctx, func() { t.Stop() })
	}
	context.AfterFunc(s.ctx, func() { w.remove(s) })
	return nil
}

// remove forgets s; the last socket of a workspace closes its feed.
func (w *socketWatch) remove(s *socket) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := s.viewer.WorkspaceID
	f := w.byWorkspace[ws]
	if f == nil {
		return
	}
	delete(f.sockets, s)
	if len(f.sockets) == 0 {
		delete(w.byWorkspace, ws)
		if f.sub != nil {
			f.sub.Close()
		}
	}
}

// sockets lists a workspace's open sockets ("" for all).
func (w *socketWatch) sockets(ws string) []*socket {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*socket
	for id, f := range w.byWorkspace {
		if ws == "" || id == ws {
			for s := range f.sockets {
				out = append(out, s)
			}
		}
	}
	return out
}

// follow re-checks a workspace's sockets from the database on each of its
// access changes, until the workspace has no socket left. A feed the bus
// ended (Redis reconnected: changes may have been missed) means a re-check
// and a new feed.
func (w *socketWatch) follow(ws string, f *feed) {
	sub := f.sub
	for {
		for range sub.C() {
			w.recheck(w.sockets(ws), true)
		}
		w.mu.Lock()
		gone := w.byWorkspace[ws] != f
		w.mu.Unlock()
		if gone {
			return // its last socket closed the feed
		}
		w.recheck(w.sockets(ws), true)
		next, err := w.bus.Subscribe(context.Background(), events.AccessTopic(ws))
		for err != nil {
			if errors.Is(err, events.ErrClosed) {
				for _, s := range w.sockets(ws) {
					s.end("UNAUTHENTICATED: the server is shutting down")
				}
				return
			}
			time.Sleep(time.Second)
			next, err = w.bus.Subscribe(context.Background(), events.AccessTopic(ws))
		}
		w.mu.Lock()
		if w.byWorkspace[ws] != f {
			w.mu.Unlock()
			next.Close()
			return
		}
		f.sub, sub = next, next
		w.mu.Unlock()
	}
}

// sweep re-checks every socket each period (from the briefly cached viewer:
// access changes already re-check from the database), until none is open.
func (w *socketWatch) sweep() {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for range t.C {
		all := w.sockets("")
		if len(all) == 0 {
			w.mu.Lock()
			if len(w.byWorkspace) == 0 {
				w.sweeping = false
				w.mu.Unlock()
				return
			}
			w.mu.Unlock()
		}
		w.recheck(all, false)
	}
}

// recheck checks sockets a few at a time.
func (w *socketWatch) recheck(sockets []*socket, fresh bool) {
	sem := make(chan struct{}, recheckers)
	var wg sync.WaitGroup
	for _, s := range sockets {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.check(s, fresh)
		}()
	}
	wg.Wait()
}

// check re-reads a socket's token and ends the socket if it no longer
// holds: from the database after an access change or at expiry (fresh),
// from the briefly cached viewer on the periodic sweep.
func (w *socketWatch) check(s *socket, fresh bool) {
	if s.ended.Load() || s.ctx.Err() != nil {
		return
	}
	read := w.auth.Authenticate
	if fresh {
		read = w.auth.Revalidate
	}
	now, err := read(s.ctx, s.secret)
	switch {
	case apperr.CodeOf(err) == apperr.Unauthenticated:
		s.end("UNAUTHENTICATED: API token revoked or expired")
	case err == nil && now.Role != s.viewer.Role:
		s.end("FORBIDDEN: the token's role changed; reconnect to continue with the new role")
	}
}

// subscriptionGuard caps live subscriptions per socket and per token (in
// this process) and stops delivery the moment a socket's token is ended.
type subscriptionGuard struct {
	perSocket, perToken int
	metrics             *metrics.Metrics

	mu      sync.Mutex
	byToken map[string]int
}

func newSubscriptionGuard(perSocket, perToken int, m *metrics.Metrics) *subscriptionGuard {
	return &subscriptionGuard{perSocket: perSocket, perToken: perToken, metrics: m, byToken: map[string]int{}}
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
	g.metrics.Subscriptions(1)
	return ""
}

func (g *subscriptionGuard) release(s *socket) {
	s.subs.Add(-1)
	g.metrics.Subscriptions(-1)
	g.mu.Lock()
	defer g.mu.Unlock()
	tok := s.viewer.TokenID
	if g.byToken[tok]--; g.byToken[tok] <= 0 {
		delete(g.byToken, tok)
	}
}
