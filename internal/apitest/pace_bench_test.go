package apitest

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/msgraph"
	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/config"
)

// Restore execution at the throttle limit (issue 16), end to end: a
// baseline tenant's backup (a few hundred objects of every type, with
// scope tags, filters and templates) restored from scratch into fresh
// tenants through the wizard, the worker and graphsim over HTTPS. The
// simulator enforces Microsoft's Intune limits (writes 100 per window per
// app, 200 per tenant; requests 1,000 and 2,000) with the window shortened
// from 20 s to paceWindow, and restored's limiter paces to the same
// window, so a bench takes seconds where Graph would take minutes; the
// ratios are those of the real limits.

// paceWindow is the time-scaled throttling window (Microsoft's: 20 s);
// PACE_WINDOW=20s runs at Microsoft's own window, where a machine's work
// per item weighs ten times less against the limits.
var paceWindow = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("PACE_WINDOW")); err == nil && d > 0 {
		return d
	}
	return 2 * time.Second
}()

// paceGen is the baseline tenant: 260 policies over every type (about 220
// of them restorable, the rest preview-only), 4 scope tags, 4 filters.
var paceGen = graphsim.GenOptions{Seed: 21, Policies: 260, Groups: 8, ScopeTags: 4, Filters: 4}

// paceBench is a running restored with the baseline's backup set.
type paceBench struct {
	e        *env
	s        *sim
	backup   string
	groupMap []map[string]any
}

func newPaceBench(b *testing.B) *paceBench {
	e := start(b, func(c *config.Config) {
		c.GraphRateWindow = paceWindow
		// One worker node runs every tenant's execution at once (the
		// runs mostly wait on their tenants' budgets).
		c.WorkerConcurrency = 64
	})
	s := e.startSim()
	src, srcEnv := e.tenantEnv(s, "baseline", paceGen)
	src.SetFaults(graphsim.Faults{WritesPerWindow: -1, RequestsPerWindow: -1})
	p := &paceBench{e: e, s: s, backup: e.backupOf(srcEnv.ID, "baseline")}
	// Targets have the baseline's groups (same ids and names), mapped.
	for _, g := range src.Groups() {
		p.groupMap = append(p.groupMap, map[string]any{"sourceId": g["id"], "targetId": g["id"]})
	}
	return p
}

// target is a fresh tenant with the baseline's groups and nothing else,
// throttled at Microsoft's limits in paceWindow.
type target struct {
	tenant *graphsim.Tenant
	w      *wizard
}

// confirmed prepares n targets' restores up to their confirmation, the jobs
// of all of them at once.
func (p *paceBench) confirmed(prefix string, n int) []*target {
	e := p.e
	ts := make([]*target, n)
	for i := range ts {
		tenant, envRow := e.tenantEnv(p.s, prefix+itoa(i), graphsim.GenOptions{Seed: paceGen.Seed, Groups: paceGen.Groups})
		w := &wizard{e: e, t: e.t, token: e.owner}
		w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": p.backup})
		w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL", "createMissing": true, "groupMapping": p.groupMap})
		w.must("runRestoreChecks", map[string]any{"runId": w.id})
		ts[i] = &target{tenant: tenant, w: w}
	}
	for _, t := range ts {
		if v := t.w.waitFor("CHECKED"); v.CheckSummary.Blocking != 0 {
			e.t.Fatalf("checks block: %+v %v", v.CheckSummary, e.itemCheckCodes(t.w.id))
		}
		t.w.must("generateRestorePreview", map[string]any{"runId": t.w.id})
	}
	for _, t := range ts {
		t.w.waitFor("PREVIEWED")
		name := e.app.DB.Client.RestoreRun.GetX(context.Background(), t.w.id).TenantLabel
		t.w.must("confirmRestoreRun", map[string]any{"runId": t.w.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": name})
		t.tenant.SetFaults(graphsim.Faults{Window: paceWindow})
		t.tenant.ResetWrites()
	}
	return ts
}

// paceResult is how an execution of targets went.
type paceResult struct {
	wall           time.Duration // first execute mutation to the last run's end
	floor          time.Duration // the largest target's floor (see floorOf)
	items, failed  int
	writes, status int // writes sent; 429s among them
	notCompleted   int
	itemsPerSecond float64
}

// execute executes every target's run at once and waits for all to end.
func (p *paceBench) execute(ts []*target) paceResult {
	e := p.e
	ctx := context.Background()
	db := e.app.DB.Client
	before := make([]int, len(ts))
	for i, t := range ts {
		before[i] = t.tenant.Requests()
	}
	t0 := time.Now()
	for _, t := range ts {
		t.w.must("executeRestoreRun", map[string]any{"runId": t.w.id})
	}
	var r paceResult
	for _, t := range ts {
		deadline := time.Now().Add(10 * time.Minute)
		for {
			run := db.RestoreRun.GetX(ctx, t.w.id)
			if run.FinishedAt != nil && (run.Status == restorerun.StatusCOMPLETED || run.Status == restorerun.StatusPARTIAL ||
				run.Status == restorerun.StatusFAILED || run.Status == restorerun.StatusCANCELLED) {
				r.wall = max(r.wall, run.FinishedAt.Sub(t0))
				if run.Status != restorerun.StatusCOMPLETED {
					r.notCompleted++
				}
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("run %s still %s", run.ID, run.Status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i, t := range ts {
		ws := t.tenant.Writes()
		for _, w := range ws {
			if w.Status == http.StatusTooManyRequests {
				r.status++
			}
		}
		r.writes += len(ws)
		r.floor = max(r.floor, floorOf(len(ws), t.tenant.Requests()-before[i]))
		r.items += db.RestoreRunItem.Query().Where(restorerunitem.RunID(t.w.id)).CountX(ctx)
		r.failed += db.RestoreRunItem.Query().Where(restorerunitem.RunID(t.w.id), restorerunitem.StatusEQ(restorerunitem.StatusFAILED)).CountX(ctx)
	}
	r.itemsPerSecond = float64(r.items) / r.wall.Seconds()
	return r
}

// floorOf is the shortest time Microsoft's limits (time-scaled) allow for
// writes writes and requests requests to one tenant from one app: a sliding
// window admits a budget's worth at once, so the k-th request of a budget
// can be sent no earlier than (k-1)/limit whole windows after the first.
func floorOf(writes, requests int) time.Duration {
	l := msgraph.IntuneLimits
	windows := max((writes-1)/l.AppWrites, (requests-1)/l.AppRequests, 0)
	return time.Duration(windows) * paceWindow
}

func (r paceResult) report(b *testing.B, prefix string) {
	b.ReportMetric(r.wall.Seconds(), prefix+"wall-s")
	b.ReportMetric(r.floor.Seconds(), prefix+"floor-s")
	b.ReportMetric(r.wall.Seconds()/r.floor.Seconds(), prefix+"floor-ratio")
	b.ReportMetric(float64(r.items), prefix+"items")
	b.ReportMetric(float64(r.writes), prefix+"writes")
	b.ReportMetric(float64(r.status), prefix+"429s")
	b.ReportMetric(float64(r.failed), prefix+"failed")
	b.ReportMetric(float64(r.notCompleted), prefix+"not-completed")
	b.ReportMetric(r.itemsPerSecond, prefix+"items/s")
}

// BenchmarkExecuteAtLimits: one restore of the baseline (about 230 items,
// 700 writes) into one tenant. Goal: wall time within 1.1× of the floor the
// limits allow, 0 items failed, no 429.
func BenchmarkExecuteAtLimits(b *testing.B) {
	for b.Loop() {
		p := newPaceBench(b)
		p.execute(p.confirmed("one", 1)).report(b, "")
	}
}

// BenchmarkExecuteTenants50: the same restore into one tenant, then into 50
// tenants at once (PACE_TENANTS to change it), on one worker node (64
// concurrent jobs). Goal: the 50 take about as long as the one (each
// tenant has its own budgets).
func BenchmarkExecuteTenants50(b *testing.B) {
	n := 50
	if v, err := strconv.Atoi(os.Getenv("PACE_TENANTS")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		p := newPaceBench(b)
		one := p.execute(p.confirmed("one", 1))
		many := p.execute(p.confirmed("many", n))
		one.report(b, "1:")
		many.report(b, "n:")
		b.ReportMetric(float64(n), "tenants")
		b.ReportMetric(many.wall.Seconds()/one.wall.Seconds(), "n/1-ratio")
	}
}
