package apitest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/domain/results"
)

// TestTypedResultsThroughAPI walks a run to PREVIEWED and reads its typed
// results through the API: each carries the numbers the jobs stored, and
// the numbers agree with the run's items.
func TestTypedResultsThroughAPI(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "typed", wizardGen)
	bs := e.backupOf(envRow.ID, "before")
	// One policy changed since the backup: the preview diffs its settings.
	changed := tenant.Objects("deviceConfiguration")[0]
	backedUp, _ := changed["description"].(string)
	changed["description"] = "changed after the backup"
	if _, err := tenant.Put("deviceConfiguration", changed); err != nil {
		t.Fatal(err)
	}
	w := &wizard{e: e, t: t, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL"})
	w.checked()
	w.previewed()

	var d struct {
		RestoreRun struct {
			CheckSummary   results.CheckSummary
			CheckResults   []results.Check
			PreviewSummary results.PreviewSummary
			Counts         results.ItemCounts
			ChecksRun      struct{ Summary results.OperationSummary }
			PreviewRun     struct{ Summary results.OperationSummary }
			Items          struct {
				TotalCount int
				Edges      []struct {
					Node struct{ CheckSeverity string }
				}
			}
			PreviewItems struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						PreviewAction string
						TargetGraphID *string `json:"targetGraphId"`
						PreviewDiff   *results.Diff
					}
				}
			}
		}
	}
	e.post(e.owner, `query($id: ID!) { restoreRun(id: $id) {
		checkSummary { blocking warning safe items }
		checkResults { code severity message technical }
		previewSummary { message items policiesChanged policiesCreated policiesUnchanged previewOnly skipped
			assignmentsChanged scopeTagsChanged failed }
		counts { PENDING APPLYING SUCCEEDED FAILED SKIPPED total }
		checksRun { summary { items blocking warning safe } }
		previewRun { summary { items policiesChanged policiesCreated policiesUnchanged previewOnly skipped
			assignmentsChanged scopeTagsChanged failed } }
		items(first: 500) { totalCount edges { node { checkSeverity } } }
		previewItems(first: 500) { totalCount edges { node { previewAction targetGraphId
			previewDiff { settings { path op before after } assignments { added removed } scopeTags { added removed }
				previewOnlyReason note error } } } } } }`, map[string]any{"id": w.id}).decode(t, &d)
	run := d.RestoreRun

	// The API shows what the jobs stored.
	stored := e.app.DB.Client.RestoreRun.GetX(context.Background(), w.id)
	if diff := cmp.Diff(*stored.CheckSummary, run.CheckSummary); diff != "" {
		t.Errorf("checkSummary (-stored +API):\n%s", diff)
	}
	if diff := cmp.Diff(stored.CheckResults, run.CheckResults); diff != "" {
		t.Errorf("checkResults (-stored +API):\n%s", diff)
	}
	if diff := cmp.Diff(*stored.PreviewSummary, run.PreviewSummary); diff != "" {
		t.Errorf("previewSummary (-stored +API):\n%s", diff)
	}

	// Check summary: every item by its worst severity, plus the run-level results.
	n := run.Items.TotalCount
	if n == 0 || len(run.Items.Edges) != n {
		t.Fatalf("items: total %d, listed %d", n, len(run.Items.Edges))
	}
	want := results.CheckSummary{Items: n}
	for _, ed := range run.Items.Edges {
		want.Add(results.Severity(ed.Node.CheckSeverity))
	}
	for _, r := range run.CheckResults {
		want.Add(r.Severity)
	}
	if diff := cmp.Diff(want, run.CheckSummary); diff != "" {
		t.Errorf("checkSummary against the items (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(run.CheckSummary.Operation(), run.ChecksRun.Summary); diff != "" {
		t.Errorf("checks job summary (-checkSummary +job):\n%s", diff)
	}
	if diff := cmp.Diff(results.ItemCounts{Pending: n, Total: n}, run.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}

	// Preview summary: the items by preview action.
	byAction := map[string]int{}
	for _, ed := range run.PreviewItems.Edges {
		byAction[ed.Node.PreviewAction]++
	}
	wantPreview := results.PreviewSummary{
		Message: run.PreviewSummary.Message, Items: n, Skipped: n - run.PreviewItems.TotalCount,
		PoliciesChanged: byAction["UPDATE"], PoliciesCreated: byAction["CREATE"],
		PoliciesUnchanged: byAction["NO_CHANGE"], PreviewOnly: byAction["PREVIEW_ONLY"],
		// The same tenant: only the one changed policy's settings differ.
		AssignmentsChanged: 0, ScopeTagsChanged: 0, Failed: 0,
	}
	if diff := cmp.Diff(wantPreview, run.PreviewSummary); diff != "" {
		t.Errorf("previewSummary against the items (-want +got):\n%s", diff)
	}
	if run.PreviewSummary.PoliciesChanged != 1 || run.PreviewSummary.PoliciesUnchanged == 0 || run.PreviewSummary.PreviewOnly == 0 ||
		!strings.HasPrefix(run.PreviewSummary.Message, "1 policy will change.") {
		t.Errorf("previewSummary %+v, want the one changed policy", run.PreviewSummary)
	}
	if diff := cmp.Diff(run.PreviewSummary.Operation(), run.PreviewRun.Summary); diff != "" {
		t.Errorf("preview job summary (-previewSummary +job):\n%s", diff)
	}

	// Per-item diffs are typed objects too.
	found := false
	for _, ed := range run.PreviewItems.Edges {
		node := ed.Node
		diff := node.PreviewDiff
		if diff == nil {
			t.Fatalf("a previewed item has no previewDiff: %+v", node)
		}
		switch node.PreviewAction {
		case "UPDATE":
			found = node.TargetGraphID != nil && *node.TargetGraphID == changed["id"]
			wantChange := results.Change{Path: "description", Op: "changed", Before: "changed after the backup", After: backedUp}
			if !slices.ContainsFunc(diff.Settings, func(c results.Change) bool { return cmp.Equal(c, wantChange) }) {
				t.Errorf("changed policy's settings %+v, want %+v", diff.Settings, wantChange)
			}
		case "NO_CHANGE":
			if len(diff.Settings) != 0 || diff.Assignments == nil || len(diff.Assignments.Added)+len(diff.Assignments.Removed) != 0 ||
				diff.ScopeTags == nil || len(diff.ScopeTags.Added)+len(diff.ScopeTags.Removed) != 0 {
				t.Errorf("an unchanged item has differences: %+v", diff)
			}
		case "PREVIEW_ONLY":
			if diff.PreviewOnlyReason == "" {
				t.Errorf("a preview-only item does not say why: %+v", diff)
			}
		}
	}
	if !found {
		t.Error("the changed policy is not previewed as UPDATE")
	}
}

// TestSchemaIDsAndHiddenFields: every id a client sees is an ID, and the
// internal keys are not part of the schema.
func TestSchemaIDsAndHiddenFields(t *testing.T) {
	e := start(t)
	var d struct {
		Schema struct {
			Types []struct {
				Name, Kind string
				Fields     []struct {
					Name string
					Type typeRef
				}
			}
		} `json:"__schema"`
	}
	e.post(e.owner, `{ __schema { types { name kind fields { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`, nil).decode(t, &d)
	fields := map[string]string{} // "Type.field" → named type
	for _, ty := range d.Schema.Types {
		if ty.Kind != "OBJECT" || strings.HasPrefix(ty.Name, "__") {
			continue
		}
		for _, f := range ty.Fields {
			fields[ty.Name+"."+f.Name] = f.Type.named()
		}
	}
	if fields["RestoreRun.id"] != "ID" {
		t.Fatalf("introspection read no RestoreRun.id: %d fields", len(fields))
	}
	// Not ids of objects: a tenant (a GUID or a domain name) and a masked
	// client id.
	notIDs := []string{"Environment.azureTenantId", "Environment.maskedClientId"}
	for name, typ := range fields {
		field := name[strings.Index(name, ".")+1:]
		isID := strings.HasSuffix(field, "Id") || strings.HasSuffix(field, "Ids") || strings.HasSuffix(field, "By") || field == "id"
		if isID && typ != "ID" && !slices.Contains(notIDs, name) {
			t.Errorf("%s is %s, want ID", name, typ)
		}
	}
	for _, name := range []string{"RestoreRun.workspaceId", "RestoreRun.initiatorId", "RestoreRun.confirmedBy", "OperationRun.initiatorId"} {
		if fields[name] != "ID" {
			t.Errorf("%s is %q, want ID", name, fields[name])
		}
	}
	for _, name := range []string{"RestoreRun.idempotencyKey", "RestoreRun.activeExecutionKey", "OperationRun.dedupeKey", "OperationRun.activeKey"} {
		if _, ok := fields[name]; ok {
			t.Errorf("%s is part of the schema; it is internal", name)
		}
	}
	// The typed results are objects, not Maps.
	for name, want := range map[string]string{
		"RestoreRun.checkSummary": "RestoreCheckSummary", "RestoreRun.counts": "RestoreItemCounts",
		"RestoreRunItem.previewDiff": "RestoreDiff", "OperationRun.summary": "OperationRunSummary",
		"BackupSet.countsByType": "PolicyTypeCount",
	} {
		if fields[name] != want {
			t.Errorf("%s is %q, want %s", name, fields[name], want)
		}
	}
}

// typeRef is an introspected type, wrappers (NON_NULL, LIST) included.
type typeRef struct {
	Kind, Name string
	OfType     *typeRef
}

// named is the type inside the wrappers.
func (r typeRef) named() string {
	for r.OfType != nil {
		r = *r.OfType
	}
	return r.Name
}
