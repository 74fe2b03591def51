package devseed

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/ent/membership"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/user"
	"github.com/restored/restored/ent/workspace"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/backup"
	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/secrets"
)

// Tenant is a simulated tenant behind a demo environment.
type Tenant struct {
	Environment string // display name
	ID          string // tenant id in graphsim
	Seed        int64
}

// Tenants are the simulated tenants of --dev: production and test are
// generated from different seeds, so a restore from one into the other
// shows real differences (and needs group mapping, as across real tenants).
var Tenants = []Tenant{
	{Environment: "Contoso Production", ID: "contoso", Seed: 1},
	{Environment: "Contoso Test", ID: "contoso-test", Seed: 2},
}

// PoliciesPerTenant is how many objects each simulated tenant gets (about
// 300 in all).
const PoliciesPerTenant = 150

// BindTenants generates the simulated tenants in sim (served at simURL) and
// points the demo environments at them with stored credentials, then makes
// sure each has a ready backup set (capturing one when it has none; that
// runs on the job worker and is awaited, up to wait).
func BindTenants(ctx context.Context, client *ent.Client, box *secrets.Box, capture *backup.Service,
	sim *graphsim.Server, simURL string, wait time.Duration) error {
	if box == nil {
		return errors.New("dev tenants need a secret key")
	}
	ws, err := client.Workspace.Query().Where(workspace.Slug(Workspace)).Only(ctx)
	if err != nil {
		return err
	}
	owner, err := client.User.Query().Where(user.HasMembershipsWith(membership.WorkspaceID(ws.ID), membership.RoleEQ(access.Owner))).First(ctx)
	if err != nil {
		return err
	}
	roles := []string{}
	for _, area := range []string{"DeviceManagementConfiguration", "DeviceManagementServiceConfig", "DeviceManagementRBAC", "DeviceManagementApps"} {
		roles = append(roles, area+".ReadWrite.All")
	}
	roles = append(roles, "Group.Read.All")
	var pending []string
	defer sameGroupNames(sim)
	for _, tn := range Tenants {
		t := sim.Tenant(tn.ID)
		clientID, secret := "dev-client-"+tn.ID, "dev-secret-"+tn.ID
		t.SetCredentials(clientID, secret)
		t.SetPermissions(roles...)
		graphsim.Generate(t, graphsim.GenOptions{Seed: tn.Seed, Policies: PoliciesPerTenant, Groups: 12, ScopeTags: 4, Filters: 4})
		env, err := client.Environment.Query().Where(environment.WorkspaceID(ws.ID), environment.DisplayName(tn.Environment)).Only(ctx)
		if err != nil {
			return err
		}
		sealed, err := box.Seal([]byte(secret), []byte(env.ID))
		if err != nil {
			return err
		}
		now := time.Now()
		env, err = env.Update().SetAzureTenantID(tn.ID).SetGraphBaseURL(graphsim.BaseURL(simURL, tn.ID)).
			SetClientID(clientID).SetClientSecretEncrypted(sealed).SetCredentialsSetAt(now).
			SetGrantedPermissions(roles).SetPermissionsCheckedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		ready, err := client.BackupSet.Query().Where(backupset.EnvironmentID(env.ID), backupset.StatusEQ(backupset.StatusREADY)).Exist(ctx)
		if err != nil || ready {
			if err != nil {
				return err
			}
			continue
		}
		actx := auth.WithViewer(ctx, &auth.Viewer{User: owner, WorkspaceID: ws.ID, Role: access.Owner})
		run, err := capture.CreateBackupSet(actx, backup.CreateBackupSetInput{
			EnvironmentID: env.ID, Name: "Initial backup of " + tn.Environment, All: true, IncludeFoundations: true})
		if err != nil {
			return fmt.Errorf("capture %s: %w", tn.Environment, err)
		}
		pending = append(pending, run.ID)
	}
	deadline := time.Now().Add(wait)
	for _, id := range pending {
		for {
			run, err := client.OperationRun.Get(ctx, id)
			if err != nil {
				return err
			}
			if run.Status == operationrun.StatusCOMPLETED {
				if run.Outcome != operationrun.OutcomeSUCCEEDED {
					return fmt.Errorf("initial capture ended %s", run.Outcome)
				}
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("initial capture still %s after %s", run.Status, wait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// sameGroupNames gives Contoso Test a group named like each of Contoso
// Production's (with its own id), as an MSP's customers follow one naming
// convention: restoring Production's backup into Test then finds every
// group mapping suggested by name. Ids derive from the names, so they are
// the same at every start.
func sameGroupNames(sim *graphsim.Server) {
	prod, test := sim.Tenant(Tenants[0].ID), sim.Tenant(Tenants[1].ID)
	have := map[string]bool{}
	for _, g := range test.Groups() {
		name, _ := g["displayName"].(string)
		have[name] = true
	}
	for _, g := range prod.Groups() {
		name, _ := g["displayName"].(string)
		if name == "" || have[name] {
			continue
		}
		sum := sha256.Sum256([]byte(Tenants[1].ID + "/" + name))
		test.AddGroup(fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16]), name)
	}
}
