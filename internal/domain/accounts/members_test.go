package accounts_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/apitoken"
	"github.com/restored/restored/ent/auditlog"
	"github.com/restored/restored/ent/membership"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/accounts"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/internal/testenv"
)

// fixture is a migrated database with workspace "acme" (an owner and an
// operator) and workspace "other" (its own owner).
type fixture struct {
	db    *store.DB
	svc   *accounts.Service
	acme  *ent.Workspace
	other *ent.Workspace
	// owner and operator of acme, and the owner of other.
	owner, operator, outsider member
}

// member is a user with a membership and a context acting as them.
type member struct {
	user *ent.User
	m    *ent.Membership
	ctx  context.Context
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	db := testenv.DB(tb)
	f := &fixture{db: db, svc: &accounts.Service{Client: db.Client, Audit: &audit.Recorder{}}}
	f.acme = db.Workspace.Create().SetSlug("acme").SetName("Acme").SaveX(ctx)
	f.other = db.Workspace.Create().SetSlug("other").SetName("Other").SaveX(ctx)
	f.owner = f.addMember(tb, f.acme, "owner@acme.test", access.Owner)
	f.operator = f.addMember(tb, f.acme, "operator@acme.test", access.Operator)
	f.outsider = f.addMember(tb, f.other, "owner@other.test", access.Owner)
	return f
}

// addMember creates a user (or reuses one) with a membership of role in ws.
func (f *fixture) addMember(tb testing.TB, ws *ent.Workspace, email string, role access.Role) member {
	tb.Helper()
	u, err := f.svc.EnsureMember(context.Background(), ws.ID, email, role)
	if err != nil {
		tb.Fatal(err)
	}
	m := f.db.Membership.Query().Where(membership.WorkspaceID(ws.ID), membership.UserID(u.ID)).OnlyX(context.Background())
	return member{user: u, m: m, ctx: auth.WithViewer(context.Background(), &auth.Viewer{User: u, WorkspaceID: ws.ID, Role: m.Role})}
}

// wantCode fails unless err is an *apperr.Error with code (and field).
func wantCode(tb testing.TB, err error, code apperr.Code, field string) {
	tb.Helper()
	e, ok := apperr.As(err)
	if !ok {
		tb.Fatalf("error = %v, want %s", err, code)
	}
	if e.Code != code || e.Field != field {
		tb.Fatalf("error = %s on field %q (%q), want %s on field %q", e.Code, e.Field, e.Message, code, field)
	}
}

// auditEntries returns the entries of action about objectID.
func (f *fixture) auditEntries(tb testing.TB, action, objectID string) []*ent.AuditLog {
	tb.Helper()
	entries, err := f.db.AuditLog.Query().Where(auditlog.Action(action), auditlog.ObjectID(objectID)).All(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return entries
}

// owners counts acme's owners.
func (f *fixture) owners(tb testing.TB) int {
	tb.Helper()
	n, err := f.db.Membership.Query().Where(membership.WorkspaceID(f.acme.ID), membership.RoleEQ(access.Owner)).Count(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestInviteMember(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	m, err := f.svc.InviteMember(f.owner.ctx, f.acme.ID, "  New.Person@Acme.TEST ", "auditor")
	if err != nil {
		t.Fatalf("InviteMember: %v", err)
	}
	u := f.db.User.GetX(ctx, m.UserID)
	if u.Email != "new.person@acme.test" || m.Role != access.Auditor || m.WorkspaceID != f.acme.ID {
		t.Errorf("invited %s as %s in %s; want new.person@acme.test as AUDITOR in acme", u.Email, m.Role, m.WorkspaceID)
	}
	entries := f.auditEntries(t, "member.invite", m.ID)
	if len(entries) != 1 || entries[0].Metadata["email"] != u.Email || entries[0].Metadata["role"] != "AUDITOR" || entries[0].ActorLabel != "owner@acme.test" {
		t.Errorf("member.invite entries = %+v, want one with email, role and the owner as actor", entries)
	}

	// Twice is a conflict, whatever the role and the spelling.
	_, err = f.svc.InviteMember(f.owner.ctx, f.acme.ID, "NEW.PERSON@acme.test", access.Owner)
	wantCode(t, err, apperr.Conflict, "")
	if got := f.db.Membership.GetX(ctx, m.ID).Role; got != access.Auditor {
		t.Errorf("role after a conflicting invite = %s, want AUDITOR kept", got)
	}

	// A user known from another workspace is reused, not duplicated.
	m2, err := f.svc.InviteMember(f.owner.ctx, f.acme.ID, "owner@other.test", access.Operator)
	if err != nil {
		t.Fatal(err)
	}
	if m2.UserID != f.outsider.user.ID {
		t.Errorf("invited user %s, want the existing user %s", m2.UserID, f.outsider.user.ID)
	}
	if n := f.db.User.Query().CountX(ctx); n != 4 {
		t.Errorf("%d users, want 4", n)
	}

	for _, tt := range []struct {
		name, email string
		role        access.Role
		field       string
	}{
		{"no email", "", access.Operator, "email"},
		{"no at", "person.acme.test", access.Operator, "email"},
		{"nothing before at", "@acme.test", access.Operator, "email"},
		{"nothing after at", "person@", access.Operator, "email"},
		{"space", "a person@acme.test", access.Operator, "email"},
		{"unknown role", "x@acme.test", "admin", "role"},
		{"no role", "x@acme.test", "", "role"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.InviteMember(f.owner.ctx, f.acme.ID, tt.email, tt.role)
			wantCode(t, err, apperr.BadUserInput, tt.field)
		})
	}
	for _, tt := range []struct {
		name string
		ctx  context.Context
		code apperr.Code
	}{
		{"operator", f.operator.ctx, apperr.Forbidden},
		{"owner of another workspace", f.outsider.ctx, apperr.Forbidden},
		{"anonymous", ctx, apperr.Unauthenticated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.InviteMember(tt.ctx, f.acme.ID, "y@acme.test", access.Owner)
			wantCode(t, err, tt.code, "")
		})
	}
	if n := f.db.Membership.Query().Where(membership.WorkspaceID(f.acme.ID)).CountX(ctx); n != 4 {
		t.Errorf("acme has %d members, want 4 (refused invites add none)", n)
	}
}

// TestInviteMemberConcurrent invites one new person many times at once:
// one membership, one user, and CONFLICT for the others.
func TestInviteMemberConcurrent(t *testing.T) {
	f := newFixture(t)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.InviteMember(f.owner.ctx, f.acme.ID, "racy@acme.test", access.Operator)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("concurrent invite: %v, want success or CONFLICT", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent invites succeeded, want 1", ok)
	}
}

func TestSetMemberRole(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	// The only owner cannot step down.
	_, err := f.svc.SetMemberRole(f.owner.ctx, f.owner.m.ID, access.Operator)
	wantCode(t, err, apperr.InvalidTransition, "")
	if f.owners(t) != 1 {
		t.Fatal("the last owner was demoted")
	}

	// Promote the operator; then the first owner may step down.
	m, err := f.svc.SetMemberRole(f.owner.ctx, f.operator.m.ID, "owner")
	if err != nil || m.Role != access.Owner {
		t.Fatalf("promote operator = %v, %v; want OWNER", m, err)
	}
	entries := f.auditEntries(t, "member.set_role", f.operator.m.ID)
	if len(entries) != 1 || entries[0].Metadata["from"] != "OPERATOR" || entries[0].Metadata["to"] != "OWNER" {
		t.Errorf("member.set_role entries = %+v, want one from OPERATOR to OWNER", entries)
	}
	if _, err := f.svc.SetMemberRole(f.owner.ctx, f.owner.m.ID, access.Auditor); err != nil {
		t.Fatalf("demote one of two owners: %v", err)
	}
	// Now the former operator is the last owner.
	promoted := auth.WithViewer(ctx, &auth.Viewer{User: f.operator.user, WorkspaceID: f.acme.ID, Role: access.Owner})
	_, err = f.svc.SetMemberRole(promoted, f.operator.m.ID, access.Auditor)
	wantCode(t, err, apperr.InvalidTransition, "")

	// Same role: nothing changes, nothing is recorded.
	if _, err := f.svc.SetMemberRole(promoted, f.operator.m.ID, access.Owner); err != nil {
		t.Errorf("set the role a member has: %v", err)
	}
	if n := len(f.auditEntries(t, "member.set_role", f.operator.m.ID)); n != 1 {
		t.Errorf("%d set_role entries after a no-op, want 1", n)
	}

	_, err = f.svc.SetMemberRole(promoted, f.owner.m.ID, "admin")
	wantCode(t, err, apperr.BadUserInput, "role")
	_, err = f.svc.SetMemberRole(promoted, "mem_00000000000000000000000000", access.Auditor)
	wantCode(t, err, apperr.NotFound, "")
	// The demoted owner (now auditor), an operator and other workspaces may not.
	_, err = f.svc.SetMemberRole(f.operator.ctx, f.owner.m.ID, access.Owner)
	wantCode(t, err, apperr.Forbidden, "")
	auditorCtx := auth.WithViewer(ctx, &auth.Viewer{User: f.owner.user, WorkspaceID: f.acme.ID, Role: access.Auditor})
	_, err = f.svc.SetMemberRole(auditorCtx, f.owner.m.ID, access.Owner)
	wantCode(t, err, apperr.Forbidden, "")
	_, err = f.svc.SetMemberRole(f.outsider.ctx, f.owner.m.ID, access.Owner)
	wantCode(t, err, apperr.Forbidden, "")
	_, err = f.svc.SetMemberRole(ctx, f.owner.m.ID, access.Owner)
	wantCode(t, err, apperr.Unauthenticated, "")
	if got := f.db.Membership.GetX(ctx, f.owner.m.ID).Role; got != access.Auditor {
		t.Errorf("role after refused changes = %s, want AUDITOR", got)
	}
}

func TestRemoveMember(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	authn := &auth.Authenticator{Client: f.db.Client}
	issue := func(ws *ent.Workspace, u *ent.User, role access.Role, name string) string {
		t.Helper()
		_, secret, err := f.svc.CreateToken(ctx, accounts.TokenInput{WorkspaceID: ws.ID, UserID: u.ID, Name: name, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	// The operator has two live tokens and a revoked one in acme, and is
	// also a member of other with a token there.
	tok1 := issue(f.acme, f.operator.user, access.Operator, "one")
	tok2 := issue(f.acme, f.operator.user, access.Operator, "two")
	revokedAt := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	issue(f.acme, f.operator.user, access.Operator, "old")
	f.db.APIToken.Update().Where(apitoken.Name("old")).SetRevokedAt(revokedAt).ExecX(ctx)
	f.addMember(t, f.other, "operator@acme.test", access.Operator)
	otherTok := issue(f.other, f.operator.user, access.Operator, "elsewhere")

	n, err := f.svc.RemoveMember(f.owner.ctx, f.operator.m.ID)
	if err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if n != 2 {
		t.Errorf("RemoveMember revoked %d tokens, want 2", n)
	}
	if exists := f.db.Membership.Query().Where(membership.ID(f.operator.m.ID)).ExistX(ctx); exists {
		t.Error("membership still exists after RemoveMember")
	}
	for _, tok := range []string{tok1, tok2} {
		if _, err := authn.Authenticate(ctx, tok); apperr.CodeOf(err) != apperr.Unauthenticated {
			t.Errorf("removed member's token authenticates: %v", err)
		}
	}
	old := f.db.APIToken.Query().Where(apitoken.Name("old")).OnlyX(ctx)
	if old.RevokedAt == nil || !old.RevokedAt.Equal(revokedAt) {
		t.Errorf("an already revoked token's revoked_at changed to %v", old.RevokedAt)
	}
	if v, err := authn.Authenticate(ctx, otherTok); err != nil || v.WorkspaceID != f.other.ID {
		t.Errorf("token in another workspace after removal from acme: %v, %v; want it working", v, err)
	}
	entries := f.auditEntries(t, "member.remove", f.operator.m.ID)
	if len(entries) != 1 || entries[0].Metadata["revokedTokens"] != float64(2) || entries[0].Metadata["email"] != "operator@acme.test" {
		t.Errorf("member.remove entries = %+v, want one with email and revokedTokens 2", entries)
	}

	// Removing twice: NOT_FOUND.
	_, err = f.svc.RemoveMember(f.owner.ctx, f.operator.m.ID)
	wantCode(t, err, apperr.NotFound, "")
	// The last owner stays, even asking for themselves.
	_, err = f.svc.RemoveMember(f.owner.ctx, f.owner.m.ID)
	wantCode(t, err, apperr.InvalidTransition, "")
	// Others may not remove anyone.
	_, err = f.svc.RemoveMember(f.outsider.ctx, f.owner.m.ID)
	wantCode(t, err, apperr.Forbidden, "")
	// With a second owner, an owner may leave.
	second := f.addMember(t, f.acme, "second@acme.test", access.Owner)
	if _, err := f.svc.RemoveMember(f.owner.ctx, f.owner.m.ID); err != nil {
		t.Fatalf("owner leaving while another owner remains: %v", err)
	}
	if f.owners(t) != 1 {
		t.Errorf("%d owners, want 1", f.owners(t))
	}
	_, err = f.svc.RemoveMember(second.ctx, second.m.ID)
	wantCode(t, err, apperr.InvalidTransition, "")
}

// TestLastOwnerRace takes two owners away at once, in every combination of
// demote and remove: exactly one call wins and one owner always remains.
func TestLastOwnerRace(t *testing.T) {
	ops := map[string]func(f *fixture, ctx context.Context, id string) error{
		"demote": func(f *fixture, ctx context.Context, id string) error {
			_, err := f.svc.SetMemberRole(ctx, id, access.Operator)
			return err
		},
		"remove": func(f *fixture, ctx context.Context, id string) error {
			_, err := f.svc.RemoveMember(ctx, id)
			return err
		},
	}
	for _, a := range []string{"demote", "remove"} {
		for _, b := range []string{"demote", "remove"} {
			t.Run(a+"+"+b, func(t *testing.T) {
				f := newFixture(t)
				for round := range 3 {
					ws := f.db.Workspace.Create().SetSlug(fmt.Sprintf("race%d", round)).SetName("Race").SaveX(context.Background())
					x := f.addMember(t, ws, fmt.Sprintf("x%d@race.test", round), access.Owner)
					y := f.addMember(t, ws, fmt.Sprintf("y%d@race.test", round), access.Owner)
					errs := make([]error, 2)
					var wg sync.WaitGroup
					wg.Add(2)
					go func() { defer wg.Done(); errs[0] = ops[a](f, x.ctx, y.m.ID) }()
					go func() { defer wg.Done(); errs[1] = ops[b](f, y.ctx, x.m.ID) }()
					wg.Wait()
					won := 0
					for _, err := range errs {
						if err == nil {
							won++
						} else if apperr.CodeOf(err) != apperr.InvalidTransition {
							t.Errorf("round %d: %v, want success or INVALID_TRANSITION", round, err)
						}
					}
					owners := f.db.Membership.Query().Where(membership.WorkspaceID(ws.ID), membership.RoleEQ(access.Owner)).CountX(context.Background())
					if won != 1 || owners != 1 {
						t.Errorf("round %d: %d calls won and %d owners remain, want 1 and 1", round, won, owners)
					}
				}
			})
		}
	}
}
