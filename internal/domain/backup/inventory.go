package backup

import (
	"context"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/intunepolicy"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ptr"
)

// SyncInventory starts an inventory sync of an environment: the Policy rows
// are brought in line with what the tenant holds.
func (s *Service) SyncInventory(ctx context.Context, environmentID string) (_ *ent.OperationRun, err error) {
	defer apperr.Wrap(&err, "backup.SyncInventory(env %s)", environmentID)
	env, v, err := s.environment(ctx, environmentID, access.BackupCapture)
	if err != nil {
		return nil, err
	}
	return s.start(ctx, v, env, operations.Start{
		Type: operations.TypeInventorySync, DedupeKey: dedupeKey(operations.TypeInventorySync, env.ID), SubjectID: env.ID,
	}, nil)
}

// RunInventorySync is the job of an inventory.sync run: list every catalog
// type, upsert a Policy row per object, and mark rows the tenant no longer
// has as missing. A type that cannot be read (a missing permission, say)
// leaves its rows untouched and makes the run partially succeed.
func (s *Service) RunInventorySync(ctx context.Context, run *ent.OperationRun) (_ operations.End, err error) {
	defer apperr.Wrap(&err, "backup.RunInventorySync(%s)", run.ID)
	env, err := s.Client.Environment.Get(ctx, ptr.Deref(run.EnvironmentID))
	if err != nil {
		return operations.End{}, err
	}
	g, err := s.Tenants.Reader(ctx, env)
	if err != nil {
		return failedEnd("graph_unavailable", err), nil
	}
	started := s.Clock.Now()
	var counts results.OperationSummary
	var failures []results.Failure
	for _, t := range intune.Types() {
		seen := 0
		err := g.List(ctx, t.Path, nil, func(raw map[string]any) error {
			c := intune.FromGraph(t, raw)
			if c.GraphID == "" {
				return nil
			}
			seen++
			return s.upsertPolicy(ctx, env, c, started)
		})
		if err != nil {
			if ctx.Err() != nil {
				return operations.End{}, ctx.Err()
			}
			counts.TypesFailed++
			failures = append(failures, results.Failure{PolicyType: t.Key, Code: apperr.SafeCode(err)})
			continue
		}
		counts.Types++
		counts.Objects += seen
		// Rows of this type not seen in this sync are gone from the tenant.
		if err := s.Client.IntunePolicy.Update().
			Where(intunepolicy.EnvironmentID(env.ID), intunepolicy.PolicyType(t.Key),
				intunepolicy.SyncedAtLT(started), intunepolicy.MissingSinceIsNil()).
			SetMissingSince(s.Clock.Now()).Exec(ctx); err != nil {
			return operations.End{}, err
		}
		if err := s.Ops.Progress(ctx, run.ID, counts); err != nil {
			return operations.End{}, err
		}
	}
	end := operations.End{Outcome: operationrun.OutcomeSUCCEEDED, Summary: counts}
	if len(failures) > 0 {
		end.Outcome = operationrun.OutcomePARTIALLY_SUCCEEDED
		end.Context = results.OperationContext{ReasonCodes: []string{"types_unreadable"}, Failures: failures}
		if counts.Types == 0 {
			end.Outcome = operationrun.OutcomeFAILED
			end.ErrorCode = "inventory_unreadable"
			end.ErrorMessage = "no object type could be read from the tenant"
		}
	}
	return end, nil
}

// upsertPolicy creates or refreshes the inventory row of a captured object.
func (s *Service) upsertPolicy(ctx context.Context, env *ent.Environment, c *intune.Captured, syncedAt time.Time) error {
	return s.Client.IntunePolicy.Create().
		SetWorkspaceID(env.WorkspaceID).
		SetEnvironmentID(env.ID).
		SetPolicyType(c.Type.Key).
		SetGraphID(c.GraphID).
		SetPlatform(c.Platform).
		SetOdataType(c.ODataType).
		SetDisplayName(c.DisplayName).
		SetNillableSourceLastModified(c.LastModified).
		SetSyncedAt(syncedAt).
		OnConflictColumns(intunepolicy.FieldEnvironmentID, intunepolicy.FieldPolicyType, intunepolicy.FieldGraphID).
		Update(func(u *ent.IntunePolicyUpsert) {
			u.UpdatePlatform().UpdateOdataType().UpdateDisplayName().UpdateSourceLastModified().
				UpdateSyncedAt().ClearMissingSince().UpdateUpdatedAt()
		}).
		Exec(ctx)
}

// failedEnd ends a run that could not start its work, with a safe code.
func failedEnd(code string, err error) operations.End {
	return operations.End{
		Outcome: operationrun.OutcomeFAILED, ErrorCode: code,
		ErrorMessage: "the tenant could not be reached: " + apperr.SafeCode(err),
	}
}
