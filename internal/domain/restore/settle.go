package restore

import (
	"context"
	"net/url"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ptr"
)

// settleInDoubt gives each item whose write began and that has no outcome
// the outcome the target shows, before a run ends early (a cancel, an
// unresponsive tenant): the pass that began the write may have died after
// Graph applied it, and ending the item SKIPPED would say nothing was
// written, and leave an object the run created out of what an undo
// deletes. An item the target shows untouched is left to the caller, which
// skips it.
func (x *execution) settleInDoubt(ctx context.Context) error {
	items, err := x.s.Client.RestoreRunItem.Query().Where(restorerunitem.RunID(x.run.ID),
		restorerunitem.StatusIn(restorerunitem.StatusPENDING, restorerunitem.StatusAPPLYING),
		restorerunitem.WriteStartedAtNotNil()).All(ctx)
	if err != nil {
		return err
	}
	for _, it := range items {
		b, err := x.s.Client.BackupItem.Get(ctx, it.BackupItemID)
		if err != nil {
			return err
		}
		t, _ := intune.Lookup(b.PolicyType)
		a, settled := x.settle(ctx, it, t, b)
		if a.cause != nil {
			return a.cause
		}
		if settled {
			if err := x.save(ctx, it, b, a.outcome); err != nil {
				return err
			}
		}
	}
	return nil
}

// settle reads what an interrupted write left in the target, writing
// nothing: settled=false when it left nothing (no object created, the
// object not deleted).
func (x *execution) settle(ctx context.Context, it *runItem, t *intune.Type, b *ent.BackupItem) (applied, bool) {
	unknown := func(why string) (applied, bool) {
		out := failed(codeWriteInterrupted, "the run stopped after this item's write began, and "+why+
			": the object may have been changed; check it in Intune")
		out.targetID = ptr.Deref(it.TargetGraphID)
		return applied{outcome: out}, true
	}
	if x.w == nil || t == nil || it.PlannedAction == nil {
		return unknown("the target was not read")
	}
	ctx, cancel := context.WithTimeout(ctx, x.s.itemTimeout())
	defer cancel()
	unreadable := func(err error) (applied, bool) {
		return unknown("the target could not be read (" + apperr.SafeCode(err) + ")")
	}
	targetID := ptr.Deref(it.TargetGraphID)
	if *it.PlannedAction == restorerunitem.PlannedActionDELETE {
		// As remove verifies a delete: gone when the target answers 404.
		_, err := x.w.Get(ctx, t.Path+"/"+url.PathEscape(targetID), url.Values{"$select": {"id"}})
		switch {
		case isNotFound(err):
			return applied{outcome: outcome{status: restorerunitem.StatusSUCCEEDED, action: restorerunitem.ExecutedActionDELETED,
				targetID: targetID, verified: true}}, true
		case err != nil:
			return unreadable(err)
		}
		return applied{}, false
	}
	payload, assignments, tags := x.body(t, b)
	var action restorerunitem.ExecutedAction // unknown for an update that did not complete
	created := false
	if *it.PlannedAction == restorerunitem.PlannedActionCREATE {
		found, earlierRun, a, ok := x.lookup(ctx, it, t, b, payload, true)
		switch {
		case a.cause != nil:
			return a, true
		case !ok && a.code == codeAmbiguous:
			return unknown("several objects of its name exist in the target")
		case !ok:
			return unknown("the target could not be read (" + a.code + ")")
		case found == "":
			return applied{}, false // nothing was created
		}
		targetID, created = found, !earlierRun
		if created {
			action = restorerunitem.ExecutedActionCREATED
		}
	}
	got, err := intune.Capture(ctx, x.w, t, targetID)
	if err != nil {
		return unreadable(err)
	}
	out := outcome{status: restorerunitem.StatusSUCCEEDED, action: restorerunitem.ExecutedActionUPDATED, targetID: targetID}
	if created {
		out.action = restorerunitem.ExecutedActionCREATED
		// Recorded whatever its state: an undo deletes what the run created.
		out.created = &createdObject{id: targetID, state: got}
	}
	if out.drift = verify(t, payload, assignments, tags, got); out.drift != nil {
		// Half written (an object without its assignments, say), or an
		// update that never arrived: not a success.
		out.status, out.action = restorerunitem.StatusFAILED, action
		out.code = codeWriteInterrupted
		out.message = "the run stopped while this item was being written: the object differs from the backup (see its drift)"
	} else {
		out.verified = true
	}
	return applied{outcome: out}, true
}
