package apitest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWizardStepsAudited walks every wizard step through the API and reads
// the run's audit trail back through auditLogs: each step left exactly one
// entry, attributed to the member who took it. The schema offers no way to
// change or remove an entry.
func TestWizardStepsAudited(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "audited", wizardGen)
	first := e.backupOf(envRow.ID, "first")
	second := e.backupOf(envRow.ID, "second")
	w := &wizard{e: e, t: t, token: e.owner}

	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": first})
	w.must("selectRestoreBackupSet", map[string]any{"runId": w.id, "backupSetId": second})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL"})
	w.checked()
	w.previewed()
	w.must("confirmRestoreRun", map[string]any{"runId": w.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": envRow.DisplayName})
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	w.must("cancelRestoreRun", map[string]any{"runId": w.id})

	var got struct {
		AuditLogs struct {
			Edges []struct {
				Node struct{ Action, ActorLabel, ObjectID string }
			}
		}
	}
	e.post(e.auditor, `query($ws: ID!, $run: ID!) { auditLogs(workspaceId: $ws, objectId: $run, first: 100) { edges { node { action actorLabel objectId } } } }`,
		map[string]any{"ws": e.wsID, "run": w.id}).decode(t, &got)
	type entry struct{ Action, Actor string }
	var entries []entry
	for _, ed := range got.AuditLogs.Edges {
		if ed.Node.ObjectID != w.id {
			t.Errorf("entry %s is about %s, not the run", ed.Node.Action, ed.Node.ObjectID)
		}
		entries = append(entries, entry{ed.Node.Action, ed.Node.ActorLabel})
	}
	const owner = "owner@demo.restored.test"
	// Newest first.
	want := []entry{
		{"restore_run.cancel", owner},
		{"restore_run.execute.queued", owner},
		{"restore_run.confirm", owner},
		{"restore_run.preview.start", owner},
		{"restore_run.checks.start", owner},
		{"restore_run.define_scope", owner},
		{"restore_run.select_backup_set", owner},
		{"restore_run.create", owner},
	}
	if diff := cmp.Diff(want, entries); diff != "" {
		t.Errorf("audit trail of the run (-want +got):\n%s", diff)
	}

	// No mutation of the API touches the audit log but by appending.
	var schema struct {
		Schema struct {
			MutationType struct{ Fields []struct{ Name string } }
		} `json:"__schema"`
	}
	e.post(e.owner, `{ __schema { mutationType { fields { name } } } }`, nil).decode(t, &schema)
	for _, f := range schema.Schema.MutationType.Fields {
		if strings.Contains(strings.ToLower(f.Name), "audit") {
			t.Errorf("mutation %s touches the audit log", f.Name)
		}
	}
}
