package apitest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/restored/restored/internal/app"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/accounts"
)

const auditSub = `subscription($ws: ID!) { auditLogAdded(workspaceId: $ws) { id action actorLabel } }`

// TestSubscriptionBothProtocols receives live audit entries over
// graphql-transport-ws and the legacy graphql-ws.
func TestSubscriptionBothProtocols(t *testing.T) {
	e := start(t)
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			c := e.dial(proto, map[string]any{"Authorization": "Bearer " + e.auditor})
			if m := c.next(5 * time.Second); m.Type != "connection_ack" {
				t.Fatalf("got %s %s", m.Type, m.Payload)
			}
			c.subscribe("a", auditSub, map[string]any{"ws": e.wsID})
			stop := e.pulse()
			m := c.next(5 * time.Second)
			stop()
			if m.Type != c.dataType() || m.ID != "a" {
				t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
			}
			var p struct {
				Data struct {
					AuditLogAdded struct{ ID, Action, ActorLabel string }
				}
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if got := p.Data.AuditLogAdded; got.Action != "api_token.create" || !strings.HasPrefix(got.ID, "aud_") {
				t.Errorf("event %+v", got)
			}
		})
	}
}

// TestSubscriptionTokenInPayloadForms accepts the token as "token" too.
func TestSubscriptionTokenInPayloadForms(t *testing.T) {
	e := start(t)
	c := e.dial("graphql-transport-ws", map[string]any{"token": e.owner})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s %s", m.Type, m.Payload)
	}
}

// TestRevokedTokenClosesSocket: a socket whose token is revoked is closed
// within seconds, through the real revocation mutation.
func TestRevokedTokenClosesSocket(t *testing.T) {
	e := start(t)
	r := e.post(e.owner, `mutation($ws: ID!) { createApiToken(input: {workspaceId: $ws, name: "ws", role: AUDITOR}) { secret token { id } } }`, map[string]any{"ws": e.wsID})
	var d struct {
		CreateApiToken struct {
			Secret string
			Token  struct{ ID string }
		}
	}
	r.decode(t, &d)
	c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + d.CreateApiToken.Secret})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	c.subscribe("1", auditSub, map[string]any{"ws": e.wsID})
	r = e.post(e.owner, `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, map[string]any{"id": d.CreateApiToken.Token.ID})
	if len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	// The revocation itself is an audit event the subscription may still see;
	// then the socket must close.
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := c.next(time.Until(deadline))
		if m.Type == "closed" {
			return
		}
	}
}

// TestValidationErrorKeepsOtherSubscriptions: on graphql-transport-ws a
// subscribe message with a malformed payload gets "error" and no "complete"
// (which the protocol forbids after "error", and which makes the JS client
// drop every other subscription); queries that fail parsing or validation
// get "next" with the errors, then "complete" (allowed); a valid
// subscription on the same socket keeps receiving throughout.
func TestValidationErrorKeepsOtherSubscriptions(t *testing.T) {
	e := start(t)
	c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.owner})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	c.subscribe("good", auditSub, map[string]any{"ws": e.wsID})
	c.send(map[string]any{"type": "subscribe", "id": "malformed", "payload": "not an object"})
	if m := c.next(5 * time.Second); m.Type != "error" || m.ID != "malformed" {
		t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
	}
	c.subscribe("unparsable", `subscription { auditLogAdded(`, nil)
	if m := c.next(5 * time.Second); m.Type != "next" || m.ID != "unparsable" || !strings.Contains(string(m.Payload), "GRAPHQL_PARSE_FAILED") {
		t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
	}
	if m := c.next(5 * time.Second); m.Type != "complete" || m.ID != "unparsable" {
		t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
	}
	c.subscribe("invalid", `subscription { auditLogAdded(workspaceId: "x") { nope } }`, nil)
	if m := c.next(5 * time.Second); m.Type != "next" || m.ID != "invalid" || !strings.Contains(string(m.Payload), "GRAPHQL_VALIDATION_FAILED") {
		t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
	}
	if m := c.next(5 * time.Second); m.Type != "complete" || m.ID != "invalid" {
		t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
	}
	stop := e.pulse()
	defer stop()
	m := c.next(5 * time.Second)
	if m.Type == "complete" {
		t.Fatalf("complete after error for %q", m.ID)
	}
	if m.Type != "next" || m.ID != "good" {
		t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
	}
}

// TestWebsocketMessageLimit: a message over the body limit closes with 1009.
func TestWebsocketMessageLimit(t *testing.T) {
	e := start(t)
	c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.owner})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	c.subscribe("big", auditSub+strings.Repeat(" ", int(e.app.Config.MaxBodyBytes)+10), map[string]any{"ws": e.wsID})
	if m := c.next(5 * time.Second); m.Type != "closed" || m.ID != itoa(websocket.CloseMessageTooBig) {
		t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
	}
}

// TestEventsCrossReplicas: an event caused on one API replica reaches a
// subscriber connected to another, through Redis pub/sub.
func TestEventsCrossReplicas(t *testing.T) {
	e := start(t)
	cfg := *e.app.Config
	cfg.RedisURL = e.app.Redis.URL // the same Redis (in-process or real)
	cfg.AutoMigrate = false
	b, err := app.New(context.Background(), &cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	replica := httptest.NewServer(b.Handler())
	defer replica.Close()

	c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.owner})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	c.subscribe("x", auditSub, map[string]any{"ws": e.wsID})
	// Mutations go to the other replica until the subscriber sees one.
	other := &env{t: t, srv: replica}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			other.post(e.owner, `mutation($ws: ID!) { createApiToken(input: {workspaceId: $ws, name: "from replica", role: AUDITOR}) { secret } }`, map[string]any{"ws": e.wsID})
			time.Sleep(50 * time.Millisecond)
		}
	}()
	m := c.next(5 * time.Second)
	cancel()
	<-done
	if m.Type != "next" || !strings.Contains(string(m.Payload), "api_token.create") {
		t.Fatalf("got %s %s", m.Type, m.Payload)
	}
}

// TestExpiringTokenClosesSocket: a socket whose token expires while open is
// closed within seconds.
func TestExpiringTokenClosesSocket(t *testing.T) {
	e := start(t)
	soon := time.Now().Add(1500 * time.Millisecond)
	_, secret, err := e.app.Accounts.CreateToken(context.Background(), accounts.TokenInput{
		WorkspaceID: e.wsID, UserID: e.ownerUserID, Name: "short-lived", Role: access.Auditor, ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + secret})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	c.subscribe("1", auditSub, map[string]any{"ws": e.wsID})
	deadline := time.Now().Add(6 * time.Second)
	for {
		if m := c.next(time.Until(deadline)); m.Type == "closed" {
			break
		}
	}
	if time.Now().Before(soon) {
		t.Fatal("closed before the token expired")
	}
}
