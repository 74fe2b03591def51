package apitest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/restored/restored/ent/apitoken"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/accounts"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/notifications"
	"github.com/restored/restored/internal/msgraph/graphsim"
)

// notice is a notification as the API returns it.
type notice struct {
	ID, Kind, Title, Body string
	SubjectID             *string
	ReadAt                *string
}

const noticeFields = `id kind title body subjectId readAt`

// notices returns the caller's notifications (newest first) and their total.
func (e *env) notices(token string, unreadOnly bool) ([]notice, int) {
	e.t.Helper()
	var d struct {
		Notifications struct {
			TotalCount int
			Edges      []struct{ Node notice }
		}
	}
	e.post(token, `query($u: Boolean) { notifications(unreadOnly: $u) { totalCount edges { node { `+noticeFields+` } } } }`,
		map[string]any{"u": unreadOnly}).decode(e.t, &d)
	var out []notice
	for _, edge := range d.Notifications.Edges {
		out = append(out, edge.Node)
	}
	return out, d.Notifications.TotalCount
}

// markRead calls markNotificationsRead and returns how many changed.
func (e *env) markRead(token string, vars map[string]any) int {
	e.t.Helper()
	var d struct{ MarkNotificationsRead int }
	e.post(token, `mutation($ids: [ID!], $all: Boolean) { markNotificationsRead(ids: $ids, all: $all) }`, vars).decode(e.t, &d)
	return d.MarkNotificationsRead
}

// nextNotice reads the next notificationReceived of subscription id on c.
func nextNotice(t *testing.T, c *wsClient, id string) notice {
	t.Helper()
	m := nextFor(t, c, id)
	if m.Type != c.dataType() {
		t.Fatalf("got %s %s, want a notification", m.Type, m.Payload)
	}
	var p struct {
		Data struct{ NotificationReceived notice }
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p.Data.NotificationReceived
}

// userOf returns the user and workspace of a token secret.
func (e *env) userOf(secret string) (userID, workspaceID string) {
	e.t.Helper()
	tok := e.app.DB.Client.APIToken.Query().Where(apitoken.TokenHash(auth.Hash(secret))).OnlyX(context.Background())
	return tok.UserID, tok.WorkspaceID
}

// notifyPulse writes a notification for the caller every 50 ms until
// stopped, so a live notificationReceived of theirs gets an event however
// long its subscription takes to register.
func (e *env) notifyPulse(caller string) (stop func()) {
	user, ws := e.userOf(e.token(caller))
	return e.every(50*time.Millisecond, "notify pulse", func(ctx context.Context) error {
		_, err := e.app.Notes.Notify(ctx, notifications.New{WorkspaceID: ws, UserID: user, Kind: "test.pulse", Title: "pulse"})
		return err
	})
}

// TestCaptureNotifications: a capture started by the owner tells the owner,
// live and in the notifications query, that it was queued, started and
// succeeded; the operator and another workspace's owner see none of it and
// can mark none of it; unreadOnly and markNotificationsRead (by ids, then
// all) work on the owner's own.
func TestCaptureNotifications(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "notify", graphsim.GenOptions{Seed: 3, Policies: 6, Groups: 2})
	sub := `subscription { notificationReceived { ` + noticeFields + ` } }`
	owner := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.owner})
	operator := e.dial("graphql-ws", map[string]any{"Authorization": "Bearer " + e.operator})
	for _, c := range []*wsClient{owner, operator} {
		if m := c.next(5 * time.Second); m.Type != "connection_ack" {
			t.Fatalf("got %s %s, want connection_ack", m.Type, m.Payload)
		}
		c.subscribe("n", sub, nil)
	}
	// Both subscriptions are live once the bus holds them (no event is
	// published before, so none can be missed).
	for _, tok := range []string{e.owner, e.operator} {
		user, _ := e.userOf(tok)
		deadline := time.Now().Add(10 * time.Second)
		for e.app.Bus.Subscribers(notifications.Topic(user)) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("notificationReceived of %s never subscribed", user)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	op := e.mutateOp(e.owner, createBackupSet, map[string]any{"env": envRow.ID, "name": "notify", "all": true, "f": false}, "createBackupSet")
	if done := e.waitOp(e.owner, op.ID, 60*time.Second); done.Outcome != "SUCCEEDED" {
		t.Fatalf("capture ended %+v", done)
	}

	// Live, in order.
	wantKinds := []string{"operation.queued", "operation.running", "operation.completed"}
	wantTitles := []string{"Backup capture queued", "Backup capture started", "Backup capture succeeded"}
	for i := range wantKinds {
		n := nextNotice(t, owner, "n")
		if n.Kind != wantKinds[i] || n.Title != wantTitles[i] || n.SubjectID == nil || *n.SubjectID != op.ID || n.ReadAt != nil {
			t.Errorf("live notification %d: %+v, want %s %q about %s, unread", i, n, wantKinds[i], wantTitles[i], op.ID)
		}
	}

	// Listed, newest first.
	list, total := e.notices(e.owner, false)
	if total != 3 || len(list) != 3 {
		t.Fatalf("owner has %d notifications %+v, want 3", total, list)
	}
	for i, n := range list {
		if want := wantKinds[2-i]; n.Kind != want || *n.SubjectID != op.ID {
			t.Errorf("notification %d: %+v, want %s", i, n, want)
		}
	}
	queued, running := list[2].ID, list[1].ID

	// Nobody else sees or marks them.
	for _, tok := range []string{e.operator, e.auditor, e.otherOwner} {
		if got, total := e.notices(tok, false); total != 0 {
			t.Errorf("another user sees %+v", got)
		}
		if n := e.markRead(tok, map[string]any{"ids": []string{queued, running}}); n != 0 {
			t.Errorf("another user marked %d of the owner's notifications read", n)
		}
		if n := e.markRead(tok, map[string]any{"all": true}); n != 0 {
			t.Errorf("another user's all: true marked %d read", n)
		}
		if r := e.post(tok, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": queued}); r.code() != "FORBIDDEN" {
			t.Errorf("another user reads the owner's notification: %s", r.Raw)
		}
	}
	if _, unread := e.notices(e.owner, true); unread != 3 {
		t.Fatalf("owner has %d unread after others tried to mark them, want 3", unread)
	}

	// The operator's socket got nothing of the owner's: the first thing it
	// receives is the operator's own sync being queued.
	sync := e.mutateOp(e.operator, `mutation($env: ID!) { syncInventory(environmentId: $env) { id } }`, map[string]any{"env": envRow.ID}, "syncInventory")
	if n := nextNotice(t, operator, "n"); n.SubjectID == nil || *n.SubjectID != sync.ID || n.Kind != "operation.queued" {
		t.Errorf("operator's first live notification %+v, want their sync %s queued", n, sync.ID)
	}
	e.waitOp(e.operator, sync.ID, 60*time.Second)

	// By ids: only unread ones count.
	if n := e.markRead(e.owner, map[string]any{"ids": []string{queued}}); n != 1 {
		t.Errorf("marked %d, want 1", n)
	}
	if n := e.markRead(e.owner, map[string]any{"ids": []string{queued}}); n != 0 {
		t.Errorf("marking a read notification again changed %d, want 0", n)
	}
	unread, total := e.notices(e.owner, true)
	if total != 2 || unread[0].Kind != "operation.completed" || unread[1].Kind != "operation.running" {
		t.Errorf("unread after marking queued: %+v", unread)
	}
	// All.
	if n := e.markRead(e.owner, map[string]any{"all": true}); n != 2 {
		t.Errorf("all: true marked %d, want 2", n)
	}
	if _, n := e.notices(e.owner, true); n != 0 {
		t.Errorf("%d unread after all: true", n)
	}
	all, total := e.notices(e.owner, false)
	if total != 3 {
		t.Errorf("owner has %d notifications after marking, want 3", total)
	}
	for _, n := range all {
		if n.ReadAt == nil {
			t.Errorf("%s still unread", n.ID)
		}
	}
	// Neither ids nor all: a client mistake, said so.
	if r := e.post(e.owner, `mutation { markNotificationsRead }`, nil); r.code() != "BAD_USER_INPUT" {
		t.Errorf("markNotificationsRead without arguments: %s", r.Raw)
	}
	// The operator's own sync did not notify the owner.
	if _, n := e.notices(e.owner, false); n != 3 {
		t.Errorf("owner has %d notifications after the operator's sync, want 3", n)
	}
}

// TestNotificationsFollowTheTokensWorkspace: a user in two workspaces sees,
// receives and marks through a token only that token's workspace's
// notifications.
func TestNotificationsFollowTheTokensWorkspace(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	u, err := e.app.Accounts.EnsureMember(ctx, e.otherWsID, "owner@demo.restored.test", access.Owner)
	if err != nil || u.ID != e.ownerUserID {
		t.Fatalf("EnsureMember: %v, %v", u, err)
	}
	_, elsewhere, err := e.app.Accounts.CreateToken(ctx, accounts.TokenInput{WorkspaceID: e.otherWsID, UserID: u.ID, Name: "elsewhere", Role: access.Auditor})
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + elsewhere})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s %s, want connection_ack", m.Type, m.Payload)
	}
	c.subscribe("n", `subscription { notificationReceived { `+noticeFields+` } }`, nil)
	deadline := time.Now().Add(10 * time.Second)
	for e.app.Bus.Subscribers(notifications.Topic(u.ID)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("notificationReceived never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	here, err := e.app.Notes.Notify(ctx, notifications.New{WorkspaceID: e.wsID, UserID: u.ID, Kind: "test", Title: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	there, err := e.app.Notes.Notify(ctx, notifications.New{WorkspaceID: e.otherWsID, UserID: u.ID, Kind: "test", Title: "other"})
	if err != nil {
		t.Fatal(err)
	}
	// Published in this order on one topic: the demo one was filtered out.
	if n := nextNotice(t, c, "n"); n.ID != there.ID {
		t.Errorf("first live notification %+v, want %s (the token's workspace only)", n, there.ID)
	}
	for tok, want := range map[string]string{e.owner: here.ID, elsewhere: there.ID} {
		if list, total := e.notices(tok, false); total != 1 || list[0].ID != want {
			t.Errorf("token sees %+v, want only %s", list, want)
		}
	}
	if n := e.markRead(elsewhere, map[string]any{"ids": []string{here.ID, there.ID}}); n != 1 {
		t.Errorf("marked %d, want 1 (the other workspace's is out of reach)", n)
	}
	if _, unread := e.notices(e.owner, true); unread != 1 {
		t.Errorf("the demo notification was marked read through another workspace's token")
	}
}
