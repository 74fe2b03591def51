package backup

import (
	"context"
	"strings"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/intunepolicy"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ptr"
)

// CreateBackupSetInput selects what a new backup set captures.
type CreateBackupSetInput struct {
	EnvironmentID string
	Name          string
	// PolicyIDs are inventory rows to capture; All captures every object the
	// tenant holds instead. Exactly one of the two.
	PolicyIDs []string
	All       bool
	// IncludeFoundations adds every scope tag, assignment filter and
	// notification template, which the captured policies may refer to.
	IncludeFoundations bool
}

// selection is what a backup_set.capture run captures, kept in its context
// so a retried job redoes exactly the same work.
type selection struct {
	All                bool
	PolicyIDs          []string
	IncludeFoundations bool
}

func (sel selection) context() results.OperationContext {
	return results.OperationContext{All: sel.All, PolicyIDs: sel.PolicyIDs, IncludeFoundations: sel.IncludeFoundations}
}

func selectionOf(run *ent.OperationRun) selection {
	c := run.Context
	return selection{All: c.All, PolicyIDs: c.PolicyIDs, IncludeFoundations: c.IncludeFoundations}
}

// CreateBackupSet creates a backup set (status CAPTURING) and starts its
// capture. A second identical request while the first is queued or running
// (a double click, a retried script) returns the first run and creates
// nothing.
func (s *Service) CreateBackupSet(ctx context.Context, in CreateBackupSetInput) (_ *ent.OperationRun, err error) {
	defer apperr.Wrap(&err, "backup.CreateBackupSet(env %s)", in.EnvironmentID)
	env, v, err := s.environment(ctx, in.EnvironmentID, access.BackupCapture)
	if err != nil {
		return nil, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return nil, apperr.Invalid("name", "a backup set needs a name of 1 to 200 characters")
	}
	if in.All == (len(in.PolicyIDs) > 0) {
		return nil, apperr.Invalid("policyIds", "give either policyIds or all: true")
	}
	ids := sortedUnique(in.PolicyIDs)
	if err := s.checkPolicies(ctx, env, ids); err != nil {
		return nil, err
	}
	sel := selection{All: in.All, PolicyIDs: ids, IncludeFoundations: in.IncludeFoundations}
	key := dedupeKey("backup_set.create", env.ID, in.Name, boolString(in.All), boolString(in.IncludeFoundations), strings.Join(ids, ","))
	return s.start(ctx, v, env, operations.Start{Type: operations.TypeBackupCapture, DedupeKey: key, Context: sel.context()},
		func(ctx context.Context, tx *ent.Client, run *ent.OperationRun) error {
			bs, err := tx.BackupSet.Create().
				SetWorkspaceID(env.WorkspaceID).
				SetEnvironmentID(env.ID).
				SetName(in.Name).
				SetCreatedBy(v.User.ID).
				Save(ctx)
			if err != nil {
				return err
			}
			return tx.OperationRun.UpdateOneID(run.ID).SetSubjectID(bs.ID).Exec(ctx)
		})
}

// AddPoliciesInput selects what AddPoliciesToBackupSet captures into a set.
type AddPoliciesInput struct {
	BackupSetID string
	// PolicyIDs are inventory rows of the set's environment (at least one).
	PolicyIDs []string
	// IncludeFoundations also captures every scope tag, assignment filter and
	// notification template, as CreateBackupSetInput's does (spec 049:
	// "capture foundations if requested").
	IncludeFoundations bool
}

// AddPoliciesToBackupSet starts the capture of more policies (and, when
// asked, the foundations) into an existing manual set. Objects already in
// the set are not captured again.
//
// Codes: NOT_FOUND, FORBIDDEN, BAD_USER_INPUT, INVALID_TRANSITION.
func (s *Service) AddPoliciesToBackupSet(ctx context.Context, in AddPoliciesInput) (_ *ent.OperationRun, err error) {
	defer apperr.Wrap(&err, "backup.AddPoliciesToBackupSet(%s)", in.BackupSetID)
	policyIDs := in.PolicyIDs
	bs, err := s.Client.BackupSet.Get(ctx, in.BackupSetID)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no backup set %q", in.BackupSetID)
	}
	if err != nil {
		return nil, err
	}
	env, v, err := s.environment(ctx, bs.EnvironmentID, access.BackupCapture)
	if err != nil {
		return nil, err
	}
	if len(policyIDs) == 0 {
		return nil, apperr.Invalid("policyIds", "give at least one policy")
	}
	if bs.Origin != backupset.OriginMANUAL {
		return nil, apperr.New(apperr.InvalidTransition, "only manual backup sets can be extended")
	}
	ids := sortedUnique(policyIDs)
	if err := s.checkPolicies(ctx, env, ids); err != nil {
		return nil, err
	}
	sel := selection{PolicyIDs: ids, IncludeFoundations: in.IncludeFoundations}
	key := dedupeKey("backup_set.add", bs.ID, boolString(in.IncludeFoundations), strings.Join(ids, ","))
	return s.start(ctx, v, env, operations.Start{
		Type: operations.TypeBackupCapture, DedupeKey: key,
		SubjectID: bs.ID, Context: sel.context(),
	}, nil)
}

// checkPolicies verifies every id is an inventory row of env.
func (s *Service) checkPolicies(ctx context.Context, env *ent.Environment, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > 10000 {
		return apperr.Invalid("policyIds", "at most 10000 policies at once")
	}
	n, err := s.Client.IntunePolicy.Query().
		Where(intunepolicy.IDIn(ids...), intunepolicy.EnvironmentID(env.ID)).Count(ctx)
	if err != nil {
		return err
	}
	if n != len(ids) {
		return apperr.Invalid("policyIds", "%d of the policies are not in environment %q", len(ids)-n, env.DisplayName)
	}
	return nil
}

// target is one object to capture.
type target struct {
	t       *intune.Type
	graphID string
	// read is the object as its type's list returned it whole (ListExpand),
	// nil when it must be read by id.
	read *intune.Captured
}

// RunBackupCapture is the job of a backup_set.capture run. It is safe to run
// again after a crash: objects already stored in the set are skipped.
func (s *Service) RunBackupCapture(ctx context.Context, run *ent.OperationRun) (_ operations.End, err error) {
	defer apperr.Wrap(&err, "backup.RunBackupCapture(%s)", run.ID)
	bs, err := s.Client.BackupSet.Query().Where(backupset.ID(ptr.Deref(run.SubjectID))).WithEnvironment().Only(ctx)
	if err != nil {
		return operations.End{}, err
	}
	env := bs.Edges.Environment
	sel := selectionOf(run)
	g, err := s.Tenants.Reader(ctx, env)
	if err != nil {
		if err := s.finishSet(ctx, bs, 0, 1); err != nil {
			return operations.End{}, err
		}
		return failedEnd("graph_unavailable", err), nil
	}
	var failures []results.Failure
	fail := func(t *intune.Type, id string, err error) {
		if len(failures) < maxFailures {
			failures = append(failures, results.Failure{PolicyType: t.Key, GraphID: id, Code: apperr.SafeCode(err)})
		}
	}
	targets, listFailed, err := s.targets(ctx, g, env, sel, fail)
	if err != nil {
		return operations.End{}, err
	}
	done := map[string]bool{}
	existing, err := s.Client.BackupItem.Query().Where(backupitem.BackupSetID(bs.ID)).
		Select(backupitem.FieldPolicyType, backupitem.FieldSourceGraphID).All(ctx)
	if err != nil {
		return operations.End{}, err
	}
	for _, it := range existing {
		done[it.PolicyType+"/"+it.SourceGraphID] = true
	}
	counts := results.OperationSummary{Total: len(targets), Failed: listFailed}
	lastProgress := s.Clock.Now()
	for i, tg := range targets {
		if operations.Stopping(ctx) {
			// Progress so far is kept; the next worker skips what is stored.
			if err := s.Ops.Progress(ctx, run.ID, counts); err != nil {
				return operations.End{}, err
			}
			return operations.End{}, operations.ErrInterrupted
		}
		if done[tg.t.Key+"/"+tg.graphID] {
			counts.Skipped++
			continue
		}
		c, err := tg.read, error(nil)
		if c == nil {
			c, err = intune.Capture(ctx, g, tg.t, tg.graphID)
		}
		if err == nil {
			err = s.storeItem(ctx, bs, env, c)
		}
		if ctx.Err() != nil {
			return operations.End{}, ctx.Err()
		}
		if err != nil {
			counts.Failed++
			fail(tg.t, tg.graphID, err)
		} else {
			counts.Captured++
		}
		if s.Clock.Now().Sub(lastProgress) > 250*time.Millisecond || i == len(targets)-1 {
			if err := s.Ops.Progress(ctx, run.ID, counts); err != nil {
				return operations.End{}, err
			}
			lastProgress = s.Clock.Now()
		}
	}
	stored, err := s.Client.BackupItem.Query().Where(backupitem.BackupSetID(bs.ID)).Count(ctx)
	if err != nil {
		return operations.End{}, err
	}
	if err := s.finishSet(ctx, bs, stored, counts.Failed); err != nil {
		return operations.End{}, err
	}
	end := operations.End{Outcome: operationrun.OutcomeSUCCEEDED, Summary: counts}
	switch {
	case counts.Failed > 0 && stored == 0:
		end.Outcome = operationrun.OutcomeFAILED
		end.ErrorCode = "nothing_captured"
		end.ErrorMessage = "no object could be captured"
	case counts.Failed > 0:
		end.Outcome = operationrun.OutcomePARTIALLY_SUCCEEDED
	}
	if len(failures) > 0 {
		end.Context = results.OperationContext{ReasonCodes: []string{"items_failed"}, Failures: failures}
	}
	return end, nil
}

// AbandonCapture ends the backup set of a capture run that failed without
// finishing (retries exhausted), so no set stays CAPTURING: READY with what
// was stored, FAILED when nothing was.
func (s *Service) AbandonCapture(ctx context.Context, run *ent.OperationRun) (err error) {
	defer apperr.Wrap(&err, "backup.AbandonCapture(%s)", run.ID)
	bs, err := s.Client.BackupSet.Query().Where(backupset.ID(ptr.Deref(run.SubjectID)), backupset.StatusEQ(backupset.StatusCAPTURING)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	stored, err := s.Client.BackupItem.Query().Where(backupitem.BackupSetID(bs.ID)).Count(ctx)
	if err != nil {
		return err
	}
	return s.finishSet(ctx, bs, stored, 1)
}

// targets lists what sel captures. Types that cannot be listed are counted
// as failed (one failure each) and skipped.
func (s *Service) targets(ctx context.Context, g intune.Reader, env *ent.Environment, sel selection,
	fail func(*intune.Type, string, error)) ([]target, int, error) {
	var out []target
	failed := 0
	// A type whose list returns objects whole is captured from its pages;
	// the others are listed for their ids and read one by one.
	listAll := func(t *intune.Type) error {
		var err error
		if t.ListExpand {
			err = intune.CaptureList(ctx, g, t, func(c *intune.Captured) error {
				if c.GraphID != "" && !c.Builtin {
					out = append(out, target{t: t, graphID: c.GraphID, read: c})
				}
				return nil
			})
		} else {
			err = g.List(ctx, t.Path, nil, func(raw map[string]any) error {
				id, _ := raw["id"].(string)
				if id != "" && !t.IsBuiltin(raw) {
					out = append(out, target{t: t, graphID: id})
				}
				return nil
			})
		}
		if err != nil && ctx.Err() == nil {
			failed++
			fail(t, "", err)
			return nil
		}
		return err
	}
	for _, t := range intune.Types() {
		if (t.Foundation && sel.IncludeFoundations) || (!t.Foundation && sel.All) {
			if err := listAll(t); err != nil {
				return nil, 0, err
			}
		}
	}
	if len(sel.PolicyIDs) > 0 {
		rows, err := s.Client.IntunePolicy.Query().Where(intunepolicy.IDIn(sel.PolicyIDs...)).
			Order(ent.Asc(intunepolicy.FieldPolicyType), ent.Asc(intunepolicy.FieldDisplayName)).All(ctx)
		if err != nil {
			return nil, 0, err
		}
		for _, p := range rows {
			if t, ok := intune.Lookup(p.PolicyType); ok && !(t.Foundation && sel.IncludeFoundations) {
				out = append(out, target{t: t, graphID: p.GraphID})
			}
		}
	}
	return out, failed, nil
}

// storeItem stores one captured object in the set and refreshes its
// inventory row.
func (s *Service) storeItem(ctx context.Context, bs *ent.BackupSet, env *ent.Environment, c *intune.Captured) error {
	err := s.Client.BackupItem.Create().
		SetWorkspaceID(bs.WorkspaceID).
		SetBackupSetID(bs.ID).
		SetPolicyType(c.Type.Key).
		SetPlatform(c.Platform).
		SetSourceGraphID(c.GraphID).
		SetDisplayName(c.DisplayName).
		SetPayload(c.Payload).
		SetAssignments(c.Assignments).
		SetScopeTagIds(c.ScopeTagIDs).
		SetFoundation(c.Type.Foundation).
		SetNillableSourceLastModified(c.LastModified).
		SetContentHash(c.ContentHash).
		Exec(ctx)
	if err != nil && !ent.IsConstraintError(err) { // constraint: stored by an earlier attempt
		return err
	}
	return s.upsertPolicy(ctx, env, c, s.Clock.Now())
}

// finishSet records the set's final counts and status: FAILED only when
// something failed and nothing was stored (an empty tenant makes an empty,
// ready set).
func (s *Service) finishSet(ctx context.Context, bs *ent.BackupSet, stored, failed int) error {
	type row struct {
		PolicyType string `json:"policy_type"`
		Count      int    `json:"count"`
	}
	var rows []row
	if err := s.Client.BackupItem.Query().Where(backupitem.BackupSetID(bs.ID)).
		GroupBy(backupitem.FieldPolicyType).Aggregate(ent.Count()).Scan(ctx, &rows); err != nil {
		return err
	}
	byType := results.TypeCounts{}
	for _, r := range rows {
		byType[r.PolicyType] = r.Count
	}
	status := backupset.StatusREADY
	if stored == 0 && failed > 0 {
		status = backupset.StatusFAILED
	}
	return bs.Update().SetStatus(status).SetItemCount(stored).SetCountsByType(byType).SetCapturedAt(s.Clock.Now()).Exec(ctx)
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
