package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/workspace"
	"github.com/restored/restored/internal/app"
	"github.com/restored/restored/internal/devseed"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/accounts"
	"github.com/restored/restored/internal/platform/config"
	"github.com/restored/restored/internal/testenv"
)

// env is one running restored with a seeded demo workspace and a second
// workspace, and a token for every kind of caller the auth matrix needs.
type env struct {
	t    testing.TB
	app  *app.App
	srv  *httptest.Server
	logs *logSink

	seenMu sync.Mutex
	seen   []string // every response body, for secret scans

	wsID, otherWsID       string
	prodEnvID, otherEnvID string
	// Rows of the demo workspace for operations that need an object.
	policyID, backupSetID, opRunID, policyVersionID string

	owner, operator, auditor string // tokens in the demo workspace
	otherOwner               string // owner token of the other workspace
	revoked, expired         string // once-valid demo owner tokens
	ownerUserID              string
}

// start runs a fresh system for one test.
func start(t testing.TB, tweak ...func(*config.Config)) *env {
	t.Helper()
	redisURL, prefix := testenv.Redis(t)
	vars := map[string]string{
		"RESTORED_DATABASE_URL": testenv.DatabaseURL(t),
		"RESTORED_REDIS_URL":    redisURL,
		"RESTORED_KEY_PREFIX":   prefix,
		"RESTORED_DATA_DIR":     t.TempDir(),
	}
	cfg, _, err := config.Parse("test", nil, func(k string) string { return vars[k] }, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.WorkerConcurrency = 4
	cfg.SecretKey = make([]byte, 32)
	rand.Read(cfg.SecretKey)
	cfg.ShutdownTimeout = 10 * time.Second
	cfg.TokenRecheckEvery = 200 * time.Millisecond
	for _, f := range tweak {
		f(cfg)
	}
	ctx := context.Background()
	// A benchmark's server logs a line per request, millions of them:
	// keeping them all would grow one buffer by copying it whole, stalling
	// every request that logs meanwhile, and measure that instead.
	_, bench := t.(*testing.B)
	logs := &logSink{t: t, keep: !bench}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.StartWorker(); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, app: a, logs: logs}
	t.Cleanup(a.Close)

	members, err := devseed.Seed(ctx, a.Accounts, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		switch m.Role {
		case access.Owner:
			e.owner = m.Token
		case access.Operator:
			e.operator = m.Token
		case access.Auditor:
			e.auditor = m.Token
		}
	}
	c := a.DB.Client
	ws := c.Workspace.Query().Where(workspace.Slug(devseed.Workspace)).OnlyX(ctx)
	e.wsID = ws.ID
	e.prodEnvID = c.Environment.Query().Where(environment.DisplayName("Contoso Production")).OnlyX(ctx).ID
	ownerUser, err := a.Accounts.EnsureMember(ctx, ws.ID, "owner@demo.restored.test", access.Owner)
	if err != nil {
		t.Fatal(err)
	}
	e.ownerUserID = ownerUser.ID

	other, err := a.Accounts.EnsureWorkspace(ctx, "other", "Other MSP")
	if err != nil {
		t.Fatal(err)
	}
	e.otherWsID = other.ID
	otherUser, err := a.Accounts.EnsureMember(ctx, other.ID, "owner@other.test", access.Owner)
	if err != nil {
		t.Fatal(err)
	}
	_, e.otherOwner, err = a.Accounts.CreateToken(ctx, accounts.TokenInput{WorkspaceID: other.ID, UserID: otherUser.ID, Name: "other", Role: access.Owner})
	if err != nil {
		t.Fatal(err)
	}
	e.otherEnvID = c.Environment.Create().SetWorkspaceID(other.ID).SetDisplayName("Fabrikam").
		SetAzureTenantID("fabrikam.onmicrosoft.com").SetKind(environment.KindPROD).
		SetGraphBaseURL("https://graph.microsoft.com/beta").SaveX(ctx).ID

	revokedTok, revoked, err := a.Accounts.CreateToken(ctx, accounts.TokenInput{WorkspaceID: ws.ID, UserID: ownerUser.ID, Name: "to revoke", Role: access.Owner})
	if err != nil {
		t.Fatal(err)
	}
	c.APIToken.UpdateOneID(revokedTok.ID).SetRevokedAt(time.Now()).ExecX(ctx)
	e.revoked = revoked
	soon := time.Now().Add(time.Hour)
	expiredTok, expired, err := a.Accounts.CreateToken(ctx, accounts.TokenInput{WorkspaceID: ws.ID, UserID: ownerUser.ID, Name: "to expire", Role: access.Owner, ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}
	c.APIToken.UpdateOneID(expiredTok.ID).SetExpiresAt(time.Now().Add(-time.Second)).ExecX(ctx)
	e.expired = expired

	e.policyID = c.IntunePolicy.Create().SetWorkspaceID(ws.ID).SetEnvironmentID(e.prodEnvID).
		SetPolicyType("deviceConfiguration").SetGraphID("seed-policy").SetDisplayName("Seed policy").
		SetSyncedAt(time.Now()).SaveX(ctx).ID
	e.backupSetID = c.BackupSet.Create().SetWorkspaceID(ws.ID).SetEnvironmentID(e.prodEnvID).
		SetName("Seed set").SetStatus(backupset.StatusREADY).SaveX(ctx).ID
	e.policyVersionID = c.PolicyVersion.Create().SetWorkspaceID(ws.ID).SetPolicyID(e.policyID).SetVersion(1).
		SetPayload(map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "Seed policy"}).
		SetContentHash("x").SetCapturedAt(time.Now()).SaveX(ctx).ID
	e.opRunID = c.OperationRun.Create().SetWorkspaceID(ws.ID).SetType("seed").SaveX(ctx).ID

	e.srv = httptest.NewServer(a.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// logSink keeps every server log line of a test (for secret scans) and
// shows warnings and errors in the test log.
type logSink struct {
	t    testing.TB
	keep bool
	mu   sync.Mutex
	b    bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	if l.keep {
		l.mu.Lock()
		l.b.Write(p)
		l.mu.Unlock()
	}
	if bytes.Contains(p, []byte("level=WARN")) || bytes.Contains(p, []byte("level=ERROR")) {
		l.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// String returns everything logged so far.
func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testWriter sends server logs to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// gqlError is one entry of a GraphQL response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// response is a decoded GraphQL response.
type response struct {
	Status int
	Header http.Header
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	Raw    string
}

// code returns the first error's extensions.code, or "".
func (r *response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// decode unmarshals data into v, failing on any error.
func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %s", r.Raw)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
}

// post sends a GraphQL request as token ("" for none).
func (e *env) post(token, query string, vars map[string]any) *response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

// do sends req and decodes the GraphQL response.
func (e *env) do(req *http.Request) *response {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := &response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	e.seenMu.Lock()
	e.seen = append(e.seen, r.Raw)
	e.seenMu.Unlock()
	if err := json.Unmarshal(raw, r); err != nil {
		e.t.Fatalf("response is not JSON (%d): %s", res.StatusCode, raw)
	}
	return r
}

// wsClient is a websocket GraphQL client speaking one protocol.
type wsClient struct {
	t     testing.TB
	conn  *websocket.Conn
	proto string
}

// dial opens a websocket with the given subprotocol and sends
// connection_init with payload.
func (e *env) dial(proto string, payload map[string]any) *wsClient {
	e.t.Helper()
	d := websocket.Dialer{Subprotocols: []string{proto}, HandshakeTimeout: 5 * time.Second}
	conn, res, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql", nil)
	if err != nil {
		e.t.Fatalf("dial: %v (%v)", err, res)
	}
	if conn.Subprotocol() != proto {
		e.t.Fatalf("negotiated %q, want %q", conn.Subprotocol(), proto)
	}
	c := &wsClient{t: e.t, conn: conn, proto: proto}
	e.t.Cleanup(func() { conn.Close() })
	c.send(map[string]any{"type": "connection_init", "payload": payload})
	return c
}

func (c *wsClient) send(m map[string]any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(m); err != nil {
		c.t.Fatal(err)
	}
}

// wsMessage is one protocol message.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// next reads the next message other than keep-alives, failing after timeout.
// A closed connection returns a message of type "closed" with the close code
// in ID.
func (c *wsClient) next(timeout time.Duration) wsMessage {
	c.t.Helper()
	m, ok := c.tryNext(timeout)
	if !ok {
		c.t.Fatalf("no websocket message within %s", timeout)
	}
	return m
}

// tryNext is next without failing: ok is false when nothing came in time.
// After a timeout the connection is unusable (gorilla's rule), so use it
// only as a last read.
func (c *wsClient) tryNext(timeout time.Duration) (wsMessage, bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c.conn.SetReadDeadline(deadline)
		var m wsMessage
		err := c.conn.ReadJSON(&m)
		if ce, ok := err.(*websocket.CloseError); ok {
			return wsMessage{Type: "closed", ID: itoa(ce.Code), Payload: json.RawMessage(`"` + ce.Text + `"`)}, true
		}
		if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			return wsMessage{}, false
		}
		if err != nil {
			c.t.Fatalf("websocket read: %v", err)
		}
		if m.Type == "ka" || m.Type == "ping" || m.Type == "pong" {
			if m.Type == "ping" {
				c.send(map[string]any{"type": "pong"})
			}
			continue
		}
		return m, true
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// subscribe starts a subscription with id.
func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	typ := "subscribe"
	if c.proto == "graphql-ws" {
		typ = "start"
	}
	c.send(map[string]any{"type": typ, "id": id, "payload": map[string]any{"query": query, "variables": vars}})
}

// dataType is the message type carrying results in c's protocol.
func (c *wsClient) dataType() string {
	if c.proto == "graphql-ws" {
		return "data"
	}
	return "next"
}

// pulse writes an audit entry in the demo workspace every 50 ms until the
// returned stop is called. A subscription has no "started" acknowledgement,
// so tests prove it live by reading the first event of a steady stream.
func (e *env) pulse() (stop func()) {
	return e.every(50*time.Millisecond, "pulse", func(ctx context.Context) error {
		_, _, err := e.app.Accounts.CreateToken(ctx, accounts.TokenInput{
			WorkspaceID: e.wsID, UserID: e.ownerUserID, Name: "pulse", Role: access.Auditor})
		return err
	})
}

// every calls fn each period until the returned stop is called, failing the
// test (as name) on an error.
func (e *env) every(period time.Duration, name string, fn func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := fn(ctx); err != nil && ctx.Err() == nil {
					e.t.Errorf("%s: %v", name, err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// scopedRun creates a SCOPED restore run of the demo workspace directly, for
// operations that need a run in that state.
func (e *env) scopedRun() string {
	e.t.Helper()
	return e.app.DB.Client.RestoreRun.Create().SetWorkspaceID(e.wsID).SetEnvironmentID(e.prodEnvID).
		SetBackupSetID(e.backupSetID).SetEnvironmentBadge("PROD").SetTenantLabel("Contoso Production").
		SetStatus(restorerun.StatusSCOPED).SetScopeFingerprint("seed").SaveX(context.Background()).ID
}
