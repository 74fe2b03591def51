package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/restored/restored/internal/app"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/accounts"
	"github.com/restored/restored/internal/platform/config"
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
// with 4403 at once, through the real revocation mutation: the periodic
// re-check is set to an hour, so only the revocation event can close it.
func TestRevokedTokenClosesSocket(t *testing.T) {
	e := start(t, func(c *config.Config) { c.TokenRecheckEvery = time.Hour })
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
	expectClosed(t, c, "4403", 5*time.Second)
}

// TestDemotedTokenClosesSocket: a member demoted while subscribed stops
// receiving at once: the socket closes with 4403, so nothing the new role may
// not see is ever delivered.
func TestDemotedTokenClosesSocket(t *testing.T) {
	e := start(t, func(c *config.Config) { c.TokenRecheckEvery = time.Hour })
	var d struct {
		Members struct {
			Edges []struct{ Node struct{ ID, Role string } }
		}
	}
	e.post(e.owner, `query($ws: ID!) { members(workspaceId: $ws) { edges { node { id role } } } }`, map[string]any{"ws": e.wsID}).decode(t, &d)
	var operatorM string
	for _, ed := range d.Members.Edges {
		if ed.Node.Role == "OPERATOR" {
			operatorM = ed.Node.ID
		}
	}
	c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.operator})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	c.subscribe("1", `subscription($id: ID!) { operationRunUpdated(id: $id) { id status } }`, map[string]any{"id": "opr_unknown"})
	if r := e.post(e.owner, `mutation($id: ID!) { setMemberRole(input: {membershipId: $id, role: AUDITOR}) { role } }`, map[string]any{"id": operatorM}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	expectClosed(t, c, "4403", 5*time.Second)
}

// expectClosed reads c until the server closes it, and checks the close code.
func expectClosed(t *testing.T, c *wsClient, code string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m := c.next(time.Until(deadline))
		if m.Type == "closed" {
			if m.ID != code {
				t.Fatalf("socket closed with %s %s, want %s", m.ID, m.Payload, code)
			}
			return
		}
	}
}

// TestSubscriptionCaps: a socket holds at most MaxSubscriptionsPerSocket
// live subscriptions and a token at most MaxSubscriptionsPerToken over all
// its sockets; a refused subscribe is an error on that subscription alone,
// and completing one frees its slot.
func TestSubscriptionCaps(t *testing.T) {
	e := start(t, func(c *config.Config) { c.MaxSubscriptionsPerSocket, c.MaxSubscriptionsPerToken = 2, 3 })
	auth := map[string]any{"Authorization": "Bearer " + e.auditor}
	a := e.dial("graphql-transport-ws", auth)
	if m := a.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	vars := map[string]any{"ws": e.wsID}
	// gqlgen starts a socket's subscriptions concurrently: any one of them
	// may be the one refused.
	for _, id := range []string{"a1", "a2", "a3"} {
		a.subscribe(id, auditSub, vars)
	}
	refused := expectRefused(t, a)

	b := e.dial("graphql-transport-ws", auth)
	if m := b.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	b.subscribe("b1", auditSub, vars) // with a's two live ones: the token's third
	b.subscribe("b2", auditSub, vars) // a fourth: over the token's cap
	expectRefused(t, b)

	// Completing one of a's frees a slot of the socket and of the token
	// (released asynchronously, so retry with fresh ids until it is).
	live := "a1"
	if refused == "a1" {
		live = "a2"
	}
	a.send(map[string]any{"type": "complete", "id": live})
	stop := e.pulse()
	defer stop()
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		id := fmt.Sprintf("b-more-%d", i)
		b.subscribe(id, auditSub, vars)
		m := nextFor(t, b, id)
		if !strings.Contains(string(m.Payload), "SUBSCRIPTION_LIMIT") {
			break // live: it received an audit entry
		}
		if time.Now().After(deadline) {
			t.Fatal("a completed subscription never freed its slot")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expectRefused reads c's next message, checks it refuses a subscription for
// the subscription limit with BAD_USER_INPUT, and returns that one's id.
func expectRefused(t *testing.T, c *wsClient) string {
	t.Helper()
	m := c.next(5 * time.Second)
	var p struct {
		Errors []struct {
			Extensions struct{ Code, Reason string }
		}
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) != 1 ||
		p.Errors[0].Extensions.Code != "BAD_USER_INPUT" || p.Errors[0].Extensions.Reason != "SUBSCRIPTION_LIMIT" {
		t.Fatalf("subscription %s got %s %s, want a SUBSCRIPTION_LIMIT error", m.ID, m.Type, m.Payload)
	}
	if done := c.next(5 * time.Second); done.Type != "complete" || done.ID != m.ID {
		t.Fatalf("after the refusal of %s got %s %s, want its complete", m.ID, done.Type, done.ID)
	}
	return m.ID
}

// nextFor returns the next message about subscription id, skipping others'.
func nextFor(t *testing.T, c *wsClient, id string) wsMessage {
	t.Helper()
	for {
		m := c.next(5 * time.Second)
		if m.Type == "closed" {
			t.Fatalf("socket closed %s %s waiting for subscription %s", m.ID, m.Payload, id)
		}
		if m.ID == id {
			return m
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

const runEventsSub = `subscription($id: ID!, $after: Int) { restoreRunEvents(runId: $id, afterSequence: $after) {
	sequence kind action status run { id status } at } }`

// runEvent is one restoreRunEvents event as a client receives it.
type runEvent struct {
	Sequence     int
	Kind, Action string
	Status       string
	Run          struct{ ID, Status string }
}

// nextRunEvent reads c's next event of subscription id.
func nextRunEvent(t *testing.T, c *wsClient, id string) runEvent {
	t.Helper()
	m := nextFor(t, c, id)
	var p struct {
		Data   struct{ RestoreRunEvents runEvent }
		Errors []json.RawMessage
	}
	if m.Type != c.dataType() || json.Unmarshal(m.Payload, &p) != nil || len(p.Errors) > 0 {
		t.Fatalf("subscription %s: got %s %s, want an event", id, m.Type, m.Payload)
	}
	return p.Data.RestoreRunEvents
}

// TestRestoreRunEventsReplayLiveAndResume: a subscriber gets the run's log
// from the start, then live events (the checks job's, from the worker) in
// sequence; a client reconnecting with the last sequence it saw gets
// exactly the rest: no gap, no duplicate. Both websocket protocols.
func TestRestoreRunEventsReplayLiveAndResume(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "events", wizardGen)
	bs := e.backupOf(envRow.ID, "events")
	w := &wizard{e: e, t: t, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL"})

	auth := map[string]any{"Authorization": "Bearer " + e.auditor} // runs.view is enough
	var live *wsClient
	for _, proto := range []string{"graphql-ws", "graphql-transport-ws"} {
		c := e.dial(proto, auth)
		if m := c.next(5 * time.Second); m.Type != "connection_ack" {
			t.Fatalf("%s: got %s", proto, m.Type)
		}
		c.subscribe("ev", runEventsSub, map[string]any{"id": w.id})
		first, second := nextRunEvent(t, c, "ev"), nextRunEvent(t, c, "ev")
		if first.Sequence != 1 || first.Kind != "STEP" || first.Action != "restore_run.create" || first.Status != "DRAFT" ||
			second.Sequence != 2 || second.Action != "restore_run.define_scope" || second.Status != "SCOPED" || second.Run.ID != w.id {
			t.Fatalf("%s: replayed log %+v %+v, want create (1, DRAFT) then define_scope (2, SCOPED)", proto, first, second)
		}
		live = c
	}

	// Live: the checks job runs in the worker and its events arrive in order.
	w.checked()
	seq := 2
	var last runEvent
	for last.Kind != "CHECKS_COMPLETED" {
		last = nextRunEvent(t, live, "ev")
		if last.Sequence != seq+1 {
			t.Fatalf("live event %+v after sequence %d: a gap or a duplicate", last, seq)
		}
		seq = last.Sequence
	}
	if last.Status != "CHECKED" {
		t.Errorf("checks completed with the run %s, want CHECKED", last.Status)
	}

	// Resume after sequence 2: exactly 3..seq, then live again.
	c := e.dial("graphql-transport-ws", auth)
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	c.subscribe("again", runEventsSub, map[string]any{"id": w.id, "after": 2})
	for want := 3; want <= seq; want++ {
		if ev := nextRunEvent(t, c, "again"); ev.Sequence != want {
			t.Fatalf("resumed subscription got sequence %d, want %d", ev.Sequence, want)
		}
	}
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL"}) // a new live event
	if ev := nextRunEvent(t, c, "again"); ev.Sequence != seq+1 || ev.Action != "restore_run.define_scope" {
		t.Fatalf("after the replay got %+v, want the live define_scope as %d", ev, seq+1)
	}
}
