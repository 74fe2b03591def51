package backup

import (
	"context"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/intunepolicy"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/policyversion"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ptr"
)

// CapturePolicySnapshot starts the capture of one policy's current state as
// a new PolicyVersion.
func (s *Service) CapturePolicySnapshot(ctx context.Context, policyID string) (_ *ent.OperationRun, err error) {
	defer apperr.Wrap(&err, "backup.CapturePolicySnapshot(%s)", policyID)
	p, err := s.Client.IntunePolicy.Get(ctx, policyID)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no policy %q", policyID)
	}
	if err != nil {
		return nil, err
	}
	env, v, err := s.environment(ctx, p.EnvironmentID, access.BackupCapture)
	if err != nil {
		return nil, err
	}
	return s.start(ctx, v, env, operations.Start{
		Type: operations.TypePolicySnapshot, DedupeKey: dedupeKey(operations.TypePolicySnapshot, p.ID), SubjectID: p.ID,
	}, nil)
}

// RunPolicySnapshot is the job of a policy.capture_snapshot run. A policy
// unchanged since its latest version gets no new version (the run says so
// with summary "unchanged").
func (s *Service) RunPolicySnapshot(ctx context.Context, run *ent.OperationRun) (_ operations.End, err error) {
	defer apperr.Wrap(&err, "backup.RunPolicySnapshot(%s)", run.ID)
	p, err := s.Client.IntunePolicy.Query().Where(intunepolicy.ID(ptr.Deref(run.SubjectID))).WithEnvironment().Only(ctx)
	if err != nil {
		return operations.End{}, err
	}
	t, ok := intune.Lookup(p.PolicyType)
	if !ok {
		return operations.End{Outcome: operationrun.OutcomeFAILED, ErrorCode: "unknown_policy_type",
			ErrorMessage: "the policy's type is not supported"}, nil
	}
	g, err := s.Tenants.Reader(ctx, p.Edges.Environment)
	if err != nil {
		return failedEnd("graph_unavailable", err), nil
	}
	c, err := intune.Capture(ctx, g, t, p.GraphID)
	if err != nil {
		if ctx.Err() != nil {
			return operations.End{}, ctx.Err()
		}
		return operations.End{Outcome: operationrun.OutcomeFAILED, ErrorCode: "capture_failed",
			ErrorMessage: "the policy could not be read: " + apperr.SafeCode(err),
			Summary:      results.OperationSummary{Failed: 1}}, nil
	}
	latest, err := s.Client.PolicyVersion.Query().Where(policyversion.PolicyID(p.ID)).
		Order(ent.Desc(policyversion.FieldVersion)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return operations.End{}, err
	}
	if latest != nil && latest.ContentHash == c.ContentHash {
		return operations.End{Outcome: operationrun.OutcomeSUCCEEDED,
			Summary: results.OperationSummary{Unchanged: 1, Version: latest.Version},
			Context: results.OperationContext{PolicyVersionID: latest.ID}}, nil
	}
	next := 1
	if latest != nil {
		next = latest.Version + 1
	}
	pv, err := s.Client.PolicyVersion.Create().
		SetWorkspaceID(p.WorkspaceID).
		SetPolicyID(p.ID).
		SetVersion(next).
		SetPayload(c.Payload).
		SetAssignments(c.Assignments).
		SetScopeTagIds(c.ScopeTagIDs).
		SetContentHash(c.ContentHash).
		SetNillableSourceLastModified(c.LastModified).
		SetCapturedAt(s.Clock.Now()).
		SetNillableCapturedBy(run.InitiatorID).
		Save(ctx)
	if ent.IsConstraintError(err) {
		// A retried job that already stored this version.
		pv, err = s.Client.PolicyVersion.Query().Where(policyversion.PolicyID(p.ID), policyversion.Version(next)).Only(ctx)
	}
	if err != nil {
		return operations.End{}, err
	}
	if err := s.upsertPolicy(ctx, p.Edges.Environment, c, s.Clock.Now()); err != nil {
		return operations.End{}, err
	}
	return operations.End{Outcome: operationrun.OutcomeSUCCEEDED,
		Summary: results.OperationSummary{Captured: 1, Version: pv.Version},
		Context: results.OperationContext{PolicyVersionID: pv.ID}}, nil
}
