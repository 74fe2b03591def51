package restore_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/restore"
	"github.com/restored/restored/internal/domain/results"
)

// TestStoreItemsInOneStatement: the bulk write of checks and preview sets
// every column of every item of a page as ent would (JSON, enums, booleans,
// NULL clears a column, a kept column stays), leaves other items alone, and
// skips an id that is gone; on SQLite and, in CI, on PostgreSQL.
func TestStoreItemsInOneStatement(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	run, err := f.svc.CreateRun(f.owner, f.env.ID, f.sets[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DefineScope(f.owner, run.ID, restore.ScopeInput{Mode: restorerun.ScopeModeALL}); err != nil {
		t.Fatal(err)
	}
	items := f.db.RestoreRunItem.Query().Where(restorerunitem.RunID(run.ID)).Order(restorerunitem.ByID()).AllX(ctx)
	if len(items) != 3 {
		t.Fatalf("%d items", len(items))
	}
	a, b, untouched := items[0].ID, items[1].ID, items[2].ID
	target := "target-1"
	checks := []results.Check{{Code: "TARGET_FOUND", Severity: "SAFE", Message: "it's \"there\""}}
	err = f.svc.StoreItems(ctx, restore.CheckColumns, map[string][]any{
		a:      {"WARNING", checks, restorerunitem.PlannedActionUPDATE, &target},
		b:      {"SAFE", []results.Check{}, restorerunitem.PlannedActionCREATE, (*string)(nil)},
		"gone": {"SAFE", checks, restorerunitem.PlannedActionCREATE, (*string)(nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := f.db.RestoreRunItem.GetX(ctx, a)
	if *got.CheckSeverity != "WARNING" || *got.PlannedAction != "UPDATE" || *got.TargetGraphID != target || !cmp.Equal(got.CheckResults, checks) {
		t.Errorf("item a: %+v", got)
	}
	got = f.db.RestoreRunItem.GetX(ctx, b)
	if *got.CheckSeverity != "SAFE" || *got.PlannedAction != "CREATE" || got.TargetGraphID != nil || len(got.CheckResults) != 0 {
		t.Errorf("item b: %+v", got)
	}
	if got := f.db.RestoreRunItem.GetX(ctx, untouched); got.CheckSeverity != nil || got.PlannedAction != nil {
		t.Errorf("an item not in the page changed: %+v", got)
	}

	// The preview's planned action is kept when nil, and NULL clears the
	// preview action.
	diff := &results.Diff{Note: "n", Settings: []results.Change{{Path: "a.b", Op: "changed", Before: 1.0, After: "x"}}}
	err = f.svc.StoreItems(ctx, restore.PreviewColumns, map[string][]any{
		a: {diff, true, (*string)(nil), (*string)(nil)},
		b: {&results.Diff{}, false, ptrTo("CREATE"), ptrTo("NO_CHANGE")},
	})
	if err != nil {
		t.Fatal(err)
	}
	got = f.db.RestoreRunItem.GetX(ctx, a)
	if got.PreviewAction != nil || !got.DiffTruncated || *got.PlannedAction != "UPDATE" || !cmp.Equal(got.PreviewDiff, diff) {
		t.Errorf("item a after preview: %+v %+v", got, got.PreviewDiff)
	}
	got = f.db.RestoreRunItem.GetX(ctx, b)
	if *got.PreviewAction != "CREATE" || got.DiffTruncated || *got.PlannedAction != "NO_CHANGE" {
		t.Errorf("item b after preview: %+v", got)
	}
}

func ptrTo(s string) *string { return &s }
