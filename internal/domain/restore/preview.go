package restore

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ptr"
)

// GeneratePreview starts the preview (step 4): a dry run that reads the
// target and diffs it against what the restore would write. It needs current
// checks (their target matches). The run becomes PREVIEWED when the
// restore.preview job is done.
func (s *Service) GeneratePreview(ctx context.Context, runID string) (_ *ent.RestoreRun, err error) {
	defer apperr.Wrap(&err, "restore.GeneratePreview(%s)", runID)
	run, v, err := s.load(ctx, runID, access.RestorePrepare)
	if err != nil {
		return nil, err
	}
	if !isEditable(run.Status) {
		return nil, notEditable(run)
	}
	r := s.Readiness(run, v, s.Clock.Now())
	if open := r.Open(GateScopeDefined, GateChecksCurrent); len(open) > 0 {
		return nil, &apperr.Error{Code: apperr.InvalidTransition, Gates: open,
			Message: "the preview needs current safety checks: " + firstOpenMessage(r, open)}
	}
	return s.startScopedJob(ctx, run, v, operations.TypeRestorePreview, "restore_run.preview.start")
}

// RunPreviewJob is the restore.preview job. It holds only an intune.Reader:
// the preview path has no way to write to the tenant.
func (s *Service) RunPreviewJob(ctx context.Context, op *ent.OperationRun) (_ operations.End, err error) {
	defer apperr.Wrap(&err, "restore.RunPreviewJob(%s)", op.ID)
	run, err := s.Client.RestoreRun.Query().Where(restorerun.ID(ptr.Deref(op.SubjectID))).WithEnvironment().Only(ctx)
	if err != nil {
		return operations.End{}, err
	}
	fp := op.Context.ScopeFingerprint
	if fp != scopeFingerprint(run) || run.CheckFingerprint != fp || !isEditable(run.Status) {
		return staleEnd(), nil
	}
	g, err := s.Tenants.Reader(ctx, run.Edges.Environment)
	if err != nil {
		return operations.End{Outcome: operationrun.OutcomeFAILED, ErrorCode: "graph_unavailable",
			ErrorMessage: "the target tenant could not be reached: " + apperr.SafeCode(err)}, nil
	}
	rf, err := s.refsFor(ctx, run)
	if err != nil {
		if ctx.Err() != nil {
			return operations.End{}, ctx.Err()
		}
		return operations.End{Outcome: operationrun.OutcomeFAILED, ErrorCode: "graph_unavailable",
			ErrorMessage: "the target tenant's scope tags, filters and templates could not be read: " + apperr.SafeCode(err)}, nil
	}
	tr, err := s.newTargetReader(ctx, g, run)
	if err != nil {
		return operations.End{}, err
	}
	var summary results.PreviewSummary
	err = s.eachItemBatched(ctx, run.ID, previewColumns, func(item *ent.RestoreRunItem, b *ent.BackupItem) (*itemWrite, error) {
		p := s.previewItem(ctx, tr, rf, item, b)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		summary.Items++
		switch p.action {
		case restorerunitem.PreviewActionCREATE:
			summary.PoliciesCreated++
		case restorerunitem.PreviewActionDELETE:
			summary.PoliciesDeleted++
		case restorerunitem.PreviewActionUPDATE:
			summary.PoliciesChanged++
		case restorerunitem.PreviewActionNO_CHANGE:
			summary.PoliciesUnchanged++
		case restorerunitem.PreviewActionPREVIEW_ONLY:
			summary.PreviewOnly++
		}
		if p.action == "" {
			summary.Skipped++
		}
		if p.failed {
			summary.Failed++
		}
		// A preview-only item is never written: its differences are shown on
		// the item, not counted as what execution would change.
		written := p.action != restorerunitem.PreviewActionPREVIEW_ONLY
		if p.assignmentsChanged && written {
			summary.AssignmentsChanged++
		}
		if p.scopeTagsChanged && written {
			summary.ScopeTagsChanged++
		}
		action := ptr.NonZero(string(p.action)) // nil clears it
		// The planned action agrees with the preview: an update that would
		// change nothing is NO_CHANGE, which execution never writes. Other
		// planned actions are kept (nil).
		var planned *string
		if pa := item.PlannedAction; pa != nil && (*pa == restorerunitem.PlannedActionUPDATE || *pa == restorerunitem.PlannedActionNO_CHANGE) {
			planned = ptr.NonZero(string(restorerunitem.PlannedActionUPDATE))
			if p.action == restorerunitem.PreviewActionNO_CHANGE {
				planned = ptr.NonZero(string(restorerunitem.PlannedActionNO_CHANGE))
			}
		}
		// An object to delete that is gone already is not deleted.
		if pa := item.PlannedAction; pa != nil && *pa == restorerunitem.PlannedActionDELETE && p.action == "" && !p.failed {
			planned = ptr.NonZero(string(restorerunitem.PlannedActionSKIP))
		}
		return &itemWrite{id: item.ID, values: []any{&p.diff, p.truncated, action, planned}}, nil
	}, func(n int) error {
		return s.Ops.Progress(ctx, op.ID, results.OperationSummary{Previewed: n})
	})
	if err != nil {
		return operations.End{}, err
	}
	summary.Message = previewMessage(summary)
	// A new preview voids a confirmation given for the old one.
	stale, err := s.saveResult(ctx, run.ID, EventPreviewCompleted, func(u *ent.RestoreRunUpdate) {
		u.Where(restorerun.ScopeFingerprint(fp), restorerun.CheckFingerprint(fp)).
			SetPreviewSummary(&summary).SetPreviewFingerprint(fp).SetPreviewedAt(s.Clock.Now())
	})
	if err != nil {
		return operations.End{}, err
	}
	if stale {
		return staleEnd(), nil
	}
	outcome := operationrun.OutcomeSUCCEEDED
	if summary.Failed > 0 {
		outcome = operationrun.OutcomePARTIALLY_SUCCEEDED
	}
	return operations.End{Outcome: outcome, Summary: summary.Operation()}, nil
}

// previewColumns are what a preview stores per item.
var previewColumns = []itemColumn{
	{name: restorerunitem.FieldPreviewDiff, pgType: "jsonb"},
	{name: restorerunitem.FieldDiffTruncated, pgType: "boolean"},
	{name: restorerunitem.FieldPreviewAction, pgType: "text"},
	{name: restorerunitem.FieldPlannedAction, pgType: "text", keep: true},
}

// itemPreview is the preview of one item.
type itemPreview struct {
	action             restorerunitem.PreviewAction // "" when the item is skipped (blocked, missing)
	diff               results.Diff
	truncated          bool
	assignmentsChanged bool
	scopeTagsChanged   bool
	failed             bool
}

// previewItem diffs the target's current object against what the restore
// would write: settings, assignments and scope tags, every reference
// rewritten to the target's ids (refs). Ids in the diff's scope tags and
// reference values are shown with their names: "id (Name)".
func (s *Service) previewItem(ctx context.Context, tr *targetReader, rf *refs, item *ent.RestoreRunItem, b *ent.BackupItem) itemPreview {
	t, ok := intune.Lookup(b.PolicyType)
	if !ok {
		return itemPreview{diff: results.Diff{Note: "unsupported policy type"}}
	}
	if b.Absent {
		return previewAbsent(ctx, tr, item, t, b)
	}
	if isBuiltinItem(t, b) {
		note := "built-in object: never created or overwritten"
		if item.TargetGraphID != nil {
			note = "built-in object: maps to the target's own " + rf.label(ctx, t.Key, *item.TargetGraphID) + ", never created or overwritten"
		}
		return itemPreview{diff: results.Diff{Note: note}}
	}
	if m, ok := rf.mapping(t.Key)[b.SourceGraphID]; ok {
		return itemPreview{diff: results.Diff{Note: "mapped to the target's " + rf.label(ctx, t.Key, m) + ": not restored"}}
	}
	want := rf.desired(t, b)
	p := itemPreview{}
	var have *intune.Captured
	if item.TargetGraphID != nil {
		c, err := tr.read(ctx, t, *item.TargetGraphID)
		if err != nil {
			p.failed = true
			p.diff = results.Diff{Error: "the target object could not be read (" + apperr.SafeCode(err) + ")"}
			return p
		}
		have = c
	}
	var settings []Change
	haveTags, haveAssignments := []string{}, []map[string]any{}
	if have != nil {
		diffValues("", withoutKey(have.Payload, t.ScopeTagsProperty), withoutKey(want.payload, t.ScopeTagsProperty), &settings)
		haveTags, haveAssignments = have.ScopeTagIDs, have.Assignments
	} else {
		diffValues("", map[string]any{}, withoutKey(want.payload, t.ScopeTagsProperty), &settings)
	}
	settings, p.truncated = limitChanges(settings)
	// Assignments are matched by target: a changed filter or intent is one
	// changed entry, not a removal and an addition.
	addedA, removedA, changedA := diffAssignments(haveAssignments, want.assignments)
	changedA, cutA := limitChanges(changedA)
	p.truncated = p.truncated || cutA
	addedT, removedT := setDiff(haveTags, want.scopeTags)
	p.assignmentsChanged = len(addedA)+len(removedA)+len(changedA) > 0
	p.scopeTagsChanged = len(addedT)+len(removedT) > 0
	labelChanges(ctx, rf, settings)
	labelChanges(ctx, rf, changedA)
	for i := range addedT {
		addedT[i] = rf.label(ctx, refScopeTag, addedT[i])
	}
	for i := range removedT {
		removedT[i] = rf.label(ctx, refScopeTag, removedT[i])
	}
	p.diff = results.Diff{
		Settings:    settings,
		Assignments: &results.AssignmentChanges{Added: orEmpty(addedA), Removed: orEmpty(removedA), Changed: changedA},
		ScopeTags:   &results.ScopeTagChanges{Added: orEmpty(addedT), Removed: orEmpty(removedT)},
	}
	reason := t.PreviewOnlyReason(b.Payload)
	switch {
	case reason != "":
		p.action = restorerunitem.PreviewActionPREVIEW_ONLY
		p.diff.PreviewOnlyReason = reason
	case have == nil && item.PlannedAction != nil && *item.PlannedAction == restorerunitem.PlannedActionCREATE:
		p.action = restorerunitem.PreviewActionCREATE
	case have == nil:
		p.diff.Note = "skipped: no target to update and creating is not allowed or the item is blocked"
	case len(settings) == 0 && !p.assignmentsChanged && !p.scopeTagsChanged:
		p.action = restorerunitem.PreviewActionNO_CHANGE
	default:
		p.action = restorerunitem.PreviewActionUPDATE
	}
	// The diff cannot show certificate links (not in the payload): say that
	// the target's stay. A created profile has a check's warning instead.
	if links := certificateLinks(t, b); links != "" &&
		(p.action == restorerunitem.PreviewActionUPDATE || p.action == restorerunitem.PreviewActionNO_CHANGE) {
		p.diff.Note = "the target's certificate links (" + links + ") are left as they are: restore does not carry them"
	}
	return p
}

// labelChanges shows the reference ids among changed values with their
// names. Only the display changes: the comparison was made on ids.
func labelChanges(ctx context.Context, rf *refs, changes []Change) {
	for i := range changes {
		kind := refKindOfPath(changes[i].Path)
		if kind == "" {
			continue
		}
		if s, ok := changes[i].Before.(string); ok {
			changes[i].Before = rf.label(ctx, kind, s)
		}
		if s, ok := changes[i].After.(string); ok {
			changes[i].After = rf.label(ctx, kind, s)
		}
	}
}

// previewMessage is the decision-first sentence of a preview.
func previewMessage(s results.PreviewSummary) string {
	msg := changesMessage(s)
	// Items whose target could not be read were not compared: never let
	// "no changes" hide them.
	if n := s.Failed; n > 0 {
		msg = plural(n, "item", "items") + " could not be read from the target and " + pick(n, "was", "were") + " not compared. " + msg
	}
	return msg
}

func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// changesMessage sums up what the compared items would change.
func changesMessage(s results.PreviewSummary) string {
	if s.PoliciesChanged+s.PoliciesCreated+s.PoliciesDeleted == 0 && s.AssignmentsChanged+s.ScopeTagsChanged == 0 {
		msg := "No policy changes detected"
		if s.PreviewOnly > 0 {
			msg += fmt.Sprintf(" (%d preview-only item(s) are never restored)", s.PreviewOnly)
		}
		return msg + "."
	}
	var parts []string
	if n := s.PoliciesChanged; n > 0 {
		parts = append(parts, plural(n, "policy", "policies")+" will change")
	}
	if n := s.PoliciesCreated; n > 0 {
		parts = append(parts, plural(n, "policy", "policies")+" will be created")
	}
	if n := s.PoliciesDeleted; n > 0 {
		parts = append(parts, plural(n, "policy", "policies")+" will be deleted")
	}
	if n := s.AssignmentsChanged; n > 0 {
		parts = append(parts, plural(n, "item gets", "items get")+" different assignments")
	}
	if n := s.ScopeTagsChanged; n > 0 {
		parts = append(parts, plural(n, "item gets", "items get")+" different scope tags")
	}
	msg := strings.Join(parts, ", ") + "."
	if n := s.PoliciesUnchanged; n > 0 {
		msg += " " + plural(n, "policy is", "policies are") + " already as in the backup."
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func withoutKey(m map[string]any, k string) map[string]any {
	if k == "" {
		return m
	}
	out := maps.Clone(m)
	delete(out, k)
	return out
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func toAnySlice(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}
