package apitest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunevent"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/restore"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/config"
	"github.com/restored/restored/internal/platform/ptr"
)

// Execution writes several items of a run at once (--execute-concurrency),
// within a catalog tier: scope tags, then the foundations that carry them
// (assignment filters, notification templates), then everything else.

// wipedTenant generates a tenant, backs it up and then deletes every object
// but the built-in ones and the groups, so that a restore of the backup
// creates everything again: foundations on new ids that every later item
// must refer to.
func (e *env) wipedTenant(s *sim, name string, gen graphsim.GenOptions) (*graphsim.Tenant, *ent.Environment, string) {
	e.t.Helper()
	tenant, envRow := e.tenantEnv(s, name, gen)
	bs := e.backupOf(envRow.ID, "before")
	for _, typ := range intune.Types() {
		for _, o := range tenant.Objects(typ.Key) {
			if typ.IsBuiltin(o) {
				continue
			}
			tenant.Remove(typ.Key, o["id"].(string))
		}
	}
	return tenant, envRow, bs
}

// writeTier is the tier of a write's path, as the executor orders them: 0
// scope tags, 1 the other foundations, 2 the rest (-1: no catalog type).
func writeTier(path string) int {
	best, tier := "", -1
	for _, t := range intune.Types() {
		if (path == t.Path || strings.HasPrefix(path, t.Path+"/")) && len(t.Path) > len(best) {
			best = t.Path
			switch {
			case t.Key == "roleScopeTag":
				tier = 0
			case t.Foundation:
				tier = 1
			default:
				tier = 2
			}
		}
	}
	return tier
}

// tierOrderViolations lists writes that began before a write of an earlier
// tier had been answered: an object written before the foundations it may
// refer to existed with their ids known.
func tierOrderViolations(ws []graphsim.Write) []string {
	var out []string
	for _, later := range ws {
		for _, earlier := range ws {
			if wt, lt := writeTier(earlier.Path), writeTier(later.Path); wt >= 0 && wt < lt && !later.Started.After(earlier.At) {
				out = append(out, fmt.Sprintf("%s %s began before %s %s was answered", later.Method, later.Path, earlier.Method, earlier.Path))
			}
		}
	}
	return out
}

// itemEventProblems checks a run's ITEM events: strictly increasing
// sequences, one per item in finished (items with an outcome of their own),
// each counting one more finished item than the one before, every count
// summing to the run's total.
func (e *env) itemEventProblems(runID string, finished, total int) []string {
	evs := e.app.DB.Client.RestoreRunEvent.Query().Where(restorerunevent.RunID(runID), restorerunevent.Kind(restore.EventItem)).
		Order(ent.Asc(restorerunevent.FieldSequence)).AllX(context.Background())
	var out []string
	if len(evs) != finished {
		out = append(out, fmt.Sprintf("%d ITEM events for %d finished items", len(evs), finished))
	}
	seen := map[string]bool{}
	for i, ev := range evs {
		c := ev.Counts
		switch {
		case i > 0 && ev.Sequence <= evs[i-1].Sequence:
			out = append(out, fmt.Sprintf("event %d has sequence %d after %d", i, ev.Sequence, evs[i-1].Sequence))
		case c == nil || c.Total != total || c.Pending+c.Applying+c.Succeeded+c.Failed+c.Skipped != total:
			out = append(out, fmt.Sprintf("event %d counts %+v, total %d", i, c, total))
		case c.Succeeded+c.Failed+c.Skipped != i+1:
			out = append(out, fmt.Sprintf("event %d counts %d finished items, want %d", i, c.Succeeded+c.Failed+c.Skipped, i+1))
		case seen[ev.ItemID]:
			out = append(out, fmt.Sprintf("item %s has two ITEM events", ev.ItemID))
		}
		seen[ev.ItemID] = true
	}
	return out
}

// TestExecuteConcurrentUnderThrottling: a tenant restored from scratch (all
// its scope tags, filters, templates and about 40 policies recreated) by an
// executor writing 3 items at once, while the tenant throttles writes below
// the limits restored paces to (429 with fractional Retry-After). Every item
// succeeds; graphsim's write log shows at most 3 writes in flight at once,
// and never a write that began before every write of an earlier tier
// (the foundations it may refer to) was answered; objects refer to the
// recreated foundations' new ids; ITEM events count one finished item more
// each, in strictly increasing sequence.
func TestExecuteConcurrentUnderThrottling(t *testing.T) {
	const n = 3
	e := start(t, func(c *config.Config) {
		c.ExecuteConcurrency = n
		// restored paces to Microsoft's limits in 1 s windows; the tenant
		// allows far less (8 writes per second), so it throttles.
		c.GraphRateWindow = time.Second
	})
	s := e.startSim()
	tenant, envRow, bs := e.wipedTenant(s, "tiers", graphsim.GenOptions{Seed: 5, Policies: 39, Groups: 4, ScopeTags: 3, Filters: 3})
	w := e.confirmed(envRow.ID, bs)
	tenant.SetFaults(graphsim.Faults{WritesPerWindow: 8, Window: time.Second, RetryAfter: 250 * time.Millisecond, Latency: 5 * time.Millisecond})
	tenant.ResetWrites()
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	v := w.terminal()

	items := e.runItems(w.id)
	var problems []string
	created, finished := 0, 0
	for _, it := range items {
		if it.Status != restorerunitem.StatusSUCCEEDED && it.Status != restorerunitem.StatusSKIPPED {
			problems = append(problems, fmt.Sprintf("%s %q: %s %s", it.PolicyType, it.DisplayName, it.Status, ptr.Deref(it.ErrorCode)))
		}
		if ptr.Deref((*string)(it.ExecutedAction)) == "CREATED" {
			created++
		}
		finished++
	}
	if v.Status != "COMPLETED" || len(problems) > 0 {
		t.Fatalf("run %s; items:\n%s", v.Status, strings.Join(problems, "\n"))
	}
	writes := tenant.Writes()
	throttled := slices.ContainsFunc(writes, func(w graphsim.Write) bool { return w.Status == http.StatusTooManyRequests })
	if !throttled || created < 35 {
		t.Fatalf("%d items created, throttled %v: the test proves nothing", created, throttled)
	}
	if got := graphsim.MaxInFlight(writes); got > n || got < 2 {
		t.Errorf("%d writes in flight at once, want 2 to %d", got, n)
	}
	if bad := tierOrderViolations(writes); len(bad) > 0 {
		t.Errorf("%d writes out of tier order, e.g. %s", len(bad), bad[0])
	}
	if got := creates(writes); len(got) != created {
		t.Errorf("%d objects created in the tenant for %d created items", len(got), created)
	}
	if d := duplicateNames(tenant); len(d) > 0 {
		t.Errorf("duplicates: %v", d)
	}
	// Objects carry the recreated scope tags' ids (graphsim refuses
	// unknown ones too): substitution saw every foundation of tier 0.
	tags := map[string]bool{}
	for _, o := range tenant.Objects("roleScopeTag") {
		tags[o["id"].(string)] = true
	}
	for _, typ := range intune.Types() {
		if typ.ScopeTagsProperty == "" {
			continue
		}
		for _, o := range tenant.Objects(typ.Key) {
			ids, _ := o[typ.ScopeTagsProperty].([]any)
			for _, id := range ids {
				if !tags[fmt.Sprint(id)] {
					t.Errorf("%s %v refers to scope tag %v, not in the tenant", typ.Key, o["id"], id)
				}
			}
		}
	}
	for _, p := range e.itemEventProblems(w.id, finished, len(items)) {
		t.Error(p)
	}
}

// TestExecuteCancelConcurrent: a cancel while items are written several at
// once stops the run before its next item: the items in flight finish and
// record their outcomes, the others end SKIPPED (cancelled) without a write
// marker or an attempt. No item is half-recorded: every object the run
// created in the tenant is an item's recorded target, every item with an
// outcome of its own has its one ITEM event.
func TestExecuteCancelConcurrent(t *testing.T) {
	const n = 4
	e := start(t, func(c *config.Config) { c.ExecuteConcurrency = n })
	s := e.startSim()
	tenant, envRow, bs := e.wipedTenant(s, "cancelled", graphsim.GenOptions{Seed: 6, Policies: 52, Groups: 4, ScopeTags: 2, Filters: 2})
	w := e.confirmed(envRow.ID, bs)
	tenant.SetFaults(graphsim.Faults{Latency: 80 * time.Millisecond})
	tenant.ResetWrites()
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	ctx := context.Background()
	db := e.app.DB.Client
	// Cancelled once the policies (the last tier) are being written.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := db.RestoreRunItem.Query().Where(restorerunitem.RunID(w.id), restorerunitem.StatusEQ(restorerunitem.StatusSUCCEEDED),
			restorerunitem.PolicyTypeEQ("deviceConfiguration")).CountX(ctx)
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no policy restored")
		}
	}
	w.must("cancelRestoreRun", map[string]any{"runId": w.id})
	if v := w.terminal(); v.Status != "CANCELLED" {
		t.Fatalf("run %s, want CANCELLED", v.Status)
	}
	items := e.runItems(w.id)
	cancelled, own := 0, 0
	targets := map[string]bool{}
	for _, it := range items {
		switch {
		case it.Status == restorerunitem.StatusSKIPPED && ptr.Deref(it.ErrorCode) == "cancelled":
			cancelled++
			if it.WriteStartedAt != nil || it.Attempts != 0 {
				t.Errorf("cancelled item %s %q was started (attempts %d)", it.PolicyType, it.DisplayName, it.Attempts)
			}
		case it.Status == restorerunitem.StatusPENDING || it.Status == restorerunitem.StatusAPPLYING:
			t.Errorf("item %s left %s", it.ID, it.Status)
		default:
			own++
		}
		if ptr.Deref((*string)(it.ExecutedAction)) == "CREATED" {
			targets[ptr.Deref(it.TargetGraphID)] = true
		}
	}
	if cancelled == 0 || own == 0 {
		t.Fatalf("%d cancelled, %d with their own outcome", cancelled, own)
	}
	// Every object in the tenant now is a recorded item's target.
	for _, typ := range intune.Types() {
		for _, o := range tenant.Objects(typ.Key) {
			if id := o["id"].(string); !typ.IsBuiltin(o) && !targets[id] {
				t.Errorf("%s %s was created but no item records it", typ.Key, id)
			}
		}
	}
	writes := tenant.Writes()
	if got := creates(writes); len(got) != len(targets) {
		t.Errorf("%d creations in the tenant for %d created items", len(got), len(targets))
	}
	if got := graphsim.MaxInFlight(writes); got > n {
		t.Errorf("%d writes in flight at once, want at most %d", got, n)
	}
	for _, p := range e.itemEventProblems(w.id, own, len(items)) {
		t.Error(p)
	}
}

// TestExecuteHandsBackBeforeDeadline: an execution attempt whose task
// deadline (Asynq's timeout) comes too near for another item starts no
// more, lets the items in flight finish and hands the run back
// (operations.ErrInterrupted: not a failure, resumed at once), before the
// deadline cancels anything; the next attempt finishes the run without
// redoing an item.
func TestExecuteHandsBackBeforeDeadline(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow, bs := e.wipedTenant(s, "deadline", graphsim.GenOptions{Seed: 7, Policies: 52, Groups: 4, ScopeTags: 2, Filters: 2})
	w := e.confirmed(envRow.ID, bs)
	e.app.StopWorker() // the test is the worker
	// Set while no worker runs: hand back 3 s (1.5 item timeouts) before
	// the deadline.
	e.app.Restore.ItemTimeout = 2 * time.Second
	tenant.SetFaults(graphsim.Faults{Latency: 150 * time.Millisecond})
	tenant.ResetWrites()
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	op := e.execOp(w.id)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.app.Restore.RunExecuteJob(ctx, op)
	if !errors.Is(err, operations.ErrInterrupted) || ctx.Err() != nil {
		t.Fatalf("first attempt ended with %v (deadline passed: %v), want a hand-back before the deadline", err, ctx.Err())
	}
	db := e.app.DB.Client
	run := db.RestoreRun.GetX(context.Background(), w.id)
	done := 0
	for _, it := range e.runItems(w.id) {
		switch it.Status {
		case restorerunitem.StatusAPPLYING:
			t.Errorf("item %s left APPLYING", it.ID)
		case restorerunitem.StatusSUCCEEDED:
			done++
		}
	}
	if run.Status != restorerun.StatusRUNNING || run.LeaseOwner != nil || done == 0 {
		t.Fatalf("after the hand-back: run %s, lease %v, %d items done", run.Status, ptr.Deref(run.LeaseOwner), done)
	}
	end, err := e.app.Restore.RunExecuteJob(context.Background(), op)
	if err != nil || end.Outcome != operationrun.OutcomeSUCCEEDED {
		t.Fatalf("second attempt: %v %+v", err, end)
	}
	created := 0
	for _, it := range e.runItems(w.id) {
		if it.Attempts > 1 {
			t.Errorf("item %s attempted %d times", it.ID, it.Attempts)
		}
		if ptr.Deref((*string)(it.ExecutedAction)) == "CREATED" {
			created++
		}
	}
	if got := creates(tenant.Writes()); len(got) != created {
		t.Errorf("%d creations for %d created items", len(got), created)
	}
}
