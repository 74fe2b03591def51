// Tests of the notify rule (notify.go): a run tells its initiator once that
// it was queued, once that it started and once how it ended, through the
// real service on a real database; runs without an initiator notify nobody;
// and a notification that cannot be written never fails the run.
package operations_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/notification"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/notifications"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/testenv"
)

// withNotes gives the fixture's service a notifications service and returns
// a user to initiate runs.
func (f *fixture) withNotes(tb testing.TB) *ent.User {
	tb.Helper()
	f.svc.Notes = &notifications.Service{Client: f.db.Client, Bus: f.bus, Log: f.svc.Log, Clock: f.clock}
	return f.db.User.Create().SetEmail("owner@example.test").SetDisplayName("Owner").SaveX(context.Background())
}

// note is what the tests compare of a notification.
type note struct{ User, Workspace, Kind, Title, Body, Subject string }

func (f *fixture) notes(tb testing.TB) []note {
	tb.Helper()
	rows, err := f.db.Notification.Query().Order(ent.Asc(notification.FieldCreatedAt), ent.Asc(notification.FieldID)).All(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	var out []note
	for _, n := range rows {
		s := ""
		if n.SubjectID != nil {
			s = *n.SubjectID
		}
		out = append(out, note{n.UserID, n.WorkspaceID, n.Kind, n.Title, n.Body, s})
	}
	return out
}

// TestNotifyRunLifecycle walks a run through queued, a first start, a
// shutdown hand-back, a second start, its end and a repeated end: its
// initiator gets exactly queued, started and failed (with the safe message),
// each published on their topic.
func TestNotifyRunLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.withNotes(t)
	sub := testenv.Subscribe(t, testenv.Context(t, time.Minute), f.bus, notifications.Topic(u.ID))
	in := start("sync:env_1")
	in.InitiatorID = u.ID
	run, _ := f.mustStart(t, in)
	steps := []func() error{
		func() error { _, err := f.svc.Begin(ctx, run.ID); return err },
		func() error { _, err := f.svc.Begin(ctx, run.ID); return err }, // a retry: not news
		func() error { return f.svc.Interrupt(ctx, run.ID) },
		func() error { _, err := f.svc.Begin(ctx, run.ID); return err },
		func() error {
			_, err := f.svc.Complete(ctx, run.ID, operations.End{Outcome: operationrun.OutcomeFAILED,
				ErrorCode: "tenant_unreachable", ErrorMessage: "the tenant did not answer"})
			return err
		},
		func() error {
			_, err := f.svc.Complete(ctx, run.ID, operations.End{Outcome: operationrun.OutcomeFAILED})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []note{
		{u.ID, "wks_test", operations.NotifyQueued, "Inventory sync queued", "", run.ID},
		{u.ID, "wks_test", operations.NotifyRunning, "Inventory sync started", "", run.ID},
		{u.ID, "wks_test", operations.NotifyCompleted, "Inventory sync failed", "the tenant did not answer", run.ID},
	}
	if diff := cmp.Diff(want, f.notes(t)); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	rows := f.db.Notification.Query().Order(ent.Asc(notification.FieldCreatedAt), ent.Asc(notification.FieldID)).IDsX(ctx)
	for _, id := range rows {
		expectEvent(t, sub, id)
	}
}

// TestNotifyOutcomes checks the title of each way a run can end, and that a
// run cancelled before it started says so without a "started".
func TestNotifyOutcomes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.withNotes(t)
	for outcome, title := range map[operationrun.Outcome]string{
		operationrun.OutcomeSUCCEEDED:           "Restore succeeded",
		operationrun.OutcomePARTIALLY_SUCCEEDED: "Restore partially succeeded",
		operationrun.OutcomeBLOCKED:             "Restore was blocked",
		operationrun.OutcomeFAILED:              "Restore failed",
		operationrun.OutcomeCANCELLED:           "Restore was cancelled",
	} {
		in := operations.Start{WorkspaceID: "wks_test", Type: operations.TypeRestoreExecute, DedupeKey: "x:" + string(outcome), InitiatorID: u.ID}
		run, _ := f.mustStart(t, in)
		if _, err := f.svc.Complete(ctx, run.ID, operations.End{Outcome: outcome}); err != nil {
			t.Fatal(err)
		}
		got := f.db.Notification.Query().Where(notification.SubjectID(run.ID)).Order(ent.Asc(notification.FieldCreatedAt), ent.Asc(notification.FieldID)).AllX(ctx)
		if len(got) != 2 || got[0].Kind != operations.NotifyQueued || got[1].Kind != operations.NotifyCompleted || got[1].Title != title {
			var s []string
			for _, n := range got {
				s = append(s, n.Kind+" "+n.Title)
			}
			t.Errorf("%s: notifications %q, want queued then %q", outcome, s, title)
		}
	}
}

// TestNotifyNobody checks that a run without an initiator notifies no one.
func TestNotifyNobody(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.withNotes(t)
	run, _ := f.mustStart(t, start("sync:env_1"))
	if _, err := f.svc.Begin(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Complete(ctx, run.ID, operations.End{Outcome: operationrun.OutcomeSUCCEEDED}); err != nil {
		t.Fatal(err)
	}
	if n := f.notes(t); len(n) != 0 {
		t.Errorf("notifications %v, want none", n)
	}
}

// TestNotifyFailureNeverFailsTheRun gives a run an initiator that no user
// row matches, so every notification insert fails: the run still goes
// through its life and the failures are logged.
func TestNotifyFailureNeverFailsTheRun(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.withNotes(t)
	in := start("sync:env_1")
	in.InitiatorID = "usr_gone"
	run, _ := f.mustStart(t, in)
	if _, err := f.svc.Begin(ctx, run.ID); err != nil {
		t.Fatalf("Begin: %v", err)
	}
	done, err := f.svc.Complete(ctx, run.ID, operations.End{Outcome: operationrun.OutcomeSUCCEEDED})
	if err != nil || done.Status != operationrun.StatusCOMPLETED {
		t.Fatalf("Complete: %v, %v", done, err)
	}
	if n := f.notes(t); len(n) != 0 {
		t.Errorf("notifications %v, want none stored", n)
	}
	if got := strings.Count(f.log.String(), "notify run initiator"); got != 3 {
		t.Errorf("logged %d notification failures, want 3:\n%s", got, f.log.String())
	}
}

// TestNotifySucceededHasBody: a run that ended well says what it did, from
// its counts (a restore: created, updated, unchanged, skipped, failed), and
// a run without counts still has a body.
func TestNotifySucceededHasBody(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.withNotes(t)
	for i, tt := range []struct {
		summary results.OperationSummary
		want    string
	}{
		{results.OperationSummary{Items: 12, PoliciesCreated: 2, PoliciesChanged: 3, PoliciesUnchanged: 5, Skipped: 7}, "12 items: 2 created, 3 updated, 5 unchanged, 7 skipped."},
		{results.OperationSummary{Items: 3}, "3 items."},
		{results.OperationSummary{Total: 4, Captured: 4}, "4 captured."},
		{results.OperationSummary{}, "Done."},
	} {
		in := operations.Start{WorkspaceID: "wks_test", Type: operations.TypeRestoreExecute, DedupeKey: fmt.Sprintf("body:%d", i), InitiatorID: u.ID}
		run, _ := f.mustStart(t, in)
		if _, err := f.svc.Complete(ctx, run.ID, operations.End{Outcome: operationrun.OutcomeSUCCEEDED, Summary: tt.summary}); err != nil {
			t.Fatal(err)
		}
		n := f.db.Notification.Query().Where(notification.SubjectID(run.ID), notification.Kind(operations.NotifyCompleted)).OnlyX(ctx)
		if n.Body != tt.want {
			t.Errorf("summary %+v: body %q, want %q", tt.summary, n.Body, tt.want)
		}
	}
}
