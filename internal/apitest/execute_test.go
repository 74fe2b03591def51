package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/auditlog"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/identitymapping"
	"github.com/restored/restored/ent/notification"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunevent"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/restore"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/ptr"
)

// executed walks a run of backup set bs into envID through the wizard
// (scope ALL, creating what is missing) and executes it.
func (e *env) executed(envID, bs string) *wizard {
	e.t.Helper()
	w := e.confirmed(envID, bs)
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	return w
}

// confirmed walks a run of backup set bs into envID through the wizard up
// to its confirmation.
func (e *env) confirmed(envID, bs string) *wizard {
	e.t.Helper()
	w := &wizard{e: e, t: e.t, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": envID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL", "createMissing": true})
	if v := w.checked(); v.CheckSummary.Blocking != 0 {
		e.t.Fatalf("checks block: %+v %v", v.CheckSummary, e.itemCheckCodes(w.id))
	}
	w.previewed()
	envName := e.app.DB.Client.Environment.GetX(context.Background(), envID).DisplayName
	w.must("confirmRestoreRun", map[string]any{"runId": w.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": envName})
	return w
}

// terminal waits until the run has ended and returns it.
func (w *wizard) terminal() runView {
	w.t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		v := w.get()
		switch v.Status {
		case "COMPLETED", "PARTIAL", "FAILED", "CANCELLED":
			return v
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("run still %s", v.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// execOp is the run's restore.execute operation run.
func (e *env) execOp(runID string) *ent.OperationRun {
	e.t.Helper()
	return e.app.DB.Client.OperationRun.Query().
		Where(operationrun.SubjectID(runID), operationrun.Type(operations.TypeRestoreExecute)).OnlyX(context.Background())
}

// execOpDone waits for the run's restore.execute operation run to complete
// (it completes just after the restore run ends) and returns it.
func (e *env) execOpDone(runID string) *ent.OperationRun {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		op := e.execOp(runID)
		if op.Status == operationrun.StatusCOMPLETED {
			return op
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("operation %s still %s", op.ID, op.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runItems are a run's items.
func (e *env) runItems(runID string) []*ent.RestoreRunItem {
	return e.app.DB.Client.RestoreRunItem.Query().Where(restorerunitem.RunID(runID)).AllX(context.Background())
}

// creates lists the POSTs to collections (object creations) of a write log.
func creates(ws []graphsim.Write) []string {
	var out []string
	for _, w := range ws {
		if w.Method != http.MethodPost || w.Status >= 300 {
			continue
		}
		for _, t := range intune.Types() {
			if w.Path == t.Path {
				out = append(out, w.Path)
			}
		}
	}
	return out
}

// duplicateNames lists names held by more than one object of a type.
func duplicateNames(tenant *graphsim.Tenant) []string {
	var out []string
	for _, t := range intune.Types() {
		seen := map[string]int{}
		for _, o := range tenant.Objects(t.Key) {
			n, _ := o[t.Name()].(string)
			seen[t.Key+"/"+n]++
		}
		for k, n := range seen {
			if n > 1 {
				out = append(out, k)
			}
		}
	}
	return out
}

// pick returns the first object of typ in tenant for which ok holds.
func pick(t *testing.T, tenant *graphsim.Tenant, typ string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	for _, o := range tenant.Objects(typ) {
		if ok == nil || ok(o) {
			return o
		}
	}
	t.Fatalf("no %s object to use", typ)
	return nil
}

// changedTenant is a tenant backed up and then changed the way a restore
// must repair: objects deleted (among them a scope tag a changed policy
// refers to, and objects whose relations and assignments are written
// after them), objects whose settings changed.
type changedTenant struct {
	tenant   *graphsim.Tenant
	env      *ent.Environment
	bs       string
	deleted  map[string]string // type/name of each deleted object
	changed  map[string]string // type key/id of each changed object
	tagUser  string            // id of the changed policy referring to the deleted tag
	deadTag  string            // the deleted tag's id
	preNotes map[string]string // id → the description the target had before the restore
}

func (e *env) changedTenant(t *testing.T, s *sim, name string) *changedTenant {
	t.Helper()
	tenant, envRow := e.tenantEnv(s, name, wizardGen)
	c := &changedTenant{tenant: tenant, env: envRow, deleted: map[string]string{}, changed: map[string]string{}, preNotes: map[string]string{}}
	c.bs = e.backupOf(envRow.ID, "before")
	// A policy refers to a scope tag that is then deleted: the restore
	// recreates the tag and writes its new id into the policy.
	user := pick(t, tenant, "deviceConfiguration", func(o map[string]any) bool {
		for _, tag := range o["roleScopeTagIds"].([]any) {
			if tag != "0" {
				return true
			}
		}
		return false
	})
	for _, tag := range user["roleScopeTagIds"].([]any) {
		if tag != "0" {
			c.deadTag = tag.(string)
			break
		}
	}
	tagObj, _ := tenant.Object("roleScopeTag", c.deadTag)
	c.tagUser = user["id"].(string)
	for _, typ := range []string{"settingsCatalogPolicy", "groupPolicyConfiguration", "notificationMessageTemplate",
		"autopilotDeploymentProfile", "deviceCompliancePolicy"} {
		o := pick(t, tenant, typ, nil)
		tt, _ := intune.Lookup(typ)
		c.deleted[typ+"/"+o[tt.Name()].(string)] = o["id"].(string)
		tenant.Remove(typ, o["id"].(string))
	}
	// Every other object referring to the deleted tag would fail its
	// checks; only the changed policy keeps it.
	c.deleted["roleScopeTag/"+tagObj["displayName"].(string)] = c.deadTag
	tenant.Remove("roleScopeTag", c.deadTag)
	for _, typ := range []string{"deviceConfiguration", "settingsCatalogPolicy", "deviceHealthScript"} {
		o := pick(t, tenant, typ, func(o map[string]any) bool {
			if typ == "deviceConfiguration" {
				return o["id"] == c.tagUser
			}
			tt, _ := intune.Lookup(typ)
			_, gone := c.deleted[typ+"/"+o[tt.Name()].(string)]
			return !gone
		})
		note := "changed in the target after the backup"
		o["description"] = note
		if _, err := tenant.Put(typ, o); err != nil {
			t.Fatal(err)
		}
		c.changed[typ] = o["id"].(string)
		c.preNotes[o["id"].(string)] = note
	}
	tenant.ResetWrites()
	return c
}

// TestExecuteCreatesUpdatesAndVerifies: a tenant backed up, then changed
// (objects deleted, among them a scope tag, a settings catalog policy, an
// administrative template, a notification template, an Autopilot profile
// and a compliance policy; others edited), is restored from its backup
// through the wizard and a real worker, over HTTPS against graphsim. Every
// item ends with a persisted, verified outcome; deleted objects are back
// (once each), edited ones are as in the backup, the changed policy refers
// to the recreated tag's new id, identity rows exist, the overwritten state
// is in a pre-restore backup set, the run's log has an ITEM event per item,
// start and finish are audited and the initiator is notified with a body.
// A second execution of the same restore then creates nothing, and the
// first run can be undone through a new draft on the pre-restore set.
func TestExecuteCreatesUpdatesAndVerifies(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.changedTenant(t, s, "exec")
	ctx := context.Background()
	db := e.app.DB.Client

	w := e.executed(c.env.ID, c.bs)
	v := w.terminal()
	items := e.runItems(w.id)
	var failures []string
	byAction := map[string]int{}
	for _, it := range items {
		if it.Status == restorerunitem.StatusFAILED || it.Status == restorerunitem.StatusPENDING || it.Status == restorerunitem.StatusAPPLYING {
			failures = append(failures, fmt.Sprintf("%s %q: %s %s %s", it.PolicyType, it.DisplayName, it.Status, ptr.Deref(it.ErrorCode), ptr.Deref(it.ErrorMessage)))
		}
		if it.Status == restorerunitem.StatusSUCCEEDED && !it.Verified {
			failures = append(failures, fmt.Sprintf("%s %q unverified: %+v", it.PolicyType, it.DisplayName, it.Drift))
		}
		if it.ExecutedAction != nil {
			byAction[string(*it.ExecutedAction)]++
		}
	}
	if v.Status != "COMPLETED" || len(failures) > 0 {
		t.Fatalf("run %s, item problems:\n%s", v.Status, strings.Join(failures, "\n"))
	}
	// Objects referring to a recreated foundation may be updated too (to
	// its new id): at least the edited ones are.
	if byAction["CREATED"] != len(c.deleted) || byAction["UPDATED"] < len(c.changed) || byAction["UNCHANGED"] == 0 || byAction["SKIPPED"] == 0 {
		t.Fatalf("executed actions %v, want %d created, %d updated, unchanged and skipped ones", byAction, len(c.deleted), len(c.changed))
	}
	for _, it := range items {
		for _, id := range c.changed {
			if ptr.Deref(it.TargetGraphID) == id && ptr.Deref((*string)(it.ExecutedAction)) != "UPDATED" {
				t.Errorf("edited %s %q: %v", it.PolicyType, it.DisplayName, ptr.Deref((*string)(it.ExecutedAction)))
			}
		}
	}
	// Deleted objects are back, once each; nothing else was created.
	if got := creates(c.tenant.Writes()); len(got) != len(c.deleted) {
		t.Errorf("creations %v, want %d", got, len(c.deleted))
	}
	if d := duplicateNames(c.tenant); len(d) > 0 {
		t.Errorf("duplicates in the tenant: %v", d)
	}
	var newTag string
	for key := range c.deleted {
		typ, name, _ := strings.Cut(key, "/")
		tt, _ := intune.Lookup(typ)
		var found []string
		for _, o := range c.tenant.Objects(typ) {
			if o[tt.Name()] == name {
				found = append(found, o["id"].(string))
			}
		}
		if len(found) != 1 {
			t.Errorf("%s %q in the target %d times", typ, name, len(found))
			continue
		}
		if typ == "roleScopeTag" {
			newTag = found[0]
		}
	}
	// Edited objects are as in the backup; the tag's user has the new tag.
	for typ, id := range c.changed {
		o, _ := c.tenant.Object(typ, id)
		if o["description"] == c.preNotes[id] {
			t.Errorf("%s %s still has the target's edit", typ, id)
		}
	}
	user, _ := c.tenant.Object("deviceConfiguration", c.tagUser)
	if tags := user["roleScopeTagIds"].([]any); !slices.Contains(tags, any(newTag)) || slices.Contains(tags, any(c.deadTag)) {
		t.Errorf("the changed policy's tags %v, want the recreated tag %s instead of %s", tags, newTag, c.deadTag)
	}
	// Relations written after creation came back whole (verified above);
	// the recreated administrative template has its definition values.
	for key := range c.deleted {
		if typ, name, _ := strings.Cut(key, "/"); typ == "groupPolicyConfiguration" {
			for _, o := range c.tenant.Objects(typ) {
				if o["displayName"] == name {
					full, _ := c.tenant.Object(typ, o["id"].(string))
					if len(full["definitionValues"].([]any)) == 0 {
						t.Errorf("recreated administrative template without definition values: %v", full)
					}
				}
			}
		}
	}

	// Identity: every written or unchanged object is remembered.
	succeeded := 0
	for _, it := range items {
		if it.Status == restorerunitem.StatusSUCCEEDED || (it.ExecutedAction != nil && *it.ExecutedAction == restorerunitem.ExecutedActionUNCHANGED) {
			succeeded++
		}
	}
	if n := db.IdentityMapping.Query().Where(identitymapping.RunID(w.id)).CountX(ctx); n != succeeded {
		t.Errorf("identity rows %d, want %d", n, succeeded)
	}
	run := db.RestoreRun.GetX(ctx, w.id)
	if run.StartedAt == nil || run.FinishedAt == nil || run.ActiveExecutionKey != nil || run.LeaseOwner != nil ||
		run.Counts == nil || run.Counts.Total != len(items) || run.Counts.Failed != 0 {
		t.Errorf("run row %+v", run)
	}
	// What the restore overwrote is in the pre-restore set, and what it
	// created is there as absent.
	if run.PreRestoreBackupSetID == nil {
		t.Fatal("no pre-restore backup set")
	}
	pre := db.BackupSet.GetX(ctx, *run.PreRestoreBackupSetID)
	preItems := db.BackupItem.Query().Where(backupitem.BackupSetID(pre.ID), backupitem.Absent(false)).AllX(ctx)
	created := map[string]bool{}
	for _, it := range items {
		if it.ExecutedAction != nil && *it.ExecutedAction == restorerunitem.ExecutedActionCREATED {
			created[it.PolicyType+"/"+*it.TargetGraphID] = true
		}
	}
	absent := map[string]bool{}
	for _, b := range db.BackupItem.Query().Where(backupitem.BackupSetID(pre.ID), backupitem.Absent(true)).AllX(ctx) {
		absent[b.PolicyType+"/"+b.SourceGraphID] = true
	}
	if pre.Origin != backupset.OriginPRE_RESTORE || pre.Status != backupset.StatusREADY || len(preItems) != byAction["UPDATED"] ||
		pre.EnvironmentID != c.env.ID || pre.ItemCount != len(preItems)+len(absent) {
		t.Fatalf("pre-restore set %+v with %d items, want one per updated item (%d)", pre, len(preItems), byAction["UPDATED"])
	}
	if diff := cmp.Diff(created, absent); diff != "" {
		t.Fatalf("absent items of the pre-restore set, want one per created object (-want +got):\n%s", diff)
	}
	for _, id := range c.changed {
		i := slices.IndexFunc(preItems, func(b *ent.BackupItem) bool { return b.SourceGraphID == id })
		if i < 0 || preItems[i].Payload["description"] != c.preNotes[id] {
			t.Errorf("pre-restore set lacks %s as the target had it before the restore", id)
		}
	}
	// The run's log: one ITEM event per item, the last with every item
	// counted; start and finish audited.
	evs := db.RestoreRunEvent.Query().Where(restorerunevent.RunID(w.id), restorerunevent.Kind(restore.EventItem)).
		Order(ent.Asc(restorerunevent.FieldSequence)).AllX(ctx)
	if len(evs) != len(items) || evs[len(evs)-1].Counts == nil || evs[len(evs)-1].Counts.Total != len(items) ||
		evs[len(evs)-1].Counts.Pending+evs[len(evs)-1].Counts.Applying != 0 {
		t.Errorf("%d ITEM events for %d items; last %+v", len(evs), len(items), evs[len(evs)-1])
	}
	for _, action := range []string{"restore_run.execute.started", "restore_run.execute.finished"} {
		if n := db.AuditLog.Query().Where(auditlog.ObjectID(w.id), auditlog.Action(action)).CountX(ctx); n != 1 {
			t.Errorf("%d %s audit entries, want 1", n, action)
		}
	}
	op := e.execOpDone(w.id)
	if op.Outcome != operationrun.OutcomeSUCCEEDED || op.Summary.Items != len(items) || op.Summary.PoliciesCreated != len(c.deleted) {
		t.Errorf("operation %s %+v", op.Outcome, op.Summary)
	}
	// The run's proof, as the API shows it: the whole bundle.
	var proof struct {
		RestoreRun struct {
			Proof struct {
				Outcome          string
				Reasons, Missing []string
			}
		}
	}
	e.post(e.auditor, `query($id: ID!) { restoreRun(id: $id) { proof { outcome reasons missing } } }`, map[string]any{"id": w.id}).decode(t, &proof)
	if p := proof.RestoreRun.Proof; p.Outcome != "SUCCEEDED" || len(p.Reasons)+len(p.Missing) != 0 {
		t.Errorf("proof %+v", p)
	}
	note := db.Notification.Query().Where(notification.SubjectID(op.ID), notification.Kind(operations.NotifyCompleted)).OnlyX(ctx)
	if note.Title != "Restore succeeded" || !strings.Contains(note.Body, "created") {
		t.Errorf("notification %q: %q", note.Title, note.Body)
	}

	// The same restore again creates nothing.
	c.tenant.ResetWrites()
	again := e.executed(c.env.ID, c.bs)
	if v := again.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("second execution %s", v.Status)
	}
	if got := creates(c.tenant.Writes()); len(got) != 0 {
		t.Errorf("the second execution created %v", got)
	}
	for _, it := range e.runItems(again.id) {
		if it.ExecutedAction != nil && *it.ExecutedAction == restorerunitem.ExecutedActionCREATED {
			t.Errorf("second execution created %s %q", it.PolicyType, it.DisplayName)
		}
	}
	if d := duplicateNames(c.tenant); len(d) > 0 {
		t.Errorf("duplicates after the second execution: %v", d)
	}

	// Undo: a draft on the pre-restore set, into the same environment.
	var u struct {
		UndoRestoreRun struct {
			ID, Status, BackupSetID, EnvironmentID string
			UndoOfRunID                            *string
		}
	}
	e.post(e.owner, `mutation($id: ID!) { undoRestoreRun(runId: $id) { id status backupSetId environmentId undoOfRunId } }`,
		map[string]any{"id": w.id}).decode(t, &u)
	want := struct {
		Status, BackupSetID, EnvironmentID string
		UndoOfRunID                        *string
	}{"DRAFT", pre.ID, c.env.ID, &w.id}
	got := struct {
		Status, BackupSetID, EnvironmentID string
		UndoOfRunID                        *string
	}{u.UndoRestoreRun.Status, u.UndoRestoreRun.BackupSetID, u.UndoRestoreRun.EnvironmentID, u.UndoRestoreRun.UndoOfRunID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("undo run (-want +got):\n%s", diff)
	}
	// Walked through the wizard, it puts the target's edits back and
	// deletes what the restore created.
	undo := &wizard{e: e, t: t, token: e.owner, id: u.UndoRestoreRun.ID}
	// The changed policy's captured state names the tag deleted before the
	// restore. Mapped to the recreated one, which the undo deletes, it
	// blocks; mapped to Default, it does not.
	undo.must("defineRestoreScope", map[string]any{"runId": undo.id, "mode": "ALL",
		"scopeTagMapping": []map[string]any{{"sourceId": c.deadTag, "targetId": newTag}}})
	if v := undo.checked(); v.CheckSummary.Blocking == 0 || !e.itemCheckCodes(undo.id)["REFERENCE_DELETED"] {
		t.Errorf("a reference to a tag the undo deletes: %+v %v", v.CheckSummary, e.itemCheckCodes(undo.id))
	}
	undo.must("defineRestoreScope", map[string]any{"runId": undo.id, "mode": "ALL",
		"scopeTagMapping": []map[string]any{{"sourceId": c.deadTag, "targetId": "0"}}})
	if v := undo.checked(); v.CheckSummary.Blocking != 0 {
		t.Fatalf("undo checks block: %+v %v", v.CheckSummary, e.itemCheckCodes(undo.id))
	}
	if v := undo.previewed(); v.PreviewSummary == nil || !strings.Contains(v.PreviewSummary.Message, fmt.Sprintf("%d policies will be deleted", len(created))) {
		t.Errorf("undo preview %+v", v.PreviewSummary)
	}
	undo.must("confirmRestoreRun", map[string]any{"runId": undo.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": c.env.DisplayName})
	undo.must("executeRestoreRun", map[string]any{"runId": undo.id})
	if v := undo.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("undo %s", v.Status)
	}
	for typ, id := range c.changed {
		o, _ := c.tenant.Object(typ, id)
		if o["description"] != c.preNotes[id] {
			t.Errorf("after undo %s %s has %v, want the target's edit back", typ, id, o["description"])
		}
	}
	for k := range created {
		typ, id, _ := strings.Cut(k, "/")
		if _, ok := c.tenant.Object(typ, id); ok {
			t.Errorf("after undo the created %s %s is still in the tenant", typ, id)
		}
	}
}

// TestExecutePartialFailure: Graph refuses the writes of some objects; the
// run ends PARTIAL, those items FAILED with Graph's safe code and a message
// without any secret, token or payload, the others SUCCEEDED. A websocket
// subscriber sees every item's outcome live, in sequence, with the counts
// so far and the total, then the finish.
func TestExecutePartialFailure(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.changedTenant(t, s, "partial")
	refused := c.changed["deviceHealthScript"]
	c.tenant.SetFaults(graphsim.Faults{FailWrite: func(method, path string, body map[string]any) int {
		if strings.Contains(path, refused) {
			return http.StatusBadRequest
		}
		return 0
	}})
	w := e.confirmed(c.env.ID, c.bs)
	// A live subscriber follows the execution item by item.
	ws := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.auditor})
	if m := ws.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	seq := e.app.DB.Client.RestoreRun.GetX(context.Background(), w.id).EventSequence
	ws.subscribe("ev", itemEventsSub, map[string]any{"id": w.id, "after": seq})
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	var itemEvents []itemEvent
	for {
		m := nextFor(t, ws, "ev")
		var p struct {
			Data struct{ RestoreRunEvents itemEvent }
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatal(err)
		}
		ev := p.Data.RestoreRunEvents
		if ev.Sequence != seq+1 {
			t.Fatalf("event %d after %d", ev.Sequence, seq)
		}
		seq = ev.Sequence
		if ev.Kind == "ITEM" {
			itemEvents = append(itemEvents, ev)
		}
		if ev.Action == "restore_run.execute.finished" {
			if ev.Status != "PARTIAL" {
				t.Errorf("finish event %+v", ev)
			}
			break
		}
	}
	if v := w.terminal(); v.Status != "PARTIAL" {
		t.Fatalf("run %s, want PARTIAL", v.Status)
	}
	total := len(e.runItems(w.id))
	if len(itemEvents) != total {
		t.Fatalf("%d ITEM events for %d items", len(itemEvents), total)
	}
	failedEvents := 0
	for i, ev := range itemEvents {
		if ev.Item == nil || ev.Counts == nil || ev.Counts.Total != total ||
			ev.Counts.SUCCEEDED+ev.Counts.FAILED+ev.Counts.SKIPPED != i+1 ||
			!slices.Contains([]string{"SUCCEEDED", "FAILED", "SKIPPED"}, ev.Item.Status) {
			t.Fatalf("ITEM event %d: %+v item %+v counts %+v", i, ev, ev.Item, ev.Counts)
		}
		if ev.Item.Status == "FAILED" {
			failedEvents++
			if ev.Item.ErrorCode == nil || *ev.Item.ErrorCode != "BadRequest" {
				t.Errorf("failed item event %+v", ev.Item)
			}
		}
	}
	if failedEvents != 1 {
		t.Errorf("%d FAILED item events, want 1", failedEvents)
	}
	var failedItems []*ent.RestoreRunItem
	succeeded := 0
	for _, it := range e.runItems(w.id) {
		switch it.Status {
		case restorerunitem.StatusFAILED:
			failedItems = append(failedItems, it)
		case restorerunitem.StatusSUCCEEDED:
			succeeded++
		}
	}
	if len(failedItems) != 1 || succeeded == 0 {
		t.Fatalf("%d failed, %d succeeded", len(failedItems), succeeded)
	}
	f := failedItems[0]
	if ptr.Deref(f.TargetGraphID) != refused || ptr.Deref(f.ErrorCode) != "BadRequest" || f.Attempts != 1 || f.FinishedAt == nil {
		t.Errorf("failed item %+v", f)
	}
	op := e.execOpDone(w.id)
	if op.Outcome != operationrun.OutcomePARTIALLY_SUCCEEDED || op.Summary.Failed != 1 || len(op.Context.Failures) != 1 ||
		op.Context.Failures[0].Code != "BadRequest" {
		t.Errorf("operation %s %+v %+v", op.Outcome, op.Summary, op.Context)
	}
	// Nothing stored says more than it may.
	stored := ptr.Deref(f.ErrorMessage) + ptr.Deref(op.ErrorMessage) + e.logs.String()
	for _, secret := range []string{"sim-secret-partial", "Bearer ", "eyJ", "#!/bin", "changed in the target"} {
		if strings.Contains(stored, secret) {
			t.Errorf("a stored error or log line contains %q", secret)
		}
	}
}

const itemEventsSub = `subscription($id: ID!, $after: Int) { restoreRunEvents(runId: $id, afterSequence: $after) {
	sequence kind action status item { id status executedAction errorCode attempts verified }
	counts { PENDING APPLYING SUCCEEDED FAILED SKIPPED total } } }`

// itemEvent is a restoreRunEvents event with its item and counts.
type itemEvent struct {
	Sequence             int
	Kind, Action, Status string
	Item                 *struct {
		ID, Status     string
		ExecutedAction *string
		ErrorCode      *string
		Attempts       int
		Verified       bool
	}
	Counts *struct{ PENDING, APPLYING, SUCCEEDED, FAILED, SKIPPED, Total int }
}

// TestExecuteCancelWhileRunning: cancelling a running execution stops it
// before its next item: the items done stay done, the rest end SKIPPED
// (cancelled), the run CANCELLED.
func TestExecuteCancelWhileRunning(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.changedTenant(t, s, "cancel")
	c.tenant.SetFaults(graphsim.Faults{Latency: 150 * time.Millisecond})
	w := e.executed(c.env.ID, c.bs)
	ctx := context.Background()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := e.app.DB.Client.RestoreRunItem.Query().Where(restorerunitem.RunID(w.id), restorerunitem.StatusEQ(restorerunitem.StatusSUCCEEDED)).CountX(ctx)
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no item succeeded")
		}
	}
	w.must("cancelRestoreRun", map[string]any{"runId": w.id})
	if v := w.terminal(); v.Status != "CANCELLED" {
		t.Fatalf("run %s, want CANCELLED", v.Status)
	}
	cancelled, done := 0, 0
	for _, it := range e.runItems(w.id) {
		switch {
		case it.Status == restorerunitem.StatusSKIPPED && ptr.Deref(it.ErrorCode) == "cancelled":
			cancelled++
		case it.Status == restorerunitem.StatusSUCCEEDED:
			done++
		case it.Status == restorerunitem.StatusPENDING || it.Status == restorerunitem.StatusAPPLYING:
			t.Errorf("item %s left %s", it.ID, it.Status)
		}
	}
	if cancelled == 0 || done == 0 {
		t.Fatalf("%d cancelled, %d done", cancelled, done)
	}
	if op := e.execOpDone(w.id); op.Outcome != operationrun.OutcomeCANCELLED {
		t.Errorf("operation %s", op.Outcome)
	}
	if run := e.app.DB.Client.RestoreRun.GetX(ctx, w.id); run.ActiveExecutionKey != nil || run.FinishedAt == nil {
		t.Errorf("cancelled run still holds the target or has no end: %+v", run)
	}
}

// TestExecuteResumesAfterShutdown: a worker shut down mid-run (SIGTERM)
// hands the run back (not failed); the next worker finishes it without
// writing any finished item again.
func TestExecuteResumesAfterShutdown(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.changedTenant(t, s, "resume")
	c.tenant.SetFaults(graphsim.Faults{Latency: 100 * time.Millisecond})
	w := e.executed(c.env.ID, c.bs)
	ctx := context.Background()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if e.app.DB.Client.RestoreRunItem.Query().Where(restorerunitem.RunID(w.id), restorerunitem.StatusEQ(restorerunitem.StatusSUCCEEDED)).CountX(ctx) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no item succeeded")
		}
	}
	e.app.StopWorker()
	op := e.execOp(w.id)
	run := e.app.DB.Client.RestoreRun.GetX(ctx, w.id)
	if op.Status != operationrun.StatusQUEUED || op.Context.LastInterruption != "worker_shutdown" || run.Status != restorerun.StatusRUNNING || run.LeaseOwner != nil {
		t.Fatalf("after shutdown: operation %s %+v, run %s lease %v", op.Status, op.Context, run.Status, run.LeaseOwner)
	}
	before := map[string]time.Time{}
	for _, it := range e.runItems(w.id) {
		if it.FinishedAt != nil {
			before[it.ID] = *it.FinishedAt
		}
	}
	if err := e.app.StartWorker(); err != nil {
		t.Fatal(err)
	}
	if v := w.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("resumed run %s", v.Status)
	}
	for _, it := range e.runItems(w.id) {
		if at, ok := before[it.ID]; ok && !it.FinishedAt.Equal(at) {
			t.Errorf("item %s finished before the shutdown was redone", it.ID)
		}
		if it.Attempts > 1 {
			t.Errorf("item %s attempted %d times", it.ID, it.Attempts)
		}
	}
	if got := creates(c.tenant.Writes()); len(got) != len(c.deleted) {
		t.Errorf("creations %v, want %d", got, len(c.deleted))
	}
	if op := e.execOpDone(w.id); op.Outcome != operationrun.OutcomeSUCCEEDED {
		t.Errorf("operation %s %v", op.Outcome, ptr.Deref(op.ErrorMessage))
	}
}

// TestExecuteOneExecutorPerRun: two handlers of the same run at once (a
// task Asynq delivered twice): one holds the lease and writes, the other
// gets ErrLeaseHeld and writes nothing.
func TestExecuteOneExecutorPerRun(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.changedTenant(t, s, "lease")
	c.tenant.SetFaults(graphsim.Faults{Latency: 30 * time.Millisecond})
	w := e.confirmed(c.env.ID, c.bs)
	e.app.StopWorker() // the test is the worker
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	op := e.execOp(w.id)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	ends := make([]operations.End, 2)
	start := make(chan struct{})
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ends[i], errs[i] = e.app.Restore.RunExecuteJob(ctx, op)
		}()
	}
	close(start)
	wg.Wait()
	held := 0
	for i, err := range errs {
		switch {
		case errors.Is(err, restore.ErrLeaseHeld):
			held++
		case err != nil:
			t.Fatalf("handler %d: %v", i, err)
		case ends[i].Outcome != operationrun.OutcomeSUCCEEDED:
			t.Errorf("handler %d ended %+v", i, ends[i])
		}
	}
	if held != 1 {
		t.Fatalf("%d handlers found the lease held, want 1 (errors %v)", held, errs)
	}
	if got := creates(c.tenant.Writes()); len(got) != len(c.deleted) {
		t.Errorf("creations %v, want %d", got, len(c.deleted))
	}
	if d := duplicateNames(c.tenant); len(d) > 0 {
		t.Errorf("duplicates: %v", d)
	}
	for _, it := range e.runItems(w.id) {
		if it.Attempts > 1 {
			t.Errorf("item %s attempted %d times", it.ID, it.Attempts)
		}
	}
}

// crashingExecution is an executed run of a changed tenant whose worker is
// stopped, and the run's settings catalog policy planned CREATE: what a
// crash test makes a dead handler's work of.
func crashingExecution(t *testing.T, name string) (*env, *changedTenant, *wizard, *ent.RestoreRunItem) {
	t.Helper()
	e := start(t)
	s := e.startSim()
	c := e.changedTenant(t, s, name)
	w := e.confirmed(c.env.ID, c.bs)
	e.app.StopWorker()
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	for _, it := range e.runItems(w.id) {
		if it.PolicyType == "settingsCatalogPolicy" && it.PlannedAction != nil && *it.PlannedAction == restorerunitem.PlannedActionCREATE {
			return e, c, w, it
		}
	}
	t.Fatal("no settings catalog policy to create")
	return nil, nil, nil, nil
}

// diedWriting leaves item as a handler leaves it when it dies mid-write:
// APPLYING with its write marker and no outcome, the run's lease expired.
func (e *env) diedWriting(runID, itemID string) {
	ctx := context.Background()
	db := e.app.DB.Client
	db.RestoreRunItem.UpdateOneID(itemID).SetStatus(restorerunitem.StatusAPPLYING).SetAttempts(1).SetWriteStartedAt(time.Now()).ExecX(ctx)
	db.RestoreRun.UpdateOneID(runID).SetStatus(restorerun.StatusRUNNING).SetStartedAt(time.Now()).
		SetLeaseOwner("dead-worker").SetLeaseExpiresAt(time.Now().Add(-time.Second)).SetLeaseToken(1).ExecX(ctx)
}

// createdByDeadHandler does what a handler that died mid-write did for
// item (a settings catalog policy planned CREATE): its object created by a
// real POST to graphsim. It returns the object's id.
func (e *env) createdByDeadHandler(t *testing.T, c *changedTenant, item *ent.RestoreRunItem) string {
	t.Helper()
	ctx := context.Background()
	b := e.app.DB.Client.BackupItem.GetX(ctx, item.BackupItemID)
	typ, _ := intune.Lookup("settingsCatalogPolicy")
	writer, err := e.app.Restore.Writers.Writer(ctx, c.env)
	if err != nil {
		t.Fatal(err)
	}
	created, err := writer.Post(ctx, typ.Path, typ.CreateBody(b.Payload))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := created["id"].(string)
	if id == "" {
		t.Fatalf("graphsim created %v without an id", created)
	}
	return id
}

// recordedCreated reports whether run's pre-restore set records the
// settings catalog policy id as created by the run (an undo deletes it).
func (e *env) recordedCreated(runID, id string) bool {
	ctx := context.Background()
	db := e.app.DB.Client
	pre := db.RestoreRun.GetX(ctx, runID).PreRestoreBackupSetID
	return pre != nil && db.BackupItem.Query().Where(backupitem.BackupSetID(*pre), backupitem.Absent(true),
		backupitem.PolicyType("settingsCatalogPolicy"), backupitem.SourceGraphID(id)).CountX(ctx) == 1
}

// TestExecuteCrashBeforeCreateBesideSameName: a handler died after an
// item's write marker and before its create reached Graph, and the target
// holds an older object of the same type and name (the admin's, which the
// plan chose not to touch). The next handler does not take that object for
// the one the dead pass may have created: it creates the item's own and
// never writes to, or records as created, the older one (an undo would
// otherwise delete it).
func TestExecuteCrashBeforeCreateBesideSameName(t *testing.T) {
	e, c, w, item := crashingExecution(t, "crashname")
	ctx := context.Background()
	db := e.app.DB.Client
	b := db.BackupItem.GetX(ctx, item.BackupItemID)
	older := maps.Clone(b.Payload)
	delete(older, "id")
	older["createdDateTime"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	pre, err := c.tenant.Put("settingsCatalogPolicy", older)
	if err != nil {
		t.Fatal(err)
	}
	e.diedWriting(w.id, item.ID)
	c.tenant.ResetWrites()

	if err := e.app.StartWorker(); err != nil {
		t.Fatal(err)
	}
	if v := w.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("run %s", v.Status)
	}
	got := db.RestoreRunItem.GetX(ctx, item.ID)
	if got.Status != restorerunitem.StatusSUCCEEDED || ptr.Deref(got.TargetGraphID) == "" || ptr.Deref(got.TargetGraphID) == pre["id"] ||
		ptr.Deref((*string)(got.ExecutedAction)) != "CREATED" {
		t.Errorf("item after the crash %+v (older object %v)", got, pre["id"])
	}
	if n := creates(c.tenant.Writes()); len(n) != len(c.deleted) {
		t.Errorf("creations after the crash %v, want all %d, this item's included", n, len(c.deleted))
	}
	for _, wr := range c.tenant.Writes() {
		if strings.Contains(wr.Path, pre["id"].(string)) {
			t.Errorf("the older same-named object was written: %s %s", wr.Method, wr.Path)
		}
	}
	if n := db.BackupItem.Query().Where(backupitem.Absent(true), backupitem.SourceGraphID(pre["id"].(string))).CountX(ctx); n != 0 {
		t.Errorf("the older object is recorded as created by the run (%d absent items): an undo would delete it", n)
	}
}

// TestExecuteCrashMidWrite: a handler died between Graph's create and the
// item's outcome (the object exists, the item has its write marker and no
// outcome, the lease expired). The next handler finds the object by type
// and name and updates it: no duplicate, and the outcome is recorded.
func TestExecuteCrashMidWrite(t *testing.T) {
	e, c, w, item := crashingExecution(t, "crash")
	ctx := context.Background()
	db := e.app.DB.Client
	created := e.createdByDeadHandler(t, c, item)
	e.diedWriting(w.id, item.ID)
	c.tenant.ResetWrites()

	if err := e.app.StartWorker(); err != nil {
		t.Fatal(err)
	}
	if v := w.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("run %s", v.Status)
	}
	got := db.RestoreRunItem.GetX(ctx, item.ID)
	if got.Status != restorerunitem.StatusSUCCEEDED || ptr.Deref(got.TargetGraphID) != created ||
		ptr.Deref((*string)(got.ExecutedAction)) != "CREATED" || !got.Verified || got.Attempts != 2 {
		t.Errorf("item after the crash %+v", got)
	}
	if n := creates(c.tenant.Writes()); len(n) != len(c.deleted)-1 {
		t.Errorf("creations after the crash %v, want the %d others", n, len(c.deleted)-1)
	}
	// The object found again is recorded as created: the undo deletes it.
	if !e.recordedCreated(w.id, created) {
		t.Errorf("the pre-restore set does not record %s as created by the run", created)
	}
	if d := duplicateNames(c.tenant); len(d) > 0 {
		t.Errorf("duplicates: %v", d)
	}
}

// TestExecuteGivesUpOnUnresponsiveTenant: a tenant whose every write fails
// with 503 is waited for within bounds (TenantPatience), then the run
// fails with tenant_unresponsive and no item is left without an outcome.
func TestExecuteGivesUpOnUnresponsiveTenant(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.changedTenant(t, s, "down")
	// Set while no worker runs: the next one starts after the write.
	e.app.StopWorker()
	e.app.Restore.TenantPatience = 2 * time.Second
	if err := e.app.StartWorker(); err != nil {
		t.Fatal(err)
	}
	c.tenant.SetFaults(graphsim.Faults{FailWrite: func(string, string, map[string]any) int { return http.StatusServiceUnavailable }})
	w := e.executed(c.env.ID, c.bs)
	// While it waits, the operation run says why.
	ctx := context.Background()
	seen := ""
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(seen, "Waiting") && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		op := e.app.DB.Client.OperationRun.Query().
			Where(operationrun.SubjectID(w.id), operationrun.Type(operations.TypeRestoreExecute)).OnlyX(ctx)
		seen = op.Context.StatusMessage
		if op.Status == operationrun.StatusCOMPLETED {
			break
		}
	}
	if !strings.Contains(seen, "Waiting for the tenant") {
		t.Errorf("status message while waiting: %q", seen)
	}
	if v := w.terminal(); v.Status != "FAILED" {
		t.Fatalf("run %s, want FAILED", v.Status)
	}
	op := e.execOpDone(w.id)
	if op.Outcome != operationrun.OutcomeFAILED || ptr.Deref(op.ErrorCode) != "tenant_unresponsive" || op.Context.StatusMessage != "" {
		t.Errorf("operation %s %v %+v", op.Outcome, ptr.Deref(op.ErrorCode), op.Context)
	}
	for _, it := range e.runItems(w.id) {
		if !slices.Contains([]restorerunitem.Status{restorerunitem.StatusFAILED, restorerunitem.StatusSKIPPED}, it.Status) {
			t.Errorf("item %s %s", it.ID, it.Status)
		}
	}
}

// TestExecuteLostLeaseStops: a handler whose lease another one took over
// (it stalled past its expiry, say) sends at most the request it had in
// flight, records no further outcome, and stops with ErrLeaseHeld.
func TestExecuteLostLeaseStops(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.changedTenant(t, s, "stolen")
	c.tenant.SetFaults(graphsim.Faults{Latency: 100 * time.Millisecond})
	w := e.confirmed(c.env.ID, c.bs)
	e.app.StopWorker() // the test is the worker
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	op := e.execOp(w.id)
	ctx := context.Background()
	db := e.app.DB.Client
	done := make(chan error, 1)
	go func() {
		_, err := e.app.Restore.RunExecuteJob(ctx, op)
		done <- err
	}()
	finishedItems := func() int {
		return db.RestoreRunItem.Query().Where(restorerunitem.RunID(w.id), restorerunitem.FinishedAtNotNil()).CountX(ctx)
	}
	for deadline := time.Now().Add(60 * time.Second); finishedItems() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no item finished")
		}
	}
	db.RestoreRun.UpdateOneID(w.id).SetLeaseOwner("another-worker").SetLeaseExpiresAt(time.Now().Add(time.Hour)).AddLeaseToken(1).ExecX(ctx)
	c.tenant.ResetWrites()
	before := finishedItems()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the handler did not stop")
	}
	if !errors.Is(err, restore.ErrLeaseHeld) {
		t.Fatalf("handler ended with %v, want ErrLeaseHeld", err)
	}
	if n := len(c.tenant.Writes()); n > 1 {
		t.Errorf("%d writes after the lease was taken over, want at most the one in flight", n)
	}
	if after := finishedItems(); after != before {
		t.Errorf("%d outcomes recorded after the lease was lost", after-before)
	}
	if run := db.RestoreRun.GetX(ctx, w.id); run.Status != restorerun.StatusRUNNING || ptr.Deref(run.LeaseOwner) != "another-worker" {
		t.Errorf("the run %s, lease %v: the loser changed it", run.Status, ptr.Deref(run.LeaseOwner))
	}
}

// TestExecuteRefusesDisabledWrites: writes disabled on the environment
// after the run was queued: the execution writes nothing, every item ends
// SKIPPED (writes_disabled), the run FAILED with that reason and its
// operation BLOCKED.
func TestExecuteRefusesDisabledWrites(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.changedTenant(t, s, "disabled")
	w := e.confirmed(c.env.ID, c.bs)
	e.app.StopWorker()
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	e.app.DB.Client.Environment.UpdateOneID(c.env.ID).SetWriteEnabled(false).ExecX(context.Background())
	if err := e.app.StartWorker(); err != nil {
		t.Fatal(err)
	}
	if v := w.terminal(); v.Status != "FAILED" {
		t.Fatalf("run %s, want FAILED", v.Status)
	}
	for _, it := range e.runItems(w.id) {
		if it.Status != restorerunitem.StatusSKIPPED || ptr.Deref(it.ErrorCode) != "writes_disabled" {
			t.Errorf("item %s %s %s", it.ID, it.Status, ptr.Deref(it.ErrorCode))
		}
	}
	// The proof calls a run the write gate stopped BLOCKED, not FAILED.
	if op := e.execOpDone(w.id); op.Outcome != operationrun.OutcomeBLOCKED || ptr.Deref(op.ErrorCode) != "writes_disabled" {
		t.Errorf("operation %s %s", op.Outcome, ptr.Deref(op.ErrorCode))
	}
	if ws := c.tenant.Writes(); len(ws) != 0 {
		t.Errorf("writes: %+v", ws)
	}
}

// TestExecuteThrottleStorm: a tenant throttling writes far below Microsoft's
// limits (three per second per app, fractional Retry-After) and failing
// some requests at random with 503 still gets every item restored: 429s
// and 503s are waited out, never turned into failed items.
func TestExecuteThrottleStorm(t *testing.T) {
	e := start(t)
	s := e.startSim()
	c := e.changedTenant(t, s, "storm")
	c.tenant.SetFaults(graphsim.Faults{WritesPerWindow: 3, Window: time.Second, RetryAfter: 300 * time.Millisecond,
		Random503: 0.05, Seed: 7})
	w := e.executed(c.env.ID, c.bs)
	if v := w.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("run ended %s", v.Status)
	}
	for _, it := range e.runItems(w.id) {
		if it.Status == "FAILED" {
			t.Errorf("item %s failed: %v %v", it.DisplayName, ptr.Deref(it.ErrorCode), ptr.Deref(it.ErrorMessage))
		}
	}
	body := e.scrapeMetrics(t)
	if !regexp.MustCompile(`restored_graph_requests_total\{method="(POST|PATCH|PUT)",status="429"\} [1-9]`).MatchString(body) {
		t.Errorf("the storm threw no 429 at the writes: the test proves nothing\n%s", grepLines(body, "restored_graph_requests_total"))
	}
}

// TestExecuteCancelAfterCrashMidWrite: a handler died right after Graph
// created an item's object, and the run was cancelled before another
// handler resumed it. The cancel starts no write, but the item is not
// called skipped: the next handler reads the target, finds the object the
// dead one created, records it (so an undo deletes it) and says the write
// was interrupted, since the object has no assignments yet. The items no
// write began for are skipped.
func TestExecuteCancelAfterCrashMidWrite(t *testing.T) {
	e, c, w, item := crashingExecution(t, "cancelcrash")
	ctx := context.Background()
	db := e.app.DB.Client
	created := e.createdByDeadHandler(t, c, item)
	e.diedWriting(w.id, item.ID)
	db.RestoreRun.UpdateOneID(w.id).SetCancelRequested(true).ExecX(ctx)
	c.tenant.ResetWrites()

	if err := e.app.StartWorker(); err != nil {
		t.Fatal(err)
	}
	if v := w.terminal(); v.Status != "CANCELLED" {
		t.Fatalf("run %s", v.Status)
	}
	if writes := c.tenant.Writes(); len(writes) != 0 {
		t.Errorf("a cancelled run wrote %v", writes)
	}
	got := db.RestoreRunItem.GetX(ctx, item.ID)
	if got.Status != restorerunitem.StatusFAILED || ptr.Deref(got.ErrorCode) != "write_interrupted" ||
		ptr.Deref(got.TargetGraphID) != created || ptr.Deref((*string)(got.ExecutedAction)) != "CREATED" ||
		got.Verified || got.Drift == nil {
		t.Errorf("item in doubt after the cancel: %+v", got)
	}
	if !e.recordedCreated(w.id, created) {
		t.Errorf("the pre-restore set does not record %s as created by the run", created)
	}
	for _, it := range e.runItems(w.id) {
		if it.ID != item.ID && (it.Status != restorerunitem.StatusSKIPPED || ptr.Deref(it.ErrorCode) != "cancelled") {
			t.Errorf("item %s (%s) after the cancel: %s %s", it.DisplayName, it.PolicyType, it.Status, ptr.Deref(it.ErrorCode))
		}
	}
}

// TestExecuteCancelAfterCrashBeforeWrite: the dead handler's write never
// reached Graph: the item is skipped like the others, nothing recorded.
func TestExecuteCancelAfterCrashBeforeWrite(t *testing.T) {
	e, _, w, item := crashingExecution(t, "cancelnowrite")
	ctx := context.Background()
	db := e.app.DB.Client
	e.diedWriting(w.id, item.ID)
	db.RestoreRun.UpdateOneID(w.id).SetCancelRequested(true).ExecX(ctx)
	if err := e.app.StartWorker(); err != nil {
		t.Fatal(err)
	}
	if v := w.terminal(); v.Status != "CANCELLED" {
		t.Fatalf("run %s", v.Status)
	}
	got := db.RestoreRunItem.GetX(ctx, item.ID)
	if got.Status != restorerunitem.StatusSKIPPED || ptr.Deref(got.ErrorCode) != "cancelled" || got.TargetGraphID != nil {
		t.Errorf("item after the cancel: %+v", got)
	}
	if pre := db.RestoreRun.GetX(ctx, w.id).PreRestoreBackupSetID; pre != nil &&
		db.BackupItem.Query().Where(backupitem.BackupSetID(*pre), backupitem.Absent(true)).CountX(ctx) != 0 {
		t.Error("an object nobody created is recorded as created")
	}
}
