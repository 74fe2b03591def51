package restore_test

import (
	"testing"
	"time"

	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/internal/domain/restore"
)

// TestFollowEventsFillsGapsAndDropsDuplicates: a live event whose
// predecessor never reached this subscriber (published nowhere, as when a
// publish fails or a Redis message is lost) is preceded by that event from
// the log; an event delivered twice is passed on once.
func TestFollowEventsFillsGapsAndDropsDuplicates(t *testing.T) {
	f := newFixture(t)
	run, err := f.svc.CreateRun(f.owner, f.env.ID, f.sets[0].ID) // event 1
	if err != nil {
		t.Fatal(err)
	}
	scope := restore.ScopeInput{Mode: restorerun.ScopeModeALL}
	if _, err := f.svc.DefineScope(f.owner, run.ID, scope); err != nil { // event 2
		t.Fatal(err)
	}
	ch, err := f.svc.FollowEvents(f.owner, run.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Event 3 is in the log but was never published.
	ctx := f.owner
	r := f.db.RestoreRun.UpdateOneID(run.ID).AddEventSequence(1).SaveX(ctx)
	f.db.RestoreRunEvent.Create().SetWorkspaceID(r.WorkspaceID).SetRunID(run.ID).SetSequence(r.EventSequence).
		SetKind(restore.EventStep).SetAction("test.unpublished").SetStatus(string(r.Status)).SetAt(time.Now()).SaveX(ctx)
	if _, err := f.svc.DefineScope(f.owner, run.ID, scope); err != nil { // event 4, published
		t.Fatal(err)
	}
	next := func() *restore.RunEvent {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the event stream ended")
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
			return nil
		}
	}
	if ev := next(); ev.Sequence != 3 || ev.Action != "test.unpublished" {
		t.Fatalf("first event %+v, want the unpublished 3 from the log", ev)
	}
	four := next()
	if four.Sequence != 4 || four.Action != "restore_run.define_scope" {
		t.Fatalf("second event %+v, want the live 4", four)
	}
	// Event 4 delivered again (a duplicate publish) is dropped.
	if err := f.bus.Publish(ctx, restore.RunTopic(run.ID), four); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DefineScope(f.owner, run.ID, scope); err != nil { // event 5
		t.Fatal(err)
	}
	if ev := next(); ev.Sequence != 5 {
		t.Fatalf("after a duplicate of 4 got %+v, want 5", ev)
	}
}
