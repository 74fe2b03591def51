package restore

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/identitymapping"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ptr"
)

// Undoing what a run created. An object a run creates is recorded in the
// run's pre-restore set as an absent item (the set says: before the run,
// this did not exist), in the transaction that stores the item's outcome.
// The undo restores that set, and an absent item restored means the object
// is deleted: the only deletion the product ever makes. It is guarded at
// every step by one rule (undoCreator): only an object the undone run
// created, in that run's environment, recorded in that run's pre-restore
// set, and never a built-in one.

// codeNotDeletable is the item error code of a delete the rule refuses.
const codeNotDeletable = "not_deletable"

// createdObject is an object an item's write created (even when a later
// step of the item failed): recordCreated records it absent.
type createdObject struct {
	id string
	// state is the object as read back after the write, when it was: what
	// an undo compares it with to tell whether it changed since.
	state *intune.Captured
}

// recordCreated records, through tx (the transaction storing the item's
// outcome), the object an item created as an absent item of the run's
// pre-restore set, creating that set (READY) when the run has none yet.
func (x *execution) recordCreated(ctx context.Context, tx *ent.Client, b *ent.BackupItem, c *createdObject) error {
	t, ok := intune.Lookup(b.PolicyType)
	if !ok {
		return nil
	}
	setID, err := x.preRestoreSet(ctx, tx)
	if err != nil {
		return err
	}
	n, err := tx.BackupItem.Query().Where(backupitem.BackupSetID(setID), backupitem.PolicyType(t.Key),
		backupitem.SourceGraphID(c.id)).Count(ctx)
	if err != nil || n > 0 {
		return err
	}
	name, odata := b.DisplayName, odataTypeOf(t, b.Payload)
	var lastModified *time.Time
	hash := ""
	if s := c.state; s != nil {
		if s.DisplayName != "" {
			name = s.DisplayName
		}
		if s.ODataType != "" {
			odata = intune.CanonicalODataType(s.ODataType)
		}
		lastModified, hash = s.LastModified, s.ContentHash
	}
	// The payload names the object only: there is nothing to restore.
	err = tx.BackupItem.Create().SetWorkspaceID(x.run.WorkspaceID).SetBackupSetID(setID).
		SetPolicyType(t.Key).SetPlatform(b.Platform).SetSourceGraphID(c.id).SetDisplayName(name).
		SetPayload(map[string]any{"@odata.type": odata, t.Name(): name}).SetAssignments([]map[string]any{}).
		SetFoundation(t.Foundation).SetNillableSourceLastModified(lastModified).SetContentHash(hash).
		SetAbsent(true).Exec(ctx)
	if err != nil {
		return err
	}
	return countSet(ctx, tx, setID, nil)
}

// preRestoreSet returns the run's pre-restore set, creating it READY and
// linking it (under the lease) when the run has none: a run that only
// creates captures nothing before writing.
func (x *execution) preRestoreSet(ctx context.Context, tx *ent.Client) (string, error) {
	run, err := tx.RestoreRun.Query().Where(restorerun.ID(x.run.ID)).Select(restorerun.FieldPreRestoreBackupSetID).Only(ctx)
	if err != nil {
		return "", err
	}
	if run.PreRestoreBackupSetID != nil {
		return *run.PreRestoreBackupSetID, nil
	}
	set, err := newPreRestoreSet(ctx, tx, x.run, backupset.StatusREADY).SetCapturedAt(x.s.Clock.Now()).Save(ctx)
	if err != nil {
		return "", err
	}
	// The outcome's transaction renewed the lease first, which holds the
	// run's row: no other item links another set meanwhile.
	n, err := x.lease.guard(tx.RestoreRun.Update()).Where(restorerun.PreRestoreBackupSetIDIsNil()).
		SetPreRestoreBackupSetID(set.ID).Save(ctx)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", ErrLeaseHeld
	}
	return set.ID, nil
}

// newPreRestoreSet starts the pre-restore backup set of run.
func newPreRestoreSet(ctx context.Context, tx *ent.Client, run *ent.RestoreRun, status backupset.Status) *ent.BackupSetCreate {
	c := tx.BackupSet.Create().SetWorkspaceID(run.WorkspaceID).SetEnvironmentID(run.EnvironmentID).
		SetName(fmt.Sprintf("Before restore %s", run.ID)).SetOrigin(backupset.OriginPRE_RESTORE).SetStatus(status)
	if run.InitiatorID != nil {
		c.SetCreatedBy(*run.InitiatorID)
	}
	return c
}

// countSet sets a backup set's item counts (all and by type) from its
// items, with what also adds to the same update (nil: nothing).
func countSet(ctx context.Context, client *ent.Client, setID string, also func(*ent.BackupSetUpdateOne)) error {
	var counts []struct {
		PolicyType string `json:"policy_type"`
		Count      int    `json:"count"`
	}
	if err := client.BackupItem.Query().Where(backupitem.BackupSetID(setID)).
		GroupBy(backupitem.FieldPolicyType).Aggregate(ent.Count()).Scan(ctx, &counts); err != nil {
		return err
	}
	byType, total := results.TypeCounts{}, 0
	for _, c := range counts {
		byType[c.PolicyType] = c.Count
		total += c.Count
	}
	u := client.BackupSet.UpdateOneID(setID).SetItemCount(total).SetCountsByType(byType)
	if also != nil {
		also(u)
	}
	return u.Exec(ctx)
}

// undoCreator is the rule of every deletion: undo may delete object id of
// type typeKey only when undo is the undo of a run (undo_of_run_id), restores
// that run's pre-restore set into that run's environment, and that run
// created the object (its item planned CREATE onto it and created it, even
// if a later step of the item failed). It returns the creating item, or why
// the object is not to be deleted.
func undoCreator(ctx context.Context, client *ent.Client, undo *ent.RestoreRun, typeKey, id string) (*ent.RestoreRunItem, string, error) {
	if undo.UndoOfRunID == nil {
		return nil, "only the undo of the restore that created an object deletes it", nil
	}
	undone, err := client.RestoreRun.Get(ctx, *undo.UndoOfRunID)
	if err != nil {
		return nil, "", err
	}
	switch {
	case undone.PreRestoreBackupSetID == nil || *undone.PreRestoreBackupSetID != undo.BackupSetID:
		return nil, "this run does not restore the pre-restore backup set of restore run " + undone.ID, nil
	case undone.WorkspaceID != undo.WorkspaceID || undone.EnvironmentID != undo.EnvironmentID:
		return nil, "restore run " + undone.ID + " wrote to another environment", nil
	}
	it, err := client.RestoreRunItem.Query().Where(restorerunitem.RunID(undone.ID), restorerunitem.PolicyType(typeKey),
		restorerunitem.TargetGraphID(id), restorerunitem.PlannedActionEQ(restorerunitem.PlannedActionCREATE),
		restorerunitem.Or(restorerunitem.ExecutedActionEQ(restorerunitem.ExecutedActionCREATED),
			restorerunitem.And(restorerunitem.ExecutedActionIsNil(), restorerunitem.StatusEQ(restorerunitem.StatusFAILED)))).
		First(ctx)
	if ent.IsNotFound(err) {
		return nil, "restore run " + undone.ID + " did not create it", nil
	}
	if err != nil {
		return nil, "", err
	}
	return it, "", nil
}

// checkAbsent judges an absent item (an object the set's run created):
// planned DELETE with a warning naming it when it still exists and the
// rule allows it, else nothing to do.
func (s *Service) checkAbsent(ctx context.Context, run *ent.RestoreRun, index *targetIndex, t *intune.Type, b *ent.BackupItem) ([]result, restorerunitem.PlannedAction, string) {
	skip := restorerunitem.PlannedActionSKIP
	creator, why, err := undoCreator(ctx, s.Client, run, t.Key, b.SourceGraphID)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			s.Log.Warn("restore checks: undo rule", "run", run.ID, "err", err)
		}
		return []result{{CheckTargetUnreadable, SeverityBlocking, "Whether this object may be deleted could not be verified.", false}}, skip, ""
	case why != "":
		return []result{{CheckNotDeleted, SeverityWarning,
			fmt.Sprintf("%s %q did not exist when this backup was taken; it is not deleted: %s.", t.Label, b.DisplayName, why), false}}, skip, ""
	case index == nil:
		return []result{{CheckTargetUnreadable, SeverityBlocking, "The target could not be read to match this item.", false}}, skip, ""
	}
	ti := index.of(ctx, t)
	if ti.err != nil {
		return []result{{CheckTargetUnreadable, SeverityBlocking,
			"The target's " + t.Label + " objects could not be read (" + apperr.SafeCode(ti.err) + ").", false}}, skip, ""
	}
	o, ok := ti.byID[b.SourceGraphID]
	switch {
	case !ok:
		return []result{{CheckAlreadyDeleted, SeveritySafe,
			fmt.Sprintf("%s %q (%s), which restore run %s created, is already gone from the target: nothing to delete.",
				t.Label, b.DisplayName, b.SourceGraphID, creator.RunID), false}}, skip, ""
	case o.Builtin:
		return []result{{CheckBuiltin, SeverityWarning,
			"The target object " + o.ID + " is built-in: it is never deleted.", false}}, skip, ""
	case o.ODataType != odataTypeOf(t, b.Payload):
		return []result{{CheckNotDeleted, SeverityWarning,
			fmt.Sprintf("The target object %s is a %s, not the %s restore run %s created: it is not deleted.",
				o.ID, o.ODataType, odataTypeOf(t, b.Payload), creator.RunID), false}}, skip, ""
	}
	msg := fmt.Sprintf("Will be deleted: %s %q (%s), which restore run %s created.", t.Label, o.DisplayName, o.ID, creator.RunID)
	if o.DisplayName != b.DisplayName {
		msg += fmt.Sprintf(" It was renamed since (from %q).", b.DisplayName)
	}
	msg += changedSince(ctx, index, t, o, b)
	return []result{{CheckWillDelete, SeverityWarning, msg, false}}, restorerunitem.PlannedActionDELETE, o.ID
}

// changedSince says whether the object changed after the run that created
// it verified it: by its lastModifiedDateTime when Graph keeps one, else by
// its content. "" when it did not.
func changedSince(ctx context.Context, index *targetIndex, t *intune.Type, o targetObject, b *ent.BackupItem) string {
	const lost = " Its changes since are lost with it."
	if o.LastModified != nil && b.SourceLastModified != nil {
		// Graph's times have 100 ns, PostgreSQL's microseconds: compared at
		// the coarser, an object stored and read back unchanged is the same.
		if o.LastModified.Truncate(time.Microsecond).After(b.SourceLastModified.Truncate(time.Microsecond)) {
			return " It was changed after that run created it (" + o.LastModified.UTC().Format("2006-01-02 15:04") + " UTC)." + lost
		}
		return ""
	}
	if b.ContentHash == "" {
		return " Whether it changed since could not be told."
	}
	c, err := intune.Capture(ctx, index.g, t, o.ID)
	switch {
	case err != nil:
		return " Whether it changed since could not be told (" + apperr.SafeCode(err) + ")."
	case c.ContentHash != b.ContentHash:
		return " It was changed after that run created it." + lost
	}
	return ""
}

// previewAbsent previews an absent item: DELETE while its object exists,
// nothing when it is gone (then the plan is SKIP: execution sends what the
// preview shows).
func previewAbsent(ctx context.Context, tr *targetReader, item *ent.RestoreRunItem, t *intune.Type, b *ent.BackupItem) itemPreview {
	if item.PlannedAction == nil || *item.PlannedAction != restorerunitem.PlannedActionDELETE || item.TargetGraphID == nil {
		return itemPreview{diff: results.Diff{Note: "not in the target when the backup was taken: nothing to restore, nothing deleted"}}
	}
	c, err := tr.read(ctx, t, *item.TargetGraphID)
	switch {
	case isNotFound(err):
		return itemPreview{diff: results.Diff{Note: "already gone from the target: nothing to delete"}}
	case err != nil:
		return itemPreview{failed: true, diff: results.Diff{Error: "the target object could not be read (" + apperr.SafeCode(err) + ")"}}
	}
	name := c.DisplayName
	if name == "" {
		name = b.DisplayName
	}
	return itemPreview{action: restorerunitem.PreviewActionDELETE,
		diff: results.Diff{Note: fmt.Sprintf("will be deleted: %s %q (%s)", t.Label, name, *item.TargetGraphID)}}
}

// remove executes a planned DELETE: the rule is judged again, the object
// is read (a built-in one is never deleted), deleted through the fenced
// writer, and read again: verified when the target answers 404. An object
// already gone (deleted by hand, or by a pass that died before recording
// it) is DELETED too, so a retry after a crash is safe.
func (x *execution) remove(ctx context.Context, it *runItem, t *intune.Type, b *ent.BackupItem) applied {
	id := ptr.Deref(it.TargetGraphID)
	if !b.Absent || id == "" || id != b.SourceGraphID {
		return applied{outcome: failed(codeNotDeletable, "not deleted: only an object the undone restore created is deleted")}
	}
	if _, why, err := undoCreator(ctx, x.s.Client, x.run, t.Key, id); err != nil {
		return applied{cause: err}
	} else if why != "" {
		return applied{outcome: failed(codeNotDeletable, "not deleted: "+why)}
	}
	path := t.Path + "/" + url.PathEscape(id)
	done := applied{outcome: outcome{status: restorerunitem.StatusSUCCEEDED, action: restorerunitem.ExecutedActionDELETED,
		targetID: id, verified: true}}
	raw, err := x.w.Get(ctx, path, nil)
	switch {
	case isNotFound(err):
		return done
	case err != nil:
		return withTarget(graphFailure(err, "look up"), id)
	case t.IsBuiltin(raw):
		return withTarget(applied{outcome: failed(codeNotDeletable, "not deleted: the object is built-in")}, id)
	}
	if err := intune.Delete(ctx, x.w, t, id); err != nil && !isNotFound(err) {
		return withTarget(graphFailure(err, "delete"), id)
	}
	_, err = x.w.Get(ctx, path, url.Values{"$select": {"id"}})
	switch {
	case isNotFound(err):
		return done
	case err != nil:
		return withTarget(graphFailure(err, "read back"), id)
	}
	done.verified = false
	done.drift = &results.Diff{Note: "the object is still in the target after its deletion"}
	return done
}

// forgetIdentity removes what the identity map says was restored onto a
// deleted object: nothing is matched onto it any more.
func forgetIdentity(ctx context.Context, client *ent.Client, run *ent.RestoreRun, tt tenants, typeKey, targetID string) error {
	_, err := client.IdentityMapping.Delete().Where(identitymapping.WorkspaceID(run.WorkspaceID),
		identitymapping.TargetTenantID(tt.target), identitymapping.PolicyType(typeKey), identitymapping.TargetID(targetID)).
		Exec(ctx)
	return err
}
