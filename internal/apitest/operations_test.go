package apitest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/internal/domain/operations/opwrite"
	"github.com/restored/restored/internal/domain/results"
)

// TestOperationRunQueries: operationRun(id) and operationRuns with every
// filter and cursor paging, through the API; another workspace's run, or its
// list, is FORBIDDEN, an unknown id NOT_FOUND; a reconciled run shows the
// reconciler's decision in context.reconciliation.
func TestOperationRunQueries(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.app.DB.Client
	env2 := e.freshEnv()
	// Runs in every state, written as their service would (fixtures only:
	// opwrite.Allow is the operations package's).
	mk := func(typ, env string, st operationrun.Status, out operationrun.Outcome) string {
		return c.OperationRun.Create().SetWorkspaceID(e.wsID).SetEnvironmentID(env).SetType(typ).
			SetStatus(st).SetOutcome(out).SaveX(opwrite.Allow(ctx)).ID
	}
	failedSync := mk("test.sync", e.prodEnvID, operationrun.StatusCOMPLETED, operationrun.OutcomeFAILED)
	okSync := mk("test.sync", e.prodEnvID, operationrun.StatusCOMPLETED, operationrun.OutcomeSUCCEEDED)
	okSync2 := mk("test.sync", e.prodEnvID, operationrun.StatusCOMPLETED, operationrun.OutcomeSUCCEEDED)
	otherEnv := mk("test.sync", env2, operationrun.StatusCOMPLETED, operationrun.OutcomeSUCCEEDED)
	running := mk("test.capture", e.prodEnvID, operationrun.StatusRUNNING, operationrun.OutcomePENDING)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c.OperationRun.UpdateOneID(failedSync).SetContext(results.OperationContext{ReasonCodes: []string{"attempts_exhausted"},
		Reconciliation: &results.Reconciliation{Action: "failed", ReasonCodes: []string{"attempts_exhausted"}, At: at, Count: 2}}).ExecX(ctx)
	foreign := c.OperationRun.Create().SetWorkspaceID(e.otherWsID).SetEnvironmentID(e.otherEnvID).SetType("test.sync").SaveX(ctx).ID

	type ids []string
	list := func(vars map[string]any) ids {
		t.Helper()
		vars["ws"] = e.wsID
		var d struct {
			OperationRuns struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		e.post(e.auditor, `query($ws: ID!, $env: ID, $type: String, $status: OperationStatus, $outcome: OperationOutcome, $first: Int, $after: Cursor) {
			operationRuns(workspaceId: $ws, environmentId: $env, type: $type, status: $status, outcome: $outcome, first: $first, after: $after) { edges { node { id } } } }`, vars).decode(t, &d)
		var out ids
		for _, ed := range d.OperationRuns.Edges {
			out = append(out, ed.Node.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		vars map[string]any
		want ids
	}{
		{"type", map[string]any{"type": "test.sync"}, ids{otherEnv, okSync2, okSync, failedSync}},
		{"type and environment", map[string]any{"type": "test.sync", "env": e.prodEnvID}, ids{okSync2, okSync, failedSync}},
		{"status", map[string]any{"status": "RUNNING", "env": e.prodEnvID}, ids{running}},
		{"outcome", map[string]any{"outcome": "FAILED"}, ids{failedSync}},
		{"outcome and environment", map[string]any{"outcome": "SUCCEEDED", "env": env2}, ids{otherEnv}},
		{"first", map[string]any{"type": "test.sync", "first": 2}, ids{otherEnv, okSync2}},
	} {
		if diff := cmp.Diff(tc.want, list(tc.vars)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	// Paging on: after the first page's cursor comes the rest.
	var page struct {
		OperationRuns struct {
			PageInfo struct{ EndCursor string }
		}
	}
	e.post(e.owner, `query($ws: ID!) { operationRuns(workspaceId: $ws, type: "test.sync", first: 2) { edges { cursor } pageInfo { endCursor } } }`,
		map[string]any{"ws": e.wsID}).decode(t, &page)
	if diff := cmp.Diff(ids{okSync, failedSync}, list(map[string]any{"type": "test.sync", "first": 2, "after": page.OperationRuns.PageInfo.EndCursor})); diff != "" {
		t.Errorf("second page (-want +got):\n%s", diff)
	}

	// One run, with the reconciler's decision.
	var one struct {
		OperationRun struct {
			ID, Status, Outcome string
			Context             struct {
				ReasonCodes    []string
				Reconciliation struct {
					Action      string
					ReasonCodes []string
					At          time.Time
					Count       int
				}
			}
		}
	}
	e.post(e.auditor, `query($id: ID!) { operationRun(id: $id) { id status outcome context { reasonCodes reconciliation { action reasonCodes at count } } } }`,
		map[string]any{"id": failedSync}).decode(t, &one)
	want := one.OperationRun
	want.ID, want.Status, want.Outcome = failedSync, "COMPLETED", "FAILED"
	want.Context.ReasonCodes = []string{"attempts_exhausted"}
	want.Context.Reconciliation.Action, want.Context.Reconciliation.ReasonCodes = "failed", []string{"attempts_exhausted"}
	want.Context.Reconciliation.Count = 2
	if diff := cmp.Diff(want, one.OperationRun); diff != "" || !one.OperationRun.Context.Reconciliation.At.Equal(at) {
		t.Errorf("operationRun (-want +got):\n%s (at %v)", diff, one.OperationRun.Context.Reconciliation.At)
	}

	// Other workspaces' runs are FORBIDDEN, both ways; unknown ids NOT_FOUND.
	for _, tc := range []struct {
		name, token, query string
		vars               map[string]any
		code               string
	}{
		{"their run by id", e.owner, `query($id: ID!) { operationRun(id: $id) { id } }`, map[string]any{"id": foreign}, "FORBIDDEN"},
		{"our run by their owner", e.otherOwner, `query($id: ID!) { operationRun(id: $id) { id } }`, map[string]any{"id": okSync}, "FORBIDDEN"},
		{"our list by their owner", e.otherOwner, `query($ws: ID!) { operationRuns(workspaceId: $ws) { edges { node { id } } } }`, map[string]any{"ws": e.wsID}, "FORBIDDEN"},
		{"unknown id", e.owner, `query($id: ID!) { operationRun(id: $id) { id } }`, map[string]any{"id": "op_unknown"}, "NOT_FOUND"},
	} {
		r := e.post(tc.token, tc.query, tc.vars)
		if r.code() != tc.code || r.Raw == "" || len(r.Errors) != 1 {
			t.Errorf("%s: %s, want %s", tc.name, r.Raw, tc.code)
		}
	}
}

// TestRestoreRunProof: restoreRun.proof through the API, beside the items'
// post-run evidence: a previewed run proves no execution; a completed run
// with an unverified item and no finish entry says exactly what is missing.
func TestRestoreRunProof(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.app.DB.Client
	mkRun := func(st restorerun.Status) string {
		return c.RestoreRun.Create().SetWorkspaceID(e.wsID).SetEnvironmentID(e.prodEnvID).SetBackupSetID(e.backupSetID).
			SetStatus(st).SetEnvironmentBadge("PROD").SetTenantLabel("Contoso Production").SaveX(ctx).ID
	}
	previewed := mkRun(restorerun.StatusPREVIEWED)
	done := mkRun(restorerun.StatusCOMPLETED)
	bi := c.BackupItem.Create().SetWorkspaceID(e.wsID).SetBackupSetID(e.backupSetID).SetPolicyType("deviceConfiguration").
		SetSourceGraphID("g1").SetDisplayName("P").SetPayload(map[string]any{}).SetContentHash("h").SaveX(ctx)
	c.RestoreRunItem.Create().SetWorkspaceID(e.wsID).SetRunID(done).SetBackupItemID(bi.ID).SetPolicyType("deviceConfiguration").
		SetStatus("SUCCEEDED").SetVerified(false).ExecX(ctx)
	c.AuditLog.Create().SetWorkspaceID(e.wsID).SetAction("restore_run.execute.started").SetObjectType("restore_run").SetObjectID(done).ExecX(ctx)

	type proof struct {
		Outcome          string
		Reasons, Missing []string
	}
	get := func(id string) (proof, []bool) {
		var d struct {
			RestoreRun struct {
				Proof proof
				Items struct {
					Edges []struct{ Node struct{ Verified bool } }
				}
			}
		}
		e.post(e.auditor, `query($id: ID!) { restoreRun(id: $id) { proof { outcome reasons missing } items { edges { node { verified } } } } }`,
			map[string]any{"id": id}).decode(t, &d)
		var v []bool
		for _, ed := range d.RestoreRun.Items.Edges {
			v = append(v, ed.Node.Verified)
		}
		return d.RestoreRun.Proof, v
	}
	p, _ := get(previewed)
	if diff := cmp.Diff(proof{"NOT_RECONCILED", []string{"preview_only"}, []string{"executed", "run_completed"}}, p); diff != "" {
		t.Errorf("previewed run's proof (-want +got):\n%s", diff)
	}
	p, verified := get(done)
	want := proof{"PARTIALLY_SUCCEEDED", []string{"post_run_evidence_missing", "audit_finish_missing"}, []string{"items_verified", "audit_finished"}}
	if diff := cmp.Diff(want, p); diff != "" || !cmp.Equal(verified, []bool{false}) {
		t.Errorf("completed run's proof (-want +got):\n%s (items verified %v)", diff, verified)
	}
	if r := e.post(e.otherOwner, `query($id: ID!) { restoreRun(id: $id) { proof { outcome } } }`, map[string]any{"id": done}); r.code() != "FORBIDDEN" {
		t.Errorf("another workspace reads the proof: %s", r.Raw)
	}
}
