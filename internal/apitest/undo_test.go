package apitest

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/identitymapping"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/ptr"
)

// createdRestore is a restore that only created objects: a tenant backed
// up, then a scope tag, a device configuration carrying it and two other
// policies deleted, and those four restored (scope SELECTED).
type createdRestore struct {
	tenant *graphsim.Tenant
	env    *ent.Environment
	run    string
	// created: type key → id of the object the restore created.
	created map[string]string
	names   map[string]string // type key → display name
}

func (e *env) createdRestore(t *testing.T, s *sim, name string) *createdRestore {
	t.Helper()
	ctx := context.Background()
	db := e.app.DB.Client
	tenant, envRow := e.tenantEnv(s, name, wizardGen)
	bs := e.backupOf(envRow.ID, "before")
	user := pick(t, tenant, "deviceConfiguration", func(o map[string]any) bool {
		return slices.ContainsFunc(o["roleScopeTagIds"].([]any), func(v any) bool { return v != "0" })
	})
	var tag string
	for _, v := range user["roleScopeTagIds"].([]any) {
		if v != "0" {
			tag = v.(string)
		}
	}
	gone := map[string]string{"roleScopeTag": tag, "deviceConfiguration": user["id"].(string)}
	for _, typ := range []string{"settingsCatalogPolicy", "deviceHealthScript"} {
		gone[typ] = pick(t, tenant, typ, nil)["id"].(string)
	}
	var itemIDs []string
	for typ, id := range gone {
		itemIDs = append(itemIDs, db.BackupItem.Query().Where(backupitem.BackupSetID(bs), backupitem.PolicyType(typ),
			backupitem.SourceGraphID(id)).OnlyIDX(ctx))
		tenant.Remove(typ, id)
	}
	tenant.ResetWrites()
	w := &wizard{e: e, t: t, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": itemIDs, "createMissing": true})
	if v := w.checked(); v.CheckSummary.Blocking != 0 {
		t.Fatalf("checks block: %+v %v", v.CheckSummary, e.itemCheckCodes(w.id))
	}
	w.previewed()
	w.must("confirmRestoreRun", map[string]any{"runId": w.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": envRow.DisplayName})
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	if v := w.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("restore %s", v.Status)
	}
	c := &createdRestore{tenant: tenant, env: envRow, run: w.id, created: map[string]string{}, names: map[string]string{}}
	for _, it := range e.runItems(w.id) {
		if ptr.Deref((*string)(it.ExecutedAction)) != "CREATED" {
			t.Fatalf("%s %q: %v, want CREATED", it.PolicyType, it.DisplayName, ptr.Deref((*string)(it.ExecutedAction)))
		}
		c.created[it.PolicyType], c.names[it.PolicyType] = *it.TargetGraphID, it.DisplayName
	}
	if len(c.created) != len(gone) {
		t.Fatalf("created %v, want one of each of %v", c.created, gone)
	}
	return c
}

// undoItem is a run item as the undo tests read it.
type undoItem struct {
	PolicyType, DisplayName, Status           string
	PlannedAction, PreviewAction, TargetGraph *string
	ExecutedAction                            *string
	Verified                                  bool
	CheckResults                              []struct{ Code, Severity, Message string }
	PreviewDiff                               *struct{ Note string }
}

func (e *env) undoItems(runID string) map[string]undoItem {
	e.t.Helper()
	var d struct {
		RestoreRun struct {
			Items struct{ Edges []struct{ Node undoItem } }
		}
	}
	e.post(e.owner, `query($id: ID!) { restoreRun(id: $id) { items(first: 500) { edges { node {
		policyType displayName status plannedAction previewAction targetGraph: targetGraphId executedAction verified
		checkResults { code severity message } previewDiff { note } } } } } }`, map[string]any{"id": runID}).decode(e.t, &d)
	out := map[string]undoItem{}
	for _, ed := range d.RestoreRun.Items.Edges {
		out[ed.Node.PolicyType] = ed.Node
	}
	return out
}

// undoDraft asks for the undo of run and returns its wizard.
func (e *env) undoDraft(t *testing.T, run string) *wizard {
	t.Helper()
	var u struct{ UndoRestoreRun struct{ ID, Status string } }
	e.post(e.owner, `mutation($id: ID!) { undoRestoreRun(runId: $id) { id status } }`, map[string]any{"id": run}).decode(t, &u)
	if u.UndoRestoreRun.Status != "DRAFT" {
		t.Fatalf("undo %+v", u)
	}
	return &wizard{e: e, t: t, token: e.owner, id: u.UndoRestoreRun.ID}
}

// deletes lists the successful DELETEs of objects in a write log, as
// type key/id, in order.
func deletes(ws []graphsim.Write) []string {
	var out []string
	for _, w := range ws {
		if w.Method != http.MethodDelete || w.Status >= 300 {
			continue
		}
		for _, t := range intune.Types() {
			if id, ok := strings.CutPrefix(w.Path, t.Path+"/"); ok && !strings.Contains(id, "/") {
				out = append(out, t.Key+"/"+id)
			}
		}
	}
	return out
}

// TestUndoDeletesCreatedObjects: a restore that only created objects (a
// scope tag, a policy carrying it, two other policies) is undone through
// the wizard. One created object was deleted by hand meanwhile. The
// pre-restore set records each created object as absent; the checks warn
// about each deletion, naming the object and the run, and say the one
// already gone needs nothing (SKIP, safe); the preview shows DELETE and
// counts deletions apart; execution deletes the policy before the scope
// tag it carries, verifies each is gone, forgets their identities, and the
// run completes with proof SUCCEEDED. The deleted objects are captured
// into the undo's own pre-restore set.
func TestUndoDeletesCreatedObjects(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.createdRestore(t, s, "undo")
	ctx := context.Background()
	db := e.app.DB.Client

	// The restore's pre-restore set holds the four objects, absent.
	run := db.RestoreRun.GetX(ctx, c.run)
	if run.PreRestoreBackupSetID == nil {
		t.Fatal("a restore that only created has no pre-restore set")
	}
	var set struct {
		BackupSet struct {
			Status    string
			ItemCount int
		} `json:"node"`
		BackupItems struct {
			Edges []struct {
				Node struct {
					PolicyType, SourceGraphID string
					Absent                    bool
				}
			}
		}
	}
	e.post(e.owner, `query($id: ID!) { node(id: $id) { ... on BackupSet { status itemCount } }
		backupItems(backupSetId: $id, first: 50) { edges { node { policyType sourceGraphID: sourceGraphId absent } } } }`,
		map[string]any{"id": *run.PreRestoreBackupSetID}).decode(t, &set)
	gotAbsent := map[string]string{}
	for _, ed := range set.BackupItems.Edges {
		if ed.Node.Absent {
			gotAbsent[ed.Node.PolicyType] = ed.Node.SourceGraphID
		}
	}
	if diff := cmp.Diff(c.created, gotAbsent); diff != "" || set.BackupSet.Status != "READY" || set.BackupSet.ItemCount != len(c.created) {
		t.Fatalf("pre-restore set %s with %d items; absent items (-want +got):\n%s", set.BackupSet.Status, set.BackupSet.ItemCount, diff)
	}

	// Deleted by hand before the undo: nothing to do for it. Changed by
	// hand: the warning says so.
	c.tenant.Remove("deviceHealthScript", c.created["deviceHealthScript"])
	changed, _ := c.tenant.Object("deviceConfiguration", c.created["deviceConfiguration"])
	changed["description"] = "changed by hand after the restore"
	changed["lastModifiedDateTime"] = time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
	if _, err := c.tenant.Put("deviceConfiguration", changed); err != nil {
		t.Fatal(err)
	}
	c.tenant.ResetWrites()

	undo := e.undoDraft(t, c.run)
	undo.must("defineRestoreScope", map[string]any{"runId": undo.id, "mode": "ALL"})
	v := undo.checked()
	if v.CheckSummary.Blocking != 0 || v.CheckSummary.Warning < 3 {
		t.Fatalf("undo checks %+v %v", v.CheckSummary, e.itemCheckCodes(undo.id))
	}
	items := e.undoItems(undo.id)
	for typ, id := range c.created {
		it := items[typ]
		want, code, sev := "DELETE", "WILL_DELETE", "WARNING"
		if typ == "deviceHealthScript" {
			want, code, sev = "SKIP", "ALREADY_DELETED", "SAFE"
		}
		if ptr.Deref(it.PlannedAction) != want || len(it.CheckResults) != 1 || it.CheckResults[0].Code != code || it.CheckResults[0].Severity != sev {
			t.Errorf("%s: planned %v, checks %+v; want %s, %s %s", typ, ptr.Deref(it.PlannedAction), it.CheckResults, want, code, sev)
			continue
		}
		msg := it.CheckResults[0].Message
		if !strings.Contains(msg, id) || !strings.Contains(msg, c.run) || !strings.Contains(msg, c.names[typ]) {
			t.Errorf("%s: check message %q does not name the object (%s %q) and the run %s", typ, msg, id, c.names[typ], c.run)
		}
		if says := strings.Contains(msg, "changed after that run created it"); says != (typ == "deviceConfiguration") {
			t.Errorf("%s: check message %q; changed by hand: %v", typ, msg, typ == "deviceConfiguration")
		}
	}
	v = undo.previewed()
	if p := v.PreviewSummary; p == nil || p.PoliciesCreated+p.PoliciesChanged != 0 || !strings.Contains(p.Message, "3 policies will be deleted") {
		t.Errorf("undo preview %+v", v.PreviewSummary)
	}
	var deleted struct {
		RestoreRun struct{ PreviewSummary struct{ PoliciesDeleted int } }
	}
	e.post(e.owner, `query($id: ID!) { restoreRun(id: $id) { previewSummary { policiesDeleted } } }`, map[string]any{"id": undo.id}).decode(t, &deleted)
	if n := deleted.RestoreRun.PreviewSummary.PoliciesDeleted; n != 3 {
		t.Errorf("preview counts %d deletions, want 3", n)
	}
	items = e.undoItems(undo.id)
	for typ := range c.created {
		it := items[typ]
		if typ == "deviceHealthScript" {
			if it.PreviewAction != nil {
				t.Errorf("gone %s previewed %v", typ, *it.PreviewAction)
			}
			continue
		}
		if ptr.Deref(it.PreviewAction) != "DELETE" || it.PreviewDiff == nil || !strings.HasPrefix(it.PreviewDiff.Note, "will be deleted: ") ||
			!strings.Contains(it.PreviewDiff.Note, c.names[typ]) {
			t.Errorf("%s previewed %v %+v", typ, ptr.Deref(it.PreviewAction), it.PreviewDiff)
		}
	}
	if w := c.tenant.Writes(); len(w) != 0 {
		t.Fatalf("checks and preview wrote %v", w)
	}

	undo.must("confirmRestoreRun", map[string]any{"runId": undo.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": c.env.DisplayName})
	undo.must("executeRestoreRun", map[string]any{"runId": undo.id})
	if v := undo.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("undo %s: %+v", v.Status, e.undoItems(undo.id))
	}
	for typ, id := range c.created {
		if _, ok := c.tenant.Object(typ, id); ok {
			t.Errorf("%s %s still in the tenant", typ, id)
		}
	}
	// The policy before the scope tag it carries; nothing deleted twice,
	// nothing else deleted.
	want := []string{"settingsCatalogPolicy/" + c.created["settingsCatalogPolicy"],
		"deviceConfiguration/" + c.created["deviceConfiguration"], "roleScopeTag/" + c.created["roleScopeTag"]}
	got := deletes(c.tenant.Writes())
	if !slices.Contains(got, want[0]) || len(got) != 3 || got[2] != want[2] {
		t.Errorf("deletes %v, want %v (the scope tag last)", got, want)
	}
	items = e.undoItems(undo.id)
	for typ := range c.created {
		it := items[typ]
		wantStatus, wantAction, wantVerified := "SUCCEEDED", "DELETED", true
		if typ == "deviceHealthScript" {
			wantStatus, wantAction, wantVerified = "SKIPPED", "SKIPPED", false
		}
		if it.Status != wantStatus || ptr.Deref(it.ExecutedAction) != wantAction || it.Verified != wantVerified {
			t.Errorf("%s: %s %v verified=%v, want %s %s verified=%v", typ, it.Status, ptr.Deref(it.ExecutedAction), it.Verified, wantStatus, wantAction, wantVerified)
		}
	}
	for typ, id := range c.created {
		if n := db.IdentityMapping.Query().Where(identitymapping.PolicyType(typ), identitymapping.TargetID(id)).CountX(ctx); n != 0 && typ != "deviceHealthScript" {
			t.Errorf("%s %s still in the identity map", typ, id)
		}
	}
	var proof struct {
		RestoreRun struct {
			Proof struct {
				Outcome          string
				Reasons, Missing []string
			}
		}
	}
	e.post(e.auditor, `query($id: ID!) { restoreRun(id: $id) { proof { outcome reasons missing } } }`, map[string]any{"id": undo.id}).decode(t, &proof)
	if p := proof.RestoreRun.Proof; p.Outcome != "SUCCEEDED" || len(p.Reasons)+len(p.Missing) != 0 {
		t.Errorf("proof %+v", p)
	}
	if op := e.execOpDone(undo.id); op.Outcome != operationrun.OutcomeSUCCEEDED || op.Summary.PoliciesDeleted != 3 {
		t.Errorf("operation %s %+v", op.Outcome, op.Summary)
	}
	// What the undo deleted is in its own pre-restore set: the undo can be
	// undone too.
	ur := db.RestoreRun.GetX(ctx, undo.id)
	if ur.PreRestoreBackupSetID == nil {
		t.Fatal("the undo has no pre-restore set")
	}
	kept := db.BackupItem.Query().Where(backupitem.BackupSetID(*ur.PreRestoreBackupSetID), backupitem.Absent(false)).
		Select(backupitem.FieldPolicyType).StringsX(ctx)
	slices.Sort(kept)
	if diff := cmp.Diff([]string{"deviceConfiguration", "roleScopeTag", "settingsCatalogPolicy"}, kept); diff != "" {
		t.Errorf("the undo's pre-restore set (-want +got):\n%s", diff)
	}
}

// TestUndoDeleteRetriedAfterCrash: a handler died between Graph's DELETE
// and the item's outcome (the object is gone, the item has its write
// marker and no outcome, the lease expired). The next handler finds it
// gone: DELETED and verified, no second DELETE sent, the run completes.
func TestUndoDeleteRetriedAfterCrash(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.createdRestore(t, s, "undocrash")
	ctx := context.Background()
	db := e.app.DB.Client

	undo := e.undoDraft(t, c.run)
	undo.must("defineRestoreScope", map[string]any{"runId": undo.id, "mode": "ALL"})
	undo.checked()
	undo.previewed()
	undo.must("confirmRestoreRun", map[string]any{"runId": undo.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": c.env.DisplayName})
	e.app.StopWorker()
	undo.must("executeRestoreRun", map[string]any{"runId": undo.id})
	// The crashed handler's work: the settings catalog policy was deleted
	// (by a real DELETE to graphsim), then the process died.
	item := db.RestoreRunItem.Query().Where(restorerunitem.RunID(undo.id), restorerunitem.PolicyType("settingsCatalogPolicy")).OnlyX(ctx)
	if ptr.Deref((*string)(item.PlannedAction)) != "DELETE" {
		t.Fatalf("item planned %v", item.PlannedAction)
	}
	typ, _ := intune.Lookup("settingsCatalogPolicy")
	writer, err := e.app.Restore.Writers.Writer(ctx, c.env)
	if err != nil {
		t.Fatal(err)
	}
	id := c.created["settingsCatalogPolicy"]
	if err := intune.Delete(ctx, writer, typ, id); err != nil {
		t.Fatal(err)
	}
	db.RestoreRunItem.UpdateOneID(item.ID).SetStatus(restorerunitem.StatusAPPLYING).SetAttempts(1).SetWriteStartedAt(time.Now()).ExecX(ctx)
	db.RestoreRun.UpdateOneID(undo.id).SetStatus(restorerun.StatusRUNNING).SetStartedAt(time.Now()).
		SetLeaseOwner("dead-worker").SetLeaseExpiresAt(time.Now().Add(-time.Second)).SetLeaseToken(1).ExecX(ctx)
	c.tenant.ResetWrites()

	if err := e.app.StartWorker(); err != nil {
		t.Fatal(err)
	}
	if v := undo.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("undo %s: %+v", v.Status, e.undoItems(undo.id))
	}
	got := db.RestoreRunItem.GetX(ctx, item.ID)
	if got.Status != restorerunitem.StatusSUCCEEDED || ptr.Deref((*string)(got.ExecutedAction)) != "DELETED" || !got.Verified ||
		got.Attempts != 2 || ptr.Deref(got.TargetGraphID) != id {
		t.Errorf("item after the crash %+v", got)
	}
	for _, d := range deletes(c.tenant.Writes()) {
		if d == "settingsCatalogPolicy/"+id {
			t.Errorf("deleted %s again after the crash", id)
		}
	}
	for typ, id := range c.created {
		if _, ok := c.tenant.Object(typ, id); ok {
			t.Errorf("%s %s still in the tenant", typ, id)
		}
	}
}

// TestUndoNeverDeletesWhatTheRunDidNotCreate: absent items that do not
// name an object the undone run created (an existing device configuration
// the run never touched) or name a built-in one (the Default scope tag,
// with a forged creating item) are never deleted: the checks warn and plan
// nothing for them, and when the plan says DELETE anyway (as if the checks
// had erred) the executor refuses them itself; the run's own creations are
// deleted.
func TestUndoNeverDeletesWhatTheRunDidNotCreate(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.createdRestore(t, s, "undosafe")
	ctx := context.Background()
	db := e.app.DB.Client
	run := db.RestoreRun.GetX(ctx, c.run)
	other := pick(t, c.tenant, "deviceConfiguration", func(o map[string]any) bool { return o["id"] != c.created["deviceConfiguration"] })
	foreign := db.BackupItem.Create().SetWorkspaceID(run.WorkspaceID).SetBackupSetID(*run.PreRestoreBackupSetID).
		SetPolicyType("deviceConfiguration").SetSourceGraphID(other["id"].(string)).SetDisplayName(other["displayName"].(string)).
		SetPayload(map[string]any{"@odata.type": other["@odata.type"]}).SetContentHash("").SetAbsent(true).SaveX(ctx)
	builtin := db.BackupItem.Create().SetWorkspaceID(run.WorkspaceID).SetBackupSetID(*run.PreRestoreBackupSetID).
		SetPolicyType("roleScopeTag").SetSourceGraphID("0").SetDisplayName("Default").
		SetPayload(map[string]any{}).SetContentHash("").SetAbsent(true).SaveX(ctx)
	db.RestoreRunItem.Create().SetWorkspaceID(run.WorkspaceID).SetRunID(run.ID).SetBackupItemID(builtin.ID).
		SetPolicyType("roleScopeTag").SetDisplayName("Default").SetPlannedAction(restorerunitem.PlannedActionCREATE).
		SetExecutedAction(restorerunitem.ExecutedActionCREATED).SetStatus(restorerunitem.StatusSUCCEEDED).SetTargetGraphID("0").ExecX(ctx)

	undo := e.undoDraft(t, c.run)
	undo.must("defineRestoreScope", map[string]any{"runId": undo.id, "mode": "ALL"})
	undo.checked()
	judged := map[string]string{}
	for _, it := range db.RestoreRunItem.Query().Where(restorerunitem.RunID(undo.id),
		restorerunitem.BackupItemIDIn(foreign.ID, builtin.ID)).AllX(ctx) {
		codes := []string{ptr.Deref((*string)(it.PlannedAction))}
		for _, r := range it.CheckResults {
			codes = append(codes, r.Code+" "+string(r.Severity))
		}
		judged[it.BackupItemID] = strings.Join(codes, ", ")
	}
	want := map[string]string{foreign.ID: "SKIP, NOT_DELETED WARNING", builtin.ID: "SKIP, BUILT_IN WARNING"}
	if diff := cmp.Diff(want, judged); diff != "" {
		t.Errorf("checks of absent items the run did not create (-want +got):\n%s", diff)
	}
	undo.previewed()
	undo.must("confirmRestoreRun", map[string]any{"runId": undo.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": c.env.DisplayName})
	// As if the checks had planned them: the executor judges again.
	db.RestoreRunItem.Update().Where(restorerunitem.RunID(undo.id), restorerunitem.BackupItemID(foreign.ID)).
		SetPlannedAction(restorerunitem.PlannedActionDELETE).SetTargetGraphID(other["id"].(string)).ExecX(ctx)
	db.RestoreRunItem.Update().Where(restorerunitem.RunID(undo.id), restorerunitem.BackupItemID(builtin.ID)).
		SetPlannedAction(restorerunitem.PlannedActionDELETE).SetTargetGraphID("0").ExecX(ctx)
	c.tenant.ResetWrites()
	undo.must("executeRestoreRun", map[string]any{"runId": undo.id})
	if v := undo.terminal(); v.Status != "PARTIAL" {
		t.Errorf("undo %s, want PARTIAL", v.Status)
	}
	refused := map[string]string{}
	for _, it := range db.RestoreRunItem.Query().Where(restorerunitem.RunID(undo.id),
		restorerunitem.BackupItemIDIn(foreign.ID, builtin.ID)).AllX(ctx) {
		refused[it.BackupItemID] = string(it.Status) + " " + ptr.Deref(it.ErrorCode)
	}
	want = map[string]string{foreign.ID: "FAILED not_deletable", builtin.ID: "FAILED not_deletable"}
	if diff := cmp.Diff(want, refused); diff != "" {
		t.Errorf("executed (-want +got):\n%s", diff)
	}
	if _, ok := c.tenant.Object("deviceConfiguration", other["id"].(string)); !ok {
		t.Error("the device configuration the run did not create was deleted")
	}
	if _, ok := c.tenant.Object("roleScopeTag", "0"); !ok {
		t.Error("the Default scope tag was deleted")
	}
	got := deletes(c.tenant.Writes())
	slices.Sort(got)
	var wantDeleted []string
	for typ, id := range c.created {
		wantDeleted = append(wantDeleted, typ+"/"+id)
	}
	slices.Sort(wantDeleted)
	if diff := cmp.Diff(wantDeleted, got); diff != "" {
		t.Errorf("deletes (-want +got):\n%s", diff)
	}
}
