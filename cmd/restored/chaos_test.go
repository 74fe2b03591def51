package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunevent"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/ptr"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/internal/testenv"
)

// Environment variables of the chaos test (see the README's test section).
const (
	// chaosEnv selects the long version: many interruptions, Redis flushes
	// with the worker down (the reconciler's path). `make chaos` sets it.
	chaosEnv = "RESTORED_CHAOS"
	// chaosSeedEnv replays a run's interruptions: every run logs its seed.
	chaosSeedEnv = "RESTORED_CHAOS_SEED"
)

// An interruption of the worker during the run.
const (
	killWorker  = "kill -9"        // the worker dies at a random point; restarted at once
	killCreate  = "kill -9@create" // the worker dies as Graph creates an object, before it hears back
	stopWorker  = "SIGTERM"        // a deploy: the job is handed back at an item boundary
	flushRedis  = "FLUSHDB"        // Redis loses every task while the worker runs
	killFlushed = "kill -9+FLUSH"  // the worker dies and Redis loses its task: only the reconciler can resume the run
	chaosItems  = 48               // policies generated into the tenant (a few dozen to restore)
	chaosLag    = 30 * time.Millisecond
)

// TestChaosExecution runs restored as real OS processes (this test binary
// re-executed as the CLI, see TestMain): two API servers without workers and
// one separate worker, sharing the database and Redis (PostgreSQL and Redis
// under CI, else an SQLite file and an in-process Redis on TCP), against a
// simulated tenant served by this test over HTTPS. A restore of a few dozen
// created objects is executed while the worker is killed with SIGKILL at
// random points (including mid-write), stopped with SIGTERM, and Redis is
// flushed; two subscribers on API #2 (graphql-transport-ws and the legacy
// graphql-ws) follow restoreRunEvents and reconnect with afterSequence after
// every interruption. The run must end COMPLETED (never FAILED), every item
// with exactly one outcome and one ITEM event, the tenant's write log with
// no object created twice, each subscriber with every event once and in
// sequence, and no secret or token in any process's output or stored error.
//
// `make test` runs the short version (one kill, one SIGTERM, one flush);
// RESTORED_CHAOS=1 (`make chaos`) runs many, randomly chosen and timed.
func TestChaosExecution(t *testing.T) {
	long := os.Getenv(chaosEnv) != ""
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(chaosSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", chaosSeedEnv, s, err)
		}
	}
	t.Logf("chaos seed %d (replay with %s=%d)", seed, chaosSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	// The short version's kill is the worst moment: the object created in
	// the tenant, its outcome not recorded.
	plan := []string{killCreate, stopWorker, flushRedis}
	if long {
		plan = []string{killCreate}
		for range 7 {
			plan = append(plan, []string{killWorker, killWorker, killCreate, stopWorker, flushRedis}[rng.IntN(5)])
		}
		plan = append(plan, killFlushed, killWorker)
	}
	t.Logf("interruptions: %v", plan)

	c := newChaosCluster(t)
	runID := c.confirmedRun()
	c.tenant.SetFaults(graphsim.Faults{Latency: chaosLag})
	c.tenant.ResetWrites()

	followers := []*follower{
		c.follow("graphql-transport-ws", runID),
		c.follow("graphql-ws", runID),
	}
	c.gql(`mutation($id: ID!, $key: String!) { executeRestoreRun(input: {runId: $id, idempotencyKey: $key}) { status } }`,
		map[string]any{"id": runID, "key": "chaos-" + runID})

	total, done, midCreate := c.itemCount(runID), 0, false
	for i, what := range plan {
		// A random point while the worker is at work: some items after the
		// last interruption (the first may hit the pre-restore capture),
		// then a random part of one item's several requests.
		span := max(1, (total-done)/(len(plan)-i+1))
		at := done + rng.IntN(span)
		if i > 0 {
			at++ // the run has resumed
		}
		resumed := time.Now()
		if !c.waitDone(runID, at) {
			t.Logf("the run ended before interruption %d (%s)", i+1, what)
			break
		}
		time.Sleep(time.Duration(rng.IntN(int(6 * chaosLag))))
		done = c.doneCount(runID)
		t.Logf("interruption %d: %s after %d of %d items (%s after the previous one)", i+1, what, done, total, time.Since(resumed).Round(time.Second))
		switch what {
		case killWorker:
			c.worker.kill()
			c.startWorker()
		case killCreate:
			if c.killAtNextCreate(runID) {
				midCreate = true
			} else {
				t.Logf("no create was left for interruption %d (%s)", i+1, what)
			}
			c.startWorker()
		case stopWorker:
			c.worker.terminate()
			if !strings.Contains(c.worker.err.String(), "handed back to the queue") {
				t.Errorf("SIGTERM: the worker did not hand its job back\n%s", c.worker.err)
			}
			c.startWorker()
		case flushRedis:
			c.flushRedis()
		case killFlushed:
			c.worker.kill()
			c.flushRedis()
			c.startWorker()
		}
		// Counted again once the worker is down: an outcome it committed
		// just before dying is not progress of the next incarnation.
		done = c.doneCount(runID)
		for _, f := range followers {
			f.reconnect()
		}
	}

	status := c.awaitEnd(runID, time.Duration(len(plan))*3*time.Minute)
	for _, f := range followers {
		f.wait(30 * time.Second)
	}
	if status != "COMPLETED" {
		t.Errorf("run ended %s, want COMPLETED", status)
	}
	actions, resumed := map[string]int{}, 0
	for _, it := range c.items(runID) {
		actions[it.Status+"/"+it.Action]++
		if it.Attempts > 1 {
			resumed++
		}
	}
	t.Logf("items: %v; %d written again after an interruption", actions, resumed)
	if midCreate && resumed == 0 {
		t.Error("the worker was killed during a create, yet no item was written again")
	}
	c.checkOutcomes(runID)
	c.checkNoDuplicates(runID)
	lastSeq := c.lastSequence(runID)
	for _, f := range followers {
		f.check(t, c.itemIDs(runID), lastSeq)
	}
	c.checkNoSecrets()
	for _, p := range c.procs {
		// Under -race each process is race-checked too.
		if out := p.err.String(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("%s found a data race:\n%s", p.name, out)
		}
	}
}

// chaosCluster is the deployment under test: its processes, the simulated
// tenant, and what the test needs to reach them.
type chaosCluster struct {
	t        *testing.T
	env      map[string]string
	trust    []string
	db       *store.DB
	tenant   *graphsim.Tenant
	simURL   string
	token    string
	secret   string
	api      []*process
	worker   *process
	procs    []*process // every process started, for the log checks
	envID    string
	backupID string
}

func newChaosCluster(t *testing.T) *chaosCluster {
	t.Helper()
	env := testEnv(t)
	if env["RESTORED_REDIS_URL"] == "" {
		// Locally: an in-process Redis on TCP, shared by every process.
		env["RESTORED_REDIS_URL"] = testenv.RedisConn(t).URL
	}
	env["RESTORED_SECRET_KEY"] = hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	c := &chaosCluster{t: t, env: env, secret: "chaos-secret-" + hex.EncodeToString([]byte(t.Name()))[:16]}

	// The tenant's Graph is served by this test, so its write log is ours.
	sim := graphsim.New(graphsim.Options{RequireAuth: true})
	simURL, caPEM, stop, err := graphsim.ListenTLS("127.0.0.1:0", sim.Handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	caFile := t.TempDir() + "/graphsim-ca.pem"
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c.simURL = simURL
	c.trust = []string{"--graphsim-url", simURL, "--graphsim-ca-file", caFile}
	c.tenant = sim.Tenant("chaos")
	c.tenant.SetCredentials("chaos-client", c.secret)
	graphsim.Generate(c.tenant, graphsim.GenOptions{Seed: 16, Policies: chaosItems, Groups: 6, ScopeTags: 3, Filters: 3})

	if _, stderr, err := runCmd(t, env, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	c.db = mustOpenDB(t, env)
	c.token = mustTokenCreate(t, env, "--workspace", "chaos", "--email", "owner@chaos.test", "--role", "owner")
	for range 2 {
		p := c.start("serve", append([]string{"--worker=false", "--addr", "127.0.0.1:0"}, c.trust...),
			func(stdout, _ string) bool { return listening.MatchString(stdout) })
		p.URL = listening.FindStringSubmatch(p.out.String())[1]
		c.api = append(c.api, p)
	}
	c.startWorker()
	return c
}

// startWorker starts a worker process; the reconciler ticks every second so
// a lost task is found as soon as the run has been idle long enough.
func (c *chaosCluster) startWorker() {
	c.worker = c.start("worker", append([]string{"--reconcile-interval", "1s"}, c.trust...),
		func(_, stderr string) bool { return strings.Contains(stderr, "worker started") })
}

// process is one restored process of the cluster.
type process struct {
	t    *testing.T
	name string
	URL  string // serve only
	cmd  *exec.Cmd
	out  *testenv.LockedBuffer
	err  *testenv.LockedBuffer
	done chan struct{}
}

// start runs restored with args as a new OS process and waits (up to 60 s)
// until ready holds for its output.
func (c *chaosCluster) start(name string, args []string, ready func(stdout, stderr string) bool) *process {
	c.t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{name}, args...)...)
	// Only the cluster's settings: none of this shell's RESTORED_*.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RESTORED_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, cliEnv+"=1")
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{t: c.t, name: fmt.Sprintf("%s#%d", name, len(c.procs)+1), cmd: cmd,
		out: &testenv.LockedBuffer{}, err: &testenv.LockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.err
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", p.name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	c.procs = append(c.procs, p)
	c.t.Cleanup(func() { p.terminate() })
	for deadline := time.Now().Add(60 * time.Second); !ready(p.out.String(), p.err.String()); {
		select {
		case <-p.done:
			c.t.Fatalf("%s exited before it was ready (%v)\nstdout:\n%s\nstderr:\n%s", p.name, cmd.ProcessState, p.out, p.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s was not ready within 60 s\nstderr:\n%s", p.name, p.err)
		}
	}
	return p
}

// kill ends the process with SIGKILL: no shutdown, no cleanup.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// terminate asks the process to shut down gracefully (SIGTERM) and waits
// for it, killing it after 40 s (past its 30 s shutdown timeout).
func (p *process) terminate() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			p.t.Errorf("%s exited %d after SIGTERM\nstderr:\n%s", p.name, code, p.err)
		}
	case <-time.After(40 * time.Second):
		p.t.Errorf("%s did not stop within 40 s of SIGTERM\nstderr:\n%s", p.name, p.err)
		p.kill()
	}
}

// killAtNextCreate kills the worker with SIGKILL when Graph receives its
// next create, before Graph applies it and answers: the object exists in the
// tenant, the worker never learns its id. False when the run ended first.
func (c *chaosCluster) killAtNextCreate(runID string) bool {
	c.t.Helper()
	w := c.worker
	var once sync.Once
	c.tenant.SetFaults(graphsim.Faults{Latency: chaosLag, FailWrite: func(method, path string, _ map[string]any) int {
		if method == http.MethodPost && isCreate(path) {
			once.Do(func() { _ = w.cmd.Process.Kill() })
		}
		return 0 // let it through: the tenant creates the object
	}})
	defer c.tenant.SetFaults(graphsim.Faults{Latency: chaosLag})
	for {
		select {
		case <-w.done:
			return true
		case <-time.After(100 * time.Millisecond):
		}
		switch c.runStatus(runID) {
		case "COMPLETED", "PARTIAL", "FAILED", "CANCELLED":
			return false
		}
	}
}

// isCreate reports whether path is a catalog type's collection (a POST
// there creates an object).
func isCreate(path string) bool {
	return slices.ContainsFunc(intune.Types(), func(t *intune.Type) bool { return t.Path == path })
}

// gql runs a GraphQL request on API #1 and returns its data.
func (c *chaosCluster) gql(query string, vars map[string]any) map[string]any {
	c.t.Helper()
	return gqlData(c.t, c.api[0].URL, c.token, query, vars)
}

// confirmedRun backs the tenant up, deletes every object that is not a
// foundation (so the restore creates them all), and walks a restore of the
// backup through the wizard up to its confirmation.
func (c *chaosCluster) confirmedRun() string {
	t := c.t
	t.Helper()
	wsID := dig(c.gql(`{ viewer { workspace { id } } }`, nil), "viewer", "workspace", "id").(string)
	c.envID = dig(c.gql(`mutation($in: CreateEnvironmentInput!) { createEnvironment(input: $in) { id } }`,
		map[string]any{"in": map[string]any{
			"workspaceId": wsID, "displayName": "Chaos", "kind": "TEST", "azureTenantId": "chaos",
			"clientId": "chaos-client", "clientSecret": c.secret, "writeEnabled": true,
			"graphBaseUrl": graphsim.BaseURL(c.simURL, "chaos"),
		}}), "createEnvironment", "id").(string)
	c.gql(`mutation($env: ID!) { createBackupSet(input: {environmentId: $env, name: "before", all: true, includeFoundations: true}) { id } }`,
		map[string]any{"env": c.envID})
	c.backupID = c.poll("the backup", func() (string, bool) {
		edges := dig(c.gql(`query($env: ID!) { backupSets(environmentId: $env, first: 5) { edges { node { id status } } } }`,
			map[string]any{"env": c.envID}), "backupSets", "edges").([]any)
		for _, e := range edges {
			if dig(e, "node", "status") == "READY" {
				return dig(e, "node", "id").(string), true
			}
		}
		return "", false
	})
	// Policies are deleted (the restore creates them), foundations changed
	// (it captures them into the pre-restore set, then updates them).
	for _, typ := range intune.Types() {
		for _, o := range c.tenant.Objects(typ.Key) {
			switch {
			case !typ.Foundation:
				c.tenant.Remove(typ.Key, o["id"].(string))
			case !typ.IsBuiltin(o):
				o["description"] = "changed after the backup"
				if _, err := c.tenant.Put(typ.Key, o); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	run := c.gql(`mutation($env: ID!, $set: ID!) { createRestoreRun(input: {environmentId: $env, backupSetId: $set}) { id tenantLabel } }`,
		map[string]any{"env": c.envID, "set": c.backupID})
	id := dig(run, "createRestoreRun", "id").(string)
	label := dig(run, "createRestoreRun", "tenantLabel").(string)
	c.gql(`mutation($id: ID!) { defineRestoreScope(input: {runId: $id, mode: ALL, createMissing: true}) { status } }`, map[string]any{"id": id})
	c.gql(`mutation($id: ID!) { runRestoreChecks(input: {runId: $id}) { id } }`, map[string]any{"id": id})
	c.poll("the checks", func() (string, bool) {
		return "", dig(c.gql(`query($id: ID!) { restoreRun(id: $id) { checkedAt } }`, map[string]any{"id": id}), "restoreRun", "checkedAt") != nil
	})
	if sum := c.gql(`query($id: ID!) { restoreRun(id: $id) { checkSummary { blocking }
		checkResults { code message } items(first: 200, severity: BLOCKING) { edges { node { policyType displayName checkResults { code message } } } } } }`,
		map[string]any{"id": id}); dig(sum, "restoreRun", "checkSummary", "blocking") != float64(0) {
		t.Fatalf("checks block the restore: %v", dig(sum, "restoreRun"))
	}
	c.gql(`mutation($id: ID!) { generateRestorePreview(input: {runId: $id}) { id } }`, map[string]any{"id": id})
	c.poll("the preview", func() (string, bool) {
		return "", dig(c.gql(`query($id: ID!) { restoreRun(id: $id) { previewedAt } }`, map[string]any{"id": id}), "restoreRun", "previewedAt") != nil
	})
	c.gql(`mutation($id: ID!, $label: String!) { confirmRestoreRun(input: {runId: $id, dryRun: false, acknowledged: true, tenantConfirmation: $label}) { status } }`,
		map[string]any{"id": id, "label": label})
	return id
}

// poll calls f every 100 ms until it reports done (up to 2 minutes).
func (c *chaosCluster) poll(what string, f func() (string, bool)) string {
	c.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if v, ok := f(); ok {
			return v
		}
	}
	c.t.Fatalf("%s did not finish within 2 minutes\nworker:\n%s", what, c.worker.err)
	return ""
}

func (c *chaosCluster) items(runID string) []*itemRow {
	c.t.Helper()
	db := c.db
	rows, err := db.RestoreRunItem.Query().Where(restorerunitem.RunID(runID)).All(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	out := make([]*itemRow, len(rows))
	for i, r := range rows {
		out[i] = &itemRow{ID: r.ID, BackupItemID: r.BackupItemID, Status: string(r.Status), Action: string(ptr.Deref(r.ExecutedAction)),
			PolicyType: r.PolicyType, Name: r.DisplayName, Code: ptr.Deref(r.ErrorCode), Message: ptr.Deref(r.ErrorMessage), Attempts: r.Attempts,
			Verified: r.Verified}
		if r.Drift != nil {
			b, _ := json.Marshal(r.Drift)
			out[i].Drift = string(b)
		}
	}
	return out
}

// itemRow is what the checks read of a run's item.
type itemRow struct {
	ID, BackupItemID, Status, Action, PolicyType, Name, Code, Message, Drift string
	Attempts                                                                 int
	Verified                                                                 bool
}

func (c *chaosCluster) itemCount(runID string) int { return len(c.items(runID)) }

func (c *chaosCluster) itemIDs(runID string) []string {
	var ids []string
	for _, it := range c.items(runID) {
		ids = append(ids, it.ID)
	}
	return ids
}

// doneCount counts the run's items with an outcome.
func (c *chaosCluster) doneCount(runID string) int {
	n := 0
	for _, it := range c.items(runID) {
		switch it.Status {
		case "SUCCEEDED", "FAILED", "SKIPPED":
			n++
		}
	}
	return n
}

// runStatus reads the run's status from the database.
func (c *chaosCluster) runStatus(runID string) string {
	db := c.db
	r, err := db.RestoreRun.Get(context.Background(), runID)
	if err != nil {
		c.t.Fatal(err)
	}
	return string(r.Status)
}

// waitDone waits until the run is RUNNING with at least n items done;
// false when it ended first.
func (c *chaosCluster) waitDone(runID string, n int) bool {
	c.t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		switch c.runStatus(runID) {
		case "COMPLETED", "PARTIAL", "FAILED", "CANCELLED":
			return false
		case "RUNNING":
			if c.doneCount(runID) >= n {
				return true
			}
		}
	}
	c.t.Fatalf("run %s: %d items done after 5 minutes, waiting for %d\nworker:\n%s", runID, c.doneCount(runID), n, c.worker.err)
	return false
}

// awaitEnd waits for the run's end and returns its status.
func (c *chaosCluster) awaitEnd(runID string, limit time.Duration) string {
	c.t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		switch st := c.runStatus(runID); st {
		case "COMPLETED", "PARTIAL", "FAILED", "CANCELLED":
			return st
		}
	}
	c.t.Fatalf("run %s did not end within %s (%d items done)\nworker:\n%s", runID, limit, c.doneCount(runID), c.worker.err)
	return ""
}

// flushRedis makes Redis lose everything the deployment holds in it. On the
// test's own in-process Redis that is FLUSHDB; a shared server (CI) may
// hold other tests' keys, so there only this deployment's keys (every one
// carries its prefix) are deleted.
func (c *chaosCluster) flushRedis() {
	c.t.Helper()
	opts, err := redis.ParseURL(c.env["RESTORED_REDIS_URL"])
	if err != nil {
		c.t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	if os.Getenv(testenv.EnvRedisURL) == "" {
		if err := rdb.FlushDB(ctx).Err(); err != nil {
			c.t.Fatal(err)
		}
		return
	}
	iter := rdb.Scan(ctx, 0, "*"+c.env["RESTORED_KEY_PREFIX"]+"*", 500).Iterator()
	for iter.Next(ctx) {
		if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := iter.Err(); err != nil {
		c.t.Fatal(err)
	}
}

// checkOutcomes: every item has exactly one persisted outcome (one row per
// backup item, finished, one ITEM event in the run's log), none failed, and
// the execution's operation completed without failing.
func (c *chaosCluster) checkOutcomes(runID string) {
	t := c.t
	t.Helper()
	ctx := context.Background()
	db := c.db
	perBackupItem := map[string]int{}
	for _, it := range c.items(runID) {
		perBackupItem[it.BackupItemID]++
		if it.Status != "SUCCEEDED" && it.Status != "SKIPPED" {
			t.Errorf("item %s (%s %q) ended %s %s: %s", it.ID, it.PolicyType, it.Name, it.Status, it.Code, it.Message)
		}
		if it.Status == "SUCCEEDED" && !it.Verified {
			// A relation or an assignment written twice shows here.
			t.Errorf("item %s (%s %q) was written but differs when read back: %s", it.ID, it.PolicyType, it.Name, it.Drift)
		}
	}
	for b, n := range perBackupItem {
		if n != 1 {
			t.Errorf("backup item %s has %d run items", b, n)
		}
	}
	evs, err := db.RestoreRunEvent.Query().Where(restorerunevent.RunID(runID), restorerunevent.Kind("ITEM")).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	perItem := map[string]int{}
	for _, e := range evs {
		perItem[e.ItemID]++
	}
	for _, id := range c.itemIDs(runID) {
		if perItem[id] != 1 {
			t.Errorf("item %s has %d ITEM events in the run's log, want 1", id, perItem[id])
		}
	}
	ops, err := db.OperationRun.Query().Where(operationrun.SubjectID(runID), operationrun.Type("restore.execute")).All(ctx)
	if err != nil || len(ops) != 1 {
		t.Fatalf("execution operations of run %s: %d, %v", runID, len(ops), err)
	}
	op := c.poll("the execution's operation", func() (string, bool) {
		o, err := db.OperationRun.Get(ctx, ops[0].ID)
		return string(o.Outcome), err == nil && o.Status == operationrun.StatusCOMPLETED
	})
	if op == string(operationrun.OutcomeFAILED) {
		t.Errorf("the execution's operation FAILED")
	}
	run, err := db.RestoreRun.Query().Where(restorerun.ID(runID)).Only(ctx)
	if err == nil && (run.LeaseOwner != nil || run.ActiveExecutionKey != nil) {
		t.Errorf("the ended run still holds its lease (%v) or execution key", ptr.Deref(run.LeaseOwner))
	}
}

// checkNoDuplicates: the tenant saw exactly one successful create per
// created item (the write log), and holds no two objects of a type with one
// name.
func (c *chaosCluster) checkNoDuplicates(runID string) {
	t := c.t
	t.Helper()
	want := map[string]int{}
	for _, it := range c.items(runID) {
		if it.Action == "CREATED" {
			typ, _ := intune.Lookup(it.PolicyType)
			want[typ.Path]++
		}
	}
	got := map[string]int{}
	for _, w := range c.tenant.Writes() {
		if w.Method == http.MethodPost && w.Status < 300 && isCreate(w.Path) {
			got[w.Path]++
		}
	}
	for path, n := range got {
		if n != want[path] {
			t.Errorf("POST %s succeeded %d times, but %d items were created there", path, n, want[path])
		}
	}
	if len(want) == 0 {
		t.Error("the restore created nothing: the test proves nothing")
	}
	for _, typ := range intune.Types() {
		seen := map[string]int{}
		for _, o := range c.tenant.Objects(typ.Key) {
			n, _ := o[typ.Name()].(string)
			if seen[n]++; seen[n] == 2 {
				t.Errorf("the tenant holds %s %q more than once", typ.Key, n)
			}
		}
	}
}

// lastSequence is the run's last event sequence.
func (c *chaosCluster) lastSequence(runID string) int {
	db := c.db
	r, err := db.RestoreRun.Get(context.Background(), runID)
	if err != nil {
		c.t.Fatal(err)
	}
	return r.EventSequence
}

// secretPatterns are what must never be written out: the tenant's client
// secret, the API token, and any bearer token (graphsim's are JWTs).
func (c *chaosCluster) secretPatterns() []string {
	return []string{c.secret, c.token, "eyJhbGci", "Bearer "}
}

// checkNoSecrets: no process wrote a secret or token, and no stored error
// (items, operations, audit entries) holds one.
func (c *chaosCluster) checkNoSecrets() {
	t := c.t
	t.Helper()
	for _, p := range c.procs {
		for stream, out := range map[string]string{"stdout": p.out.String(), "stderr": p.err.String()} {
			for _, s := range c.secretPatterns() {
				if i := strings.Index(out, s); i >= 0 {
					t.Errorf("%s's %s holds a secret (%q…): %s", p.name, stream, s[:min(len(s), 8)], lineAt(out, i))
				}
			}
		}
	}
	ctx := context.Background()
	db := c.db
	var stored []string
	items, _ := db.RestoreRunItem.Query().All(ctx)
	for _, it := range items {
		stored = append(stored, ptr.Deref(it.ErrorCode), ptr.Deref(it.ErrorMessage))
	}
	ops, _ := db.OperationRun.Query().All(ctx)
	for _, o := range ops {
		b, _ := json.Marshal(o.Context)
		stored = append(stored, ptr.Deref(o.ErrorCode), ptr.Deref(o.ErrorMessage), string(b))
	}
	audits, _ := db.AuditLog.Query().All(ctx)
	for _, a := range audits {
		b, _ := json.Marshal(a.Metadata)
		stored = append(stored, string(b))
	}
	for _, v := range stored {
		for _, s := range c.secretPatterns() {
			if strings.Contains(v, s) {
				t.Errorf("a stored error or audit entry holds a secret (%q…): %s", s[:min(len(s), 8)], v)
			}
		}
	}
}

// lineAt is the line of out around index i.
func lineAt(out string, i int) string {
	start := strings.LastIndexByte(out[:i], '\n') + 1
	end := strings.IndexByte(out[i:], '\n')
	if end < 0 {
		return out[start:]
	}
	return out[start : i+end]
}

// follower follows a run's restoreRunEvents on API #2 over one websocket
// protocol, reconnecting with afterSequence when asked (after each
// interruption) or when its connection drops.
type follower struct {
	t          *testing.T
	proto, url string
	token, run string

	mu         sync.Mutex
	conn       *websocket.Conn
	last       int            // last sequence received
	items      map[string]int // ITEM events per item id
	statuses   []string       // run statuses seen, in order
	problems   []string
	reconnects int
	done       chan struct{}
}

func (c *chaosCluster) follow(proto, runID string) *follower {
	f := &follower{t: c.t, proto: proto, url: "ws" + strings.TrimPrefix(c.api[1].URL, "http") + "/graphql",
		token: c.token, run: runID, items: map[string]int{}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	c.t.Cleanup(func() {
		cancel()
		f.closeConn()
		<-f.done
	})
	go f.loop(ctx)
	return f
}

const runEventsSub = `subscription($id: ID!, $after: Int) { restoreRunEvents(runId: $id, afterSequence: $after) {
	sequence kind status item { id status } } }`

// loop subscribes, from the last sequence received, until the run ends.
func (f *follower) loop(ctx context.Context) {
	defer close(f.done)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 100 {
			f.problem("gave up after 100 connections")
			return
		}
		ended, err := f.session()
		if ended {
			return
		}
		if err != nil && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
		f.mu.Lock()
		f.reconnects++
		f.mu.Unlock()
	}
}

// session is one connection: init, subscribe after the last sequence, read
// until the run ends (ended) or the connection closes.
func (f *follower) session() (ended bool, err error) {
	conn, _, err := (&websocket.Dialer{Subprotocols: []string{f.proto}, HandshakeTimeout: 10 * time.Second}).Dial(f.url, nil)
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	f.conn = conn
	after := f.last
	f.mu.Unlock()
	defer f.closeConn()
	if err := conn.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + f.token}}); err != nil {
		return false, err
	}
	start, data := "subscribe", "next"
	if f.proto == "graphql-ws" {
		start, data = "start", "data"
	}
	if err := conn.WriteJSON(map[string]any{"type": start, "id": "1", "payload": map[string]any{
		"query": runEventsSub, "variables": map[string]any{"id": f.run, "after": after}}}); err != nil {
		return false, err
	}
	for {
		var m struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			return false, err
		}
		switch m.Type {
		case "ping":
			_ = conn.WriteJSON(map[string]any{"type": "pong"})
		case "connection_ack", "ka", "pong":
		case "error", "connection_error":
			f.problem("server error: " + string(m.Payload))
			return false, fmt.Errorf("%s", m.Payload)
		case "complete":
			f.problem("the server completed the stream before the run ended")
			return false, nil
		case data:
			var p struct {
				Data struct {
					RestoreRunEvents struct {
						Sequence     int
						Kind, Status string
						Item         *struct{ ID, Status string }
					}
				}
				Errors []json.RawMessage
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
				f.problem("bad event: " + string(m.Payload))
				continue
			}
			ev := p.Data.RestoreRunEvents
			f.mu.Lock()
			if ev.Sequence != f.last+1 {
				f.problems = append(f.problems, fmt.Sprintf("event %d after %d (a gap or a duplicate)", ev.Sequence, f.last))
			}
			f.last = max(f.last, ev.Sequence)
			if ev.Kind == "ITEM" && ev.Item != nil {
				f.items[ev.Item.ID]++
			}
			f.statuses = append(f.statuses, ev.Status)
			f.mu.Unlock()
			switch ev.Status {
			case "COMPLETED", "PARTIAL", "FAILED", "CANCELLED":
				return true, nil
			}
		}
	}
}

func (f *follower) problem(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, s)
}

func (f *follower) closeConn() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn != nil {
		f.conn.Close()
		f.conn = nil
	}
}

// reconnect drops the connection: the follower subscribes again with
// afterSequence, as a client does after a network blip.
func (f *follower) reconnect() { f.closeConn() }

// wait waits for the follower to see the run's end.
func (f *follower) wait(limit time.Duration) {
	select {
	case <-f.done:
	case <-time.After(limit):
		f.problem("did not see the run end")
	}
}

// check: every event once, in sequence up to last, every item's ITEM
// event exactly once, and the run never FAILED on the way.
func (f *follower) check(t *testing.T, itemIDs []string, last int) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.problems {
		t.Errorf("%s subscriber: %s", f.proto, p)
	}
	if f.last != last {
		t.Errorf("%s subscriber: last event %d, the run's log ends at %d", f.proto, f.last, last)
	}
	for _, id := range itemIDs {
		if n := f.items[id]; n != 1 {
			t.Errorf("%s subscriber: item %s: %d ITEM events, want 1", f.proto, id, n)
		}
	}
	if slices.Contains(f.statuses, "FAILED") {
		t.Errorf("%s subscriber saw the run FAILED: %v", f.proto, f.statuses)
	}
	if f.reconnects == 0 {
		t.Errorf("%s subscriber never reconnected: afterSequence was not exercised", f.proto)
	}
	t.Logf("%s subscriber: %d events, %d reconnections", f.proto, f.last, f.reconnects)
}
