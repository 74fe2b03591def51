// Package devseed fills an empty system with the demo workspace of
// `restored serve --dev`: an owner, an operator and an auditor with a token
// each, and two environments. Seeding is idempotent: a restart reuses what
// exists and issues new tokens only for members that have none from the seed.
package devseed

import (
	"context"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/apitoken"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/accounts"
	"github.com/restored/restored/internal/domain/auth"
)

// Workspace is the slug of the demo workspace.
const Workspace = "demo"

// Member is a seeded member and the token printed for it.
type Member struct {
	Email string
	Role  access.Role
	Token string // empty when the token was issued by an earlier start
}

// members of the demo workspace.
var members = []struct {
	email string
	role  access.Role
}{
	{"owner@demo.restored.test", access.Owner},
	{"operator@demo.restored.test", access.Operator},
	{"auditor@demo.restored.test", access.Auditor},
}

// environments of the demo workspace. Their Graph endpoints are placeholders
// until the simulated tenants of graphsim serve them.
var environments = []struct {
	name, tenant string
	kind         environment.Kind
}{
	{"Contoso Production", "contoso.onmicrosoft.com", environment.KindPROD},
	{"Contoso Test", "contoso-test.onmicrosoft.com", environment.KindTEST},
}

// tokenName marks the tokens the seed issues.
const tokenName = "dev seed"

// Seed creates the demo workspace. devToken, when set, is the owner's token
// secret (so scripts can use a fixed token); the other tokens are random.
func Seed(ctx context.Context, svc *accounts.Service, devToken string) ([]Member, error) {
	ws, err := svc.EnsureWorkspace(ctx, Workspace, "Demo MSP")
	if err != nil {
		return nil, err
	}
	var out []Member
	for _, m := range members {
		u, err := svc.EnsureMember(ctx, ws.ID, m.email, m.role)
		if err != nil {
			return nil, err
		}
		member := Member{Email: m.email, Role: m.role}
		secret := ""
		if m.role == access.Owner && devToken != "" {
			secret = devToken
			// The fixed token may already exist from an earlier start.
			exists, err := svc.Client.APIToken.Query().Where(apitoken.TokenHash(auth.Hash(devToken))).Exist(ctx)
			if err != nil {
				return nil, err
			}
			if exists {
				member.Token = devToken
				out = append(out, member)
				continue
			}
		} else {
			has, err := svc.Client.APIToken.Query().
				Where(apitoken.UserID(u.ID), apitoken.WorkspaceID(ws.ID), apitoken.Name(tokenName), apitoken.RevokedAtIsNil()).
				Exist(ctx)
			if err != nil {
				return nil, err
			}
			if has {
				out = append(out, member)
				continue
			}
		}
		_, member.Token, err = svc.CreateToken(ctx, accounts.TokenInput{
			WorkspaceID: ws.ID, UserID: u.ID, Name: tokenName, Role: m.role, Secret: secret,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, member)
	}
	for _, e := range environments {
		exists, err := svc.Client.Environment.Query().
			Where(environment.WorkspaceID(ws.ID), environment.DisplayName(e.name)).Exist(ctx)
		if err != nil {
			return nil, err
		}
		if exists {
			continue
		}
		err = svc.Client.Environment.Create().
			SetWorkspaceID(ws.ID).
			SetDisplayName(e.name).
			SetAzureTenantID(e.tenant).
			SetKind(e.kind).
			SetGraphBaseURL("https://graph.microsoft.com/beta").
			SetWriteEnabled(true).
			Exec(ctx)
		if err != nil && !ent.IsConstraintError(err) {
			return nil, err
		}
	}
	return out, nil
}
