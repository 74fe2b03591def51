package restore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ptr"
	"github.com/restored/restored/internal/store"
)

// Execution bounds for a tenant that does not answer. Each item's Graph
// work (write, assignments, read-back) gets ItemTimeout; an item whose
// tenant failed transiently (no answer, 503, 504, 429 beyond the client's
// own retries) is tried again, and once the tenant has made no progress for
// TenantPatience the run gives up: the remaining items end SKIPPED
// (tenant_unresponsive). Meanwhile the operation run's statusMessage says
// what the job waits for.
const (
	defaultItemTimeout    = 2 * time.Minute
	defaultTenantPatience = 10 * time.Minute
)

// defaultItemConcurrency is how many items of a run are written at once.
// Intune answers a write in a few hundred milliseconds and an item takes a
// few requests (write, assignments, read-back), so one item at a time uses
// a fraction of the tenant's budget (100 writes per 20 s); four reach it.
// More only queue in the per-tenant limiter, which bounds what every
// process sends anyway.
const defaultItemConcurrency = 4

func (s *Service) itemConcurrency() int {
	if s.ItemConcurrency > 0 {
		return s.ItemConcurrency
	}
	return defaultItemConcurrency
}

func (s *Service) itemTimeout() time.Duration {
	if s.ItemTimeout > 0 {
		return s.ItemTimeout
	}
	return defaultItemTimeout
}

// handBack reports whether the pass should stop at this item boundary and
// hand the run back to the queue (operations.ErrInterrupted, resumed at once
// by the next delivery, nothing redone): the worker shuts down, or the
// job's deadline (Asynq's task timeout) is too near for an item to finish
// before it. Without the second, a restore longer than one task attempt
// would have its context cancelled mid-item and its job failed.
func (s *Service) handBack(ctx context.Context) bool {
	if operations.Stopping(ctx) {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < s.itemTimeout()*3/2
}

func (s *Service) tenantPatience() time.Duration {
	if s.TenantPatience > 0 {
		return s.TenantPatience
	}
	return defaultTenantPatience
}

// Error codes of items and runs that execution sets itself (Graph's own
// codes, such as BadRequest or http_503, are stored as Graph gave them).
const (
	codeCancelled          = "cancelled"
	codeTenantUnresponsive = "tenant_unresponsive"
	codeCaptureFailed      = "pre_restore_capture_failed"
	codeAmbiguous          = "target_ambiguous"
	// codeWriteInterrupted: the run stopped after an item's write began and
	// what the write did could not be established (see settle).
	codeWriteInterrupted = "write_interrupted"
	codeTargetMissing    = "target_missing"
)

// RunExecuteJob is the restore.execute job: it applies a queued run to its
// target tenant, item by item in catalog order (foundations first), after
// capturing what it will overwrite into a pre-restore backup set. Only the
// holder of the run's lease writes (see lease.go): a second delivery of the
// task gets ErrLeaseHeld and writes nothing. It returns
// operations.ErrInterrupted when the worker shuts down (the run resumes
// elsewhere; finished items are not redone).
func (s *Service) RunExecuteJob(ctx context.Context, op *ent.OperationRun) (_ operations.End, err error) {
	defer apperr.Wrap(&err, "restore.RunExecuteJob(%s)", op.ID)
	run, err := s.Client.RestoreRun.Query().Where(restorerun.ID(ptr.Deref(op.SubjectID))).
		WithEnvironment().WithBackupSet().Only(ctx)
	if err != nil {
		return operations.End{}, err
	}
	if isTerminal(run.Status) {
		// The run ended but its operation did not (a crash in between):
		// report the end it reached.
		return s.endOf(ctx, op, run)
	}
	if run.Status != restorerun.StatusQUEUED && run.Status != restorerun.StatusRUNNING {
		return operations.End{Outcome: operationrun.OutcomeFAILED, ErrorCode: "not_queued",
			ErrorMessage: "the run is " + string(run.Status) + ", not queued for execution"}, nil
	}
	l, err := s.acquireLease(ctx, run.ID)
	if errors.Is(err, ErrLeaseHeld) {
		// Or the run ended meanwhile (cancelled while still queued).
		if now, rerr := s.Client.RestoreRun.Get(ctx, run.ID); rerr == nil && isTerminal(now.Status) {
			return s.endOf(ctx, op, now)
		}
	}
	if err != nil {
		return operations.End{}, err
	}
	defer l.release(ctx)
	x := &execution{s: s, op: op, lease: l, run: run, fresh: map[string]bool{}, lastProgress: time.Now()}
	end, err := x.execute(ctx)
	if errors.Is(err, ErrLeaseHeld) {
		// Lost to a cancellation of the queued run, or to another
		// handler that has finished it since: report how it ended.
		if now, rerr := s.Client.RestoreRun.Get(ctx, run.ID); rerr == nil && isTerminal(now.Status) {
			return s.endOf(ctx, op, now)
		}
	}
	return end, err
}

func isTerminal(st restorerun.Status) bool {
	switch st {
	case restorerun.StatusCOMPLETED, restorerun.StatusPARTIAL, restorerun.StatusFAILED, restorerun.StatusCANCELLED:
		return true
	}
	return false
}

// execution is one handler's pass over a run. Its items run concurrently
// (writeTier): mu guards what they share.
type execution struct {
	s     *Service
	op    *ent.OperationRun
	lease *lease
	run   *ent.RestoreRun
	w     intune.Writer
	refs  *refs
	tt    tenants
	// captureFailed: items whose target could not be captured before
	// being overwritten (they are not written).
	captureFailed map[string]bool

	mu sync.Mutex
	// fresh: items whose write marker this pass set and which it has not
	// written yet (nothing to look up before creating them).
	fresh map[string]bool
	// lastProgress is when the tenant last let an item finish.
	lastProgress time.Time
	summary      results.OperationSummary
	// progressMu orders the summary's progress writes; progressed is the
	// item count last written (an older summary is never written after it).
	progressMu sync.Mutex
	progressed int
	// abortCode is why the run ended early, if it did (audited).
	abortCode string
}

func (x *execution) execute(ctx context.Context) (operations.End, error) {
	s := x.s
	if err := x.start(ctx); err != nil {
		return operations.End{}, err
	}
	var err error
	if x.tt, err = runTenants(ctx, s.Client, x.run); err != nil {
		return operations.End{}, err
	}
	if x.refs, err = s.refsFor(ctx, x.run); err != nil {
		return operations.End{}, err
	}
	if env := x.run.Edges.Environment; !env.WriteEnabled || env.ArchivedAt != nil {
		// Judged again at the start: writes may have been disabled (or
		// the environment archived) since the run was queued.
		return x.abort(ctx, restorerun.StatusFAILED, "writes_disabled", "writes to this environment were disabled before the restore started")
	}
	w, err := s.Writers.Writer(ctx, x.run.Edges.Environment)
	if err != nil {
		return x.abort(ctx, restorerun.StatusFAILED, apperr.SafeCode(err), "the target tenant could not be reached: "+apperr.SafeCode(err))
	}
	x.w = fencedWriter{Writer: w, lease: x.lease}
	items, err := x.items(ctx)
	if err != nil {
		return operations.End{}, err
	}
	if err := x.capturePreRestore(ctx, items); err != nil {
		if stop, ok := x.stopErr(ctx, err); ok {
			return operations.End{}, stop
		}
		return operations.End{}, err
	}
	// Items an earlier pass finished count as they ended, and the
	// foundations they restored are referred to by later items.
	var todo []*runItem
	for _, it := range items {
		if !finished(it.Status) {
			todo = append(todo, it)
			continue
		}
		x.tally(it)
		if err := x.rememberCreated(ctx, it); err != nil {
			return operations.End{}, err
		}
	}
	for _, tier := range tiers(todo) {
		err := x.writeTier(ctx, tier)
		switch {
		case errors.Is(err, errCancelled):
			return x.abort(ctx, restorerun.StatusCANCELLED, codeCancelled, "cancelled before this item")
		case errors.Is(err, errGaveUp):
			// FAILED, or PARTIAL when items before succeeded.
			return x.abort(ctx, "", codeTenantUnresponsive,
				fmt.Sprintf("the tenant made no progress for %s", s.tenantPatience()))
		case err != nil:
			return operations.End{}, err
		}
	}
	return x.finish(ctx, "")
}

// stopErr maps what interrupts a pass: a lost lease, a shutdown, a
// cancelled context.
func (x *execution) stopErr(ctx context.Context, err error) (error, bool) {
	switch {
	case errors.Is(err, ErrLeaseHeld):
		return err, true
	case operations.Stopping(ctx):
		return operations.ErrInterrupted, true
	case ctx.Err() != nil:
		return ctx.Err(), true
	}
	return nil, false
}

// Ends of a tier that stop the run early: no further item starts, the
// items in flight finish, then the run is aborted (see execute).
var (
	errCancelled = errors.New("restore: cancel requested")
	errGaveUp    = errors.New("restore: the tenant made no progress")
)

// tierOf orders the writes of a run: an item is written only once every
// object it may refer to is, with its id known (created foundations are
// substituted through refs). Scope tags refer to nothing; assignment
// filters and notification templates carry scope tags; every other type
// carries scope tags, filters (in assignments) and templates (compliance
// actions). Items of one tier never refer to each other, so they are
// written concurrently.
func tierOf(policyType string) int {
	switch t, ok := intune.Lookup(policyType); {
	case ok && t.Key == refScopeTag:
		return 0
	case ok && t.Foundation:
		return 1
	}
	return 2
}

// itemTier is an item's tier: tierOf for a write; an undo's deletes come
// after every write, in reverse (policies before the foundations they may
// refer to, scope tags last; see deleteRank).
func itemTier(it *runItem) int {
	if it.PlannedAction != nil && *it.PlannedAction == restorerunitem.PlannedActionDELETE {
		return 5 - tierOf(it.PolicyType)
	}
	return tierOf(it.PolicyType)
}

// tiers cuts items, in restore order, into the runs of one tier each.
func tiers(items []*runItem) [][]*runItem {
	var out [][]*runItem
	for i, it := range items {
		if i == 0 || itemTier(it) != itemTier(items[i-1]) {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], it)
	}
	return out
}

// writeTier writes the items of one tier, ItemConcurrency at a time, in
// order of start, and returns once every item it started has finished. The
// checks that stop a run are made as each item is about to start (when a
// slot is free): a shutdown (operations.ErrInterrupted, the run is handed
// back) or a cancel (errCancelled) starts nothing more, and the items in
// flight finish and record their outcomes. So do they when one item stops
// the pass (a lost lease, the database) or gives up on the tenant
// (errGaveUp).
func (x *execution) writeTier(ctx context.Context, items []*runItem) error {
	p := newPool(x.s.itemConcurrency())
	var stop error
	for _, it := range items {
		if !p.Acquire() {
			break
		}
		if stop = x.beforeItem(ctx); stop != nil {
			p.Release()
			break
		}
		p.Go(func() error { return x.writeItem(ctx, it) })
	}
	// An item's own error (a lost lease) wins over a stop asked meanwhile.
	if err := p.Wait(); err != nil {
		return err
	}
	return stop
}

// beforeItem says whether another item may start: not when the run is to
// be handed back (handBack), the job's context ended or the run's cancel
// was requested.
func (x *execution) beforeItem(ctx context.Context) error {
	if x.s.handBack(ctx) {
		return operations.ErrInterrupted
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cancel, err := x.cancelRequested(ctx)
	if err != nil {
		return err
	}
	if cancel {
		return errCancelled
	}
	return nil
}

// writeItem executes one item (in a pool slot): nil once its outcome is
// stored, errGaveUp after a tenant that stopped answering, or what stops
// the pass.
func (x *execution) writeItem(ctx context.Context, it *runItem) error {
	out, err := x.item(ctx, it)
	if err != nil {
		if stop, ok := x.stopErr(ctx, err); ok {
			return stop
		}
		return err
	}
	if out.giveUp {
		return errGaveUp
	}
	return nil
}

func (x *execution) setFresh(itemID string, fresh bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if fresh {
		x.fresh[itemID] = true
	} else {
		delete(x.fresh, itemID)
	}
}

func (x *execution) isFresh(itemID string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.fresh[itemID]
}

func (x *execution) sinceProgress() time.Duration {
	x.mu.Lock()
	defer x.mu.Unlock()
	return time.Since(x.lastProgress)
}

// start moves a queued run to RUNNING (its first pass) and records the
// start; a resumed run is already RUNNING.
func (x *execution) start(ctx context.Context) error {
	s := x.s
	if x.run.Status == restorerun.StatusRUNNING {
		return nil
	}
	var rec *recorded
	err := store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		u := x.lease.guard(tx.RestoreRun.Update()).Where(restorerun.StatusEQ(restorerun.StatusQUEUED)).
			SetStatus(restorerun.StatusRUNNING).SetStartedAt(s.Clock.Now())
		n, err := u.Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrLeaseHeld
		}
		counts, err := countsWith(ctx, tx, x.run.ID)
		if err != nil {
			return err
		}
		rec, err = s.record(ctx, tx, x.run, AuditExecuteStarted, map[string]any{"items": counts.Total})
		return err
	})
	if err != nil {
		return err
	}
	s.announce(ctx, rec)
	x.run.Status = restorerun.StatusRUNNING
	return nil
}

// runItem is what execution reads of an item.
type runItem = ent.RestoreRunItem

// items lists the run's items in restore order: catalog order (foundations
// first, so every later item can refer to what they become), then id.
func (x *execution) items(ctx context.Context) ([]*runItem, error) {
	items, err := x.s.Client.RestoreRunItem.Query().Where(restorerunitem.RunID(x.run.ID)).
		Select(restorerunitem.FieldID, restorerunitem.FieldWorkspaceID, restorerunitem.FieldRunID, restorerunitem.FieldBackupItemID,
			restorerunitem.FieldPolicyType, restorerunitem.FieldDisplayName, restorerunitem.FieldPlannedAction,
			restorerunitem.FieldPreviewAction, restorerunitem.FieldStatus, restorerunitem.FieldTargetGraphID,
			restorerunitem.FieldAttempts, restorerunitem.FieldWriteStartedAt, restorerunitem.FieldExecutedAction,
			restorerunitem.FieldVerified).
		All(ctx)
	if err != nil {
		return nil, err
	}
	restoreOrder(items)
	return items, nil
}

// restoreOrder sorts items in restore order: catalog order (foundations
// first, so every later item can refer to what they become), then id; an
// undo's deletes last (deleteRank).
func restoreOrder(items []*runItem) {
	order := map[string]int{}
	for i, t := range intune.Types() {
		order[t.Key] = i
	}
	rank := func(k string) int {
		if i, ok := order[k]; ok {
			return i
		}
		return len(order)
	}
	slices.SortFunc(items, func(a, b *runItem) int {
		if d := deleteRank(a, rank) - deleteRank(b, rank); d != 0 {
			return d
		}
		if d := rank(a.PolicyType) - rank(b.PolicyType); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// deleteRank orders an undo's deletes after every other item (what the undo
// restores may refer to them until it is restored), policies before the
// foundations they may refer to: reverse catalog order. 0 for the others.
func deleteRank(it *runItem, rank func(string) int) int {
	if it.PlannedAction == nil || *it.PlannedAction != restorerunitem.PlannedActionDELETE {
		return 0
	}
	return 1 + len(intune.Types()) - rank(it.PolicyType)
}

func finished(st restorerunitem.Status) bool {
	switch st {
	case restorerunitem.StatusSUCCEEDED, restorerunitem.StatusFAILED, restorerunitem.StatusSKIPPED:
		return true
	}
	return false
}

// rememberCreated restores, on a resumed pass, what an earlier pass
// restored foundations onto: later items still refer to those ids.
func (x *execution) rememberCreated(ctx context.Context, it *runItem) error {
	if t, ok := intune.Lookup(it.PolicyType); !ok || !t.Foundation || it.TargetGraphID == nil {
		return nil
	}
	b, err := x.s.Client.BackupItem.Get(ctx, it.BackupItemID)
	if err != nil {
		return err
	}
	x.foundationRestored(it, b)
	return nil
}

// foundationRestored records the object a foundation (scope tag, filter,
// template) was restored onto (created by this run, or found through the
// identity map): every later item refers to the target's id. Also when that
// id equals the backup's: scope tag ids are small integers, so a tag
// created in another tenant (or recreated after its deletion) often gets
// its source's id, and until recorded, items would still refer to it as
// "new: <name>".
func (x *execution) foundationRestored(it *runItem, b *ent.BackupItem) {
	t, ok := intune.Lookup(b.PolicyType)
	target := ptr.Deref(it.TargetGraphID)
	if !ok || !t.Foundation || target == "" {
		return
	}
	if it.Status == restorerunitem.StatusSUCCEEDED ||
		(it.ExecutedAction != nil && *it.ExecutedAction == restorerunitem.ExecutedActionUNCHANGED) {
		x.setCreated(b.PolicyType, b.SourceGraphID, target)
	}
}

func (x *execution) setCreated(typeKey, sourceID, targetID string) {
	x.refs.setCreated(typeKey, sourceID, targetID)
}

func (x *execution) cancelRequested(ctx context.Context) (bool, error) {
	run, err := x.s.Client.RestoreRun.Query().Where(restorerun.ID(x.run.ID)).
		Select(restorerun.FieldCancelRequested).Only(ctx)
	if err != nil {
		return false, err
	}
	return run.CancelRequested, nil
}

// outcome is how one item ended.
type outcome struct {
	status   restorerunitem.Status
	action   restorerunitem.ExecutedAction
	targetID string
	verified bool
	drift    *results.Diff
	code     string
	message  string
	// giveUp: the tenant made no progress for too long; stop the run.
	giveUp bool
	// created is the object the item's write created, if it did.
	created *createdObject
}

func skipped(action restorerunitem.ExecutedAction, code, message string) outcome {
	return outcome{status: restorerunitem.StatusSKIPPED, action: action, code: code, message: message}
}

func failed(code, message string) outcome {
	return outcome{status: restorerunitem.StatusFAILED, code: code, message: message}
}

// plan decides whether an item is written; ok=false with the outcome of an
// item that is not.
func (x *execution) plan(it *runItem, t *intune.Type, b *ent.BackupItem) (outcome, bool) {
	switch {
	case t == nil:
		return skipped(restorerunitem.ExecutedActionSKIPPED, "unsupported_type", "the policy type is not supported"), false
	case t.PreviewOnlyReason(b.Payload) != "" ||
		(it.PreviewAction != nil && *it.PreviewAction == restorerunitem.PreviewActionPREVIEW_ONLY):
		return skipped(restorerunitem.ExecutedActionSKIPPED, "preview_only", "preview only: never executed"), false
	case it.PlannedAction == nil || *it.PlannedAction == restorerunitem.PlannedActionSKIP:
		return skipped(restorerunitem.ExecutedActionSKIPPED, "not_planned", "the checks planned no write for this item"), false
	case string(*it.PlannedAction) == "NO_CHANGE" ||
		(it.PreviewAction != nil && *it.PreviewAction == restorerunitem.PreviewActionNO_CHANGE):
		out := skipped(restorerunitem.ExecutedActionUNCHANGED, "", "")
		out.targetID = ptr.Deref(it.TargetGraphID)
		return out, false
	case t.IsBuiltin(b.Payload):
		return skipped(restorerunitem.ExecutedActionSKIPPED, "builtin", "built-in objects are never written"), false
	case x.captureFailed[it.ID]:
		return failed(codeCaptureFailed, "the target's current state could not be captured before overwriting it: not written"), false
	}
	return outcome{}, true
}

// item executes one item and stores its outcome. An error means the pass
// must stop (lost lease, shutdown, database); an item's own failure is an
// outcome.
func (x *execution) item(ctx context.Context, it *runItem) (outcome, error) {
	s := x.s
	b, err := s.Client.BackupItem.Get(ctx, it.BackupItemID)
	if err != nil {
		return outcome{}, err
	}
	t, _ := intune.Lookup(b.PolicyType)
	out, write := x.plan(it, t, b)
	for write {
		if err := x.begin(ctx, it); err != nil {
			return outcome{}, err
		}
		held, release := x.lease.bind(ctx)
		ictx, cancel := context.WithTimeout(held, s.itemTimeout())
		a := x.apply(ictx, it, t, b)
		cancel()
		release()
		if a.cause != nil {
			return outcome{}, a.cause
		}
		if x.lease.isLost() {
			return outcome{}, ErrLeaseHeld
		}
		if err := ctx.Err(); err != nil {
			return outcome{}, err
		}
		out = a.outcome
		if !a.transient {
			break
		}
		// The tenant did not answer: wait for it, within bounds, saying so.
		if x.sinceProgress() > s.tenantPatience() {
			out.giveUp = true
			out.code, out.message = codeTenantUnresponsive, "the tenant did not answer ("+a.code+")"
			break
		}
		x.note(ctx, fmt.Sprintf("Waiting for the tenant: it did not answer (%s) while restoring %q; trying again.", a.code, it.DisplayName))
		if s.handBack(ctx) {
			return outcome{}, operations.ErrInterrupted
		}
		select {
		case <-ctx.Done():
			return outcome{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	if out.status == restorerunitem.StatusSUCCEEDED {
		x.mu.Lock()
		x.lastProgress = time.Now()
		x.mu.Unlock()
		x.note(ctx, "")
	}
	if err := x.save(ctx, it, b, out); err != nil {
		return outcome{}, err
	}
	return out, nil
}

// applied is apply's result: an outcome (transient: worth trying again),
// or cause, an error that stops the pass (lost lease, database).
type applied struct {
	outcome
	transient bool
	cause     error
}

// begin records the intent before an item's first write: APPLYING, one more
// attempt, and write_started_at (kept: a pass that finds it set and no
// outcome looks the object up in the target before writing).
func (x *execution) begin(ctx context.Context, it *runItem) error {
	if err := x.lease.fence(ctx); err != nil {
		return err
	}
	return store.WithTx(ctx, x.s.Client, func(tx *ent.Client) error {
		if err := x.lease.renew(ctx, tx); err != nil {
			return err
		}
		u := tx.RestoreRunItem.UpdateOneID(it.ID).SetStatus(restorerunitem.StatusAPPLYING).AddAttempts(1)
		if it.WriteStartedAt == nil {
			u.SetWriteStartedAt(x.s.Clock.Now())
		}
		row, err := u.Save(ctx)
		if err != nil {
			return err
		}
		it.Attempts, it.Status = row.Attempts, row.Status
		if it.WriteStartedAt == nil {
			it.WriteStartedAt = row.WriteStartedAt
			// This pass set the marker: nothing was written before it.
			x.setFresh(it.ID, true)
		}
		return nil
	})
}

// apply writes one item: the object (created or updated per the catalog),
// then its assignments, then reads it back and compares.
func (x *execution) apply(ctx context.Context, it *runItem, t *intune.Type, b *ent.BackupItem) (a applied) {
	if *it.PlannedAction == restorerunitem.PlannedActionDELETE {
		return x.remove(ctx, it, t, b)
	}
	// An object this write creates is recorded with the outcome, whatever
	// the outcome (an undo deletes it).
	var createdID string
	defer func() {
		if createdID != "" && a.cause == nil && a.created == nil {
			a.created = &createdObject{id: createdID}
		}
	}()
	payload, assignments, tags := x.body(t, b)

	action := restorerunitem.ExecutedActionUPDATED
	targetID := ptr.Deref(it.TargetGraphID)
	create := *it.PlannedAction == restorerunitem.PlannedActionCREATE
	if create {
		action = restorerunitem.ExecutedActionCREATED
		// What this item was restored onto before (by this run's earlier
		// pass, or an earlier run between the same tenants) is updated,
		// never created twice; after a pass that died mid-write (the
		// marker was set before this pass) also an object of the same
		// type and name created since that pass began, which it may have
		// created (see createdBefore).
		found, earlierRun, out, ok := x.lookup(ctx, it, t, b, payload, !x.isFresh(it.ID))
		if !ok {
			return out
		}
		targetID = found
		if earlierRun {
			action = restorerunitem.ExecutedActionUPDATED
		} else {
			createdID = found // by an earlier pass of this run
		}
	}
	if create && targetID == "" {
		id, err := intune.Create(ctx, x.w, t, payload)
		createdID = id
		if id != "" {
			// Recorded at once: a pass after a crash finds it by id.
			if serr := x.s.Client.RestoreRunItem.UpdateOneID(it.ID).SetTargetGraphID(id).Exec(ctx); serr != nil {
				return applied{cause: serr}
			}
			it.TargetGraphID = &id
			x.setFresh(it.ID, false)
		}
		if err != nil {
			if id == "" && isTransient(err) {
				x.setFresh(it.ID, false) // the POST may have been applied
			}
			return graphFailure(err, "create")
		}
		targetID = id
	} else {
		if err := intune.Update(ctx, x.w, t, targetID, payload); err != nil {
			return graphFailure(err, "update")
		}
	}
	if t.Assignments.Supported && (len(assignments) > 0 || !create) {
		if err := intune.WriteAssignments(ctx, x.w, t, targetID, assignments); err != nil {
			return withTarget(graphFailure(err, "assign"), targetID)
		}
	}
	got, err := intune.Capture(ctx, x.w, t, targetID)
	if err != nil {
		return withTarget(graphFailure(err, "read back"), targetID)
	}
	out := applied{outcome: outcome{status: restorerunitem.StatusSUCCEEDED, action: action, targetID: targetID}}
	out.drift = verify(t, payload, assignments, tags, got)
	out.verified = out.drift == nil
	if createdID != "" {
		out.created = &createdObject{id: createdID, state: got}
	}
	return out
}

// body is what an item writes: the object's payload with its references
// and scope tags as the target's, its assignments, and its scope tag ids.
func (x *execution) body(t *intune.Type, b *ent.BackupItem) (payload map[string]any, assignments []map[string]any, tags []string) {
	d := x.refs.desired(t, b)
	payload = maps.Clone(d.payload)
	if t.ScopeTagsProperty != "" {
		if len(d.scopeTags) > 0 {
			payload[t.ScopeTagsProperty] = toAnyStrings(d.scopeTags)
		} else {
			delete(payload, t.ScopeTagsProperty)
		}
	}
	// refs.desired already wrote every reference as a target id, those of
	// foundations this run restored included (setCreated): substituting
	// again would map a target id that happens to equal a source id.
	return payload, d.assignments, t.ScopeTagIDs(payload)
}

func withTarget(a applied, targetID string) applied {
	a.targetID = targetID
	return a
}

// lookup finds the object an item planned CREATE already has in the
// target: the id an earlier pass of this run recorded, the identity map
// (earlierRun: an earlier run restored the item onto it), then (byName, after
// a pass that died mid-write) the same type, @odata.type and name. ok=false
// with the failure when the target cannot tell.
func (x *execution) lookup(ctx context.Context, it *runItem, t *intune.Type, b *ent.BackupItem, payload map[string]any, byName bool) (_ string, earlierRun bool, _ applied, ok bool) {
	exists := func(id string) (bool, error) {
		_, err := x.w.Get(ctx, t.Path+"/"+url.PathEscape(id), url.Values{"$select": {"id"}})
		if err != nil {
			if isNotFound(err) {
				return false, nil
			}
			return false, err
		}
		return true, nil
	}
	known, err := identities(ctx, x.s.Client, x.run.WorkspaceID, x.tt, t.Key)
	if err != nil {
		return "", false, applied{cause: err}, false
	}
	for i, id := range []string{ptr.Deref(it.TargetGraphID), known[b.SourceGraphID]} {
		if id == "" {
			continue
		}
		found, err := exists(id)
		if err != nil {
			return "", false, graphFailure(err, "look up"), false
		}
		if found {
			return id, i == 1 && id != ptr.Deref(it.TargetGraphID), applied{}, true
		}
	}
	if !byName {
		return "", false, applied{}, true
	}
	odata, _ := payload["@odata.type"].(string)
	name, _ := payload[t.Name()].(string)
	if name == "" {
		name = b.DisplayName
	}
	var matches []string
	err = x.w.List(ctx, t.Path, url.Values{"$select": {"id,createdDateTime," + t.Name()}}, func(raw map[string]any) error {
		n, _ := raw[t.Name()].(string)
		o, _ := raw["@odata.type"].(string)
		if strings.EqualFold(n, name) && (odata == "" || intune.CanonicalODataType(o) == intune.CanonicalODataType(odata)) &&
			!createdBefore(raw, it.WriteStartedAt) {
			id, _ := raw["id"].(string)
			matches = append(matches, id)
		}
		return nil
	})
	if err != nil {
		return "", false, graphFailure(err, "look up"), false
	}
	switch len(matches) {
	case 0:
		return "", false, applied{}, true
	case 1:
		return matches[0], false, applied{}, true
	}
	return "", false, applied{outcome: failed(codeAmbiguous,
		fmt.Sprintf("%d objects named %q exist in the target: not created again", len(matches), name))}, false
}

// lookupSkew is how far Graph's clock may be behind ours when a name lookup
// judges whether an object was created by the pass that died.
const lookupSkew = time.Minute

// createdBefore reports whether a listed object was created before the
// item's first write started (less lookupSkew): it existed already, so the
// pass that died did not create it, and it is never taken for the item's
// object (the admin may have chosen "create new" beside it; updating it, or
// recording it as created for an undo to delete, would touch what is not
// the run's). An object without createdDateTime is not judged.
func createdBefore(raw map[string]any, started *time.Time) bool {
	s, _ := raw["createdDateTime"].(string)
	created, err := time.Parse(time.RFC3339Nano, s)
	return started != nil && err == nil && created.Before(started.Add(-lookupSkew))
}

// verify compares what was read back with what was written: nil when equal,
// else the drift (settings, assignments, scope tags).
func verify(t *intune.Type, payload map[string]any, assignments []map[string]any, tags []string, got *intune.Captured) *results.Diff {
	want := t.Intended(payload)
	var settings []Change
	diffValues("", withoutKey(got.Payload, t.ScopeTagsProperty), withoutKey(want, t.ScopeTagsProperty), &settings)
	addedA, removedA, changedA := diffAssignments(got.Assignments, intune.NormalizeAssignments(toAnySlice(assignments)))
	if t.ScopeTagsProperty != "" && len(tags) == 0 {
		tags = []string{"0"} // Intune gives an untagged object the Default tag
	}
	haveTags := got.ScopeTagIDs
	if t.ScopeTagsProperty == "" {
		haveTags, tags = nil, nil
	}
	addedT, removedT := setDiff(haveTags, tags)
	if len(settings)+len(addedA)+len(removedA)+len(changedA)+len(addedT)+len(removedT) == 0 {
		return nil
	}
	settings, truncated := limitChanges(settings)
	changedA, _ = limitChanges(changedA)
	d := &results.Diff{
		Settings:    settings,
		Assignments: &results.AssignmentChanges{Added: orEmpty(addedA), Removed: orEmpty(removedA), Changed: changedA},
		ScopeTags:   &results.ScopeTagChanges{Added: orEmpty(addedT), Removed: orEmpty(removedT)},
	}
	if truncated {
		d.Note = "truncated"
	}
	return d
}

// graphFailure turns a Graph error into an item failure with a safe code
// and message (never Graph's text or a payload).
func graphFailure(err error, step string) applied {
	if errors.Is(err, ErrLeaseHeld) {
		return applied{cause: err}
	}
	code := apperr.SafeCode(err)
	if errors.Is(err, context.DeadlineExceeded) {
		code = "Timeout"
	}
	a := applied{outcome: failed(code, "Microsoft Graph refused the "+step+" ("+code+")")}
	if isTransient(err) || errors.Is(err, context.DeadlineExceeded) {
		a.transient = true
		a.message = "Microsoft Graph did not answer the " + step + " (" + code + ")"
	}
	if isNotFound(err) && step != "create" {
		a.code, a.message = codeTargetMissing, "the target object no longer exists ("+code+")"
	}
	return a
}

// isTransient reports a Graph failure worth retrying later, without
// importing the client.
func isTransient(err error) bool {
	var t interface{ Transient() bool }
	return errors.As(err, &t) && t.Transient()
}

// save stores an item's outcome, its identity, and its ITEM event (with the
// counts so far) in one transaction that holds only while this handler
// holds the lease.
func (x *execution) save(ctx context.Context, it *runItem, b *ent.BackupItem, out outcome) error {
	s := x.s
	now := s.Clock.Now()
	var ev *RunEvent
	err := store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		if err := x.lease.renew(ctx, tx); err != nil {
			return err
		}
		u := tx.RestoreRunItem.UpdateOneID(it.ID).SetStatus(out.status).SetFinishedAt(now).SetVerified(out.verified)
		if out.action != "" {
			u.SetExecutedAction(out.action)
		}
		if out.targetID != "" {
			u.SetTargetGraphID(out.targetID)
		}
		if out.drift != nil {
			u.SetDrift(out.drift)
		} else {
			u.ClearDrift()
		}
		if out.code != "" {
			u.SetErrorCode(out.code).SetErrorMessage(out.message)
		} else {
			u.ClearErrorCode().ClearErrorMessage()
		}
		row, err := u.Save(ctx)
		if err != nil {
			return err
		}
		*it = *row
		switch {
		case out.action == restorerunitem.ExecutedActionDELETED:
			if err := forgetIdentity(ctx, tx, x.run, x.tt, b.PolicyType, out.targetID); err != nil {
				return err
			}
		case out.targetID != "" && (out.status == restorerunitem.StatusSUCCEEDED || out.action == restorerunitem.ExecutedActionUNCHANGED):
			if err := rememberIdentity(ctx, tx, x.run, x.tt, b.PolicyType, b.SourceGraphID, out.targetID); err != nil {
				return err
			}
		}
		if out.created != nil {
			if err := x.recordCreated(ctx, tx, b, out.created); err != nil {
				return err
			}
		}
		counts, err := countsWith(ctx, tx, x.run.ID)
		if err != nil {
			return err
		}
		ev, err = appendEvent(ctx, tx, x.run.ID, EventItem, "", it.ID, counts, now)
		return err
	})
	if err != nil {
		return err
	}
	s.publishEvent(ctx, ev)
	x.foundationRestored(it, b)
	x.mu.Lock()
	x.tally(it)
	sum := x.summary
	x.mu.Unlock()
	x.progress(ctx, sum)
	return nil
}

// progress writes the operation's summary so far, unless a later one was
// written already (items finish concurrently).
func (x *execution) progress(ctx context.Context, sum results.OperationSummary) {
	x.progressMu.Lock()
	defer x.progressMu.Unlock()
	if sum.Items <= x.progressed {
		return
	}
	x.progressed = sum.Items
	if err := x.s.Ops.Progress(ctx, x.op.ID, sum); err != nil {
		x.s.Log.Warn("restore progress", "run", x.run.ID, "err", err)
	}
}

// tally counts a finished item into the operation's summary.
func (x *execution) tally(it *runItem) {
	x.summary.Items++
	switch it.Status {
	case restorerunitem.StatusFAILED:
		x.summary.Failed++
	case restorerunitem.StatusSKIPPED:
		x.summary.Skipped++
	}
	if it.ExecutedAction != nil {
		switch *it.ExecutedAction {
		case restorerunitem.ExecutedActionCREATED:
			x.summary.PoliciesCreated++
		case restorerunitem.ExecutedActionUPDATED:
			x.summary.PoliciesChanged++
		case restorerunitem.ExecutedActionUNCHANGED:
			x.summary.PoliciesUnchanged++
		case restorerunitem.ExecutedActionDELETED:
			x.summary.PoliciesDeleted++
		}
	}
}

// note sets the operation run's status message, best effort.
func (x *execution) note(ctx context.Context, msg string) {
	if err := x.s.Ops.Note(context.WithoutCancel(ctx), x.op.ID, msg); err != nil {
		x.s.Log.Warn("restore status message", "run", x.run.ID, "err", err)
	}
}

// abort ends the run early (cancelled, tenant unreachable or unresponsive):
// every item without an outcome ends SKIPPED with code; status "" lets the
// items' outcomes decide (see finish).
func (x *execution) abort(ctx context.Context, status restorerun.Status, code, message string) (operations.End, error) {
	s := x.s
	x.abortCode = code
	if err := x.settleInDoubt(ctx); err != nil {
		return operations.End{}, err
	}
	err := store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		if err := x.lease.renew(ctx, tx); err != nil {
			return err
		}
		return tx.RestoreRunItem.Update().
			Where(restorerunitem.RunID(x.run.ID), restorerunitem.StatusIn(restorerunitem.StatusPENDING, restorerunitem.StatusAPPLYING)).
			SetStatus(restorerunitem.StatusSKIPPED).SetExecutedAction(restorerunitem.ExecutedActionSKIPPED).
			SetErrorCode(code).SetErrorMessage(message).SetFinishedAt(s.Clock.Now()).Exec(ctx)
	})
	if err != nil {
		return operations.End{}, err
	}
	return x.finish(ctx, status)
}

// finish ends the run: its status from the items' outcomes (unless forced),
// counts, finished_at, the target freed for the next execution, the lease
// released, and the finish audit entry, in one transaction.
func (x *execution) finish(ctx context.Context, forced restorerun.Status) (operations.End, error) {
	s := x.s
	var rec *recorded
	var run *ent.RestoreRun
	err := store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		counts, err := countsWith(ctx, tx, x.run.ID)
		if err != nil {
			return err
		}
		status := forced
		if status == "" {
			switch {
			case counts.Failed == 0:
				status = restorerun.StatusCOMPLETED
			case counts.Succeeded == 0:
				status = restorerun.StatusFAILED
			default:
				status = restorerun.StatusPARTIAL
			}
		}
		n, err := x.lease.guard(tx.RestoreRun.Update()).Where(restorerun.StatusEQ(restorerun.StatusRUNNING)).
			SetStatus(status).SetFinishedAt(s.Clock.Now()).SetCounts(counts).
			ClearActiveExecutionKey().ClearLeaseOwner().ClearLeaseExpiresAt().Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrLeaseHeld
		}
		run, err = tx.RestoreRun.Get(ctx, x.run.ID)
		if err != nil {
			return err
		}
		meta := map[string]any{
			"status": string(status), "total": counts.Total, "succeeded": counts.Succeeded,
			"failed": counts.Failed, "skipped": counts.Skipped,
		}
		if x.abortCode != "" {
			meta["errorCode"] = x.abortCode
		}
		rec, err = s.record(ctx, tx, run, AuditExecuteFinished, meta)
		return err
	})
	if err != nil {
		return operations.End{}, err
	}
	x.lease.markLost() // released with the finish: nothing more to free
	s.announce(ctx, rec)
	return s.endOf(ctx, x.op, run)
}

// endOf is the operation's end for a finished run. Its outcome is the
// proof's (JudgeProof, the rule the reconciler applies too): succeeded only
// with the whole bundle; its message and failures say what happened.
func (s *Service) endOf(ctx context.Context, op *ent.OperationRun, run *ent.RestoreRun) (operations.End, error) {
	items, err := s.Client.RestoreRunItem.Query().Where(restorerunitem.RunID(run.ID)).
		Select(restorerunitem.FieldStatus, restorerunitem.FieldExecutedAction, restorerunitem.FieldVerified,
			restorerunitem.FieldPolicyType, restorerunitem.FieldTargetGraphID, restorerunitem.FieldErrorCode).All(ctx)
	if err != nil {
		return operations.End{}, err
	}
	x := &execution{}
	var failures []results.Failure
	unverified, gaveUp := 0, false
	for _, it := range items {
		x.tally(it)
		gaveUp = gaveUp || ptr.Deref(it.ErrorCode) == codeTenantUnresponsive
		if it.Status == restorerunitem.StatusSUCCEEDED && !it.Verified {
			unverified++
		}
		if it.Status == restorerunitem.StatusFAILED && len(failures) < 50 {
			failures = append(failures, results.Failure{PolicyType: it.PolicyType, GraphID: ptr.Deref(it.TargetGraphID), Code: ptr.Deref(it.ErrorCode)})
		}
	}
	end := operations.End{Summary: x.summary, Context: results.OperationContext{Failures: failures}}
	sum := x.summary
	switch run.Status {
	case restorerun.StatusCOMPLETED:
		end.Outcome = operationrun.OutcomeSUCCEEDED
		if unverified > 0 {
			end.Outcome = operationrun.OutcomePARTIALLY_SUCCEEDED
			end.Context.ReasonCodes = []string{"items_unverified"}
			end.ErrorCode, end.ErrorMessage = "items_unverified",
				fmt.Sprintf("%d of %d items were written but differ from the backup when read back (see each item's drift).", unverified, sum.Items)
		}
	case restorerun.StatusPARTIAL:
		end.Outcome = operationrun.OutcomePARTIALLY_SUCCEEDED
		end.Context.ReasonCodes = []string{"items_failed"}
		end.ErrorCode, end.ErrorMessage = "items_failed", fmt.Sprintf("%d of %d items failed.", sum.Failed, sum.Items)
		if gaveUp {
			end.Context.ReasonCodes = append(end.Context.ReasonCodes, codeTenantUnresponsive)
			end.ErrorMessage += fmt.Sprintf(" The tenant stopped answering: %d items were skipped.", sum.Skipped)
		}
	case restorerun.StatusCANCELLED:
		end.Outcome = operationrun.OutcomeCANCELLED
		end.Context.ReasonCodes = []string{codeCancelled}
		end.ErrorCode, end.ErrorMessage = codeCancelled, fmt.Sprintf("Cancelled: %d of %d items were skipped.", sum.Skipped, sum.Items)
	default:
		end.Outcome = operationrun.OutcomeFAILED
		code := "items_failed"
		for _, it := range items {
			if c := ptr.Deref(it.ErrorCode); c == codeTenantUnresponsive || (sum.Failed == 0 && c != "") {
				code = c
				break
			}
		}
		end.Context.ReasonCodes = []string{code}
		end.ErrorCode, end.ErrorMessage = code, fmt.Sprintf("The restore failed (%s): %d of %d items failed, %d skipped.", code, sum.Failed, sum.Items, sum.Skipped)
	}
	if op.EnvironmentID != nil {
		ev, err := s.evidence(ctx, run.ID, op.WorkspaceID, *op.EnvironmentID)
		if err != nil {
			return operations.End{}, err
		}
		if p := JudgeProof(ev); p.Final() {
			end.Outcome = operationrun.Outcome(p.Outcome)
			end.Context.ReasonCodes = p.Reasons
			if end.Outcome == operationrun.OutcomeSUCCEEDED {
				end.ErrorCode, end.ErrorMessage = "", ""
			}
		}
	}
	return end, nil
}

// countsWith counts a run's items by status through client (a transaction's
// sees its own uncommitted outcome).
func countsWith(ctx context.Context, client *ent.Client, runID string) (*results.ItemCounts, error) {
	var rows []struct {
		Status string `json:"status"`
		Count  int    `json:"count"`
	}
	err := client.RestoreRunItem.Query().Where(restorerunitem.RunID(runID)).
		GroupBy(restorerunitem.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := &results.ItemCounts{}
	for _, r := range rows {
		out.Add(r.Status, r.Count)
	}
	return out, nil
}

// AbandonExecution ends a run whose execution job failed for good (its
// retries exhausted without the job saying how it ended): every item
// without an outcome ends SKIPPED (job_failed), the run FAILED, a
// pre-restore set still capturing FAILED, and the target is freed for the
// next execution, so no run stays RUNNING forever.
func (s *Service) AbandonExecution(ctx context.Context, op *ent.OperationRun) (err error) {
	defer apperr.Wrap(&err, "restore.AbandonExecution(%s)", op.ID)
	runID := ptr.Deref(op.SubjectID)
	var rec *recorded
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		run, err := tx.RestoreRun.Get(ctx, runID)
		if err != nil || isTerminal(run.Status) {
			return err
		}
		now := s.Clock.Now()
		// An item whose write began may have changed the target: its
		// outcome is unknown, never "skipped".
		if err := tx.RestoreRunItem.Update().
			Where(restorerunitem.RunID(runID), restorerunitem.StatusIn(restorerunitem.StatusPENDING, restorerunitem.StatusAPPLYING),
				restorerunitem.WriteStartedAtNotNil()).
			SetStatus(restorerunitem.StatusFAILED).SetErrorCode(codeWriteInterrupted).
			SetErrorMessage("the execution job failed for good after this item's write began: the object may have been changed; check it in Intune").
			SetFinishedAt(now).Exec(ctx); err != nil {
			return err
		}
		if err := tx.RestoreRunItem.Update().
			Where(restorerunitem.RunID(runID), restorerunitem.StatusIn(restorerunitem.StatusPENDING, restorerunitem.StatusAPPLYING)).
			SetStatus(restorerunitem.StatusSKIPPED).SetExecutedAction(restorerunitem.ExecutedActionSKIPPED).
			SetErrorCode("job_failed").SetErrorMessage("the execution job failed; see the server log").
			SetFinishedAt(now).Exec(ctx); err != nil {
			return err
		}
		counts, err := countsWith(ctx, tx, runID)
		if err != nil {
			return err
		}
		if run.PreRestoreBackupSetID != nil {
			// Its capture will not be finished: no set stays CAPTURING.
			if err := tx.BackupSet.Update().Where(backupset.ID(*run.PreRestoreBackupSetID), backupset.StatusEQ(backupset.StatusCAPTURING)).
				SetStatus(backupset.StatusFAILED).Exec(ctx); err != nil {
				return err
			}
		}
		run, err = run.Update().SetStatus(restorerun.StatusFAILED).SetFinishedAt(now).SetCounts(counts).
			ClearActiveExecutionKey().ClearLeaseOwner().ClearLeaseExpiresAt().Save(ctx)
		if err != nil {
			return err
		}
		rec, err = s.record(ctx, tx, run, AuditExecuteFinished, map[string]any{
			"status": string(run.Status), "total": counts.Total, "succeeded": counts.Succeeded,
			"failed": counts.Failed, "skipped": counts.Skipped, "errorCode": "job_failed",
		})
		return err
	})
	if err != nil {
		return err
	}
	s.announce(ctx, rec)
	return nil
}
