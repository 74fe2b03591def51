// Tests of the operation run service (operations.go) on a real database and
// Redis (see package testenv), with a fake Enqueuer, the one seam: StartRun
// creates a queued run and submits its task once, returns the active run for
// a repeated dedupe key (also under concurrent starts), runs prepare in the
// creating transaction and fails the run when the queue refuses it; Begin,
// Progress and Complete move the run through its life and free its dedupe
// key; and every change is published on the run's topic.
package operations_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/internal/testenv"
)

// wait bounds every wait for an event. It is a deadline, never a pause.
const wait = 10 * time.Second

// submission is one call of Enqueuer.Submit.
type submission struct {
	TaskType string
	RunID    string
}

// fakeQueue is an operations.Enqueuer that records what it is given and
// fails with err when err is set.
type fakeQueue struct {
	mu      sync.Mutex
	calls   []submission
	removed []submission
	err     error
}

func (q *fakeQueue) Submit(_ context.Context, taskType, runID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, submission{taskType, runID})
	return q.err
}

func (q *fakeQueue) Remove(_ context.Context, taskType, runID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.removed = append(q.removed, submission{taskType, runID})
	return nil
}

func (q *fakeQueue) fail(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.err = err
}

func (q *fakeQueue) submitted() []submission {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]submission(nil), q.calls...)
}

var _ operations.Enqueuer = (*fakeQueue)(nil)

// fixture is a service over a fresh database and a private Redis prefix.
type fixture struct {
	db    *store.DB
	svc   *operations.Service
	queue *fakeQueue
	bus   *events.Bus
	clock *clock.Clock
	log   *testenv.LockedBuffer
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{
		db:    testenv.DB(tb),
		queue: &fakeQueue{},
		clock: clock.At(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)),
		log:   &testenv.LockedBuffer{},
	}
	logger := slog.New(slog.NewTextHandler(f.log, nil))
	f.bus = events.NewBus(testenv.RedisConn(tb), logger)
	tb.Cleanup(f.bus.Close)
	f.svc = &operations.Service{Client: f.db.Client, Queue: f.queue, Bus: f.bus, Log: logger, Clock: f.clock}
	return f
}

// start returns a Start of an inventory sync with dedupe key key.
func start(key string) operations.Start {
	return operations.Start{WorkspaceID: "wks_test", Type: "inventory.sync", DedupeKey: key}
}

// mustStart starts a run, failing the test on error.
func (f *fixture) mustStart(tb testing.TB, in operations.Start) (*ent.OperationRun, bool) {
	tb.Helper()
	run, created, err := f.svc.StartRun(context.Background(), in, nil)
	if err != nil {
		tb.Fatalf("StartRun(%+v): %v", in, err)
	}
	return run, created
}

// subscribe subscribes to the topic of run id until the test ends.
func (f *fixture) subscribe(tb testing.TB, id string) *events.Subscription {
	tb.Helper()
	return testenv.Subscribe(tb, testenv.Context(tb, time.Minute), f.bus, operations.Topic(id))
}

// expectEvent checks that the next event on sub is the run id.
func expectEvent(tb testing.TB, sub *events.Subscription, id string) {
	tb.Helper()
	if got := testenv.NextEvent(tb, sub, wait); got != id {
		tb.Errorf("event carries %q, want the run id %q", got, id)
	}
}

// expectNoEvent checks that nothing was published on id's topic before now:
// it publishes a marker and checks that it arrives first (Redis delivers one
// connection's messages in publishing order).
func (f *fixture) expectNoEvent(tb testing.TB, sub *events.Subscription, id string) {
	tb.Helper()
	const marker = "marker"
	if err := f.bus.Publish(context.Background(), operations.Topic(id), marker); err != nil {
		tb.Fatalf("Publish marker: %v", err)
	}
	if got := testenv.NextEvent(tb, sub, wait); got != marker {
		tb.Errorf("event %q published before the marker, want none", got)
	}
}

// runState is what the tests compare of a run.
type runState struct {
	Status       operationrun.Status
	Outcome      operationrun.Outcome
	Type         string
	DedupeKey    string
	ActiveKey    string
	SubjectID    string
	Summary      results.OperationSummary
	Context      results.OperationContext
	ErrorCode    string
	ErrorMessage string
	Attempts     int
	StartedAt    time.Time
	FinishedAt   time.Time
}

func state(r *ent.OperationRun) runState {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	tm := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return *p
	}
	return runState{
		Status: r.Status, Outcome: r.Outcome, Type: r.Type, DedupeKey: r.DedupeKey,
		ActiveKey: str(r.ActiveKey), SubjectID: str(r.SubjectID),
		Summary: r.Summary, Context: r.Context,
		ErrorCode: str(r.ErrorCode), ErrorMessage: str(r.ErrorMessage),
		Attempts: r.Attempts, StartedAt: tm(r.StartedAt), FinishedAt: tm(r.FinishedAt),
	}
}

// checkStored compares the stored run id with want.
func (f *fixture) checkStored(tb testing.TB, id string, want runState) {
	tb.Helper()
	got, err := f.db.OperationRun.Get(context.Background(), id)
	if err != nil {
		tb.Fatalf("Get(%s): %v", id, err)
	}
	if diff := cmp.Diff(want, state(got), cmpopts.EquateEmpty()); diff != "" {
		tb.Errorf("stored run %s (-want +got):\n%s", id, diff)
	}
}

// countRuns returns how many runs the database holds.
func (f *fixture) countRuns(tb testing.TB) int {
	tb.Helper()
	n, err := f.db.OperationRun.Query().Count(context.Background())
	if err != nil {
		tb.Fatalf("count runs: %v", err)
	}
	return n
}

// TestStartRun checks a fresh start: a queued run holding its dedupe key as
// active key, its task submitted once (task type = run type, id = run id),
// and an event on its topic.
func TestStartRun(t *testing.T) {
	f := newFixture(t)
	in := operations.Start{
		WorkspaceID: "wks_test", EnvironmentID: "env_1", Type: "inventory.sync",
		DedupeKey: "inventory.sync:env_1", SubjectID: "sub_1", InitiatorID: "usr_1",
		Context: results.OperationContext{All: true, PolicyIDs: []string{"pol_1"}},
	}
	var sub *events.Subscription
	run, created, err := f.svc.StartRun(context.Background(), in, func(_ context.Context, _ *ent.Client, run *ent.OperationRun) error {
		// The id is known only now; the event comes after the commit.
		sub = f.subscribe(t, run.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	if !created {
		t.Error("created = false for the first start")
	}
	want := runState{
		Status: operationrun.StatusQUEUED, Outcome: operationrun.OutcomePENDING,
		Type: "inventory.sync", DedupeKey: "inventory.sync:env_1", ActiveKey: "inventory.sync:env_1",
		SubjectID: "sub_1", Summary: results.OperationSummary{}, Context: results.OperationContext{All: true, PolicyIDs: []string{"pol_1"}},
	}
	if diff := cmp.Diff(want, state(run), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("returned run (-want +got):\n%s", diff)
	}
	f.checkStored(t, run.ID, want)
	if run.WorkspaceID != "wks_test" || run.EnvironmentID == nil || *run.EnvironmentID != "env_1" ||
		run.InitiatorID == nil || *run.InitiatorID != "usr_1" {
		t.Errorf("run workspace %q, environment %v, initiator %v; want wks_test, env_1, usr_1",
			run.WorkspaceID, run.EnvironmentID, run.InitiatorID)
	}
	if diff := cmp.Diff([]submission{{"inventory.sync", run.ID}}, f.queue.submitted()); diff != "" {
		t.Errorf("submissions (-want +got):\n%s", diff)
	}
	expectEvent(t, sub, run.ID)
}

// TestStartRunRequiresDedupeKey checks that a start without a dedupe key is
// refused before anything is written or queued.
func TestStartRunRequiresDedupeKey(t *testing.T) {
	f := newFixture(t)
	run, created, err := f.svc.StartRun(context.Background(), start(""), nil)
	if err == nil {
		t.Fatalf("StartRun without a dedupe key = %v, %v; want an error", run, created)
	}
	if n := f.countRuns(t); n != 0 {
		t.Errorf("%d runs stored, want 0", n)
	}
	if got := f.queue.submitted(); len(got) != 0 {
		t.Errorf("submissions %v, want none", got)
	}
}

// TestStartRunDedupe checks that while a run is queued or running, a start
// with its dedupe key returns it (created=false) without calling prepare or
// submitting again, and that other keys start their own runs.
func TestStartRunDedupe(t *testing.T) {
	tests := []struct {
		name  string
		begin bool // Begin the first run before starting again
	}{
		{"queued", false},
		{"running", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			first, _ := f.mustStart(t, start("sync:env_1"))
			if tt.begin {
				if _, err := f.svc.Begin(ctx, first.ID); err != nil {
					t.Fatalf("Begin: %v", err)
				}
			}

			again := start("sync:env_1")
			again.Context = results.OperationContext{ScopeFingerprint: "other"}
			prepared := false
			run, created, err := f.svc.StartRun(ctx, again, func(context.Context, *ent.Client, *ent.OperationRun) error {
				prepared = true
				return nil
			})
			if err != nil {
				t.Fatalf("second StartRun: %v", err)
			}
			if created || run == nil || run.ID != first.ID {
				t.Fatalf("second StartRun = %v, created %v; want run %s, created false", run, created, first.ID)
			}
			if prepared {
				t.Error("prepare ran for a deduplicated start")
			}
			if diff := cmp.Diff([]submission{{"inventory.sync", first.ID}}, f.queue.submitted()); diff != "" {
				t.Errorf("submissions (-want +got):\n%s", diff)
			}

			other, created := f.mustStart(t, start("sync:env_2"))
			if !created || other.ID == first.ID {
				t.Errorf("start with another key = %s, created %v; want a new run", other.ID, created)
			}
			if n := f.countRuns(t); n != 2 {
				t.Errorf("%d runs stored, want 2", n)
			}
		})
	}
}

// TestStartRunConcurrent checks that concurrent identical starts create one
// run, all return it, and its task is submitted once.
func TestStartRunConcurrent(t *testing.T) {
	f := newFixture(t)
	const n = 10
	type result struct {
		id      string
		created bool
		err     error
	}
	results := make([]result, n)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-ready
			run, created, err := f.svc.StartRun(context.Background(), start("sync:same"), nil)
			results[i] = result{created: created, err: err}
			if run != nil {
				results[i].id = run.ID
			}
		})
	}
	close(ready)
	wg.Wait()

	createdCount := 0
	ids := map[string]bool{}
	for i, r := range results {
		if r.err != nil {
			t.Errorf("start %d: %v", i, r.err)
			continue
		}
		ids[r.id] = true
		if r.created {
			createdCount++
		}
	}
	if createdCount != 1 {
		t.Errorf("%d starts report created, want 1", createdCount)
	}
	if len(ids) != 1 {
		t.Errorf("starts returned runs %v, want one run", ids)
	}
	if got := f.countRuns(t); got != 1 {
		t.Errorf("%d runs stored, want 1", got)
	}
	if got := f.queue.submitted(); len(got) != 1 {
		t.Errorf("submissions %v, want 1", got)
	}
}

// TestStartRunPrepare checks that prepare runs inside the creating
// transaction: it sees the run, which nobody else sees yet, may change it
// and write other rows, and its error leaves nothing behind.
func TestStartRunPrepare(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	errPrepare := errors.New("prepare failed")

	run, created, err := f.svc.StartRun(ctx, start("capture:env_1"), func(ctx context.Context, tx *ent.Client, run *ent.OperationRun) error {
		if _, err := tx.OperationRun.Get(ctx, run.ID); err != nil {
			t.Errorf("prepare: the transaction does not see the run: %v", err)
		}
		if seen, err := f.db.OperationRun.Query().Where(operationrun.ID(run.ID)).Exist(ctx); err != nil || seen {
			t.Errorf("prepare: outside the transaction the run is visible (%v, %v), want not yet", seen, err)
		}
		return tx.OperationRun.UpdateOneID(run.ID).SetSubjectID("bks_1").Exec(ctx)
	})
	if err != nil || !created {
		t.Fatalf("StartRun = %v, %v; want created", created, err)
	}
	if run.SubjectID == nil || *run.SubjectID != "bks_1" {
		t.Errorf("subject set by prepare = %v, want bks_1", run.SubjectID)
	}

	_, created, err = f.svc.StartRun(ctx, start("capture:env_2"), func(ctx context.Context, tx *ent.Client, run *ent.OperationRun) error {
		if _, err := tx.Workspace.Create().SetSlug("made-by-prepare").SetName("W").Save(ctx); err != nil {
			t.Errorf("prepare: create workspace: %v", err)
		}
		return errPrepare
	})
	if !errors.Is(err, errPrepare) || created {
		t.Errorf("StartRun with failing prepare = created %v, %v; want %v", created, err, errPrepare)
	}
	if n := f.countRuns(t); n != 1 {
		t.Errorf("%d runs stored, want only the first", n)
	}
	if n := f.db.Workspace.Query().CountX(ctx); n != 0 {
		t.Errorf("%d workspaces stored, want the one prepare wrote rolled back", n)
	}
	if diff := cmp.Diff([]submission{{"inventory.sync", run.ID}}, f.queue.submitted()); diff != "" {
		t.Errorf("submissions (-want +got):\n%s", diff)
	}
	// The failed start held no key.
	if _, created := f.mustStart(t, start("capture:env_2")); !created {
		t.Error("start after a failed prepare was deduplicated against nothing")
	}
}

// TestStartRunEnqueueFails checks that a run whose task cannot be queued is
// completed FAILED at once (so its key is free again), the caller gets an
// INTERNAL error that does not reveal the queue's error, and the cause is
// logged.
func TestStartRunEnqueueFails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.queue.fail(errors.New("redis: connection refused to 10.0.0.7"))

	run, created, err := f.svc.StartRun(ctx, start("sync:env_1"), nil)
	if run != nil || created {
		t.Errorf("StartRun = %v, created %v; want no run", run, created)
	}
	if code := apperr.CodeOf(err); code != apperr.Internal {
		t.Errorf("error %v has code %s, want %s", err, code, apperr.Internal)
	}
	if _, ok := apperr.As(err); !ok {
		t.Errorf("error %v is not an apperr.Error", err)
	}
	if err != nil && strings.Contains(err.Error(), "10.0.0.7") {
		t.Errorf("error %q reveals the queue's error", err)
	}

	calls := f.queue.submitted()
	if len(calls) != 1 {
		t.Fatalf("submissions %v, want 1", calls)
	}
	id := calls[0].RunID
	stored := f.db.OperationRun.GetX(ctx, id)
	if stored.ErrorMessage == nil || *stored.ErrorMessage == "" {
		t.Error("failed run has no error message")
	}
	f.checkStored(t, id, runState{
		Status: operationrun.StatusCOMPLETED, Outcome: operationrun.OutcomeFAILED,
		Type: "inventory.sync", DedupeKey: "sync:env_1",
		ErrorCode: "enqueue_failed", ErrorMessage: *stored.ErrorMessage,
		StartedAt: f.clock.Now(), FinishedAt: f.clock.Now(),
	})
	if log := f.log.String(); !strings.Contains(log, "enqueue failed") || !strings.Contains(log, id) {
		t.Errorf("log does not record the failed enqueue of %s:\n%s", id, log)
	}

	f.queue.fail(nil)
	again, created := f.mustStart(t, start("sync:env_1"))
	if !created || again.ID == id {
		t.Errorf("start after the failed one = %s, created %v; want a new run", again.ID, created)
	}
}

// TestBegin checks that Begin marks the run running, sets started_at once,
// counts attempts and publishes each time.
func TestBegin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	run, _ := f.mustStart(t, start("sync:env_1"))
	sub := f.subscribe(t, run.ID)
	firstStart := f.clock.Now()

	for attempt := 1; attempt <= 3; attempt++ {
		got, err := f.svc.Begin(ctx, run.ID)
		if err != nil {
			t.Fatalf("Begin %d: %v", attempt, err)
		}
		want := runState{
			Status: operationrun.StatusRUNNING, Outcome: operationrun.OutcomePENDING,
			Type: "inventory.sync", DedupeKey: "sync:env_1", ActiveKey: "sync:env_1",
			Attempts: attempt, StartedAt: firstStart,
		}
		if diff := cmp.Diff(want, state(got), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Begin %d returned (-want +got):\n%s", attempt, diff)
		}
		f.checkStored(t, run.ID, want)
		expectEvent(t, sub, run.ID)
		f.clock.Advance(time.Minute)
	}
}

// TestBeginFinished checks that Begin of a completed run (a duplicate
// delivery of its task) returns ErrFinished and changes nothing.
func TestBeginFinished(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	run, _ := f.mustStart(t, start("sync:env_1"))
	done, err := f.svc.Complete(ctx, run.ID, operations.End{Outcome: operationrun.OutcomeSUCCEEDED})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	sub := f.subscribe(t, run.ID)
	f.clock.Advance(time.Hour)

	got, err := f.svc.Begin(ctx, run.ID)
	if !errors.Is(err, operations.ErrFinished) {
		t.Fatalf("Begin of a completed run: %v, want ErrFinished", err)
	}
	if got == nil || got.ID != run.ID {
		t.Errorf("Begin returned %v, want the run", got)
	}
	f.checkStored(t, run.ID, state(done))
	f.expectNoEvent(t, sub, run.ID)

	if _, err := f.svc.Begin(ctx, "opr_missing"); !ent.IsNotFound(err) {
		t.Errorf("Begin of a missing run: %v, want not found", err)
	}
}

// TestProgress checks that the counts given become the summary, zeros
// included (a new attempt counts again from zero), and that each call
// publishes.
func TestProgress(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	run, _ := f.mustStart(t, start("sync:env_1"))
	sub := f.subscribe(t, run.ID)

	steps := []struct {
		counts results.OperationSummary
		want   results.OperationSummary
	}{
		{results.OperationSummary{Total: 10, Captured: 2}, results.OperationSummary{Total: 10, Captured: 2}},
		{results.OperationSummary{Total: 10, Captured: 5, Failed: 1}, results.OperationSummary{Total: 10, Captured: 5, Failed: 1}},
		// A resumed capture: what the first attempt stored is skipped, and
		// its captured and failed counts do not linger.
		{results.OperationSummary{Total: 10, Skipped: 6}, results.OperationSummary{Total: 10, Skipped: 6}},
		{results.OperationSummary{}, results.OperationSummary{}},
	}
	for i, step := range steps {
		if err := f.svc.Progress(ctx, run.ID, step.counts); err != nil {
			t.Fatalf("Progress %d: %v", i, err)
		}
		got := f.db.OperationRun.GetX(ctx, run.ID)
		if diff := cmp.Diff(step.want, got.Summary); diff != "" {
			t.Errorf("summary after Progress %d (-want +got):\n%s", i, diff)
		}
		if got.Status != operationrun.StatusQUEUED {
			t.Errorf("status after Progress %d = %s, want unchanged QUEUED", i, got.Status)
		}
		expectEvent(t, sub, run.ID)
	}
	if err := f.svc.Progress(ctx, "opr_missing", results.OperationSummary{Items: 1}); !ent.IsNotFound(err) {
		t.Errorf("Progress of a missing run: %v, want not found", err)
	}
}

// TestComplete checks that Complete records the end (status, outcome,
// finished_at, error), merges summary and context, frees the dedupe key for
// a new run and publishes.
func TestComplete(t *testing.T) {
	tests := []struct {
		name  string
		begin bool
		end   operations.End
		want  runState // Status, Outcome, Type, keys and times are filled in
	}{
		{
			name:  "succeeded after running",
			begin: true,
			end: operations.End{
				Outcome: operationrun.OutcomeSUCCEEDED,
				Summary: results.OperationSummary{Captured: 12, Objects: 3},
				Context: results.OperationContext{PolicyVersionID: "pv_1"},
			},
			want: runState{
				Outcome: operationrun.OutcomeSUCCEEDED, Attempts: 1,
				Summary: results.OperationSummary{Total: 12, Captured: 12, Objects: 3},
				Context: results.OperationContext{PolicyIDs: []string{"pol_1"}, ScopeFingerprint: "full", PolicyVersionID: "pv_1"},
			},
		},
		{
			name:  "partial with error",
			begin: true,
			end: operations.End{
				Outcome:      operationrun.OutcomePARTIALLY_SUCCEEDED,
				Summary:      results.OperationSummary{Captured: 10, Failed: 2},
				Context:      results.OperationContext{ScopeFingerprint: "partial", ReasonCodes: []string{"graph_throttled"}},
				ErrorCode:    "graph_throttled",
				ErrorMessage: "Graph throttled 2 requests",
			},
			want: runState{
				Outcome: operationrun.OutcomePARTIALLY_SUCCEEDED, Attempts: 1,
				Summary:   results.OperationSummary{Total: 12, Captured: 10, Failed: 2},
				Context:   results.OperationContext{PolicyIDs: []string{"pol_1"}, ScopeFingerprint: "partial", ReasonCodes: []string{"graph_throttled"}},
				ErrorCode: "graph_throttled", ErrorMessage: "Graph throttled 2 requests",
			},
		},
		{
			name: "cancelled while queued",
			end:  operations.End{Outcome: operationrun.OutcomeCANCELLED},
			want: runState{
				Outcome: operationrun.OutcomeCANCELLED,
				Summary: results.OperationSummary{Total: 12},
				Context: results.OperationContext{PolicyIDs: []string{"pol_1"}, ScopeFingerprint: "full"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			in := start("sync:env_1")
			in.Context = results.OperationContext{PolicyIDs: []string{"pol_1"}, ScopeFingerprint: "full"}
			run, _ := f.mustStart(t, in)
			startedAt := f.clock.Now()
			if tt.begin {
				if _, err := f.svc.Begin(ctx, run.ID); err != nil {
					t.Fatalf("Begin: %v", err)
				}
			}
			if err := f.svc.Progress(ctx, run.ID, results.OperationSummary{Total: 12}); err != nil {
				t.Fatalf("Progress: %v", err)
			}
			f.clock.Advance(5 * time.Minute)
			sub := f.subscribe(t, run.ID)

			got, err := f.svc.Complete(ctx, run.ID, tt.end)
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			want := tt.want
			want.Status = operationrun.StatusCOMPLETED
			want.Type, want.DedupeKey = "inventory.sync", "sync:env_1"
			want.FinishedAt = f.clock.Now()
			want.StartedAt = f.clock.Now() // never begun: started when it ended
			if tt.begin {
				want.StartedAt = startedAt
			}
			if diff := cmp.Diff(want, state(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Complete returned (-want +got):\n%s", diff)
			}
			f.checkStored(t, run.ID, want)
			expectEvent(t, sub, run.ID)

			next, created := f.mustStart(t, start("sync:env_1"))
			if !created || next.ID == run.ID {
				t.Errorf("start after Complete = %s, created %v; want a new run", next.ID, created)
			}
			if n := len(f.queue.submitted()); n != 2 {
				t.Errorf("%d submissions, want 2", n)
			}
		})
	}
}

// TestCompleteWithoutOutcome checks that Complete refuses to end a run
// without an outcome, and leaves the run as it was.
func TestCompleteWithoutOutcome(t *testing.T) {
	for _, outcome := range []operationrun.Outcome{"", operationrun.OutcomePENDING} {
		t.Run(string(outcome), func(t *testing.T) {
			f := newFixture(t)
			run, _ := f.mustStart(t, start("sync:env_1"))
			got, err := f.svc.Complete(context.Background(), run.ID, operations.End{Outcome: outcome, ErrorCode: "x"})
			if err == nil {
				t.Fatalf("Complete with outcome %q = %v, want an error", outcome, got)
			}
			f.checkStored(t, run.ID, state(run))
			if _, created := f.mustStart(t, start("sync:env_1")); created {
				t.Error("the dedupe key was freed by a refused Complete")
			}
		})
	}
}
