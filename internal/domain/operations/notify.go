package operations

import (
	"context"
	"fmt"
	"strings"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/notifications"
	"github.com/restored/restored/internal/domain/results"
)

// Notification kinds of operation runs.
const (
	NotifyQueued    = "operation.queued"
	NotifyRunning   = "operation.running"
	NotifyCompleted = "operation.completed"
)

// labels name each operation type for people.
var labels = map[string]string{
	TypeInventorySync:     "Inventory sync",
	TypePolicySnapshot:    "Policy snapshot",
	TypeBackupCapture:     "Backup capture",
	TypeEnvironmentVerify: "Permission check",
	TypeRestoreChecks:     "Restore safety checks",
	TypeRestorePreview:    "Restore preview",
	TypeRestoreExecute:    "Restore",
}

var outcomes = map[operationrun.Outcome]string{
	operationrun.OutcomeSUCCEEDED:           "succeeded",
	operationrun.OutcomePARTIALLY_SUCCEEDED: "partially succeeded",
	operationrun.OutcomeBLOCKED:             "was blocked",
	operationrun.OutcomeFAILED:              "failed",
	operationrun.OutcomeCANCELLED:           "was cancelled",
}

// RunNotification is the notification a run's change earns its initiator,
// if any: before is the run as it was (nil for a new run), after as it is
// now. A run tells its initiator three things, once each: it was queued
// (created), it started (its first RUNNING: a retry after a crash or a
// shutdown hand-back is not news), and how it ended. Runs nobody started
// (system runs) notify no one. The text is built only from the run's type,
// outcome and error message, which is safe to show by contract (End).
func RunNotification(before, after *ent.OperationRun) (notifications.New, bool) {
	if after == nil || after.InitiatorID == nil || *after.InitiatorID == "" {
		return notifications.New{}, false
	}
	label := labels[after.Type]
	if label == "" {
		label = "Job " + after.Type
	}
	n := notifications.New{WorkspaceID: after.WorkspaceID, UserID: *after.InitiatorID, SubjectID: after.ID}
	switch {
	case before == nil && after.Status == operationrun.StatusQUEUED:
		n.Kind, n.Title = NotifyQueued, label+" queued"
	case after.Status == operationrun.StatusRUNNING && before != nil && before.StartedAt == nil:
		n.Kind, n.Title = NotifyRunning, label+" started"
	case after.Status == operationrun.StatusCOMPLETED && before != nil && before.Status != operationrun.StatusCOMPLETED:
		word := outcomes[after.Outcome]
		if word == "" {
			word = "ended"
		}
		n.Kind, n.Title = NotifyCompleted, label+" "+word
		n.Body = summaryBody(after.Summary)
		if after.ErrorMessage != nil {
			n.Body = *after.ErrorMessage
		}
	default:
		return notifications.New{}, false
	}
	return n, true
}

// notify tells the run's initiator about a change, best effort: the run's
// status is the truth and is already saved; a notification that cannot be
// written is logged and never fails or rolls back the run.
func (s *Service) notify(ctx context.Context, before, after *ent.OperationRun) {
	if s.Notes == nil {
		return
	}
	n, ok := RunNotification(before, after)
	if !ok {
		return
	}
	if _, err := s.Notes.Notify(context.WithoutCancel(ctx), n); err != nil {
		s.log().Warn("notify run initiator", "run", after.ID, "kind", n.Kind, "err", err)
	}
}

// summaryBody says in one line what a run that ended did, from its counts
// (a successful run's notification says what succeeded, not just that it
// did).
func summaryBody(s results.OperationSummary) string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	if s.Items > 0 {
		add(s.PoliciesCreated, "created")
		add(s.PoliciesChanged, "updated")
		add(s.PoliciesDeleted, "deleted")
		add(s.PoliciesUnchanged, "unchanged")
		add(s.Skipped, "skipped")
		add(s.Failed, "failed")
		if len(parts) == 0 {
			return fmt.Sprintf("%d items.", s.Items)
		}
		return fmt.Sprintf("%d items: %s.", s.Items, strings.Join(parts, ", "))
	}
	add(s.Captured, "captured")
	add(s.Unchanged, "unchanged")
	add(s.Objects, "objects listed")
	add(s.Checked, "items checked")
	add(s.Previewed, "items previewed")
	add(s.Failed, "failed")
	if len(parts) == 0 {
		return "Done."
	}
	return strings.ToUpper(parts[0][:1]) + strings.Join(parts, ", ")[1:] + "."
}
