// Tests of the wizard's writes on a real database (see package testenv):
// every step reads, checks and writes a run in one transaction, and its
// guarded update refuses to write a run that changed after it was read.
// Concurrent conflicting steps end with one winner and a consistent row.
package restore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/auditlog"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/ent/hook"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/restore"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/internal/testenv"
	"github.com/restored/restored/jobs"
)

// fixture is a migrated database with a workspace, its two owners and an
// operator, a writable environment and two READY backup sets of three
// device configurations each, and the restore service over them.
type fixture struct {
	db    *store.DB
	bus   *events.Bus
	svc   *restore.Service
	clock *clock.Clock
	env   *ent.Environment
	sets  [2]*ent.BackupSet
	items [2][]string
	// Contexts of the owner, a second owner and the operator.
	owner, owner2, operator context.Context
	// interfere, when set, runs once inside the next guarded update (see
	// newFixture).
	mu        sync.Mutex
	interfere func(ctx context.Context, tx *ent.Client) error
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	db := testenv.DB(tb)
	log := slog.New(slog.NewTextHandler(&testenv.LockedBuffer{}, nil))
	conn := testenv.RedisConn(tb)
	bus := events.NewBus(conn, log)
	tb.Cleanup(bus.Close)
	f := &fixture{db: db, clock: clock.At(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))}
	rec := &audit.Recorder{Bus: bus, Log: log}
	f.bus = bus
	f.svc = &restore.Service{
		Client: db.Client, Dialect: db.Dialect, Audit: rec, Bus: bus, Log: log, Clock: f.clock, MaxResultAge: time.Hour,
		Ops: &operations.Service{Client: db.Client, Queue: jobs.NewQueue(conn), Bus: bus, Log: log, Clock: f.clock},
	}
	ws := db.Workspace.Create().SetSlug("acme").SetName("Acme").SaveX(ctx)
	f.owner = viewerCtx(tb, db, ws, "owner@acme.test", access.Owner)
	f.owner2 = viewerCtx(tb, db, ws, "owner2@acme.test", access.Owner)
	f.operator = viewerCtx(tb, db, ws, "operator@acme.test", access.Operator)
	f.env = db.Environment.Create().SetWorkspaceID(ws.ID).SetDisplayName("Contoso test").SetKind(environment.KindTEST).
		SetAzureTenantID("72f988bf-86f1-41af-91ab-2d7cd011db47").SetGraphBaseURL("https://graph.invalid").
		SetClientID("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d").SetClientSecretEncrypted([]byte("sealed")).
		SetCredentialsSetAt(f.clock.Now().Add(-24 * time.Hour)).SetWriteEnabled(true).SaveX(ctx)
	for i := range f.sets {
		f.sets[i] = db.BackupSet.Create().SetWorkspaceID(ws.ID).SetEnvironmentID(f.env.ID).SetName(fmt.Sprintf("set %d", i)).
			SetStatus(backupset.StatusREADY).SetItemCount(3).SaveX(ctx)
		for j := range 3 {
			b := db.BackupItem.Create().SetWorkspaceID(ws.ID).SetBackupSetID(f.sets[i].ID).SetPolicyType("deviceConfiguration").
				SetSourceGraphID(fmt.Sprintf("src-%d", j)).SetDisplayName(fmt.Sprintf("Policy %d", j)).
				SetPayload(map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration"}).
				SetContentHash(fmt.Sprintf("h%d%d", i, j)).SaveX(ctx)
			f.items[i] = append(f.items[i], b.ID)
		}
	}
	// The interference hook: a write made between a step's read and its
	// guarded update, as a concurrent step committing at that moment would.
	// It writes in the step's transaction, so it rolls back with it.
	db.Client.RestoreRun.Use(func(next ent.Mutator) ent.Mutator {
		return hook.RestoreRunFunc(func(ctx context.Context, m *ent.RestoreRunMutation) (ent.Value, error) {
			if m.Op().Is(ent.OpUpdate) {
				f.mu.Lock()
				fn := f.interfere
				f.interfere = nil
				f.mu.Unlock()
				if fn != nil {
					if err := fn(ctx, m.Client()); err != nil {
						return nil, err
					}
				}
			}
			return next.Mutate(ctx, m)
		})
	})
	return f
}

// viewerCtx creates a member of ws with role and returns a context acting as
// that member.
func viewerCtx(tb testing.TB, db *store.DB, ws *ent.Workspace, email string, role access.Role) context.Context {
	tb.Helper()
	ctx := context.Background()
	u := db.User.Create().SetEmail(email).SaveX(ctx)
	db.Membership.Create().SetWorkspaceID(ws.ID).SetUserID(u.ID).SetRole(role).ExecX(ctx)
	return auth.WithViewer(ctx, &auth.Viewer{User: u, WorkspaceID: ws.ID, Role: role})
}

// previewedRun is a run of set 0 scoped to ALL whose checks (no blockers)
// and preview are current, as the checks and preview jobs leave it.
func (f *fixture) previewedRun(tb testing.TB) *ent.RestoreRun {
	tb.Helper()
	run, err := f.svc.CreateRun(f.owner, f.env.ID, f.sets[0].ID)
	if err != nil {
		tb.Fatalf("CreateRun: %v", err)
	}
	run, err = f.svc.DefineScope(f.owner, run.ID, restore.ScopeInput{Mode: restorerun.ScopeModeALL})
	if err != nil {
		tb.Fatalf("DefineScope: %v", err)
	}
	at := f.clock.Now().Add(-time.Minute)
	return f.db.RestoreRun.UpdateOneID(run.ID).SetStatus(restorerun.StatusPREVIEWED).
		SetCheckFingerprint(run.ScopeFingerprint).SetCheckedAt(at).
		SetPreviewFingerprint(run.ScopeFingerprint).SetPreviewedAt(at).SaveX(context.Background())
}

// confirmedRun is a previewed run confirmed by the owner.
func (f *fixture) confirmedRun(tb testing.TB) *ent.RestoreRun {
	tb.Helper()
	run := f.previewedRun(tb)
	run, err := f.svc.Confirm(f.owner, run.ID, confirmAs)
	if err != nil {
		tb.Fatalf("Confirm: %v", err)
	}
	return run
}

var confirmAs = restore.ConfirmInput{Acknowledged: true, TenantConfirmation: "Contoso test"}

// reload reads a run with its environment.
func (f *fixture) reload(tb testing.TB, id string) *ent.RestoreRun {
	tb.Helper()
	return f.db.RestoreRun.Query().Where(restorerun.ID(id)).WithEnvironment().OnlyX(context.Background())
}

// actions lists the audit actions recorded about a run.
func (f *fixture) actions(tb testing.TB, runID string) []string {
	tb.Helper()
	entries := f.db.AuditLog.Query().Where(auditlog.ObjectID(runID)).AllX(context.Background())
	var out []string
	for _, e := range entries {
		out = append(out, e.Action)
	}
	slices.Sort(out)
	return out
}

// code is the apperr code of err, "" for nil.
func code(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := apperr.As(err); ok {
		return string(e.Code)
	}
	return "untyped: " + err.Error()
}

// race runs a and b at the same time and returns their errors.
func race(a, b func() error) (errA, errB error) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); <-start; errA = a() }()
	go func() { defer wg.Done(); <-start; errB = b() }()
	close(start)
	wg.Wait()
	return errA, errB
}

// gate reports whether the gate code holds on run for the viewer of ctx.
func (f *fixture) gate(ctx context.Context, run *ent.RestoreRun, code string) bool {
	for _, g := range f.svc.Readiness(run, auth.FromContext(ctx), f.clock.Now()).Gates {
		if g.Code == code {
			return g.Satisfied
		}
	}
	return false
}

// consistent checks what must hold of a run whatever steps ran on it: a
// confirmation is whole and current, or absent; a queued run was queued
// with the scope its checks, preview and confirmation were made for; the
// run's items are its scope.
func (f *fixture) consistent(tb testing.TB, id string) *ent.RestoreRun {
	tb.Helper()
	run := f.reload(tb, id)
	if run.ConfirmedAt != nil {
		if run.ConfirmedBy == nil || run.DryRun || !run.Acknowledged || run.ConfirmedFingerprint == "" {
			tb.Fatalf("partial confirmation: %+v", run)
		}
		var confirmer context.Context
		for _, c := range []context.Context{f.owner, f.owner2} {
			if auth.FromContext(c).User.ID == *run.ConfirmedBy {
				confirmer = c
			}
		}
		if run.Status != restorerun.StatusCANCELLED && (confirmer == nil || !f.gate(confirmer, run, restore.GateTenantConfirmed)) {
			tb.Fatalf("a confirmation that does not match the run it is stored on: %+v", run)
		}
	} else if run.ConfirmedBy != nil || !run.DryRun || run.Acknowledged || run.ConfirmedFingerprint != "" {
		tb.Fatalf("leftovers of a confirmation: %+v", run)
	}
	if run.Status == restorerun.StatusQUEUED {
		for _, g := range []string{restore.GateChecksCurrent, restore.GatePreviewCurrent, restore.GateTenantConfirmed} {
			if !f.gate(f.owner, run, g) {
				tb.Fatalf("queued run with %s open: %+v", g, run)
			}
		}
		if run.ActiveExecutionKey == nil || *run.ActiveExecutionKey != f.env.ID {
			tb.Fatalf("queued run without the target's execution key: %+v", run)
		}
	} else if run.ActiveExecutionKey != nil {
		tb.Fatalf("%s run holds the target's execution key", run.Status)
	}
	n := f.db.RestoreRunItem.Query().Where(restorerunitem.RunID(id)).CountX(context.Background())
	want := 0
	switch {
	case run.Status == restorerun.StatusDRAFT:
	case run.ScopeMode == restorerun.ScopeModeSELECTED:
		want = len(run.SelectedItemIds)
	default:
		want = 3
	}
	if n != want {
		tb.Fatalf("%d items for a %s %s scope, want %d", n, run.Status, run.ScopeMode, want)
	}
	return run
}

// release cancels a queued run so the next iteration may execute on the
// same target.
func (f *fixture) release(tb testing.TB, run *ent.RestoreRun) {
	tb.Helper()
	if run.Status == restorerun.StatusQUEUED {
		if _, err := f.svc.Cancel(f.owner, run.ID); err != nil {
			tb.Fatalf("Cancel: %v", err)
		}
	}
}

const iterations = 20

// TestRaceScopeVsConfirm: re-scoping and confirming the same previewed run
// at once. Either one wins and the other is refused (CONFLICT, or
// GATE_BLOCKED when it read the new scope), or the confirmation came first
// and the new scope then voided it; never a confirmation of the new scope.
func TestRaceScopeVsConfirm(t *testing.T) {
	f := newFixture(t)
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	for i := range iterations {
		run := f.previewedRun(t)
		errScope, errConfirm := race(
			func() error {
				_, err := f.svc.DefineScope(f.owner, run.ID, restore.ScopeInput{Mode: restorerun.ScopeModeSELECTED, ItemIDs: f.items[0][:1]})
				return err
			},
			func() error { _, err := f.svc.Confirm(f.owner, run.ID, confirmAs); return err },
		)
		outcomes[fmt.Sprintf("scope %q, confirm %q", code(errScope), code(errConfirm))]++
		got := f.consistent(t, run.ID)
		switch {
		case errScope == nil && (code(errConfirm) == "CONFLICT" || code(errConfirm) == "GATE_BLOCKED"),
			errScope == nil && errConfirm == nil: // confirmed, then re-scoped
			if got.Status != restorerun.StatusSCOPED || got.ScopeMode != restorerun.ScopeModeSELECTED || got.ConfirmedAt != nil {
				t.Fatalf("iteration %d: scope won, run %+v", i, got)
			}
		case errConfirm == nil && code(errScope) == "CONFLICT":
			if got.Status != restorerun.StatusPREVIEWED || got.ScopeMode != restorerun.ScopeModeALL || got.ConfirmedAt == nil {
				t.Fatalf("iteration %d: confirm won, run %+v", i, got)
			}
		default:
			t.Fatalf("iteration %d: scope %q, confirm %q", i, code(errScope), code(errConfirm))
		}
		if errConfirm != nil && slices.Contains(f.actions(t, run.ID), "restore_run.confirm") {
			t.Fatalf("iteration %d: a refused confirmation was audited", i)
		}
	}
}

// TestRaceScopeVsExecute: re-scoping a confirmed run while it is executed.
// Exactly one wins: a queued run keeps the scope it was checked, previewed
// and confirmed for; a re-scoped run is not queued.
func TestRaceScopeVsExecute(t *testing.T) {
	f := newFixture(t)
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	for i := range iterations {
		run := f.confirmedRun(t)
		errScope, errExec := race(
			func() error {
				_, err := f.svc.DefineScope(f.owner, run.ID, restore.ScopeInput{Mode: restorerun.ScopeModeSELECTED, ItemIDs: f.items[0][:1]})
				return err
			},
			func() error { _, err := f.svc.Execute(f.owner, run.ID, ""); return err },
		)
		outcomes[fmt.Sprintf("scope %q, execute %q", code(errScope), code(errExec))]++
		got := f.consistent(t, run.ID)
		switch {
		case errScope == nil && (code(errExec) == "CONFLICT" || code(errExec) == "GATE_BLOCKED"):
			if got.Status != restorerun.StatusSCOPED || got.ScopeMode != restorerun.ScopeModeSELECTED {
				t.Fatalf("iteration %d: scope won, run %+v", i, got)
			}
		case errExec == nil && (code(errScope) == "CONFLICT" || code(errScope) == "INVALID_TRANSITION"):
			if got.Status != restorerun.StatusQUEUED || got.ScopeMode != restorerun.ScopeModeALL || got.ScopeFingerprint != run.ScopeFingerprint {
				t.Fatalf("iteration %d: execute won, run %+v", i, got)
			}
		default:
			t.Fatalf("iteration %d: scope %q, execute %q", i, code(errScope), code(errExec))
		}
		f.release(t, got)
	}
}

// TestRaceCancelVsExecute: cancelling a confirmed run while it is executed.
// Either one wins and the other is refused, or the execution came first and
// the cancel then cancelled the queued run; a cancelled run never holds
// the target.
func TestRaceCancelVsExecute(t *testing.T) {
	f := newFixture(t)
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	for i := range iterations {
		run := f.confirmedRun(t)
		errCancel, errExec := race(
			func() error { _, err := f.svc.Cancel(f.owner, run.ID); return err },
			func() error { _, err := f.svc.Execute(f.owner, run.ID, ""); return err },
		)
		outcomes[fmt.Sprintf("cancel %q, execute %q", code(errCancel), code(errExec))]++
		got := f.consistent(t, run.ID)
		switch {
		case errCancel == nil && (code(errExec) == "CONFLICT" || code(errExec) == "INVALID_TRANSITION"),
			errCancel == nil && errExec == nil: // queued, then cancelled
			if got.Status != restorerun.StatusCANCELLED {
				t.Fatalf("iteration %d: cancel won, run %+v", i, got)
			}
		case errExec == nil && code(errCancel) == "CONFLICT":
			if got.Status != restorerun.StatusQUEUED {
				t.Fatalf("iteration %d: execute won, run %+v", i, got)
			}
		default:
			t.Fatalf("iteration %d: cancel %q, execute %q", i, code(errCancel), code(errExec))
		}
		f.release(t, got)
	}
}

// TestRaceSelectBackupSetVsConfirm: changing the backup set of a previewed
// run while it is confirmed. Either one wins and the other is refused, or
// the confirmation came first and the new backup set then voided it.
func TestRaceSelectBackupSetVsConfirm(t *testing.T) {
	f := newFixture(t)
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	for i := range iterations {
		run := f.previewedRun(t)
		errSelect, errConfirm := race(
			func() error { _, err := f.svc.SelectBackupSet(f.owner, run.ID, f.sets[1].ID); return err },
			func() error { _, err := f.svc.Confirm(f.owner, run.ID, confirmAs); return err },
		)
		outcomes[fmt.Sprintf("select %q, confirm %q", code(errSelect), code(errConfirm))]++
		got := f.consistent(t, run.ID)
		switch {
		case errSelect == nil && (code(errConfirm) == "CONFLICT" || code(errConfirm) == "GATE_BLOCKED"),
			errSelect == nil && errConfirm == nil: // confirmed, then reset
			if got.Status != restorerun.StatusDRAFT || got.BackupSetID != f.sets[1].ID || got.ConfirmedAt != nil {
				t.Fatalf("iteration %d: select won, run %+v", i, got)
			}
		case errConfirm == nil && code(errSelect) == "CONFLICT":
			if got.Status != restorerun.StatusPREVIEWED || got.BackupSetID != f.sets[0].ID || got.ConfirmedAt == nil {
				t.Fatalf("iteration %d: confirm won, run %+v", i, got)
			}
		default:
			t.Fatalf("iteration %d: select %q, confirm %q", i, code(errSelect), code(errConfirm))
		}
	}
}

// TestGuardedStepsRefuseAChangedRun: for each step, the run is changed
// after the step read it and before its write (as a concurrent step
// committing then would). The step gets CONFLICT, writes nothing and
// audits nothing.
func TestGuardedStepsRefuseAChangedRun(t *testing.T) {
	// rescope changes the run as a concurrent DefineScope would.
	rescope := func(id string) func(ctx context.Context, tx *ent.Client) error {
		return func(ctx context.Context, tx *ent.Client) error {
			return tx.RestoreRun.UpdateOneID(id).SetScopeMode(restorerun.ScopeModeSELECTED).
				SetSelectedItemIds([]string{"x"}).SetScopeFingerprint("another scope").Exec(ctx)
		}
	}
	tests := []struct {
		name   string
		run    func(f *fixture, tb testing.TB) *ent.RestoreRun
		change func(id string) func(ctx context.Context, tx *ent.Client) error
		step   func(f *fixture, id string) error
		action string
	}{
		{"select backup set", (*fixture).previewedRun, rescope, func(f *fixture, id string) error {
			_, err := f.svc.SelectBackupSet(f.owner, id, f.sets[1].ID)
			return err
		}, "restore_run.select_backup_set"},
		{"define scope", (*fixture).previewedRun, rescope, func(f *fixture, id string) error {
			_, err := f.svc.DefineScope(f.owner, id, restore.ScopeInput{Mode: restorerun.ScopeModeALL, CreateMissing: true})
			return err
		}, "restore_run.define_scope"},
		{"confirm", (*fixture).previewedRun, rescope, func(f *fixture, id string) error {
			_, err := f.svc.Confirm(f.owner, id, confirmAs)
			return err
		}, "restore_run.confirm"},
		{"back to dry run", (*fixture).confirmedRun, rescope, func(f *fixture, id string) error {
			_, err := f.svc.Confirm(f.owner, id, restore.ConfirmInput{DryRun: true})
			return err
		}, "restore_run.confirm"},
		{"cancel", (*fixture).confirmedRun, func(id string) func(ctx context.Context, tx *ent.Client) error {
			return func(ctx context.Context, tx *ent.Client) error { // executed meanwhile
				return tx.RestoreRun.UpdateOneID(id).SetStatus(restorerun.StatusQUEUED).Exec(ctx)
			}
		}, func(f *fixture, id string) error {
			_, err := f.svc.Cancel(f.owner, id)
			return err
		}, "restore_run.cancel"},
		// A queued run whose scope changed meanwhile is impossible.
		{"execute after a scope change", (*fixture).confirmedRun, rescope, func(f *fixture, id string) error {
			_, err := f.svc.Execute(f.owner, id, "key-1")
			return err
		}, "restore_run.execute.queued"},
		{"execute while writes are turned off", (*fixture).confirmedRun, func(id string) func(ctx context.Context, tx *ent.Client) error {
			return func(ctx context.Context, tx *ent.Client) error {
				run := tx.RestoreRun.GetX(ctx, id)
				return tx.Environment.UpdateOneID(run.EnvironmentID).SetWriteEnabled(false).Exec(ctx)
			}
		}, func(f *fixture, id string) error {
			_, err := f.svc.Execute(f.owner, id, "")
			return err
		}, "restore_run.execute.queued"},
		{"execute after another confirmation", (*fixture).confirmedRun, func(id string) func(ctx context.Context, tx *ent.Client) error {
			return func(ctx context.Context, tx *ent.Client) error {
				return tx.RestoreRun.UpdateOneID(id).SetConfirmedFingerprint("confirmed by someone else").Exec(ctx)
			}
		}, func(f *fixture, id string) error {
			_, err := f.svc.Execute(f.owner, id, "")
			return err
		}, "restore_run.execute.queued"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			run := tt.run(f, t)
			before := f.reload(t, run.ID)
			auditBefore := f.actions(t, run.ID)
			f.mu.Lock()
			f.interfere = tt.change(run.ID)
			f.mu.Unlock()
			if err := tt.step(f, run.ID); code(err) != "CONFLICT" {
				t.Fatalf("error %v, want CONFLICT", err)
			}
			if f.interfere != nil {
				t.Fatal("the step made no guarded update")
			}
			after := f.reload(t, run.ID)
			after.UpdatedAt, before.UpdatedAt = time.Time{}, time.Time{}
			after.Edges, before.Edges = ent.RestoreRunEdges{}, ent.RestoreRunEdges{}
			if fmt.Sprintf("%+v", after) != fmt.Sprintf("%+v", before) {
				t.Fatalf("the refused step changed the run:\nbefore %+v\nafter  %+v", before, after)
			}
			if got := f.actions(t, run.ID); !slices.Equal(got, auditBefore) {
				t.Fatalf("audit %v after the refused %s, want %v", got, tt.action, auditBefore)
			}
			f.consistent(t, run.ID)
		})
	}
}

// TestStepsAuditInTheirTransaction: each successful step leaves exactly its
// audit entry.
func TestStepsAuditInTheirTransaction(t *testing.T) {
	f := newFixture(t)
	run := f.confirmedRun(t)
	if _, err := f.svc.Execute(f.owner, run.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Cancel(f.owner, run.ID); err != nil {
		t.Fatal(err)
	}
	want := []string{"restore_run.cancel", "restore_run.confirm", "restore_run.create", "restore_run.define_scope", "restore_run.execute.queued"}
	if got := f.actions(t, run.ID); !slices.Equal(got, want) {
		t.Fatalf("audit %v, want %v", got, want)
	}
}

// TestConfirmationIsPersonal: only the member who confirmed executes; a
// second owner's own confirmation takes over, and voids the first.
func TestConfirmationIsPersonal(t *testing.T) {
	f := newFixture(t)
	run := f.confirmedRun(t)
	_, err := f.svc.Execute(f.owner2, run.ID, "")
	if e, ok := apperr.As(err); !ok || e.Code != apperr.GateBlocked || !slices.Equal(e.Gates, []string{restore.GateConfirmedByViewer}) {
		t.Fatalf("execute by another owner: %v", err)
	}
	if _, err := f.svc.Confirm(f.owner2, run.ID, confirmAs); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Execute(f.owner, run.ID, "")
	if e, ok := apperr.As(err); !ok || e.Code != apperr.GateBlocked || !slices.Equal(e.Gates, []string{restore.GateConfirmedByViewer}) {
		t.Fatalf("execute by the first confirmer after a second confirmation: %v", err)
	}
	got, err := f.svc.Execute(f.owner2, run.ID, "")
	if err != nil || got.Status != restorerun.StatusQUEUED {
		t.Fatalf("execute by its confirmer: %v %+v", err, got)
	}
	f.consistent(t, run.ID)
}

// TestLiveTargetGates: a change to the target after the checks blocks
// confirmation and execution at once, without re-running the checks.
func TestLiveTargetGates(t *testing.T) {
	tests := []struct {
		name   string
		change func(u *ent.EnvironmentUpdateOne, now time.Time)
	}{
		{"writes turned off", func(u *ent.EnvironmentUpdateOne, _ time.Time) { u.SetWriteEnabled(false) }},
		{"archived", func(u *ent.EnvironmentUpdateOne, now time.Time) { u.SetArchivedAt(now).SetWriteEnabled(false) }},
		{"credentials replaced", func(u *ent.EnvironmentUpdateOne, now time.Time) { u.SetCredentialsSetAt(now) }},
		{"credentials removed", func(u *ent.EnvironmentUpdateOne, _ time.Time) {
			u.ClearClientSecretEncrypted().ClearCredentialsSetAt()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			previewed := f.previewedRun(t)
			confirmed := f.confirmedRun(t)
			u := f.db.Environment.UpdateOneID(f.env.ID)
			tt.change(u, f.clock.Now())
			u.ExecX(context.Background())
			_, err := f.svc.Confirm(f.owner, previewed.ID, confirmAs)
			if e, ok := apperr.As(err); !ok || e.Code != apperr.GateBlocked || !slices.Contains(e.Gates, restore.GateTechnicallyAble) {
				t.Fatalf("confirm: %v", err)
			}
			_, err = f.svc.Execute(f.owner, confirmed.ID, "")
			if e, ok := apperr.As(err); !ok || e.Code != apperr.GateBlocked || !slices.Contains(e.Gates, restore.GateTechnicallyAble) {
				t.Fatalf("execute: %v", err)
			}
			// Readiness shows the same gate, the environment loaded or not.
			for _, r := range []*ent.RestoreRun{f.reload(t, confirmed.ID), f.db.RestoreRun.GetX(context.Background(), confirmed.ID)} {
				if rd := f.svc.ReadinessOf(f.owner, r); rd.CanExecute || !slices.Contains(rd.Open(), restore.GateTechnicallyAble) {
					t.Fatalf("readiness %+v", rd)
				}
			}
			if got := f.reload(t, confirmed.ID); got.Status != restorerun.StatusPREVIEWED {
				t.Fatalf("run %s", got.Status)
			}
		})
	}
}

// TestCreateFromPolicyVersionItemSaveFails: when the one-item backup set's
// item cannot be saved, CreateFromPolicyVersion returns the error, creates
// nothing, and does not touch the item it failed to make.
func TestCreateFromPolicyVersionItemSaveFails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.env.WorkspaceID
	p := f.db.IntunePolicy.Create().SetWorkspaceID(ws).SetEnvironmentID(f.env.ID).SetPolicyType("deviceConfiguration").
		SetGraphID("g-1").SetDisplayName("Wi-Fi").SetSyncedAt(f.clock.Now()).SaveX(ctx)
	pv := f.db.PolicyVersion.Create().SetWorkspaceID(ws).SetPolicyID(p.ID).SetVersion(1).
		SetPayload(map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration"}).
		SetContentHash("h").SetCapturedAt(f.clock.Now()).SaveX(ctx)
	failed := errors.New("disk full")
	f.db.Client.BackupItem.Use(func(next ent.Mutator) ent.Mutator {
		return hook.BackupItemFunc(func(ctx context.Context, m *ent.BackupItemMutation) (ent.Value, error) {
			if m.Op().Is(ent.OpCreate) {
				return nil, failed
			}
			return next.Mutate(ctx, m)
		})
	})
	sets := f.db.BackupSet.Query().CountX(ctx)
	if _, err := f.svc.CreateFromPolicyVersion(f.owner, pv.ID, f.env.ID); !errors.Is(err, failed) {
		t.Fatalf("error %v, want %v", err, failed)
	}
	if n := f.db.BackupSet.Query().CountX(ctx); n != sets {
		t.Fatalf("%d backup sets after the failure, want %d", n, sets)
	}
}
