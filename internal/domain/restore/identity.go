package restore

import (
	"context"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/identitymapping"
)

// tenants names the two tenants of a run: identity is remembered per
// (source tenant, target tenant, type).
type tenants struct{ source, target string }

// runTenants reads the tenants of a run whose environment and backup set's
// environment are loaded.
func runTenants(ctx context.Context, client *ent.Client, run *ent.RestoreRun) (tenants, error) {
	env := run.Edges.Environment
	if env == nil {
		e, err := client.Environment.Get(ctx, run.EnvironmentID)
		if err != nil {
			return tenants{}, err
		}
		env = e
	}
	bs, err := client.BackupSet.Query().Where(backupset.ID(run.BackupSetID)).WithEnvironment().Only(ctx)
	if err != nil {
		return tenants{}, err
	}
	return tenants{source: bs.Edges.Environment.AzureTenantID, target: env.AzureTenantID}, nil
}

// identities returns what earlier runs between the same tenants restored
// each source object of typeKey onto: source id → target id.
func identities(ctx context.Context, client *ent.Client, workspaceID string, tt tenants, typeKey string) (map[string]string, error) {
	rows, err := client.IdentityMapping.Query().Where(
		identitymapping.WorkspaceID(workspaceID), identitymapping.SourceTenantID(tt.source),
		identitymapping.TargetTenantID(tt.target), identitymapping.PolicyType(typeKey)).
		Select(identitymapping.FieldSourceID, identitymapping.FieldTargetID).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.SourceID] = r.TargetID
	}
	return out, nil
}

// rememberIdentity records (or moves) the target object a source object
// was restored onto by run: the executor calls it for every object it
// creates or updates, in the transaction that stores the item's outcome.
func rememberIdentity(ctx context.Context, client *ent.Client, run *ent.RestoreRun, tt tenants, typeKey, sourceID, targetID string) error {
	return client.IdentityMapping.Create().
		SetWorkspaceID(run.WorkspaceID).SetSourceTenantID(tt.source).SetTargetTenantID(tt.target).
		SetPolicyType(typeKey).SetSourceID(sourceID).SetTargetID(targetID).SetRunID(run.ID).
		OnConflictColumns(identitymapping.FieldWorkspaceID, identitymapping.FieldSourceTenantID,
			identitymapping.FieldTargetTenantID, identitymapping.FieldPolicyType, identitymapping.FieldSourceID).
		Update(func(u *ent.IdentityMappingUpsert) { u.UpdateTargetID().UpdateRunID().UpdateUpdatedAt() }).
		Exec(ctx)
}
