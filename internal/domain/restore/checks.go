package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/environments"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ptr"
)

// Severities of check results.
const (
	SeverityBlocking = "BLOCKING"
	SeverityWarning  = "WARNING"
	SeveritySafe     = "SAFE"
)

// Check codes.
const (
	CheckTargetMissing     = "TARGET_MISSING"
	CheckTargetNewer       = "TARGET_NEWER_THAN_BACKUP"
	CheckTargetAmbiguous   = "TARGET_AMBIGUOUS"
	CheckGroupUnmapped     = "GROUP_UNMAPPED"
	CheckGroupOrphaned     = "GROUP_ORPHANED"
	CheckScopeTagMissing   = "SCOPE_TAG_MISSING"
	CheckScopeTagOrphaned  = "SCOPE_TAG_ORPHANED"
	CheckFilterMissing     = "ASSIGNMENT_FILTER_MISSING"
	CheckFilterOrphaned    = "ASSIGNMENT_FILTER_ORPHANED"
	CheckTemplateMissing   = "NOTIFICATION_TEMPLATE_MISSING"
	CheckCollectionForeign = "COLLECTION_OF_ANOTHER_TENANT"
	CheckADMXMissing       = "ADMX_DEFINITION_MISSING"
	CheckCertificateLinks  = "CERTIFICATE_LINKS_NOT_RESTORED"
	CheckItemTargetInvalid = "ITEM_TARGET_INVALID"
	CheckBuiltin           = "BUILT_IN"
	CheckMapped            = "MAPPED"
	CheckPreviewOnly       = "PREVIEW_ONLY"
	CheckInvalidPayload    = "INVALID_PAYLOAD"
	CheckTargetUnreadable  = "TARGET_UNREADABLE"
	CheckOK                = "OK"
	CheckUnreachable       = "TARGET_UNREACHABLE"
	CheckWritesDisabled    = "WRITES_DISABLED"
	CheckWritePermission   = "WRITE_PERMISSION_MISSING"
	CheckReadPermission    = "READ_PERMISSION_MISSING"
	CheckPermissionUnknown = "PERMISSIONS_UNVERIFIED"
	// An undo's absent items (objects the undone run created).
	CheckWillDelete     = "WILL_DELETE"
	CheckAlreadyDeleted = "ALREADY_DELETED"
	CheckNotDeleted     = "NOT_DELETED"
	CheckRefDeleted     = "REFERENCE_DELETED"
)

// result is one check result. It is stored (JSON) on a run or an item as a
// results.Check; its own name lets the checks list results positionally.
type result results.Check

// stored converts results for storage (never nil: no results is []).
func stored(rs []result) []results.Check {
	out := make([]results.Check, len(rs))
	for i, r := range rs {
		out[i] = results.Check(r)
	}
	return out
}

// RunChecks starts the safety checks of a scoped run (step 3). The run is
// returned at once; it becomes CHECKED when the restore.checks job is done.
func (s *Service) RunChecks(ctx context.Context, runID string) (*ent.RestoreRun, error) {
	run, v, err := s.load(ctx, runID, access.RestorePrepare)
	if err != nil {
		return nil, err
	}
	if !isEditable(run.Status) {
		return nil, notEditable(run)
	}
	if run.Status == restorerun.StatusDRAFT || run.ScopeFingerprint == "" {
		return nil, &apperr.Error{Code: apperr.InvalidTransition, Message: "define the scope (step 2) before running checks",
			Gates: []string{GateScopeDefined}}
	}
	return s.startScopedJob(ctx, run, v, operations.TypeRestoreChecks, "restore_run.checks.start")
}

// startScopedJob starts a checks or preview job for the run's current scope:
// the dedupe key and the job's context carry the scope fingerprint, so a
// repeated click joins the running job and a job for an older scope can
// tell its results are stale.
func (s *Service) startScopedJob(ctx context.Context, run *ent.RestoreRun, v *auth.Viewer, typ, action string) (*ent.RestoreRun, error) {
	_, _, err := s.Ops.StartRun(ctx, operations.Start{
		WorkspaceID: run.WorkspaceID, EnvironmentID: run.EnvironmentID, Type: typ,
		DedupeKey: typ + ":" + run.ID + ":" + run.ScopeFingerprint, SubjectID: run.ID, InitiatorID: v.User.ID,
		Context: results.OperationContext{ScopeFingerprint: run.ScopeFingerprint},
	}, nil)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, run, action, nil)
	return run, nil
}

// RunChecksJob is the restore.checks job. It reads the target tenant only.
func (s *Service) RunChecksJob(ctx context.Context, op *ent.OperationRun) (_ operations.End, err error) {
	defer apperr.Wrap(&err, "restore.RunChecksJob(%s)", op.ID)
	run, err := s.Client.RestoreRun.Query().Where(restorerun.ID(ptr.Deref(op.SubjectID))).
		WithEnvironment().WithBackupSet(func(q *ent.BackupSetQuery) { q.WithEnvironment() }).Only(ctx)
	if err != nil {
		return operations.End{}, err
	}
	fp := op.Context.ScopeFingerprint
	if fp != scopeFingerprint(run) || !isEditable(run.Status) {
		return staleEnd(), nil
	}
	env := run.Edges.Environment
	tt := tenants{source: run.Edges.BackupSet.Edges.Environment.AzureTenantID, target: env.AzureTenantID}
	g, gerr := s.Tenants.Reader(ctx, env)
	var index *targetIndex
	if gerr == nil {
		index = newTargetIndex(g, tt.source == tt.target)
		// The identity map holds for the same tenant too: an object a run
		// re-created after its original was deleted is found by it.
		index.identity = func(typeKey string) (map[string]string, error) {
			return identities(ctx, s.Client, run.WorkspaceID, tt, typeKey)
		}
		// One light read proves the target answers before judging items.
		if t, ok := intune.Lookup("deviceConfiguration"); ok {
			if ti := index.of(ctx, t); ti.err != nil {
				gerr = ti.err
			}
		}
		if gerr != nil {
			index = nil
		}
	}
	if gerr != nil && ctx.Err() != nil {
		return operations.End{}, ctx.Err()
	}
	runResults := targetResults(env, gerr)
	var summary results.CheckSummary
	for _, r := range runResults {
		summary.Add(r.Severity)
	}
	// The run-wide view first: which items land on the same target object,
	// where the foundations in scope go.
	plan, err := s.planRun(ctx, run, index)
	if err != nil {
		return operations.End{}, err
	}
	var rf *refs
	if index != nil {
		if rf, err = s.buildRefs(ctx, run, index, tt, plan.scoped); err != nil {
			if ctx.Err() != nil {
				return operations.End{}, ctx.Err()
			}
			// The foundations could not be listed: every item says so.
			rf = nil
		}
	}
	err = s.eachItemBatched(ctx, run.ID, checkColumns, func(item *ent.RestoreRunItem, b *ent.BackupItem) (*itemWrite, error) {
		found, action, targetID := s.checkItem(ctx, run, index, plan, rf, b)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		worst := worstSeverity(found)
		summary.Items++
		summary.Add(worst)
		return &itemWrite{id: item.ID, values: []any{worst, stored(found), action, ptr.NonZero(targetID)}}, nil
	}, func(n int) error {
		return s.Ops.Progress(ctx, op.ID, results.OperationSummary{Checked: n})
	})
	if err != nil {
		return operations.End{}, err
	}
	// Persist only if the scope is still the one checked: a scope changed
	// meanwhile keeps its (invalidated) state. New results void a
	// confirmation given for the old ones.
	stale, err := s.saveResult(ctx, run.ID, EventChecksCompleted, func(u *ent.RestoreRunUpdate) {
		u.Where(restorerun.ScopeFingerprint(fp)).
			SetCheckSummary(&summary).SetCheckResults(stored(runResults)).SetCheckFingerprint(fp).SetCheckedAt(s.Clock.Now())
	})
	if err != nil {
		return operations.End{}, err
	}
	if stale {
		return staleEnd(), nil
	}
	outcome := operationrun.OutcomeSUCCEEDED
	if summary.Blocking > 0 {
		outcome = operationrun.OutcomeBLOCKED
	}
	return operations.End{Outcome: outcome, Summary: summary.Operation()}, nil
}

// checkItem judges one backup item against the target: its results, the
// action execution would take, and the matched target id. rf is nil when
// the target's foundations could not be read.
func (s *Service) checkItem(ctx context.Context, run *ent.RestoreRun, index *targetIndex, plan *runPlan, rf *refs, b *ent.BackupItem) ([]result, restorerunitem.PlannedAction, string) {
	var out []result
	t, ok := intune.Lookup(b.PolicyType)
	if !ok {
		return []result{{CheckInvalidPayload, SeverityBlocking, "The policy type " + b.PolicyType + " is not supported.", false}}, restorerunitem.PlannedActionSKIP, ""
	}
	if b.Absent {
		return s.checkAbsent(ctx, run, index, t, b)
	}
	odata, _ := b.Payload["@odata.type"].(string)
	if !t.AcceptsODataType(intune.CanonicalODataType(odata)) {
		return []result{{CheckInvalidPayload, SeverityBlocking,
			fmt.Sprintf("The payload's type %q is not a %s.", odata, t.Label), false}}, restorerunitem.PlannedActionSKIP, ""
	}
	if isBuiltinItem(t, b) {
		// Built-in objects exist in every tenant: they map to the target's
		// own and are never created or overwritten.
		if id, ok := builtinCounterpart(ctx, index, t, b); ok {
			return []result{{CheckBuiltin, SeveritySafe,
				"Built-in " + t.Label + ": it maps to the target's own (" + id + ") and is never created or overwritten.", false}}, restorerunitem.PlannedActionSKIP, id
		}
		return []result{{CheckBuiltin, SeverityWarning,
			"Built-in " + t.Label + " the target does not have: built-in objects are never created or overwritten.", false}}, restorerunitem.PlannedActionSKIP, ""
	}
	if m, ok := runMapping(run, t.Key)[b.SourceGraphID]; ok {
		// A mapped foundation is the target's own object: it is neither
		// created nor overwritten, whether or not it is in the scope.
		return []result{{CheckMapped, SeveritySafe,
			"Mapped to the target's " + t.Label + " " + m + " in the scope: that one is used, this one is not restored.", false}}, restorerunitem.PlannedActionSKIP, m
	}
	previewOnly := t.PreviewOnlyReason(b.Payload)
	if previewOnly != "" {
		out = append(out, result{CheckPreviewOnly, SeverityWarning, "Preview only, never executed: " + previewOnly + ".", false})
	}
	action, targetID := restorerunitem.PlannedActionSKIP, ""
	if index == nil {
		out = append(out, result{CheckTargetUnreadable, SeverityBlocking, "The target could not be read to match this item.", false})
		return out, action, ""
	}
	m, err := index.match(ctx, run, t, b)
	switch {
	case err != nil:
		out = append(out, result{CheckTargetUnreadable, SeverityBlocking,
			"The target's " + t.Label + " objects could not be read (" + apperr.SafeCode(err) + ").", false})
	case m.invalid != "":
		out = append(out, result{CheckItemTargetInvalid, SeverityBlocking, m.invalid + " Choose another target or create new.", false})
	case len(m.found) > 1:
		out = append(out, result{CheckTargetAmbiguous, SeverityBlocking,
			fmt.Sprintf("%d %s objects of type %s named %q exist in the target (%s): choose one in the scope's item targets, or create new.",
				len(m.found), t.Label, odataTypeOf(t, b.Payload), b.DisplayName, objectsOf(m.found)), false})
	case len(m.found) == 0 && m.createNew:
		out = append(out, result{CheckTargetMissing, SeverityWarning, "Created as a new object, as chosen in the scope.", false})
		action = restorerunitem.PlannedActionCREATE
	case len(m.found) == 0 && run.CreateMissing:
		out = append(out, result{CheckTargetMissing, SeverityWarning, "Not in the target: it will be created.", false})
		action = restorerunitem.PlannedActionCREATE
	case len(m.found) == 0:
		out = append(out, result{CheckTargetMissing, SeverityBlocking,
			"Not in the target, and creating missing objects is off: allow it in the scope or leave the item out.", false})
	default:
		o := m.found[0]
		// Even an explicit choice blocks when another item lands on the
		// same object: one of the two would silently overwrite the other.
		if others := plan.claimedBy(t.Key, o.ID, b.ID); len(others) > 0 {
			out = append(out, result{CheckTargetAmbiguous, SeverityBlocking,
				fmt.Sprintf("Several backup items restore onto the same target object %s %q: this one and %s. Choose a target (or create new) for each in the scope's item targets.",
					o.ID, o.DisplayName, namesOf(others)), false})
			break
		}
		if o.Builtin {
			out = append(out, result{CheckBuiltin, SeverityWarning,
				"The matching target object " + o.ID + " is built-in: it is never overwritten.", false})
			break
		}
		action, targetID = restorerunitem.PlannedActionUPDATE, o.ID
		if lm := o.LastModified; lm != nil && b.SourceLastModified != nil && lm.After(*b.SourceLastModified) {
			out = append(out, result{CheckTargetNewer, SeverityWarning,
				"The target was changed after this backup (" + lm.UTC().Format("2006-01-02 15:04") + " UTC): restoring overwrites that change.", false})
		}
	}
	if previewOnly != "" {
		action = restorerunitem.PlannedActionSKIP
	}
	// A Wi-Fi, wired, VPN or email profile's links to its certificate profiles are
	// relationships restore does not carry (intune.Type.CertificateLinks):
	// created, the profile has none; updated, it keeps the target's (the
	// preview's note says so). A WARNING even where the profile cannot work
	// without them (EAP-TLS, certificate-authenticated VPN): creating it
	// breaks nothing that works in the target today, as no such profile is
	// there, and linking the certificate profiles in Intune afterwards makes
	// it whole; a block would leave no way to restore the profile at all,
	// since certificate profiles are not in the catalog. The admin decides.
	if links := certificateLinks(t, b); links != "" && action == restorerunitem.PlannedActionCREATE {
		out = append(out, result{CheckCertificateLinks, SeverityWarning,
			"Created without its certificate links (" + links + "): link its certificate profiles in Intune after the restore.", false})
	}
	if rf == nil {
		out = append(out, result{CheckTargetUnreadable, SeverityBlocking, "The target's scope tags, filters or notification templates could not be read.", false})
	} else {
		out = append(out, s.referenceChecks(ctx, index, rf, plan, t, b)...)
	}
	if len(out) == 0 {
		msg := "Safe to restore."
		if action == restorerunitem.PlannedActionUPDATE {
			// Say which object is overwritten and why that one: across
			// tenants the name alone may not be what the admin expects.
			msg = fmt.Sprintf("Safe to restore: updates %s %q, %s.", targetID, m.found[0].DisplayName, matchedHow[m.by])
		}
		out = append(out, result{CheckOK, SeveritySafe, msg, false})
	}
	return out, action, targetID
}

// certificateLinks names the relationships to certificate profiles b's
// @odata.type has and restore does not carry ("" for none).
func certificateLinks(t *intune.Type, b *ent.BackupItem) string {
	return strings.Join(t.CertificateLinksOf(b.Payload), ", ")
}

// matchedHow explains each way of matching.
var matchedHow = map[string]string{
	matchedByChoice:   "chosen in the scope",
	matchedByIdentity: "which earlier runs between these tenants restored this object onto",
	matchedByID:       "the same object",
	matchedByName:     "the one of its type with this name",
}

// referenceChecks verifies that what the item refers to resolves to an
// object of the target (or one the restore brings): the groups of its
// assignments and scheduled actions, its scope tags, its assignment filters
// and its notification templates. A mapping, an identity or an id of the
// same tenant must name an existing object.
//
// An undo deletes the foundations the undone run created: a reference to
// one of them blocks (the item would refer to an object deleted after it).
func (s *Service) referenceChecks(ctx context.Context, index *targetIndex, rf *refs, plan *runPlan, t *intune.Type, b *ent.BackupItem) []result {
	var out []result
	inPayload := payloadRefIDs(b.Payload)
	groups := intune.AssignmentGroupIDs(b.Assignments)
	for _, g := range inPayload[refGroup] {
		groups = appendUnique(groups, g)
	}
	for _, g := range groups {
		target, via := rf.resolve(refGroup, g)
		if via == "" {
			out = append(out, result{CheckGroupUnmapped, SeverityBlocking,
				"Group " + g + " belongs to the backup's tenant: map it to a group of the target.", false})
			continue
		}
		ok, err := index.groupExists(ctx, target)
		if err != nil {
			out = append(out, result{CheckTargetUnreadable, SeverityBlocking, "Groups of the target could not be read (" + apperr.SafeCode(err) + ").", false})
			break
		}
		if !ok {
			out = append(out, result{CheckGroupOrphaned, SeverityBlocking,
				"Group " + target + " does not exist in the target: map it to an existing group.", false})
		}
	}
	// A Configuration Manager collection id is its site's (e.g. "SMS00001"),
	// and tenant attach ties a site to one tenant: across tenants the same id
	// names another collection or none, and Graph cannot list collections to
	// check or map one. So no COLLECTION mapping kind (it could not be
	// suggested or verified): the run blocks until the item leaves the scope,
	// or its assignments are fixed in the source and backed up again. In the
	// same tenant the id is the collection itself.
	if !rf.sameTenant {
		if ids := intune.AssignmentCollectionIDs(b.Assignments); len(ids) > 0 {
			out = append(out, result{CheckCollectionForeign, SeverityBlocking,
				"Assigned to Configuration Manager collection " + strings.Join(ids, ", ") + " of the backup's tenant: collection ids belong to its Configuration Manager site and mean nothing in the target. " +
					"Leave this item out of the restore, or remove the collection assignment in the source and back it up again.", false})
		}
	}
	for _, m := range rf.customADMX(b.Payload) {
		if m.problem != "" {
			out = append(out, result{CheckADMXMissing, SeverityBlocking, m.problem, false})
		}
	}
	kinds := []struct {
		kind, label, missing, orphaned string
		ids                            []string
	}{
		{refScopeTag, "Scope tag", CheckScopeTagMissing, CheckScopeTagOrphaned, b.ScopeTagIds},
		{refFilter, "Assignment filter", CheckFilterMissing, CheckFilterOrphaned, intune.AssignmentFilterIDs(b.Assignments)},
		{refTemplate, "Notification message template", CheckTemplateMissing, CheckTemplateMissing, inPayload[refTemplate]},
	}
	for _, k := range kinds {
		for _, id := range k.ids {
			target, via := rf.resolve(k.kind, id)
			_, exists := rf.targetNames[k.kind+"/"+target]
			if via != "" && plan.deleting[k.kind+"/"+target] {
				out = append(out, result{CheckRefDeleted, SeverityBlocking,
					k.label + " " + target + " is deleted by this undo (the undone restore created it): leave it out of the scope, or map " + id + " to another one.", false})
				continue
			}
			switch via {
			case viaBuiltin, viaScope, viaIdentity, viaName:
				continue
			case viaMapping:
				if !exists {
					out = append(out, result{k.orphaned, SeverityBlocking,
						k.label + " " + target + " does not exist in the target: map " + id + " to an existing one.", false})
				}
				continue
			case viaSame:
				if exists {
					continue
				}
			}
			hint := "add it to the scope or map it."
			if k.kind == refTemplate {
				hint = "add it to the scope, or create one of the same name in the target."
			}
			out = append(out, result{k.missing, SeverityBlocking,
				k.label + " " + id + " is neither in the target nor in the restore scope: " + hint, false})
		}
	}
	return out
}

// targetResults are the run-level results: whether the target env may be
// written and, when readErr is set, that it could not be read.
func targetResults(env *ent.Environment, readErr error) []result {
	var out []result
	if !env.WriteEnabled {
		out = append(out, result{CheckWritesDisabled, SeverityBlocking,
			"Writes are disabled for " + env.DisplayName + ": enable them on the environment to execute.", true})
	}
	out = append(out, permissionResults(env)...)
	if readErr != nil {
		out = append(out, result{CheckUnreachable, SeverityBlocking,
			"The target tenant could not be read (" + apperr.SafeCode(readErr) + "): check its credentials and permissions.", true})
	}
	return out
}

// permissionResults judges the permissions last verified on env: missing
// read permissions warn (inventory and restore may be partial), missing
// write permissions block execution.
func permissionResults(env *ent.Environment) []result {
	if env.PermissionsCheckedAt == nil {
		return []result{{CheckPermissionUnknown, SeverityWarning,
			"The app's permissions in this tenant were never verified: inventory and restore may be partial.", false}}
	}
	rep := environments.PermissionReport(env.GrantedPermissions)
	var out []result
	if len(rep.MissingForRead) > 0 {
		out = append(out, result{CheckReadPermission, SeverityWarning,
			"Inventory and restore may be partial: the app lacks " + strings.Join(rep.MissingForRead, ", ") + ".", false})
	}
	if !rep.CanWrite {
		out = append(out, result{CheckWritePermission, SeverityBlocking,
			"The app cannot write: it lacks " + strings.Join(rep.MissingForWrite, ", ") + ".", true})
	}
	return out
}

// worstSeverity is BLOCKING over WARNING over SAFE.
func worstSeverity(rs []result) results.Severity {
	worst := results.SeveritySafe
	for _, r := range rs {
		switch {
		case r.Severity == SeverityBlocking:
			return SeverityBlocking
		case r.Severity == SeverityWarning:
			worst = SeverityWarning
		}
	}
	return worst
}

// checkColumns are what checks store per item, in checkItem's order.
var checkColumns = []itemColumn{
	{name: restorerunitem.FieldCheckSeverity, pgType: "text"},
	{name: restorerunitem.FieldCheckResults, pgType: "jsonb"},
	{name: restorerunitem.FieldPlannedAction, pgType: "text"},
	{name: restorerunitem.FieldTargetGraphID, pgType: "text"},
}

// staleEnd ends a checks or preview job whose scope changed while it ran.
func staleEnd() operations.End {
	return operations.End{Outcome: operationrun.OutcomeCANCELLED, ErrorCode: "scope_changed",
		ErrorMessage: "the scope changed while the job ran; run it again",
		Context:      results.OperationContext{ReasonCodes: []string{"scope_changed"}}}
}

// pageSize bounds how many items a job holds in memory at once.
const pageSize = 200

// eachItemBatched streams a run's items like eachItem, and stores the cols
// fn returns for each (nil: nothing) a page at a time, in one statement,
// once the page is judged: one round trip per 200 items instead of one or
// two per item, and no transaction held while fn reads the tenant. done is
// called after each page with the items handled so far.
func (s *Service) eachItemBatched(ctx context.Context, runID string, cols []itemColumn,
	fn func(*ent.RestoreRunItem, *ent.BackupItem) (*itemWrite, error), done func(n int) error) error {
	var page []itemWrite
	n := 0
	flush := func() error {
		if len(page) == 0 {
			return nil
		}
		err := storeItems(ctx, s.Client, s.Dialect, s.Clock.Now(), cols, page)
		page = page[:0]
		if err != nil {
			return err
		}
		return done(n)
	}
	err := s.eachItem(ctx, runID, func(item *ent.RestoreRunItem, b *ent.BackupItem) error {
		w, err := fn(item, b)
		if err != nil {
			return err
		}
		n++
		if w != nil {
			page = append(page, *w)
		}
		if len(page) >= pageSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// eachItem streams a run's items with their backup items, a page at a time.
func (s *Service) eachItem(ctx context.Context, runID string, fn func(*ent.RestoreRunItem, *ent.BackupItem) error) error {
	after := ""
	for {
		q := s.Client.RestoreRunItem.Query().Where(restorerunitem.RunID(runID))
		if after != "" {
			q = q.Where(restorerunitem.IDGT(after))
		}
		items, err := q.Order(ent.Asc(restorerunitem.FieldID)).Limit(pageSize).All(ctx)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.BackupItemID
		}
		backups, err := s.Client.BackupItem.Query().Where(backupitem.IDIn(ids...)).All(ctx)
		if err != nil {
			return err
		}
		byID := make(map[string]*ent.BackupItem, len(backups))
		for _, b := range backups {
			byID[b.ID] = b
		}
		for _, it := range items {
			if b, ok := byID[it.BackupItemID]; ok {
				if err := fn(it, b); err != nil {
					return err
				}
			}
		}
		after = items[len(items)-1].ID
	}
}
