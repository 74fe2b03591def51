package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph/graphsim"
)

// runView is a restore run as the wizard tests read it.
type runView struct {
	ID, Status, ScopeMode, EnvironmentBadge, TenantLabel string
	DryRun                                               bool
	CheckSummary                                         *struct{ Blocking, Warning, Safe, Items int }
	CheckResults                                         []struct{ Code, Severity string }
	PreviewSummary                                       *struct {
		Message                                       string
		PoliciesChanged, PoliciesCreated, PreviewOnly int
		PoliciesUnchanged, AssignmentsChanged, Items  int
	}
	Readiness struct {
		CanProceedToConfirmation, CanExecute bool
		Guidance                             string
		Gates                                []struct {
			Code      string
			Satisfied bool
			Message   string
		}
	}
}

const runFields = `id status scopeMode environmentBadge tenantLabel dryRun
	checkSummary { blocking warning safe items } checkResults { code severity }
	previewSummary { message policiesChanged policiesCreated previewOnly policiesUnchanged assignmentsChanged items }
	readiness { canProceedToConfirmation canExecute guidance gates { code satisfied message } }`

// open returns the codes of the run's unsatisfied gates.
func (r runView) open() []string {
	var out []string
	for _, g := range r.Readiness.Gates {
		if !g.Satisfied {
			out = append(out, g.Code)
		}
	}
	return out
}

// wizard drives one restore run through the API.
type wizard struct {
	e     *env
	t     testing.TB
	token string
	id    string
}

// call runs a wizard mutation and returns the response.
func (w *wizard) call(mutation, field string, input map[string]any) (*response, runView) {
	w.t.Helper()
	r := w.e.post(w.token, `mutation($input: `+inputType(field)+`!) { `+field+`(input: $input) { `+runFields+` } }`, map[string]any{"input": input})
	var d map[string]json.RawMessage
	var v runView
	if len(r.Errors) == 0 {
		json.Unmarshal(r.Data, &d)
		json.Unmarshal(d[field], &v)
		if v.ID != "" {
			w.id = v.ID
		}
	}
	return r, v
}

func inputType(field string) string {
	return strings.ToUpper(field[:1]) + field[1:] + "Input"
}

// must runs a wizard mutation that must succeed.
func (w *wizard) must(field string, input map[string]any) runView {
	w.t.Helper()
	r, v := w.call("", field, input)
	if len(r.Errors) > 0 {
		w.t.Fatalf("%s: %s", field, r.Raw)
	}
	return v
}

// get reads the run.
func (w *wizard) get() runView {
	w.t.Helper()
	r := w.e.post(w.token, `query($id: ID!) { restoreRun(id: $id) { `+runFields+` } }`, map[string]any{"id": w.id})
	var d struct{ RestoreRun runView }
	r.decode(w.t, &d)
	return d.RestoreRun
}

// waitFor polls the run until its status is want.
func (w *wizard) waitFor(want string) runView {
	w.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v := w.get()
		if v.Status == want {
			return v
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("run still %s, want %s", v.Status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checked runs checks and waits for them.
func (w *wizard) checked() runView {
	w.t.Helper()
	w.must("runRestoreChecks", map[string]any{"runId": w.id})
	return w.waitFor("CHECKED")
}

// previewed generates the preview and waits for it.
func (w *wizard) previewed() runView {
	w.t.Helper()
	w.must("generateRestorePreview", map[string]any{"runId": w.id})
	return w.waitFor("PREVIEWED")
}

// backupOf captures env into a ready backup set and returns its id.
func (e *env) backupOf(envID, name string) string {
	e.t.Helper()
	op := e.mutateOp(e.owner, createBackupSet, map[string]any{"env": envID, "name": name, "all": true, "f": true}, "createBackupSet")
	done := e.waitOp(e.owner, op.ID, 60*time.Second)
	if done.Outcome != "SUCCEEDED" {
		e.t.Fatalf("backup of %s: %+v", envID, done)
	}
	return *done.SubjectID
}

// itemsOf returns backup item ids of a set by type.
func (e *env) itemsOf(bsID string, types ...string) []string {
	e.t.Helper()
	q := e.app.DB.Client.BackupItem.Query().Where(backupitem.BackupSetID(bsID))
	if len(types) > 0 {
		q = q.Where(backupitem.PolicyTypeIn(types...))
	}
	return q.IDsX(context.Background())
}

var wizardGen = graphsim.GenOptions{Seed: 11, Policies: 2 * len(intune.Types()), Groups: 4, ScopeTags: 2, Filters: 2}

// TestWizardHappyPath walks the five steps on the same tenant: every gate
// opens in turn, the preview never writes, and execution is queued once.
func TestWizardHappyPath(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "happy", wizardGen)
	bs := e.backupOf(envRow.ID, "before")
	tenant.ResetWrites()
	w := &wizard{e: e, t: t, token: e.owner}

	v := w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	if v.Status != "DRAFT" || !v.DryRun || v.EnvironmentBadge != "TEST" || v.TenantLabel != envRow.DisplayName || v.Readiness.CanExecute {
		t.Fatalf("new run %+v", v)
	}
	v = w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL"})
	if v.Status != "SCOPED" || !slices.Contains(v.open(), "CHECKS_CURRENT") || v.Readiness.CanProceedToConfirmation {
		t.Fatalf("scoped run %+v", v)
	}
	// The preview needs current checks.
	if r, _ := w.call("", "generateRestorePreview", map[string]any{"runId": w.id}); r.code() != "INVALID_TRANSITION" {
		t.Fatalf("preview before checks: %s", r.Raw)
	}
	v = w.checked()
	if v.CheckSummary == nil || v.CheckSummary.Items == 0 || v.CheckSummary.Blocking != 0 {
		t.Fatalf("checks %+v", v.CheckSummary)
	}
	v = w.previewed()
	if v.PreviewSummary == nil || !strings.HasPrefix(v.PreviewSummary.Message, "No policy changes detected") {
		t.Fatalf("preview %+v", v.PreviewSummary)
	}
	if v.PreviewSummary.PreviewOnly == 0 || v.PreviewSummary.PoliciesUnchanged == 0 {
		t.Errorf("preview summary %+v", v.PreviewSummary)
	}
	if !v.Readiness.CanProceedToConfirmation || v.Readiness.CanExecute || !slices.Contains(v.open(), "DRY_RUN_OFF") ||
		!strings.Contains(v.Readiness.Guidance, "review the preview and confirm") {
		t.Fatalf("previewed readiness %+v", v.Readiness)
	}
	// Spec 011 US1.2: dry run on → execute refused.
	if r, _ := w.call("", "executeRestoreRun", map[string]any{"runId": w.id}); r.code() != "GATE_BLOCKED" || !strings.Contains(r.Raw, "DRY_RUN_OFF") {
		t.Fatalf("execute with dry run: %s", r.Raw)
	}
	// A wrong tenant confirmation is refused.
	r, _ := w.call("", "confirmRestoreRun", map[string]any{"runId": w.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": "Sim happy "})
	if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "tenantConfirmation" {
		t.Fatalf("wrong confirmation: %s", r.Raw)
	}
	r, _ = w.call("", "confirmRestoreRun", map[string]any{"runId": w.id, "dryRun": false, "acknowledged": false, "tenantConfirmation": envRow.DisplayName})
	if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "acknowledged" {
		t.Fatalf("unacknowledged: %s", r.Raw)
	}
	v = w.must("confirmRestoreRun", map[string]any{"runId": w.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": envRow.DisplayName})
	if !v.Readiness.CanExecute {
		t.Fatalf("confirmed readiness %+v", v.Readiness)
	}
	// The operator sees the capability first; and the confirmation is not
	// theirs.
	op := &wizard{e: e, t: t, token: e.operator, id: w.id}
	if ov := op.get(); ov.Readiness.CanExecute || !slices.Equal(ov.open(), []string{"EXECUTE_CAPABILITY", "CONFIRMED_BY_VIEWER"}) ||
		ov.Readiness.Guidance != "Your role cannot execute restores; an owner must." {
		t.Fatalf("operator readiness %+v", ov.Readiness)
	}
	// The auditor reads the run but can neither confirm nor execute.
	aud := &wizard{e: e, t: t, token: e.auditor, id: w.id}
	if av := aud.get(); av.Readiness.CanProceedToConfirmation || !slices.Contains(av.open(), "PREPARE_CAPABILITY") {
		t.Fatalf("auditor readiness %+v", av.Readiness)
	}
	if r, _ := op.call("", "executeRestoreRun", map[string]any{"runId": w.id}); r.code() != "FORBIDDEN" {
		t.Fatalf("operator execute: %s", r.Raw)
	}
	// No worker takes the execution while this test looks at it queued.
	e.app.StopWorker()
	v = w.must("executeRestoreRun", map[string]any{"runId": w.id, "idempotencyKey": "script-run-1"})
	if v.Status != "QUEUED" {
		t.Fatalf("executed run %+v", v)
	}
	// A retried script with the same key gets the same run.
	again := w.must("executeRestoreRun", map[string]any{"runId": w.id, "idempotencyKey": "script-run-1"})
	if again.ID != v.ID || again.Status != "QUEUED" {
		t.Fatalf("retry %+v", again)
	}
	// The execution is handed to Asynq: one restore.execute run, its task
	// waiting in the execution queue.
	var ops struct {
		OperationRuns struct {
			Edges []struct{ Node opRun }
		}
	}
	e.post(e.owner, `query($ws: ID!) { operationRuns(workspaceId: $ws, type: "restore.execute") { edges { node { `+opFields+` } } } }`,
		map[string]any{"ws": e.wsID}).decode(t, &ops)
	if len(ops.OperationRuns.Edges) != 1 || ops.OperationRuns.Edges[0].Node.Status != "QUEUED" || *ops.OperationRuns.Edges[0].Node.SubjectID != w.id {
		t.Fatalf("execution runs %+v", ops.OperationRuns.Edges)
	}
	inspector := asynq.NewInspector(e.app.Redis.Asynq)
	defer inspector.Close()
	task, err := inspector.GetTaskInfo(e.app.Redis.ExecuteQueue(), ops.OperationRuns.Edges[0].Node.ID)
	if err != nil || task.Type != "restore.execute" {
		t.Fatalf("execution task: %v %+v", err, task)
	}
	// Checks and preview never wrote to the tenant.
	if writes := tenant.Writes(); len(writes) != 0 {
		t.Fatalf("checks or preview wrote to the tenant: %+v", writes)
	}
	// Once queued, the wizard's steps are closed.
	if r, _ := w.call("", "defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL"}); r.code() != "INVALID_TRANSITION" {
		t.Fatalf("scope after execute: %s", r.Raw)
	}
	// Cancelling the queued run cancels its execution and removes its task:
	// nothing is left for a worker or the resubmitter to pick up.
	if v := w.must("cancelRestoreRun", map[string]any{"runId": w.id}); v.Status != "CANCELLED" {
		t.Fatalf("cancelled run %+v", v)
	}
	execID := ops.OperationRuns.Edges[0].Node.ID
	if done := e.waitOp(e.owner, execID, 10*time.Second); done.Outcome != "CANCELLED" {
		t.Fatalf("execution run after cancel: %+v", done)
	}
	if _, err := inspector.GetTaskInfo(e.app.Redis.ExecuteQueue(), execID); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Fatalf("the cancelled run's task is still queued: %v", err)
	}
}

// TestWizardResetsAndStaleness: changing the backup set after preview
// resets everything; a scope change after preview makes confirmation
// impossible until a new preview; an empty SELECTED scope is refused.
func TestWizardResetsAndStaleness(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "stale", wizardGen)
	bs1 := e.backupOf(envRow.ID, "one")
	bs2 := e.backupOf(envRow.ID, "two")
	w := &wizard{e: e, t: t, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs1})

	r, _ := w.call("", "defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": []string{}})
	if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "itemIds" {
		t.Fatalf("empty SELECTED: %s", r.Raw)
	}
	r, _ = w.call("", "defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": e.itemsOf(bs2)[:1]})
	if r.code() != "BAD_USER_INPUT" {
		t.Fatalf("item of another set: %s", r.Raw)
	}
	items := e.itemsOf(bs1, "deviceConfiguration", "settingsCatalogPolicy")
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": items})
	w.checked()
	v := w.previewed()
	if !v.Readiness.CanProceedToConfirmation {
		t.Fatalf("previewed: %+v", v.Readiness)
	}
	// A scope change after preview: checks and preview are stale.
	v = w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": items[:1]})
	if v.Status != "SCOPED" || v.Readiness.CanProceedToConfirmation || v.CheckSummary != nil || v.PreviewSummary != nil {
		t.Fatalf("after scope change: %+v", v)
	}
	r, _ = w.call("", "confirmRestoreRun", map[string]any{"runId": w.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": envRow.DisplayName})
	if r.code() != "GATE_BLOCKED" {
		t.Fatalf("confirm with stale results: %s", r.Raw)
	}
	gates, _ := r.Errors[0].Extensions["gates"].([]any)
	if !slices.Contains(gates, any("CHECKS_CURRENT")) || !slices.Contains(gates, any("PREVIEW_CURRENT")) {
		t.Fatalf("gates %v", gates)
	}
	// Spec 011 US1.3: without a current preview, execution is refused too.
	owner := &wizard{e: e, t: t, token: e.owner, id: w.id}
	if r, _ := owner.call("", "executeRestoreRun", map[string]any{"runId": w.id}); r.code() != "GATE_BLOCKED" || !strings.Contains(r.Raw, "PREVIEW_CURRENT") {
		t.Fatalf("execute without a current preview: %s", r.Raw)
	}
	w.checked()
	v = w.previewed()
	if !v.Readiness.CanProceedToConfirmation || v.PreviewSummary.Items != 1 {
		t.Fatalf("new preview: %+v", v)
	}
	// Changing the backup set resets scope, checks, preview and confirmation.
	v = w.must("selectRestoreBackupSet", map[string]any{"runId": w.id, "backupSetId": bs2})
	if v.Status != "DRAFT" || v.ScopeMode != "ALL" || v.CheckSummary != nil || v.PreviewSummary != nil || !v.DryRun {
		t.Fatalf("after backup set change: %+v", v)
	}
	var d struct {
		RestoreRun struct{ Items struct{ TotalCount int } }
	}
	e.post(e.operator, `query($id: ID!) { restoreRun(id: $id) { items { totalCount } } }`, map[string]any{"id": w.id}).decode(t, &d)
	if d.RestoreRun.Items.TotalCount != 0 {
		t.Fatalf("%d items left after the reset", d.RestoreRun.Items.TotalCount)
	}
}

// TestWizardCrossTenantNeedsGroupMapping: a backup from another tenant
// blocks on unmapped groups and passes once they are mapped.
func TestWizardCrossTenantNeedsGroupMapping(t *testing.T) {
	e := start(t)
	s := e.startSim()
	source, srcEnv := e.tenantEnv(s, "source", wizardGen)
	target, dstEnv := e.tenantEnv(s, "target", graphsim.GenOptions{Seed: 99, Groups: 4})
	bs := e.backupOf(srcEnv.ID, "source backup")
	items := e.itemsOf(bs, "deviceConfiguration", "deviceCompliancePolicy")
	w := &wizard{e: e, t: t, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": dstEnv.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": items, "createMissing": true})
	v := w.checked()
	if v.CheckSummary.Blocking == 0 {
		t.Fatalf("cross-tenant without mapping: %+v", v.CheckSummary)
	}
	if slices.Contains(v.open(), "NO_BLOCKING_CHECKS") == false {
		t.Fatalf("gates %v", v.open())
	}
	codes := e.itemCheckCodes(w.id)
	if !codes["GROUP_UNMAPPED"] {
		t.Fatalf("codes %v", codes)
	}
	// Spec 011 US2.1: a blocking check keeps execution refused.
	owner := &wizard{e: e, t: t, token: e.owner, id: w.id}
	if r, _ := owner.call("", "executeRestoreRun", map[string]any{"runId": w.id}); r.code() != "GATE_BLOCKED" || !strings.Contains(r.Raw, "NO_BLOCKING_CHECKS") {
		t.Fatalf("execute with blockers: %s", r.Raw)
	}
	// Map every source group to a target group.
	var mapping []map[string]any
	tg := target.Groups()
	for i, g := range source.Groups() {
		mapping = append(mapping, map[string]any{"sourceId": g["id"], "targetId": tg[i%len(tg)]["id"]})
	}
	v = w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": items, "createMissing": true, "groupMapping": mapping})
	v = w.checked()
	codes = e.itemCheckCodes(w.id)
	if codes["GROUP_UNMAPPED"] || codes["GROUP_ORPHANED"] {
		t.Fatalf("still group blockers after mapping: %v", codes)
	}
	if !codes["TARGET_MISSING"] {
		t.Errorf("objects missing from the target should be reported (created): %v", codes)
	}
}

// itemCheckCodes collects the check codes of a run's items.
func (e *env) itemCheckCodes(runID string) map[string]bool {
	e.t.Helper()
	r := e.post(e.owner, `query($id: ID!) { restoreRun(id: $id) { items(first: 500) { edges { node { checkResults { code severity } } } } } }`, map[string]any{"id": runID})
	var d struct {
		RestoreRun struct {
			Items struct {
				Edges []struct {
					Node struct{ CheckResults []struct{ Code string } }
				}
			}
		}
	}
	r.decode(e.t, &d)
	out := map[string]bool{}
	for _, ed := range d.RestoreRun.Items.Edges {
		for _, c := range ed.Node.CheckResults {
			out[c.Code] = true
		}
	}
	return out
}

// TestWizardPreviewOnlyAndTechnicalBlockers: preview-only items warn and
// never become executable; a target with writes disabled is a technical
// blocker (spec 332) even when every item is fine.
func TestWizardPreviewOnlyAndTechnicalBlockers(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "readonly", wizardGen)
	bs := e.backupOf(envRow.ID, "b")
	e.app.DB.Client.Environment.UpdateOneID(envRow.ID).SetWriteEnabled(false).ExecX(context.Background())
	w := &wizard{e: e, t: t, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": e.itemsOf(bs, "enrollmentConfiguration", "appProtectionPolicy")})
	v := w.checked()
	if !e.itemCheckCodes(w.id)["PREVIEW_ONLY"] {
		t.Fatal("preview-only items are not flagged")
	}
	techBlocked := false
	for _, c := range v.CheckResults {
		if c.Code == "WRITES_DISABLED" && c.Severity == "BLOCKING" {
			techBlocked = true
		}
	}
	if !techBlocked || !slices.Contains(v.open(), "TECHNICALLY_ALLOWED") {
		t.Fatalf("writes disabled is not a technical blocker: %+v %v", v.CheckResults, v.open())
	}
	v = w.previewed()
	if v.PreviewSummary.PreviewOnly != v.PreviewSummary.Items || v.Readiness.CanProceedToConfirmation {
		t.Fatalf("preview %+v readiness %+v", v.PreviewSummary, v.Readiness)
	}
	var d struct {
		RestoreRun struct {
			PreviewItems struct {
				TotalCount int
				Edges      []struct {
					Node struct{ PlannedAction, PreviewAction *string }
				}
			}
		}
	}
	e.post(e.owner, `query($id: ID!) { restoreRun(id: $id) { previewItems(actions: [PREVIEW_ONLY]) { totalCount edges { node { plannedAction previewAction } } } } }`, map[string]any{"id": w.id}).decode(t, &d)
	for _, ed := range d.RestoreRun.PreviewItems.Edges {
		if ed.Node.PlannedAction == nil || *ed.Node.PlannedAction != "SKIP" {
			t.Fatalf("a preview-only item is planned to execute: %+v", ed.Node)
		}
	}
	if d.RestoreRun.PreviewItems.TotalCount == 0 {
		t.Fatal("no preview-only items listed")
	}
}

// TestRestoreFromPolicyVersionAndScopeListing: a run from one policy
// version is prefilled and scoped; scope listing groups and searches.
func TestRestoreFromPolicyVersionAndScopeListing(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "pv", wizardGen)
	bs := e.backupOf(envRow.ID, "all")
	w := &wizard{e: e, t: t, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	r := e.post(e.operator, `query($id: ID!) { restoreScopeItems(runId: $id) { items(first: 2) { totalCount edges { node { id policyType platform } } pageInfo { hasNextPage endCursor } } groups { policyType platform count foundation previewOnly } } }`, map[string]any{"id": w.id})
	var d struct {
		RestoreScopeItems struct {
			Items struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID string } }
				PageInfo   struct{ HasNextPage bool }
			}
			Groups []struct {
				PolicyType              string
				Count                   int
				Foundation, PreviewOnly bool
			}
		}
	}
	r.decode(t, &d)
	sum := 0
	foundFoundation, foundPreviewOnly := false, false
	for _, g := range d.RestoreScopeItems.Groups {
		sum += g.Count
		foundFoundation = foundFoundation || g.Foundation
		foundPreviewOnly = foundPreviewOnly || g.PreviewOnly
	}
	if len(d.RestoreScopeItems.Items.Edges) != 2 || !d.RestoreScopeItems.Items.PageInfo.HasNextPage ||
		sum != d.RestoreScopeItems.Items.TotalCount || !foundFoundation || !foundPreviewOnly {
		t.Fatalf("scope listing %s", r.Raw)
	}
	// From a policy version.
	op := e.mutateOp(e.owner, `mutation($env: ID!) { syncInventory(environmentId: $env) { `+opFields+` } }`, map[string]any{"env": envRow.ID}, "syncInventory")
	e.waitOp(e.owner, op.ID, 60*time.Second)
	var p struct {
		Policies struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.post(e.owner, `query($env: ID!) { policies(environmentId: $env, policyTypes: ["deviceCompliancePolicy"], first: 1) { edges { node { id } } } }`, map[string]any{"env": envRow.ID}).decode(t, &p)
	snap := e.waitOp(e.owner, e.mutateOp(e.owner, `mutation($id: ID!) { capturePolicySnapshot(policyId: $id) { `+opFields+` } }`,
		map[string]any{"id": p.Policies.Edges[0].Node.ID}, "capturePolicySnapshot").ID, 30*time.Second)
	pvID, _ := snap.Context["policyVersionId"].(string)
	v := w.must("createRestoreRunFromPolicyVersion", map[string]any{"policyVersionId": pvID, "environmentId": envRow.ID})
	if v.Status != "SCOPED" || v.ScopeMode != "SELECTED" {
		t.Fatalf("run from version %+v", v)
	}
	v = w.checked()
	if v.CheckSummary.Items != 1 || v.CheckSummary.Blocking != 0 {
		t.Fatalf("checks of the version run %+v", v.CheckSummary)
	}
}

// gateMessage is the message of a gate of v.
func (v runView) gateMessage(code string) string {
	for _, g := range v.Readiness.Gates {
		if g.Code == code {
			return g.Message
		}
	}
	return ""
}

// blocked asserts r is GATE_BLOCKED with gate among extensions.gates.
func blocked(t testing.TB, r *response, gate string) {
	t.Helper()
	if r.code() != "GATE_BLOCKED" {
		t.Fatalf("want GATE_BLOCKED on %s: %s", gate, r.Raw)
	}
	gates, _ := r.Errors[0].Extensions["gates"].([]any)
	if !slices.Contains(gates, any(gate)) {
		t.Fatalf("gates %v, want %s among them", gates, gate)
	}
}

// TestWizardConfirmationIsPersonalAndTargetLive: the member who confirms is
// the one who executes (spec 011 step 5); and the target's state is judged
// when confirming and executing, not only when the checks ran: writes
// turned off, credentials replaced or the environment archived block at
// once, and readiness says so.
func TestWizardConfirmationIsPersonalAndTargetLive(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "live", wizardGen)
	bs := e.backupOf(envRow.ID, "b")
	opw := &wizard{e: e, t: t, token: e.operator}
	opw.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	opw.must("defineRestoreScope", map[string]any{"runId": opw.id, "mode": "SELECTED", "itemIds": e.itemsOf(bs, "deviceConfiguration")})
	opw.checked()
	opw.previewed()
	confirm := map[string]any{"runId": opw.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": envRow.DisplayName}
	opw.must("confirmRestoreRun", confirm)

	// The operator confirmed: the owner may execute only once they confirm
	// themselves.
	owner := &wizard{e: e, t: t, token: e.owner, id: opw.id}
	v := owner.get()
	if v.Readiness.CanExecute || !slices.Equal(v.open(), []string{"CONFIRMED_BY_VIEWER"}) ||
		!strings.Contains(v.Readiness.Guidance, "confirms it themselves") {
		t.Fatalf("owner readiness of the operator's confirmation %+v", v.Readiness)
	}
	r, _ := owner.call("", "executeRestoreRun", map[string]any{"runId": owner.id})
	blocked(t, r, "CONFIRMED_BY_VIEWER")
	if v = owner.must("confirmRestoreRun", confirm); !v.Readiness.CanExecute {
		t.Fatalf("owner readiness after confirming %+v", v.Readiness)
	}

	setWrites := func(on bool) {
		e.post(e.owner, `mutation($id: ID!, $on: Boolean!) { updateEnvironment(input: {environmentId: $id, writeEnabled: $on}) { id } }`,
			map[string]any{"id": envRow.ID, "on": on}).decode(t, &struct{}{})
	}
	// Writes turned off after the checks: blocked at once.
	setWrites(false)
	if v = owner.get(); v.Readiness.CanExecute || v.Readiness.CanProceedToConfirmation ||
		!strings.Contains(v.gateMessage("TECHNICALLY_ALLOWED"), "Writes are disabled") {
		t.Fatalf("readiness with writes off %+v", v.Readiness)
	}
	r, _ = owner.call("", "executeRestoreRun", map[string]any{"runId": owner.id})
	blocked(t, r, "TECHNICALLY_ALLOWED")
	r, _ = owner.call("", "confirmRestoreRun", confirm)
	blocked(t, r, "TECHNICALLY_ALLOWED")
	// And back on: the confirmation given for these checks still holds.
	setWrites(true)
	if v = owner.get(); !v.Readiness.CanExecute {
		t.Fatalf("readiness with writes on again %+v", v.Readiness)
	}

	// Credentials replaced after the checks: what the checks proved is gone.
	e.post(e.owner, `mutation($id: ID!) { rotateEnvironmentCredentials(input: {environmentId: $id, clientId: "sim-client-live", clientSecret: "sim-secret-live"}) { id } }`,
		map[string]any{"id": envRow.ID}).decode(t, &struct{}{})
	if v = owner.get(); v.Readiness.CanExecute || !strings.Contains(v.gateMessage("TECHNICALLY_ALLOWED"), "credentials changed") {
		t.Fatalf("readiness after new credentials %+v", v.Readiness)
	}
	r, _ = owner.call("", "executeRestoreRun", map[string]any{"runId": owner.id})
	blocked(t, r, "TECHNICALLY_ALLOWED")

	// Archived: blocked too.
	e.post(e.owner, `mutation($id: ID!) { archiveEnvironment(environmentId: $id) { id } }`, map[string]any{"id": envRow.ID}).decode(t, &struct{}{})
	if v = owner.get(); v.Readiness.CanExecute || !strings.Contains(v.gateMessage("TECHNICALLY_ALLOWED"), "is archived") {
		t.Fatalf("readiness of an archived target %+v", v.Readiness)
	}
	r, _ = owner.call("", "executeRestoreRun", map[string]any{"runId": owner.id})
	blocked(t, r, "TECHNICALLY_ALLOWED")
	if v = owner.get(); v.Status != "PREVIEWED" {
		t.Fatalf("run %s after refused executions", v.Status)
	}
}

// TestWizardScopeTagMappingChecked: a scope tag mapped to an id the target
// does not have blocks, like an orphaned group mapping; mapped to one it
// has, it passes.
func TestWizardScopeTagMappingChecked(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "tags", wizardGen)
	bs := e.backupOf(envRow.ID, "b")
	// An item with a scope tag other than the built-in Default.
	var itemID, tag string
	for _, b := range e.app.DB.Client.BackupItem.Query().Where(backupitem.BackupSetID(bs), backupitem.Foundation(false)).AllX(context.Background()) {
		for _, id := range b.ScopeTagIds {
			if id != "0" && itemID == "" {
				itemID, tag = b.ID, id
			}
		}
	}
	if itemID == "" {
		t.Fatal("no backed up item has a scope tag")
	}
	w := &wizard{e: e, t: t, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	scope := func(target string) runView {
		w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": []string{itemID},
			"scopeTagMapping": []map[string]any{{"sourceId": tag, "targetId": target}}})
		return w.checked()
	}
	v := scope("no-such-tag")
	if codes := e.itemCheckCodes(w.id); !codes["SCOPE_TAG_ORPHANED"] || v.CheckSummary.Blocking == 0 || !slices.Contains(v.open(), "NO_BLOCKING_CHECKS") {
		t.Fatalf("a mapping to a missing tag: codes %v, summary %+v, open %v", codes, v.CheckSummary, v.open())
	}
	owner := &wizard{e: e, t: t, token: e.owner, id: w.id}
	r, _ := owner.call("", "executeRestoreRun", map[string]any{"runId": w.id})
	blocked(t, r, "NO_BLOCKING_CHECKS")
	v = scope(tag)
	if codes := e.itemCheckCodes(w.id); codes["SCOPE_TAG_ORPHANED"] || codes["SCOPE_TAG_MISSING"] || v.CheckSummary.Blocking != 0 {
		t.Fatalf("a mapping to an existing tag: codes %v, summary %+v", codes, v.CheckSummary)
	}
}
