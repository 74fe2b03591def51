package results_test

import (
	"context"
	"encoding/json"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/internal/testenv"
)

// rows are one row of each table with a typed JSON column, written through
// ent with every typed field set.
type rows struct {
	set  *ent.BackupSet
	run  *ent.RestoreRun
	item *ent.RestoreRunItem
	op   *ent.OperationRun
}

// Values that survive JSON unchanged (numbers inside Microsoft's JSON come
// back as float64, as they do from Graph).
var (
	checkSummary = &results.CheckSummary{Blocking: 1, Warning: 2, Safe: 3, Items: 5}
	checkResults = []results.Check{
		{Code: "WRITES_DISABLED", Severity: results.SeverityBlocking, Message: "Writes are disabled.", Technical: true},
		{Code: "READ_PERMISSION_MISSING", Severity: results.SeverityWarning, Message: "Inventory may be partial."},
	}
	previewSummary = &results.PreviewSummary{Message: "2 policies will change.", Items: 11, PoliciesChanged: 2,
		PoliciesCreated: 1, PoliciesUnchanged: 3, PreviewOnly: 1, Skipped: 1, AssignmentsChanged: 1, ScopeTagsChanged: 1, Failed: 1}
	itemCounts  = &results.ItemCounts{Pending: 1, Applying: 2, Succeeded: 3, Failed: 4, Skipped: 5, Total: 15}
	itemResults = []results.Check{{Code: "TARGET_MISSING", Severity: results.SeverityWarning, Message: "Not in the target: it will be created."}}
	previewDiff = &results.Diff{
		Settings: []results.Change{
			{Path: "passwordMinimumLength", Op: "changed", Before: float64(8), After: float64(12)},
			{Path: "wifi", Op: "added", After: map[string]any{"ssid": "corp", "hidden": true}},
			{Path: "legacy", Op: "removed", Before: []any{"a", "b"}},
		},
		Assignments: &results.AssignmentChanges{
			Added:   []map[string]any{{"target": map[string]any{"groupId": "g2"}}},
			Removed: []map[string]any{},
		},
		ScopeTags:         &results.ScopeTagChanges{Added: []string{"3"}, Removed: []string{"0"}},
		PreviewOnlyReason: "settings catalog templates are preview-only",
	}
	drift     = &results.Diff{Error: "the target object could not be read (graph_not_found)"}
	opSummary = results.OperationSummary{Total: 12, Captured: 10, Failed: 2, Skipped: 1}
	opContext = results.OperationContext{ReasonCodes: []string{"items_failed"}, All: true, IncludeFoundations: true,
		PolicyIDs: []string{"pol_1"}, Failures: []results.Failure{{PolicyType: "deviceConfiguration", GraphID: "g1", Code: "forbidden"}}}
	typeCounts = results.TypeCounts{"deviceConfiguration": 7, "roleScopeTag": 2}
)

func writeRows(t *testing.T, db *store.DB) rows {
	t.Helper()
	ctx := context.Background()
	ws := db.Workspace.Create().SetSlug("acme").SetName("Acme").SaveX(ctx)
	env := db.Environment.Create().SetWorkspaceID(ws.ID).SetDisplayName("Contoso").SetAzureTenantID("contoso.onmicrosoft.com").
		SetKind("PROD").SetGraphBaseURL("https://graph.microsoft.com/beta").SaveX(ctx)
	var r rows
	r.set = db.BackupSet.Create().SetWorkspaceID(ws.ID).SetEnvironmentID(env.ID).SetName("nightly").
		SetCountsByType(typeCounts).SaveX(ctx)
	r.run = db.RestoreRun.Create().SetWorkspaceID(ws.ID).SetEnvironmentID(env.ID).SetBackupSetID(r.set.ID).
		SetEnvironmentBadge("PROD").SetTenantLabel("Contoso").
		SetCheckSummary(checkSummary).SetCheckResults(checkResults).SetPreviewSummary(previewSummary).SetCounts(itemCounts).
		SaveX(ctx)
	r.item = db.RestoreRunItem.Create().SetWorkspaceID(ws.ID).SetRunID(r.run.ID).SetBackupItemID("bki_1").
		SetPolicyType("deviceConfiguration").SetCheckResults(itemResults).SetPreviewDiff(previewDiff).SetDrift(drift).
		SaveX(ctx)
	r.op = db.OperationRun.Create().SetWorkspaceID(ws.ID).SetType("backup_set.capture").SetSummary(opSummary).SetContext(opContext).SaveX(ctx)
	return r
}

// TestTypedFieldsRoundTrip stores every typed JSON field and reads it back
// from the database unchanged.
func TestTypedFieldsRoundTrip(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	r := writeRows(t, db)

	set := db.BackupSet.GetX(ctx, r.set.ID)
	run := db.RestoreRun.GetX(ctx, r.run.ID)
	item := db.RestoreRunItem.GetX(ctx, r.item.ID)
	op := db.OperationRun.GetX(ctx, r.op.ID)
	checks := []struct {
		name      string
		want, got any
	}{
		{"backup set counts by type", typeCounts, set.CountsByType},
		{"run check summary", checkSummary, run.CheckSummary},
		{"run check results", checkResults, run.CheckResults},
		{"run preview summary", previewSummary, run.PreviewSummary},
		{"run counts", itemCounts, run.Counts},
		{"item check results", itemResults, item.CheckResults},
		{"item preview diff", previewDiff, item.PreviewDiff},
		{"item drift", drift, item.Drift},
		{"operation summary", opSummary, op.Summary},
		{"operation context", opContext, op.Context},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s after reload (-want +got):\n%s", c.name, diff)
		}
	}

	// Cleared, the optional ones read back as absent (nil), not as zeros:
	// the API shows "not checked yet" as null.
	db.RestoreRun.UpdateOneID(run.ID).ClearCheckSummary().ClearCheckResults().ClearPreviewSummary().ExecX(ctx)
	db.RestoreRunItem.UpdateOneID(item.ID).ClearPreviewDiff().ExecX(ctx)
	run = db.RestoreRun.GetX(ctx, r.run.ID)
	item = db.RestoreRunItem.GetX(ctx, r.item.ID)
	if run.CheckSummary != nil || run.CheckResults != nil || run.PreviewSummary != nil || item.PreviewDiff != nil {
		t.Errorf("cleared fields read back as %+v, %+v, %+v, %+v; want nil", run.CheckSummary, run.CheckResults, run.PreviewSummary, item.PreviewDiff)
	}
}

// TestStoredKeysUnchanged pins the JSON each column holds to what the untyped
// maps wrote before the types existed, both ways: the types write exactly
// those keys, and rows written by the maps read into the types. A renamed
// JSON tag fails here instead of reading old rows as zeros.
func TestStoredKeysUnchanged(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	r := writeRows(t, db)

	tests := []struct {
		table, column, id string
		legacy            string // as the maps stored it
		reload            func() any
		want              any
	}{
		{"backup_sets", "counts_by_type", r.set.ID, `{"deviceConfiguration": 7, "roleScopeTag": 2}`,
			func() any { return db.BackupSet.GetX(ctx, r.set.ID).CountsByType }, typeCounts},
		{"restore_runs", "check_summary", r.run.ID, `{"blocking": 1, "warning": 2, "safe": 3, "items": 5}`,
			func() any { return db.RestoreRun.GetX(ctx, r.run.ID).CheckSummary }, checkSummary},
		{"restore_runs", "check_results", r.run.ID,
			`[{"code": "WRITES_DISABLED", "severity": "BLOCKING", "message": "Writes are disabled.", "technical": true},
			  {"code": "READ_PERMISSION_MISSING", "severity": "WARNING", "message": "Inventory may be partial."}]`,
			func() any { return db.RestoreRun.GetX(ctx, r.run.ID).CheckResults }, checkResults},
		{"restore_runs", "preview_summary", r.run.ID,
			`{"message": "2 policies will change.", "items": 11, "policiesChanged": 2, "policiesCreated": 1, "policiesUnchanged": 3,
			  "previewOnly": 1, "skipped": 1, "assignmentsChanged": 1, "scopeTagsChanged": 1, "failed": 1}`,
			func() any { return db.RestoreRun.GetX(ctx, r.run.ID).PreviewSummary }, previewSummary},
		{"restore_runs", "counts", r.run.ID, `{"PENDING": 1, "APPLYING": 2, "SUCCEEDED": 3, "FAILED": 4, "SKIPPED": 5, "total": 15}`,
			func() any { return db.RestoreRun.GetX(ctx, r.run.ID).Counts }, itemCounts},
		{"restore_run_items", "check_results", r.item.ID,
			`[{"code": "TARGET_MISSING", "severity": "WARNING", "message": "Not in the target: it will be created."}]`,
			func() any { return db.RestoreRunItem.GetX(ctx, r.item.ID).CheckResults }, itemResults},
		{"restore_run_items", "preview_diff", r.item.ID,
			`{"settings": [{"path": "passwordMinimumLength", "op": "changed", "before": 8, "after": 12},
			               {"path": "wifi", "op": "added", "after": {"ssid": "corp", "hidden": true}},
			               {"path": "legacy", "op": "removed", "before": ["a", "b"]}],
			  "assignments": {"added": [{"target": {"groupId": "g2"}}], "removed": []},
			  "scopeTags": {"added": ["3"], "removed": ["0"]},
			  "previewOnlyReason": "settings catalog templates are preview-only"}`,
			func() any { return db.RestoreRunItem.GetX(ctx, r.item.ID).PreviewDiff }, previewDiff},
		{"restore_run_items", "drift", r.item.ID, `{"error": "the target object could not be read (graph_not_found)"}`,
			func() any { return db.RestoreRunItem.GetX(ctx, r.item.ID).Drift }, drift},
		{"operation_runs", "summary", r.op.ID, `{"total": 12, "captured": 10, "failed": 2, "skipped": 1}`,
			func() any { return db.OperationRun.GetX(ctx, r.op.ID).Summary }, opSummary},
		{"operation_runs", "context", r.op.ID,
			`{"reasonCodes": ["items_failed"], "all": true, "includeFoundations": true, "policyIds": ["pol_1"],
			  "failures": [{"policyType": "deviceConfiguration", "graphId": "g1", "code": "forbidden"}]}`,
			func() any { return db.OperationRun.GetX(ctx, r.op.ID).Context }, opContext},
	}
	for _, tt := range tests {
		t.Run(tt.table+"."+tt.column, func(t *testing.T) {
			// The types write the legacy keys (compared as JSON values:
			// PostgreSQL's jsonb reorders keys).
			var raw string
			q := "SELECT " + tt.column + " FROM " + tt.table + " WHERE id = " + placeholder(db)
			if err := db.SQL.QueryRowContext(ctx, q, tt.id).Scan(&raw); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if diff := cmp.Diff(decode(t, tt.legacy), decode(t, raw)); diff != "" {
				t.Errorf("stored JSON (-legacy +typed):\n%s", diff)
			}
			// Rows the maps wrote read into the types.
			u := "UPDATE " + tt.table + " SET " + tt.column + " = " + placeholder(db) + " WHERE id = " + placeholder2(db)
			if _, err := db.SQL.ExecContext(ctx, u, tt.legacy, tt.id); err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			if diff := cmp.Diff(tt.want, tt.reload()); diff != "" {
				t.Errorf("legacy row read (-want +got):\n%s", diff)
			}
		})
	}
}

func placeholder(db *store.DB) string {
	if db.Dialect == dialect.Postgres {
		return "$1"
	}
	return "?"
}

func placeholder2(db *store.DB) string {
	if db.Dialect == dialect.Postgres {
		return "$2"
	}
	return "?"
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}
