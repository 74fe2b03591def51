package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/intunepolicy"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/ptr"
)

const createBackupSet = `mutation($env: ID!, $name: String!, $all: Boolean, $ids: [ID!], $f: Boolean) {
	createBackupSet(input: {environmentId: $env, name: $name, all: $all, policyIds: $ids, includeFoundations: $f}) { ` + opFields + ` } }`

// canonical is JSON with sorted keys, so values that went through the
// database (numbers become float64) compare equal to the originals.
func canonical(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back any
	json.Unmarshal(b, &back)
	b, _ = json.Marshal(back)
	return string(b)
}

// TestCaptureRoundTripEveryType captures a generated tenant holding every
// catalog type through the real client, and checks every stored item equals
// the normalized object the simulated Graph holds.
func TestCaptureRoundTripEveryType(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "roundtrip", graphsim.GenOptions{Seed: 7, Policies: 3 * len(intune.Types()), Groups: 6, ScopeTags: 3, Filters: 3})
	op := e.mutateOp(e.operator, createBackupSet, map[string]any{"env": envRow.ID, "name": "everything", "all": true, "f": true}, "createBackupSet")
	done := e.waitOp(e.operator, op.ID, 60*time.Second)
	if done.Outcome != "SUCCEEDED" || done.Summary["failed"] != 0 || done.SubjectID == nil {
		t.Fatalf("capture ended %+v", done)
	}
	ctx := context.Background()
	bs := e.app.DB.Client.BackupSet.GetX(ctx, *done.SubjectID)
	if bs.Status != backupset.StatusREADY {
		t.Fatalf("backup set %s", bs.Status)
	}
	total := 0
	for _, typ := range intune.Types() {
		t.Run(typ.Key, func(t *testing.T) {
			objs := tenant.Objects(typ.Key)
			captured := 0
			for _, obj := range objs {
				if typ.IsBuiltin(obj) {
					continue
				}
				captured++
				want := intune.FromGraph(typ, obj)
				item, err := e.app.DB.Client.BackupItem.Query().Where(backupitem.BackupSetID(bs.ID),
					backupitem.PolicyType(typ.Key), backupitem.SourceGraphID(want.GraphID)).Only(ctx)
				if err != nil {
					t.Fatalf("%s %s not captured: %v", typ.Key, want.GraphID, err)
				}
				if diff := cmp.Diff(canonical(t, want.Payload), canonical(t, item.Payload)); diff != "" {
					t.Errorf("%s payload (-graph +stored):\n%s", want.DisplayName, diff)
				}
				if diff := cmp.Diff(canonical(t, want.Assignments), canonical(t, item.Assignments)); diff != "" {
					t.Errorf("%s assignments (-graph +stored):\n%s", want.DisplayName, diff)
				}
				if canonical(t, want.ScopeTagIDs) != canonical(t, item.ScopeTagIds) || item.ContentHash != want.ContentHash ||
					item.Platform != want.Platform || item.DisplayName != want.DisplayName || item.Foundation != typ.Foundation {
					t.Errorf("%s: stored %+v, want %+v", want.DisplayName, item, want)
				}
				for _, ro := range typ.ReadOnly {
					if _, ok := item.Payload[ro]; ok {
						t.Errorf("%s: read-only %q stored", want.DisplayName, ro)
					}
				}
			}
			if captured == 0 {
				t.Fatalf("the generated tenant has no %s", typ.Key)
			}
			total += captured
		})
	}
	if bs.ItemCount != total {
		t.Errorf("item count %d, want %d", bs.ItemCount, total)
	}
	// The same items through the API, filtered by type.
	r := e.post(e.auditor, `query($bs: ID!) { backupItems(backupSetId: $bs, policyTypes: ["settingsCatalogPolicy"]) { totalCount edges { node { policyType payload assignments previewOnlyReason } } } }`,
		map[string]any{"bs": bs.ID})
	var d struct {
		BackupItems struct {
			TotalCount int
			Edges      []struct{ Node struct{ PolicyType string } }
		}
	}
	r.decode(t, &d)
	if d.BackupItems.TotalCount != len(tenant.Objects("settingsCatalogPolicy")) || d.BackupItems.Edges[0].Node.PolicyType != "settingsCatalogPolicy" {
		t.Errorf("backupItems: %s", r.Raw)
	}
}

// TestCaptureThrottleStorm: a tenant throttling hard still captures every
// object, because the client honours Retry-After.
func TestCaptureThrottleStorm(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "storm", graphsim.GenOptions{Seed: 3, Policies: 2 * len(intune.Types()), Groups: 4, ScopeTags: 2, Filters: 2})
	tenant.SetFaults(graphsim.Faults{RequestsPerWindow: 8, Window: time.Second, RetryAfter: 300 * time.Millisecond})
	op := e.mutateOp(e.owner, createBackupSet, map[string]any{"env": envRow.ID, "name": "storm", "all": true, "f": true}, "createBackupSet")
	done := e.waitOp(e.owner, op.ID, 120*time.Second)
	if done.Outcome != "SUCCEEDED" || done.Summary["failed"] != 0 || done.Summary["captured"] != done.Summary["total"] {
		t.Fatalf("capture under throttling ended %+v", done)
	}
	// Each type listed once plus one read per object of the types whose list
	// is not whole is the minimum; more requests means some were throttled
	// and retried after waiting.
	minimum := len(intune.Types())
	for _, typ := range intune.Types() {
		if !typ.ListExpand {
			minimum += len(e.itemsOf(*done.SubjectID, typ.Key))
		}
	}
	if got := tenant.Requests(); got <= minimum {
		t.Errorf("tenant saw %d requests, want more than %d (the storm should have throttled some)", got, minimum)
	}
}

// TestInventoryPaging syncs a tenant with over 1,000 objects of one type,
// which Graph returns across many pages.
func TestInventoryPaging(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "big", graphsim.GenOptions{})
	for i := range 1050 {
		if _, err := tenant.Put("deviceConfiguration", map[string]any{
			"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": fmt.Sprintf("Config %04d", i),
		}); err != nil {
			t.Fatal(err)
		}
	}
	op := e.mutateOp(e.owner, `mutation($env: ID!) { syncInventory(environmentId: $env) { `+opFields+` } }`, map[string]any{"env": envRow.ID}, "syncInventory")
	done := e.waitOp(e.owner, op.ID, 60*time.Second)
	if done.Outcome != "SUCCEEDED" {
		t.Fatalf("sync ended %+v", done)
	}
	r := e.post(e.owner, `query($env: ID!) { policies(environmentId: $env, policyTypes: ["deviceConfiguration"], search: "config 10") { totalCount } all: policies(environmentId: $env, policyTypes: ["deviceConfiguration"]) { totalCount } }`, map[string]any{"env": envRow.ID})
	var d struct {
		Policies, All struct{ TotalCount int }
	}
	r.decode(t, &d)
	if d.All.TotalCount != 1050 || d.Policies.TotalCount != 50 {
		t.Fatalf("inventory has %d policies (%d matching \"config 10\"), want 1050 (50)", d.All.TotalCount, d.Policies.TotalCount)
	}
}

// TestCaptureDedupe: a double-clicked capture starts one job and one set.
func TestCaptureDedupe(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "dedupe", graphsim.GenOptions{Seed: 5, Policies: 20, Groups: 2})
	tenant.SetFaults(graphsim.Faults{Latency: 30 * time.Millisecond})
	vars := map[string]any{"env": envRow.ID, "name": "nightly", "all": true, "f": false}
	ids := make([]string, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = e.mutateOp(e.owner, createBackupSet, vars, "createBackupSet").ID
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("double click started several runs: %v", ids)
		}
	}
	e.waitOp(e.owner, ids[0], 60*time.Second)
	n := e.app.DB.Client.BackupSet.Query().Where(backupset.Name("nightly")).CountX(context.Background())
	if n != 1 {
		t.Fatalf("%d backup sets named nightly, want 1", n)
	}
	// Once finished, the same request is a new capture.
	again := e.mutateOp(e.owner, createBackupSet, vars, "createBackupSet")
	if again.ID == ids[0] {
		t.Fatal("a finished capture was returned instead of a new one")
	}
}

// TestPolicySnapshotVersions: a snapshot makes version 1; an unchanged
// policy gets no new version.
func TestPolicySnapshotVersions(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "snap", graphsim.GenOptions{Seed: 9, Policies: len(intune.Types()), Groups: 2, ScopeTags: 1, Filters: 1})
	op := e.mutateOp(e.owner, `mutation($env: ID!) { syncInventory(environmentId: $env) { `+opFields+` } }`, map[string]any{"env": envRow.ID}, "syncInventory")
	e.waitOp(e.owner, op.ID, 60*time.Second)
	r := e.post(e.owner, `query($env: ID!) { policies(environmentId: $env, policyTypes: ["settingsCatalogPolicy"], first: 1) { edges { node { id } } } }`, map[string]any{"env": envRow.ID})
	var d struct {
		Policies struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	r.decode(t, &d)
	policyID := d.Policies.Edges[0].Node.ID
	snap := `mutation($id: ID!) { capturePolicySnapshot(policyId: $id) { ` + opFields + ` } }`
	first := e.waitOp(e.owner, e.mutateOp(e.operator, snap, map[string]any{"id": policyID}, "capturePolicySnapshot").ID, 30*time.Second)
	second := e.waitOp(e.owner, e.mutateOp(e.operator, snap, map[string]any{"id": policyID}, "capturePolicySnapshot").ID, 30*time.Second)
	if first.Outcome != "SUCCEEDED" || first.Summary["version"] != 1 || second.Summary["unchanged"] != 1 {
		t.Fatalf("snapshots: %+v then %+v", first, second)
	}
	r = e.post(e.auditor, `query($id: ID!) { policyVersions(policyId: $id) { totalCount edges { node { version payload assignments contentHash } } } }`, map[string]any{"id": policyID})
	var v struct {
		PolicyVersions struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Version int
					Payload map[string]any
				}
			}
		}
	}
	r.decode(t, &v)
	if v.PolicyVersions.TotalCount != 1 || v.PolicyVersions.Edges[0].Node.Payload["settings"] == nil {
		t.Fatalf("versions: %s", r.Raw)
	}
}

// TestCaptureWithoutPermissions: a tenant whose app lacks some read
// permissions captures what it can and says what it could not.
func TestCaptureWithoutPermissions(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "limited", graphsim.GenOptions{Seed: 2, Policies: len(intune.Types()), Groups: 2, ScopeTags: 1, Filters: 1})
	tenant.SetPermissions("DeviceManagementConfiguration.Read.All", "Group.Read.All")
	op := e.mutateOp(e.owner, createBackupSet, map[string]any{"env": envRow.ID, "name": "partial", "all": true, "f": true}, "createBackupSet")
	done := e.waitOp(e.owner, op.ID, 60*time.Second)
	if done.Outcome != "PARTIALLY_SUCCEEDED" || done.Summary["captured"] == 0 || done.Summary["failed"] == 0 {
		t.Fatalf("capture ended %+v", done)
	}
	raw, _ := json.Marshal(done.Context)
	if !strings.Contains(string(raw), "items_failed") || !strings.Contains(string(raw), "roleScopeTag") {
		t.Errorf("context %s", raw)
	}
	if strings.Contains(string(raw), "sim-secret") {
		t.Errorf("the secret leaked into the run: %s", raw)
	}
}

// TestOperationRunSubscription follows a capture live until it completes.
func TestOperationRunSubscription(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "live", graphsim.GenOptions{Seed: 4, Policies: 30, Groups: 2})
	tenant.SetFaults(graphsim.Faults{Latency: 20 * time.Millisecond})
	op := e.mutateOp(e.owner, createBackupSet, map[string]any{"env": envRow.ID, "name": "live", "all": true, "f": false}, "createBackupSet")
	c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.auditor})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	c.subscribe("op", `subscription($id: ID!) { operationRunUpdated(id: $id) { status outcome summary { total captured failed } } }`, map[string]any{"id": op.ID})
	var statuses []string
	for {
		m := c.next(60 * time.Second)
		if m.Type == "complete" {
			break
		}
		if m.Type != "next" {
			t.Fatalf("got %s %s", m.Type, m.Payload)
		}
		var p struct {
			Data struct {
				OperationRunUpdated struct{ Status, Outcome string }
			}
		}
		json.Unmarshal(m.Payload, &p)
		statuses = append(statuses, p.Data.OperationRunUpdated.Status)
	}
	if len(statuses) < 2 || statuses[len(statuses)-1] != "COMPLETED" {
		t.Fatalf("statuses %v", statuses)
	}
}

// TestLostTaskIsResubmitted: a run whose task vanished (a restarted
// in-process Redis) gets its task back and completes, instead of staying
// queued forever and blocking its dedupe key.
func TestLostTaskIsResubmitted(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "lost", graphsim.GenOptions{Seed: 8, Policies: 14})
	ctx := context.Background()
	// A queued run with no task, as a restart would leave it.
	key := "inventory.sync:" + envRow.ID
	run := e.app.DB.Client.OperationRun.Create().SetWorkspaceID(e.wsID).SetEnvironmentID(envRow.ID).
		SetType("inventory.sync").SetSubjectID(envRow.ID).SetDedupeKey(key).SetActiveKey(key).
		SaveX(ctx)
	// While it is stuck, a new sync joins it rather than starting another.
	op := e.mutateOp(e.owner, `mutation($env: ID!) { syncInventory(environmentId: $env) { `+opFields+` } }`, map[string]any{"env": envRow.ID}, "syncInventory")
	if op.ID != run.ID {
		t.Fatalf("a second sync started beside the stuck one: %s", op.ID)
	}
	// The reconciler (one pass, no grace) gives it its task back from the
	// database. (The harness's seeded run is queued without a task too.)
	opts := operations.ReconcileOptions{QueuedGrace: time.Nanosecond, RunningIdle: time.Nanosecond}
	rep, err := e.app.Ops.Reconcile(ctx, e.app.Queue, opts)
	if err != nil || rep.Requeued < 1 {
		t.Fatalf("reconcile: %+v, %v", rep, err)
	}
	if done := e.waitOp(e.owner, run.ID, 60*time.Second); done.Outcome != "SUCCEEDED" {
		t.Fatalf("re-enqueued run ended %+v", done)
	}
	got := e.app.DB.Client.OperationRun.GetX(ctx, run.ID).Context.Reconciliation
	if got == nil || got.Action != operations.ActionRequeued || !slices.Equal(got.ReasonCodes, []string{operations.ReasonTaskLost}) {
		t.Errorf("context.reconciliation = %+v, want requeued for task_lost", got)
	}
	// Once completed (and the seeded run's task exists again), nothing is
	// enqueued a second time.
	if again, err := e.app.Ops.Reconcile(ctx, e.app.Queue, opts); err != nil || again.Requeued != 0 {
		t.Fatalf("second reconcile: %+v %v", again, err)
	}
}

// TestShutdownHandsCaptureBack: a worker stopped mid-capture (a deploy's
// SIGTERM) stops at an item boundary and hands the run back: QUEUED, not
// FAILED, its backup set still CAPTURING; the next worker resumes it,
// skips what was stored, and the set ends READY with every object once.
func TestShutdownHandsCaptureBack(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "deploy", graphsim.GenOptions{Seed: 5, Policies: 3 * len(intune.Types())})
	tenant.SetFaults(graphsim.Faults{Latency: 40 * time.Millisecond})
	op := e.mutateOp(e.owner, createBackupSet, map[string]any{"env": envRow.ID, "name": "deploy", "all": true, "f": true}, "createBackupSet")
	ctx := context.Background()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		run := e.app.DB.Client.OperationRun.GetX(ctx, op.ID)
		if run.Summary.Captured >= 3 {
			break
		}
		if run.Status == operationrun.StatusCOMPLETED || time.Now().After(deadline) {
			t.Fatalf("capture %s before the shutdown: %+v", run.Status, run.Summary)
		}
	}

	e.app.StopWorker()
	run := e.app.DB.Client.OperationRun.GetX(ctx, op.ID)
	if run.Status != operationrun.StatusQUEUED || run.Outcome != operationrun.OutcomePENDING || run.Context.LastInterruption != "worker_shutdown" {
		t.Fatalf("after the shutdown the run is %s/%s (context %v), want QUEUED/PENDING, handed back", run.Status, run.Outcome, run.Context)
	}
	set := e.app.DB.Client.BackupSet.GetX(ctx, ptr.Deref(run.SubjectID))
	if set.Status != backupset.StatusCAPTURING {
		t.Fatalf("backup set %s after the shutdown, want CAPTURING until the capture resumes", set.Status)
	}
	partial := e.app.DB.Client.BackupItem.Query().Where(backupitem.BackupSetID(set.ID)).CountX(ctx)

	if err := e.app.StartWorker(); err != nil { // the deploy's new worker
		t.Fatal(err)
	}
	done := e.waitOp(e.owner, op.ID, 90*time.Second)
	if done.Outcome != "SUCCEEDED" || done.Summary["failed"] != 0 || done.Summary["skipped"] < partial {
		t.Fatalf("resumed capture ended %+v, want SUCCEEDED skipping the %d stored before the shutdown", done, partial)
	}
	set = e.app.DB.Client.BackupSet.GetX(ctx, set.ID)
	items := e.app.DB.Client.BackupItem.Query().Where(backupitem.BackupSetID(set.ID)).CountX(ctx)
	if set.Status != backupset.StatusREADY || items != done.Summary["total"] || set.ItemCount != items {
		t.Errorf("backup set %s with %d items (count %d), want READY with all %d", set.Status, items, set.ItemCount, done.Summary["total"])
	}
}

// TestAddPoliciesFoundations: addPoliciesToBackupSet captures the
// foundations (scope tags, filters, notification templates) only when asked,
// as createBackupSet does (spec 049).
func TestAddPoliciesFoundations(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "addfound", graphsim.GenOptions{Seed: 12, Policies: 6, Groups: 2, ScopeTags: 2, Filters: 2})
	sync := e.mutateOp(e.owner, `mutation($env: ID!) { syncInventory(environmentId: $env) { `+opFields+` } }`, map[string]any{"env": envRow.ID}, "syncInventory")
	e.waitOp(e.owner, sync.ID, 60*time.Second)
	ctx := context.Background()
	var policies []string
	for _, p := range e.app.DB.Client.IntunePolicy.Query().Where(intunepolicy.EnvironmentID(envRow.ID)).Order(ent.Asc(intunepolicy.FieldID)).AllX(ctx) {
		if typ, ok := intune.Lookup(p.PolicyType); ok && !typ.Foundation {
			policies = append(policies, p.ID)
		}
	}
	if len(policies) < 3 {
		t.Fatalf("the generated tenant has %d policies, want 3", len(policies))
	}
	wantFoundations := 0
	for _, typ := range intune.Types() {
		if !typ.Foundation {
			continue
		}
		for _, obj := range tenant.Objects(typ.Key) {
			if !typ.IsBuiltin(obj) {
				wantFoundations++
			}
		}
	}
	if wantFoundations == 0 {
		t.Fatal("the generated tenant has no foundations")
	}

	created := e.waitOp(e.owner, e.mutateOp(e.owner, createBackupSet,
		map[string]any{"env": envRow.ID, "name": "picked", "ids": policies[:1], "f": false}, "createBackupSet").ID, 60*time.Second)
	bsID := *created.SubjectID
	type content struct{ Policies, Foundations int }
	stored := func() content {
		var c content
		for _, it := range e.app.DB.Client.BackupItem.Query().Where(backupitem.BackupSetID(bsID)).AllX(ctx) {
			if it.Foundation {
				c.Foundations++
			} else {
				c.Policies++
			}
		}
		return c
	}
	add := `mutation($bs: ID!, $ids: [ID!]!, $f: Boolean) {
		addPoliciesToBackupSet(input: {backupSetId: $bs, policyIds: $ids, includeFoundations: $f}) { ` + opFields + ` } }`
	steps := []struct {
		name   string
		vars   map[string]any
		want   content
		counts map[string]int
	}{
		// Not asked (the default): only the policy.
		{"default", map[string]any{"bs": bsID, "ids": policies[1:2]}, content{Policies: 2},
			map[string]int{"total": 1, "captured": 1, "skipped": 0, "failed": 0}},
		{"asked", map[string]any{"bs": bsID, "ids": policies[2:3], "f": true}, content{Policies: 3, Foundations: wantFoundations},
			map[string]int{"total": 1 + wantFoundations, "captured": 1 + wantFoundations, "skipped": 0, "failed": 0}},
		// Asked again: the foundations already in the set are skipped.
		{"again", map[string]any{"bs": bsID, "ids": policies[:1], "f": true}, content{Policies: 3, Foundations: wantFoundations},
			map[string]int{"total": 1 + wantFoundations, "captured": 0, "skipped": 1 + wantFoundations, "failed": 0}},
	}
	for _, st := range steps {
		op := e.waitOp(e.owner, e.mutateOp(e.operator, add, st.vars, "addPoliciesToBackupSet").ID, 60*time.Second)
		if op.Outcome != "SUCCEEDED" || op.SubjectID == nil || *op.SubjectID != bsID {
			t.Fatalf("%s: capture ended %+v", st.name, op)
		}
		got := map[string]int{}
		for k := range st.counts {
			got[k] = op.Summary[k]
		}
		if diff := cmp.Diff(st.counts, got); diff != "" {
			t.Errorf("%s: summary (-want +got):\n%s", st.name, diff)
		}
		if diff := cmp.Diff(st.want, stored()); diff != "" {
			t.Errorf("%s: set content (-want +got):\n%s", st.name, diff)
		}
	}
}

// TestOperationRunsOfWorkspaceLive: the global progress view. A subscriber
// to operationRunUpdated(workspaceId) sees a capture started after it
// subscribed change until it completes; another workspace's owner may not
// follow this workspace; id and workspaceId together (or neither) are
// refused.
func TestOperationRunsOfWorkspaceLive(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "global", graphsim.GenOptions{Seed: 6, Policies: 12})
	// Slow enough that the capture outlasts the subscription's start, which
	// has no acknowledgement: its later changes are seen whatever the timing.
	tenant.SetFaults(graphsim.Faults{Latency: 40 * time.Millisecond})
	const sub = `subscription($ws: ID, $id: ID) { operationRunUpdated(workspaceId: $ws, id: $id) { id type status outcome } }`
	c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.auditor})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	c.subscribe("all", sub, map[string]any{"ws": e.wsID})
	c.subscribe("both", sub, map[string]any{"ws": e.wsID, "id": e.opRunID})
	if m := nextFor(t, c, "both"); !strings.Contains(string(m.Payload), "BAD_USER_INPUT") {
		t.Fatalf("id and workspaceId together: got %s %s, want BAD_USER_INPUT", m.Type, m.Payload)
	}
	var runID string
	seen := []string{}
	op := e.mutateOp(e.owner, createBackupSet, map[string]any{"env": envRow.ID, "name": "global", "all": true, "f": false}, "createBackupSet")
	for {
		m := nextFor(t, c, "all")
		var p struct {
			Data struct {
				OperationRunUpdated struct{ ID, Type, Status, Outcome string }
			}
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || m.Type != "next" {
			t.Fatalf("got %s %s", m.Type, m.Payload)
		}
		r := p.Data.OperationRunUpdated
		if r.ID != op.ID {
			continue // another run of the workspace (the harness's)
		}
		runID = r.ID
		seen = append(seen, r.Status)
		if r.Status == "COMPLETED" {
			if r.Outcome != "SUCCEEDED" {
				t.Errorf("capture outcome %s", r.Outcome)
			}
			break
		}
	}
	if runID == "" || len(seen) < 2 {
		t.Fatalf("saw the capture as %v, want its changes up to COMPLETED", seen)
	}

	o := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.otherOwner})
	if m := o.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	o.subscribe("x", sub, map[string]any{"ws": e.wsID})
	if m := nextFor(t, o, "x"); !strings.Contains(string(m.Payload), "FORBIDDEN") {
		t.Fatalf("another workspace's owner: got %s %s, want FORBIDDEN", m.Type, m.Payload)
	}
}

// TestReconcilerRecoversCaptureAfterRedisLoss: Redis loses the queue while a
// capture runs, and the worker then stops (a deploy): the run is QUEUED in
// the database with no task anywhere. The reconciler enqueues it again from
// the database; the capture resumes, skips what it stored, and the set ends
// READY with every object once.
func TestReconcilerRecoversCaptureAfterRedisLoss(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "redislost", graphsim.GenOptions{Seed: 6, Policies: 3 * len(intune.Types())})
	tenant.SetFaults(graphsim.Faults{Latency: 40 * time.Millisecond})
	op := e.mutateOp(e.owner, createBackupSet, map[string]any{"env": envRow.ID, "name": "lost", "all": true, "f": true}, "createBackupSet")
	ctx := context.Background()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		run := e.app.DB.Client.OperationRun.GetX(ctx, op.ID)
		if run.Summary.Captured >= 3 {
			break
		}
		if run.Status == operationrun.StatusCOMPLETED || time.Now().After(deadline) {
			t.Fatalf("capture %s before Redis was lost: %+v", run.Status, run.Summary)
		}
	}
	// Redis loses this deployment's queues (only its keys: a shared Redis
	// holds other tests' too), then the worker stops.
	for _, q := range []string{e.app.Redis.Queue(), e.app.Redis.ExecuteQueue()} {
		iter := e.app.Redis.Client.Scan(ctx, 0, "asynq:{"+q+"}:*", 100).Iterator()
		for iter.Next(ctx) {
			e.app.Redis.Client.Del(ctx, iter.Val())
		}
	}
	e.app.StopWorker()
	if st, err := e.app.Queue.TaskState(ctx, operations.TypeBackupCapture, op.ID); err != nil || st != operations.TaskMissing {
		t.Fatalf("task after the loss: %v %v, want missing", st, err)
	}
	partial := e.app.DB.Client.BackupItem.Query().Where(backupitem.BackupSetID(*op.SubjectID)).CountX(ctx)
	if err := e.app.StartWorker(); err != nil {
		t.Fatal(err)
	}
	rep, err := e.app.Ops.Reconcile(ctx, e.app.Queue, operations.ReconcileOptions{QueuedGrace: time.Nanosecond, RunningIdle: time.Nanosecond})
	if err != nil || rep.Requeued < 1 {
		t.Fatalf("reconcile: %+v %v", rep, err)
	}
	done := e.waitOp(e.owner, op.ID, 90*time.Second)
	if done.Outcome != "SUCCEEDED" || done.Summary["failed"] != 0 || done.Summary["skipped"] < partial {
		t.Fatalf("recovered capture ended %+v, want SUCCEEDED skipping the %d stored before", done, partial)
	}
	set := e.app.DB.Client.BackupSet.GetX(ctx, *op.SubjectID)
	items := e.app.DB.Client.BackupItem.Query().Where(backupitem.BackupSetID(set.ID)).CountX(ctx)
	if set.Status != backupset.StatusREADY || items != done.Summary["total"] || set.ItemCount != items {
		t.Errorf("backup set %s with %d items (count %d), want READY with all %d once", set.Status, items, set.ItemCount, done.Summary["total"])
	}
}
