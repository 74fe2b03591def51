package environments

import (
	"context"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ptr"
)

// RoleSource acquires an app token for an environment through the real
// credential flow and returns the application permissions it carries.
type RoleSource interface {
	GrantedRoles(ctx context.Context, env *ent.Environment) ([]string, error)
}

// Verify starts a permission check of an environment (owners): a job that
// acquires a token with the stored credentials, stores the permissions it
// grants, and says what is missing.
func (s *Service) Verify(ctx context.Context, ops *operations.Service, id string) (_ *ent.OperationRun, err error) {
	defer apperr.Wrap(&err, "environments.Verify(%s)", id)
	env, err := s.Client.Environment.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no environment %q", id)
	}
	if err != nil {
		return nil, err
	}
	v, err := auth.Require(ctx, env.WorkspaceID, access.WorkspaceManage)
	if err != nil {
		return nil, err
	}
	if env.ArchivedAt != nil {
		return nil, archived(env)
	}
	run, created, err := ops.StartRun(ctx, operations.Start{
		WorkspaceID: env.WorkspaceID, EnvironmentID: env.ID, Type: operations.TypeEnvironmentVerify,
		DedupeKey: operations.TypeEnvironmentVerify + ":" + env.ID, SubjectID: env.ID, InitiatorID: v.User.ID,
	}, nil)
	if err == nil && created {
		entry, aerr := s.Audit.Record(ctx, s.Client, audit.Entry{WorkspaceID: env.WorkspaceID, EnvironmentID: env.ID,
			Action: "environment.verify", ObjectType: "Environment", ObjectID: env.ID, Metadata: map[string]any{"operationRunId": run.ID}})
		if aerr == nil {
			s.Audit.Announce(ctx, entry)
		}
	}
	return run, err
}

// RunVerify is the environment.verify job.
func (s *Service) RunVerify(ctx context.Context, roles RoleSource, op *ent.OperationRun) (_ operations.End, err error) {
	defer apperr.Wrap(&err, "environments.RunVerify(%s)", op.ID)
	env, err := s.Client.Environment.Get(ctx, ptr.Deref(op.SubjectID))
	if err != nil {
		return operations.End{}, err
	}
	checkedAt := s.Clock.Now()
	granted, err := roles.GrantedRoles(ctx, env)
	if err != nil {
		if ctx.Err() != nil {
			return operations.End{}, ctx.Err()
		}
		code := apperr.SafeCode(err)
		return operations.End{Outcome: operationrun.OutcomeFAILED, ErrorCode: "token_unavailable",
			ErrorMessage: "no token could be acquired with the stored credentials (" + code + "): check the tenant id, client id and secret",
			Context:      results.OperationContext{ReasonCodes: []string{"token_unavailable"}}}, nil
	}
	if _, err := s.RecordPermissions(ctx, env.ID, granted, checkedAt); err != nil {
		if apperr.CodeOf(err) == apperr.InvalidTransition {
			return operations.End{Outcome: operationrun.OutcomeCANCELLED, ErrorCode: "credentials_changed",
				ErrorMessage: "the credentials changed while they were being checked; check again"}, nil
		}
		return operations.End{}, err
	}
	report := PermissionReport(granted)
	end := operations.End{Outcome: operationrun.OutcomeSUCCEEDED,
		Summary: results.OperationSummary{Granted: len(granted), MissingForRead: len(report.MissingForRead), MissingForWrite: len(report.MissingForWrite)},
		Context: results.OperationContext{PermissionSummary: report.Summary, MissingForRead: report.MissingForRead, MissingForWrite: report.MissingForWrite}}
	if !report.CanWrite {
		end.Outcome = operationrun.OutcomePARTIALLY_SUCCEEDED
		end.Context.ReasonCodes = []string{"permissions_missing"}
	}
	return end, nil
}
