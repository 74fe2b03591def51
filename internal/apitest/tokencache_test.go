package apitest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/restored/restored/ent/membership"
	"github.com/restored/restored/internal/app"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/accounts"
)

// peer starts a second API process on the same database and Redis (no
// worker), as a second replica behind a load balancer would be. Locally
// the first process's in-process Redis is shared through its address.
func (e *env) peer(t *testing.T) *env {
	t.Helper()
	cfg := *e.app.Config
	cfg.RedisURL = e.app.Redis.URL
	p, err := app.New(context.Background(), &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, app: p, srv: srv, logs: e.logs, wsID: e.wsID}
}

// TestTokenCacheKeepsRevocationImmediate: viewers are cached briefly, but a
// revoked token or a demoted member is refused on the very next request in
// the process that made the change, and as soon as the change event
// arrives in another one.
func TestTokenCacheKeepsRevocationImmediate(t *testing.T) {
	e := start(t)
	other := e.peer(t)
	ctx := context.Background()
	newToken := func(name string, role access.Role) (id, secret string) {
		tok, secret, err := e.app.Accounts.CreateToken(ctx, accounts.TokenInput{WorkspaceID: e.wsID, UserID: e.ownerUserID, Name: name, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return tok.ID, secret
	}
	role := func(on *env, token string) (string, int) {
		r := on.post(token, `{ viewer { role } }`, nil)
		if len(r.Errors) > 0 {
			return r.code(), r.Status
		}
		var d struct{ Viewer struct{ Role string } }
		r.decode(t, &d)
		return d.Viewer.Role, r.Status
	}
	// eventually polls a peer until it sees the change the bus carries.
	eventually := func(on *env, token, want string) {
		t.Helper()
		// Under the cache TTL (10 s): only the change event can explain a pass.
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, _ := role(on, token)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the other process still answers %q, want %q", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	t.Run("revoke", func(t *testing.T) {
		id, secret := newToken("cached", access.Operator)
		for range 3 { // cached in both processes
			if got, _ := role(e, secret); got != "OPERATOR" {
				t.Fatalf("before revoke: %s", got)
			}
			if got, _ := role(other, secret); got != "OPERATOR" {
				t.Fatalf("before revoke (other process): %s", got)
			}
		}
		r := e.post(e.owner, `mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, map[string]any{"id": id})
		if len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		if got, status := role(e, secret); got != "UNAUTHENTICATED" || status != http.StatusUnauthorized {
			t.Fatalf("right after revoke, same process: %s %d", got, status)
		}
		eventually(other, secret, "UNAUTHENTICATED")
	})
	t.Run("demote", func(t *testing.T) {
		u, err := e.app.Accounts.EnsureMember(ctx, e.wsID, "second-owner@demo.restored.test", access.Owner)
		if err != nil {
			t.Fatal(err)
		}
		_, secret, err := e.app.Accounts.CreateToken(ctx, accounts.TokenInput{WorkspaceID: e.wsID, UserID: u.ID, Name: "owner cached", Role: access.Owner})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := role(other, secret); got != "OWNER" {
			t.Fatalf("before demotion: %s", got)
		}
		m := e.app.DB.Client.Membership.Query().Where(membership.UserID(u.ID), membership.WorkspaceID(e.wsID)).OnlyX(ctx)
		r := e.post(e.owner, `mutation($id: ID!) { setMemberRole(input: {membershipId: $id, role: AUDITOR}) { id } }`, map[string]any{"id": m.ID})
		if len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		if got, _ := role(e, secret); got != "AUDITOR" {
			t.Fatalf("right after demotion, same process: %s", got)
		}
		eventually(other, secret, "AUDITOR")
	})
}
