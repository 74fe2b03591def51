package restore_test

// The proof matrix of spec 364, on a real database, Redis and Asynq: an
// execute operation run left RUNNING meets the reconciler, whose
// restore.execute adapter judges the restore run's evidence (built directly
// in the database, as the executor leaves it). Each case checks the outcome,
// the reason codes, and that nothing else was written.

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/auditlog"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/restore"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/platform/ptr"
	"github.com/restored/restored/internal/testenv"
	"github.com/restored/restored/jobs"
)

// proofItem is one restore run item of a case.
type proofItem struct {
	status   restorerunitem.Status
	verified bool
	code     string // error code
	preview  restorerunitem.PreviewAction
	deleted  bool // an undo's delete: planned DELETE, executed DELETED
}

var (
	okItem       = proofItem{status: restorerunitem.StatusSUCCEEDED, verified: true}
	previewOnly  = proofItem{status: restorerunitem.StatusSKIPPED, preview: restorerunitem.PreviewActionPREVIEW_ONLY}
	unverified   = proofItem{status: restorerunitem.StatusSUCCEEDED}
	failedItem   = proofItem{status: restorerunitem.StatusFAILED, code: "graph_error"}
	writesClosed = proofItem{status: restorerunitem.StatusFAILED, code: "WRITES_DISABLED"}
	// An undo's delete, verified by a 404 (or still there when read back).
	deletedItem    = proofItem{status: restorerunitem.StatusSUCCEEDED, verified: true, deleted: true}
	stillThereItem = proofItem{status: restorerunitem.StatusSUCCEEDED, deleted: true}
)

type proofCase struct {
	name     string
	status   restorerun.Status
	items    []proofItem
	started  bool // the execute.started audit entry
	finished bool // the execute.finished audit entry
	deleted  bool
	otherWS  bool // the operation run belongs to another workspace
	otherEnv bool // or to another environment of the run's workspace

	want        restore.ProofOutcome
	wantReasons []string
}

// verdict is what a case compares.
type verdict struct {
	Outcome restore.ProofOutcome
	Reasons []string
}

func TestExecuteProofMatrix(t *testing.T) {
	cases := []proofCase{
		{name: "complete success proof", status: restorerun.StatusCOMPLETED, items: []proofItem{okItem, okItem, previewOnly},
			started: true, finished: true, want: restore.ProofSucceeded},
		{name: "undo: verified deletes are evidence", status: restorerun.StatusCOMPLETED, items: []proofItem{okItem, deletedItem},
			started: true, finished: true, want: restore.ProofSucceeded},
		{name: "undo: a delete not verified", status: restorerun.StatusCOMPLETED, items: []proofItem{deletedItem, stillThereItem},
			started: true, finished: true, want: restore.ProofPartiallySucceeded, wantReasons: []string{restore.ReasonItemsUnverified}},
		{name: "preview only", status: restorerun.StatusPREVIEWED, items: []proofItem{{status: restorerunitem.StatusPENDING}},
			want: restore.ProofNotReconciled, wantReasons: []string{restore.ReasonPreviewOnly}},
		{name: "missing post-run evidence", status: restorerun.StatusCOMPLETED, items: []proofItem{okItem, unverified},
			started: true, finished: true, want: restore.ProofPartiallySucceeded, wantReasons: []string{restore.ReasonItemsUnverified}},
		{name: "mixed item outcomes", status: restorerun.StatusPARTIAL, items: []proofItem{okItem, failedItem},
			started: true, finished: true, want: restore.ProofPartiallySucceeded,
			wantReasons: []string{restore.ReasonRunPartial, restore.ReasonItemsFailed}},
		{name: "blocked", status: restorerun.StatusFAILED, items: []proofItem{writesClosed, writesClosed},
			started: true, finished: true, want: restore.ProofBlocked, wantReasons: []string{restore.ReasonBlockedWriteGate}},
		{name: "failed", status: restorerun.StatusFAILED, items: []proofItem{failedItem, {status: restorerunitem.StatusPENDING}},
			started: true, finished: true, want: restore.ProofFailed, wantReasons: []string{restore.ReasonRunFailed, restore.ReasonItemsFailed}},
		{name: "missing audit continuity", status: restorerun.StatusCOMPLETED, items: []proofItem{okItem},
			started: true, want: restore.ProofPartiallySucceeded, wantReasons: []string{restore.ReasonAuditFinishMissing}},
		{name: "deleted run", status: restorerun.StatusCOMPLETED, items: []proofItem{okItem}, started: true, finished: true,
			deleted: true, want: restore.ProofNotReconciled, wantReasons: []string{restore.ReasonRunDeleted}},
		{name: "wrong workspace", status: restorerun.StatusCOMPLETED, items: []proofItem{okItem}, started: true, finished: true,
			otherWS: true, want: restore.ProofNotReconciled, wantReasons: []string{restore.ReasonWorkspaceMismatch}},
		{name: "wrong environment", status: restorerun.StatusCOMPLETED, items: []proofItem{okItem}, started: true, finished: true,
			otherEnv: true, want: restore.ProofNotReconciled, wantReasons: []string{restore.ReasonEnvironmentMismatch}},
		{name: "cancelled", status: restorerun.StatusCANCELLED, items: []proofItem{okItem, {status: restorerunitem.StatusPENDING}},
			started: true, finished: true, want: restore.ProofCancelled, wantReasons: []string{restore.ReasonCancelled}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newProofFixture(t)
			ctx := context.Background()
			rr := f.restoreRun(t, tc)
			op := f.executeRun(t, tc, rr)
			before := f.snapshot(t, rr.ID, op.ID)

			// The rule itself, as restoreRun.proof shows it.
			p, err := f.svc.ExecutionProof(ctx, f.RestoreRun.GetX(ctx, rr.ID))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(verdict{tc.want, tc.wantReasons}, verdict{p.Outcome, p.Reasons}, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("proof (-want +got):\n%s", diff)
			}
			if p.Outcome == restore.ProofSucceeded && len(p.Missing) != 0 {
				t.Errorf("a success with missing parts %v", p.Missing)
			}
			if p.Outcome != restore.ProofSucceeded && len(p.Missing) == 0 && tc.want != restore.ProofCancelled {
				t.Errorf("%s names no missing part", p.Outcome)
			}

			// The reconciler: one pass with no grace. The task is waiting in
			// the execution queue, so only the adapter may decide.
			rep, err := f.ops.Reconcile(ctx, f.q, operations.ReconcileOptions{
				QueuedGrace: time.Nanosecond, RunningIdle: time.Nanosecond,
				Adapters: map[string]operations.Adapter{operations.TypeRestoreExecute: f.svc},
			})
			if err != nil {
				t.Fatal(err)
			}
			after := f.snapshot(t, rr.ID, op.ID)
			if tc.want == restore.ProofNotReconciled {
				if rep != (operations.ReconcileReport{}) {
					t.Errorf("report %+v, want nothing done", rep)
				}
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("not reconciled, yet written (-before +after):\n%s", diff)
				}
				if st, _ := f.q.TaskState(ctx, operations.TypeRestoreExecute, op.ID); st != operations.TaskWaiting {
					t.Errorf("task %v, want still waiting", st)
				}
				return
			}
			if rep != (operations.ReconcileReport{Decided: 1}) {
				t.Errorf("report %+v, want one decided", rep)
			}
			got := f.OperationRun.GetX(ctx, op.ID)
			type decided struct {
				Status         operationrun.Status
				Outcome        string
				Reasons        []string
				Reconciliation results.Reconciliation
			}
			want := decided{operationrun.StatusCOMPLETED, string(tc.want), tc.wantReasons,
				results.Reconciliation{Action: operations.ActionOutcomeSet, ReasonCodes: tc.wantReasons, Count: 1}}
			if diff := cmp.Diff(want, decided{got.Status, string(got.Outcome), got.Context.ReasonCodes, *got.Context.Reconciliation},
				cmpopts.EquateEmpty(), cmpopts.IgnoreFields(results.Reconciliation{}, "At")); diff != "" {
				t.Errorf("operation run (-want +got):\n%s", diff)
			}
			// Times come from the restore run, its safe evidence.
			if !got.StartedAt.Equal(*rr.StartedAt) || !got.FinishedAt.Equal(*rr.FinishedAt) {
				t.Errorf("operation run times %v..%v, want the restore run's %v..%v", got.StartedAt, got.FinishedAt, rr.StartedAt, rr.FinishedAt)
			}
			// Nothing else: the restore run and its items as they were, one
			// audit entry more (the decision's), the task gone.
			before.Op, after.Op = snapshotOp{}, snapshotOp{}
			before.Audit = append(before.Audit, operations.AuditReconciled)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("written besides the operation run (-want +got):\n%s", diff)
			}
			if st, _ := f.q.TaskState(ctx, operations.TypeRestoreExecute, op.ID); st != operations.TaskMissing {
				t.Errorf("task %v after the decision, want removed", st)
			}
		})
	}
}

type proofFixture struct {
	*ent.Client
	q   *jobs.Queue
	ops *operations.Service
	svc *restore.Service
	env *ent.Environment
	bs  *ent.BackupSet
	ws  string
}

func newProofFixture(tb testing.TB) *proofFixture {
	tb.Helper()
	ctx := context.Background()
	db := testenv.DB(tb)
	conn := testenv.RedisConn(tb)
	q := jobs.NewQueue(conn)
	tb.Cleanup(func() { q.Close() })
	log := slog.New(slog.NewTextHandler(&testenv.LockedBuffer{}, nil))
	rec := &audit.Recorder{Log: log}
	f := &proofFixture{Client: db.Client, q: q}
	f.ops = &operations.Service{Client: db.Client, Queue: q, Log: log, Audit: rec}
	f.svc = &restore.Service{Client: db.Client, Dialect: db.Dialect, Ops: f.ops, Audit: rec, Log: log}
	f.ws = db.Workspace.Create().SetSlug("acme").SetName("Acme").SaveX(ctx).ID
	f.env = f.environment(tb, f.ws, "Contoso")
	f.bs = db.BackupSet.Create().SetWorkspaceID(f.ws).SetEnvironmentID(f.env.ID).SetName("set").
		SetStatus(backupset.StatusREADY).SaveX(ctx)
	return f
}

func (f *proofFixture) environment(tb testing.TB, ws, name string) *ent.Environment {
	tb.Helper()
	return f.Environment.Create().SetWorkspaceID(ws).SetDisplayName(name).SetKind(environment.KindTEST).
		SetAzureTenantID("72f988bf-86f1-41af-91ab-2d7cd011db47").SetGraphBaseURL("https://graph.invalid").
		SetWriteEnabled(true).SaveX(context.Background())
}

// restoreRun builds the restore run of a case as the executor leaves it.
func (f *proofFixture) restoreRun(tb testing.TB, tc proofCase) *ent.RestoreRun {
	tb.Helper()
	ctx := context.Background()
	start := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
	c := f.RestoreRun.Create().SetWorkspaceID(f.ws).SetEnvironmentID(f.env.ID).SetBackupSetID(f.bs.ID).
		SetStatus(tc.status).SetEnvironmentBadge("TEST").SetTenantLabel(f.env.DisplayName).SetDryRun(false)
	if tc.status != restorerun.StatusPREVIEWED {
		c.SetStartedAt(start).SetFinishedAt(start.Add(3 * time.Minute))
	}
	if tc.deleted {
		c.SetDeletedAt(start.Add(5 * time.Minute))
	}
	rr := c.SaveX(ctx)
	for i, it := range tc.items {
		bi := f.BackupItem.Create().SetWorkspaceID(f.ws).SetBackupSetID(f.bs.ID).SetPolicyType("deviceConfiguration").
			SetSourceGraphID(rr.ID + string(rune('a'+i))).SetDisplayName("Policy").SetPayload(map[string]any{}).
			SetContentHash("h").SaveX(ctx)
		ic := f.RestoreRunItem.Create().SetWorkspaceID(f.ws).SetRunID(rr.ID).SetBackupItemID(bi.ID).
			SetPolicyType("deviceConfiguration").SetStatus(it.status).SetVerified(it.verified)
		switch {
		case it.deleted:
			ic.SetPlannedAction(restorerunitem.PlannedActionDELETE).SetPreviewAction(restorerunitem.PreviewActionDELETE).
				SetExecutedAction(restorerunitem.ExecutedActionDELETED)
		case it.preview != "":
			ic.SetPreviewAction(it.preview).SetPlannedAction(restorerunitem.PlannedActionSKIP)
		default:
			ic.SetPlannedAction(restorerunitem.PlannedActionUPDATE)
		}
		if it.code != "" {
			ic.SetErrorCode(it.code).SetErrorMessage("safe message")
		}
		ic.ExecX(ctx)
	}
	for _, e := range []struct {
		on     bool
		action string
	}{{tc.started, restore.AuditExecuteStarted}, {tc.finished, restore.AuditExecuteFinished}} {
		if e.on {
			f.AuditLog.Create().SetWorkspaceID(f.ws).SetAction(e.action).SetObjectType("restore_run").SetObjectID(rr.ID).
				SetEnvironmentID(f.env.ID).ExecX(ctx)
		}
	}
	return rr
}

// executeRun starts the restore.execute operation run of rr, in the case's
// scope, and leaves it RUNNING with its task waiting (no worker consumes
// the execution queue here).
func (f *proofFixture) executeRun(tb testing.TB, tc proofCase, rr *ent.RestoreRun) *ent.OperationRun {
	tb.Helper()
	ctx := context.Background()
	ws, env := f.ws, f.env.ID
	switch {
	case tc.otherWS:
		ws = f.Workspace.Create().SetSlug("other").SetName("Other").SaveX(ctx).ID
		env = f.environment(tb, ws, "Fabrikam").ID
	case tc.otherEnv:
		env = f.environment(tb, f.ws, "Contoso 2").ID
	}
	run, _, err := f.ops.StartRun(ctx, operations.Start{WorkspaceID: ws, EnvironmentID: env, Type: operations.TypeRestoreExecute,
		DedupeKey: operations.TypeRestoreExecute + ":" + rr.ID, SubjectID: rr.ID}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if run, err = f.ops.Begin(ctx, run.ID); err != nil {
		tb.Fatal(err)
	}
	return run
}

type snapshotOp struct {
	Status  operationrun.Status
	Outcome operationrun.Outcome
	Context results.OperationContext
}

// snapshot is everything a decision could touch.
type snapshot struct {
	Run   string // status, updated_at, deleted
	Items []string
	Audit []string
	Op    snapshotOp
}

func (f *proofFixture) snapshot(tb testing.TB, runID, opID string) snapshot {
	tb.Helper()
	ctx := context.Background()
	var s snapshot
	rr := f.RestoreRun.GetX(ctx, runID)
	s.Run = string(rr.Status) + " " + rr.UpdatedAt.String() + " " + ptr.Deref(rr.DeletedAt).String()
	for _, it := range f.RestoreRunItem.Query().Where(restorerunitem.RunID(runID)).Order(ent.Asc(restorerunitem.FieldID)).AllX(ctx) {
		s.Items = append(s.Items, it.ID+" "+string(it.Status)+" "+it.UpdatedAt.String())
	}
	for _, e := range f.AuditLog.Query().Order(ent.Asc(auditlog.FieldID)).AllX(ctx) {
		s.Audit = append(s.Audit, e.Action)
	}
	op := f.OperationRun.GetX(ctx, opID)
	s.Op = snapshotOp{op.Status, op.Outcome, op.Context}
	return s
}
