package apitest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/msgraph/graphsim"
)

// Benchmarks of the API's heavy paths, end to end (real HTTP, real jobs,
// the simulated Graph over TLS). Results and the command that produced them
// are in BENCHMARKS.md.

// BenchmarkScopeListing10k: one page of a search in a 10,000-item backup
// set, with the counts by type and platform.
func BenchmarkScopeListing10k(b *testing.B) {
	e := start(b)
	bsID := e.largeSet(10000)
	w := &wizard{e: e, t: b, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": e.prodEnvID, "backupSetId": bsID})
	q := `query($id: ID!) { restoreScopeItems(runId: $id, search: "policy 07", platforms: ["windows"]) {
		items(first: 100) { totalCount edges { node { id displayName policyType } } } groups { policyType platform count } } }`
	for b.Loop() {
		r := e.post(e.operator, q, map[string]any{"id": w.id})
		if len(r.Errors) > 0 {
			b.Fatal(r.Raw)
		}
	}
}

// BenchmarkDefineScope10k: scoping a 10,000-item backup set (every item
// materialized as a run item, checks and preview invalidated).
func BenchmarkDefineScope10k(b *testing.B) {
	e := start(b)
	bsID := e.largeSet(10000)
	w := &wizard{e: e, t: b, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": e.prodEnvID, "backupSetId": bsID})
	createMissing := false
	for b.Loop() {
		createMissing = !createMissing // a different scope every time
		w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL", "createMissing": createMissing})
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkChecks: the safety checks job over a captured tenant of every
// type (about 1,000 items), against the simulated tenant.
func BenchmarkChecks(b *testing.B) {
	e := start(b)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "bench", graphsim.GenOptions{Seed: 1, Policies: 1000, Groups: 20, ScopeTags: 4, Filters: 4})
	tenant.SetFaults(graphsim.Faults{RequestsPerWindow: -1, WritesPerWindow: -1})
	bs := e.backupOf(envRow.ID, "bench")
	w := &wizard{e: e, t: b, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL"})
	items := len(e.itemsOf(bs))
	for b.Loop() {
		w.must("runRestoreChecks", map[string]any{"runId": w.id})
		e.waitJob(w.id, operations.TypeRestoreChecks)
	}
	b.ReportMetric(float64(b.N*items)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkCaptureThrottled: capturing a 150-object tenant (every type) at
// Microsoft's published throttling limits.
func BenchmarkCaptureThrottled(b *testing.B) {
	e := start(b)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "capture", graphsim.GenOptions{Seed: 1, Policies: 150, Groups: 12, ScopeTags: 4, Filters: 4})
	objects := 0
	for b.Loop() {
		bs := e.backupOf(envRow.ID, "bench")
		objects += len(e.itemsOf(bs))
	}
	b.ReportMetric(float64(objects)/b.Elapsed().Seconds(), "objects/s")
}

// waitJob waits until no job of typ for subject is queued or running.
func (e *env) waitJob(subjectID, typ string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		busy, err := e.app.DB.Client.OperationRun.Query().Where(operationrun.SubjectID(subjectID), operationrun.Type(typ),
			operationrun.StatusNEQ(operationrun.StatusCOMPLETED)).Exist(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s job of %s still running", typ, subjectID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkChecksAndPreview10k: the safety checks, then the preview, of a
// 10,000-item backup set restored into a simulated tenant (items created,
// so the preview reads nothing per item: what is measured is the judging
// and storing of 10,000 items). Goal: each under 5 s, under 300 MiB.
func BenchmarkChecksAndPreview10k(b *testing.B) {
	e := start(b)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "bench10k", graphsim.GenOptions{Seed: 2, Policies: 40, Groups: 4, ScopeTags: 2, Filters: 2})
	tenant.SetFaults(graphsim.Faults{RequestsPerWindow: -1, WritesPerWindow: -1})
	bs := e.largeSet(10000)
	w := &wizard{e: e, t: b, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	var checks, preview time.Duration
	memory := peakMemory()
	for b.Loop() {
		w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL", "createMissing": b.N%2 == 0})
		t0 := time.Now()
		w.must("runRestoreChecks", map[string]any{"runId": w.id})
		e.waitJob(w.id, operations.TypeRestoreChecks)
		checks += time.Since(t0)
		t0 = time.Now()
		w.must("generateRestorePreview", map[string]any{"runId": w.id})
		e.waitJob(w.id, operations.TypeRestorePreview)
		preview += time.Since(t0)
	}
	peak := memory()
	b.ReportMetric(checks.Seconds()/float64(b.N), "checks-s")
	b.ReportMetric(preview.Seconds()/float64(b.N), "preview-s")
	b.ReportMetric(peak, "peak-MiB")
	slow := "a page of 200 items is judged and stored per transaction; look for a per-item query or round trip"
	goal(b, "checks of 10,000 items, seconds", checks.Seconds()/float64(b.N), 5, slow)
	goal(b, "preview of 10,000 items, seconds", preview.Seconds()/float64(b.N), 5, slow)
	goal(b, "peak resident memory of the process (server, workers and simulated Graph), MiB", peak, 300,
		"items are read and stored a page at a time; something holds the whole set")
}

// goal says in a benchmark's log whether got meets the limit for
// what, and when it does not, why: a benchmark that cannot reach a goal
// says so, next to its figures.
func goal(b *testing.B, what string, got, limit float64, why string) {
	b.Helper()
	if got <= limit {
		b.Logf("goal met: %s = %.2f (at most %.2f)", what, got, limit)
		return
	}
	b.Logf("GOAL MISSED: %s = %.2f (at most %.2f): %s", what, got, limit, why)
}

// peakMemory samples this process's resident memory (or, without /proc,
// Go's heap and stacks, which miss SQLite's own allocations) until stop is
// called, which returns the highest in MiB. The process holds the server,
// its workers and the simulated Graph, so it is an upper bound on the
// server's.
func peakMemory() (stop func() float64) {
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var most uint64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			most = max(most, residentBytes())
			select {
			case <-done:
				peak <- most
				return
			case <-tick.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		return float64(<-peak) / (1 << 20)
	}
}

func residentBytes() uint64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		var size, resident uint64
		if _, err := fmt.Sscan(string(b), &size, &resident); err == nil {
			return resident * uint64(os.Getpagesize())
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
