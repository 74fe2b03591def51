package backup_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/ent/intunepolicy"
	"github.com/restored/restored/ent/policyversion"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/backup"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph"
	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/testenv"
	"github.com/restored/restored/jobs"
)

// fixture is the backup service over a fresh database, a private Redis
// prefix and a simulated tenant reached over HTTPS with the real Graph
// client and token flow.
type fixture struct {
	client *ent.Client
	svc    *backup.Service
	ops    *operations.Service
	clock  *clock.Clock
	log    *slog.Logger
	// owner is a context acting as an owner of the workspace.
	owner  context.Context
	env    *ent.Environment
	tenant *graphsim.Tenant
	graph  *msgraph.Client
}

// tenantReader gives the service the Graph client of the fixture's tenant,
// as internal/app's tenant clients do for an environment with credentials;
// an environment it does not know has none.
type tenantReader map[string]*msgraph.Client

func (r tenantReader) Reader(_ context.Context, env *ent.Environment) (intune.Reader, error) {
	if c, ok := r[env.ID]; ok {
		return c, nil
	}
	return nil, noCredentials{}
}

// noCredentials is the safe error of a tenant that cannot be reached.
type noCredentials struct{}

func (noCredentials) Error() string    { return "no credentials: client secret sim-secret-x not stored" }
func (noCredentials) SafeCode() string { return "credentials_missing" }

func newFixture(tb testing.TB, gen graphsim.GenOptions) *fixture {
	tb.Helper()
	db := testenv.DB(tb)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(&testenv.LockedBuffer{}, nil))
	conn := testenv.RedisConn(tb)
	q := jobs.NewQueue(conn)
	tb.Cleanup(func() { q.Close() })
	f := &fixture{client: db.Client, clock: clock.At(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)), log: logger}
	bus := events.NewBus(conn, logger)
	tb.Cleanup(bus.Close)
	f.ops = &operations.Service{Client: db.Client, Queue: q, Bus: bus, Log: logger, Clock: f.clock}

	sim := graphsim.New(graphsim.Options{RequireAuth: true})
	srv := graphsim.NewTLS(sim.Handler())
	tb.Cleanup(srv.Close)
	f.tenant = sim.Tenant("contoso")
	f.tenant.SetCredentials("sim-client", "sim-secret")
	graphsim.Generate(f.tenant, gen)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	base := graphsim.BaseURL(srv.URL, "contoso")
	var err error
	f.graph, err = msgraph.New(msgraph.Config{BaseURL: base, TenantID: "contoso", ClientID: "sim-client",
		ClientSecret: "sim-secret", AuthorityHost: srv.URL + "/", RootCAs: pool, Logger: logger})
	if err != nil {
		tb.Fatalf("msgraph.New: %v", err)
	}

	ws := db.Client.Workspace.Create().SetSlug("acme").SetName("Acme").SaveX(ctx)
	u := db.Client.User.Create().SetEmail("owner@acme.test").SaveX(ctx)
	db.Client.Membership.Create().SetWorkspaceID(ws.ID).SetUserID(u.ID).SetRole(access.Owner).ExecX(ctx)
	f.owner = auth.WithViewer(ctx, &auth.Viewer{User: u, WorkspaceID: ws.ID, Role: access.Owner})
	f.env = db.Client.Environment.Create().SetWorkspaceID(ws.ID).SetDisplayName("Contoso").
		SetAzureTenantID("contoso").SetKind(environment.KindTEST).SetGraphBaseURL(base).SetClientID("sim-client").SaveX(ctx)
	f.svc = &backup.Service{Client: db.Client, Ops: f.ops, Tenants: tenantReader{f.env.ID: f.graph},
		Audit: &audit.Recorder{}, Log: logger, Clock: f.clock}
	return f
}

// handlers is a jobs.Mux keeping the handler of each task type.
type handlers map[string]asynq.Handler

func (h handlers) Handle(taskType string, handler asynq.Handler) { h[taskType] = handler }

// process runs the task of run as the worker would, through the handler
// jobs.Register gives its type (begin, the domain job, complete), and
// returns the completed run.
func (f *fixture) process(tb testing.TB, run *ent.OperationRun) *ent.OperationRun {
	tb.Helper()
	h := handlers{}
	jobs.Register(h, jobs.Services{Ops: f.ops, Backup: f.svc, Log: f.log})
	payload, _ := json.Marshal(jobs.Payload{RunID: run.ID})
	if err := h[run.Type].ProcessTask(context.Background(), asynq.NewTask(run.Type, payload)); err != nil {
		tb.Fatalf("%s task: %v", run.Type, err)
	}
	done := f.client.OperationRun.GetX(context.Background(), run.ID)
	if done.Status != "COMPLETED" {
		tb.Fatalf("run %s is %s after its task", run.ID, done.Status)
	}
	return done
}

// must takes a call's results and returns a function that fails tb on its
// error and otherwise gives its value: must(f())(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

// objects counts the tenant's non built-in objects by type key, of
// foundation types or of the others.
func (f *fixture) objects(foundation bool) map[string]int {
	out := map[string]int{}
	for _, t := range intune.Types() {
		if t.Foundation != foundation {
			continue
		}
		for _, o := range f.tenant.Objects(t.Key) {
			if !t.IsBuiltin(o) {
				out[t.Key]++
			}
		}
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// content counts a set's stored items: policies and foundations.
type content struct{ Policies, Foundations int }

func (f *fixture) content(tb testing.TB, setID string) content {
	tb.Helper()
	var c content
	for _, it := range f.client.BackupItem.Query().Where(backupitem.BackupSetID(setID)).AllX(context.Background()) {
		if it.Foundation {
			c.Foundations++
		} else {
			c.Policies++
		}
	}
	return c
}

// syncInventory runs an inventory sync to its end.
func (f *fixture) syncInventory(tb testing.TB) *ent.OperationRun {
	tb.Helper()
	return f.process(tb, must(f.svc.SyncInventory(f.owner, f.env.ID))(tb))
}

// policyIDs returns the ids of the inventory's non-foundation rows.
func (f *fixture) policyIDs(tb testing.TB) []string {
	tb.Helper()
	var ids []string
	for _, p := range f.client.IntunePolicy.Query().Where(intunepolicy.EnvironmentID(f.env.ID)).
		Order(ent.Asc(intunepolicy.FieldID)).AllX(context.Background()) {
		if t, ok := intune.Lookup(p.PolicyType); ok && !t.Foundation {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

var everyType = graphsim.GenOptions{Seed: 3, Policies: 2 * len(intune.Types()), Groups: 3, ScopeTags: 2, Filters: 2}

// TestCaptureCounts: capturing everything stores every non built-in object
// once, counts it by type on the set, reports it in the run's summary and
// refreshes the inventory.
func TestCaptureCounts(t *testing.T) {
	f := newFixture(t, everyType)
	run := must(f.svc.CreateBackupSet(f.owner, backup.CreateBackupSetInput{
		EnvironmentID: f.env.ID, Name: "everything", All: true, IncludeFoundations: true}))(t)
	done := f.process(t, run)

	policies, foundations := f.objects(false), f.objects(true)
	n := sum(policies) + sum(foundations)
	// Each type's list is read page by page (one page here); only the
	// objects of the types whose list is not whole are then read by id.
	// Every request is counted on the run.
	wantRequests := 0
	for _, typ := range intune.Types() {
		wantRequests += max(1, (len(f.tenant.Objects(typ.Key))+99)/100)
		if !typ.ListExpand {
			wantRequests += policies[typ.Key] + foundations[typ.Key]
		}
	}
	if done.Summary.GraphRequests != wantRequests {
		t.Errorf("%d Graph requests counted for %d objects, want %d", done.Summary.GraphRequests, n, wantRequests)
	}
	if diff := cmp.Diff(results.OperationSummary{Total: n, Captured: n, GraphRequests: done.Summary.GraphRequests}, done.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if done.Outcome != "SUCCEEDED" {
		t.Errorf("outcome %s, want SUCCEEDED", done.Outcome)
	}
	bs := f.client.BackupSet.GetX(context.Background(), *done.SubjectID)
	byType := map[string]int{}
	for k, v := range policies {
		byType[k] = v
	}
	for k, v := range foundations {
		byType[k] = v
	}
	type set struct {
		Status      backupset.Status
		Items       int
		ByType      map[string]int
		CapturedAt  time.Time
		Inventoried int
	}
	got := set{bs.Status, bs.ItemCount, bs.CountsByType, *bs.CapturedAt,
		f.client.IntunePolicy.Query().Where(intunepolicy.EnvironmentID(f.env.ID)).CountX(context.Background())}
	want := set{backupset.StatusREADY, n, byType, f.clock.Now(), n}
	if diff := cmp.Diff(want, got, cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("backup set (-want +got):\n%s", diff)
	}
}

// TestCaptureDedupe: the same request while the first is queued returns
// the first run and makes one set; a capture that runs again (a retried
// job after a crash) stores nothing twice.
func TestCaptureDedupe(t *testing.T) {
	f := newFixture(t, graphsim.GenOptions{Seed: 5, Policies: 12, Groups: 2})
	in := backup.CreateBackupSetInput{EnvironmentID: f.env.ID, Name: "nightly", All: true}
	first := must(f.svc.CreateBackupSet(f.owner, in))(t)
	again := must(f.svc.CreateBackupSet(f.owner, in))(t)
	in.Name = "other"
	other := must(f.svc.CreateBackupSet(f.owner, in))(t)
	if again.ID != first.ID || other.ID == first.ID {
		t.Fatalf("runs %s, %s (same request), %s (another name): want the first two equal, the third new", first.ID, again.ID, other.ID)
	}
	if n := f.client.BackupSet.Query().Where(backupset.Name("nightly")).CountX(context.Background()); n != 1 {
		t.Fatalf("%d sets named nightly, want 1", n)
	}

	done := f.process(t, first)
	n := sum(f.objects(false))
	end := must(f.svc.RunBackupCapture(context.Background(), done))(t)
	if diff := cmp.Diff(results.OperationSummary{Total: n, Skipped: n}, end.Summary); diff != "" {
		t.Errorf("summary of the capture run again (-want +got):\n%s", diff)
	}
	if got := f.content(t, *done.SubjectID); got != (content{Policies: n}) {
		t.Errorf("set holds %+v after the capture ran twice, want %d policies", got, n)
	}
}

// TestCaptureFoundations: foundations are captured when asked, by
// createBackupSet and by addPoliciesToBackupSet, and not otherwise.
func TestCaptureFoundations(t *testing.T) {
	f := newFixture(t, everyType)
	f.syncInventory(t)
	ids := f.policyIDs(t)
	allPolicies, foundations := sum(f.objects(false)), sum(f.objects(true))
	if foundations == 0 || len(ids) < 3 {
		t.Fatalf("tenant has %d foundations and %d policies", foundations, len(ids))
	}
	steps := []struct {
		name string
		in   backup.CreateBackupSetInput
		add  *backup.AddPoliciesInput // then added to the same set
		want content
	}{
		{"all without", backup.CreateBackupSetInput{All: true}, nil, content{Policies: allPolicies}},
		{"all with", backup.CreateBackupSetInput{All: true, IncludeFoundations: true}, nil, content{allPolicies, foundations}},
		{"picked without", backup.CreateBackupSetInput{PolicyIDs: ids[:1]}, nil, content{Policies: 1}},
		{"picked with", backup.CreateBackupSetInput{PolicyIDs: ids[:1], IncludeFoundations: true}, nil, content{1, foundations}},
		{"added without", backup.CreateBackupSetInput{PolicyIDs: ids[:1]},
			&backup.AddPoliciesInput{PolicyIDs: ids[1:3]}, content{Policies: 3}},
		{"added with", backup.CreateBackupSetInput{PolicyIDs: ids[:1]},
			&backup.AddPoliciesInput{PolicyIDs: ids[1:2], IncludeFoundations: true}, content{2, foundations}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.in.EnvironmentID, st.in.Name = f.env.ID, st.name
			done := f.process(t, must(f.svc.CreateBackupSet(f.owner, st.in))(t))
			if st.add != nil {
				st.add.BackupSetID = *done.SubjectID
				done = f.process(t, must(f.svc.AddPoliciesToBackupSet(f.owner, *st.add))(t))
			}
			if done.Outcome != "SUCCEEDED" {
				t.Fatalf("capture ended %s", done.Outcome)
			}
			if diff := cmp.Diff(st.want, f.content(t, *done.SubjectID)); diff != "" {
				t.Errorf("set content (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCaptureRefusals: the codes of requests the service refuses.
func TestCaptureRefusals(t *testing.T) {
	f := newFixture(t, graphsim.GenOptions{Seed: 1, Policies: 4})
	f.syncInventory(t)
	ids := f.policyIDs(t)
	ctx := context.Background()
	preRestore := f.client.BackupSet.Create().SetWorkspaceID(f.env.WorkspaceID).SetEnvironmentID(f.env.ID).
		SetName("before restore").SetOrigin(backupset.OriginPRE_RESTORE).SaveX(ctx)
	cases := []struct {
		name string
		call func() error
		want apperr.Code
	}{
		{"no name", func() error {
			_, err := f.svc.CreateBackupSet(f.owner, backup.CreateBackupSetInput{EnvironmentID: f.env.ID, All: true})
			return err
		}, apperr.BadUserInput},
		{"all and ids", func() error {
			_, err := f.svc.CreateBackupSet(f.owner, backup.CreateBackupSetInput{EnvironmentID: f.env.ID, Name: "x", All: true, PolicyIDs: ids[:1]})
			return err
		}, apperr.BadUserInput},
		{"foreign policy", func() error {
			_, err := f.svc.CreateBackupSet(f.owner, backup.CreateBackupSetInput{EnvironmentID: f.env.ID, Name: "x", PolicyIDs: []string{"pol_nope"}})
			return err
		}, apperr.BadUserInput},
		{"no viewer", func() error {
			_, err := f.svc.CreateBackupSet(ctx, backup.CreateBackupSetInput{EnvironmentID: f.env.ID, Name: "x", All: true})
			return err
		}, apperr.Unauthenticated},
		{"unknown set", func() error {
			_, err := f.svc.AddPoliciesToBackupSet(f.owner, backup.AddPoliciesInput{BackupSetID: "bks_nope", PolicyIDs: ids[:1]})
			return err
		}, apperr.NotFound},
		{"pre-restore set", func() error {
			_, err := f.svc.AddPoliciesToBackupSet(f.owner, backup.AddPoliciesInput{BackupSetID: preRestore.ID, PolicyIDs: ids[:1]})
			return err
		}, apperr.InvalidTransition},
		{"unknown policy", func() error {
			_, err := f.svc.CapturePolicySnapshot(f.owner, "pol_nope")
			return err
		}, apperr.NotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := apperr.CodeOf(c.call()); got != c.want {
				t.Errorf("code %s, want %s", got, c.want)
			}
		})
	}
}

// TestCaptureFailures: objects that cannot be read are counted and
// recorded with safe codes (never a message, never the secret); a tenant
// that cannot be reached at all fails the run and the set.
func TestCaptureFailures(t *testing.T) {
	f := newFixture(t, everyType)
	// The app may read configurations but not scope tags, filters and the rest.
	f.tenant.SetPermissions("DeviceManagementConfiguration.Read.All")
	done := f.process(t, must(f.svc.CreateBackupSet(f.owner, backup.CreateBackupSetInput{
		EnvironmentID: f.env.ID, Name: "partial", All: true, IncludeFoundations: true}))(t))
	if done.Outcome != "PARTIALLY_SUCCEEDED" || done.Summary.Captured == 0 || done.Summary.Failed == 0 {
		t.Fatalf("capture ended %s %v, want PARTIALLY_SUCCEEDED with some captured and some failed", done.Outcome, done.Summary)
	}
	raw, _ := json.Marshal(done.Context)
	var ctxt struct {
		ReasonCodes []string
		Failures    []struct{ PolicyType, GraphID, Code string }
	}
	if err := json.Unmarshal(raw, &ctxt); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"items_failed"}, ctxt.ReasonCodes); diff != "" {
		t.Errorf("reason codes (-want +got):\n%s", diff)
	}
	failedTypes := map[string]bool{}
	for _, fl := range ctxt.Failures {
		failedTypes[fl.PolicyType] = true
		if fl.Code == "" || strings.ContainsAny(fl.Code, " :") {
			t.Errorf("failure %+v: code is not a short safe code", fl)
		}
	}
	if !failedTypes["roleScopeTag"] {
		t.Errorf("failures %s do not name the unreadable scope tags", raw)
	}
	if strings.Contains(string(raw), "sim-secret") {
		t.Errorf("the secret leaked into the run: %s", raw)
	}

	// A tenant the service cannot reach.
	unreachable := f.client.Environment.Create().SetWorkspaceID(f.env.WorkspaceID).SetDisplayName("Fabrikam").
		SetAzureTenantID("fabrikam").SetKind(environment.KindTEST).SetGraphBaseURL(f.env.GraphBaseURL).SaveX(context.Background())
	done = f.process(t, must(f.svc.CreateBackupSet(f.owner, backup.CreateBackupSetInput{
		EnvironmentID: unreachable.ID, Name: "nothing", All: true}))(t))
	type end struct{ Outcome, Code, Message, SetStatus string }
	got := end{string(done.Outcome), *done.ErrorCode, *done.ErrorMessage,
		string(f.client.BackupSet.GetX(context.Background(), *done.SubjectID).Status)}
	want := end{"FAILED", "graph_unavailable", "the tenant could not be reached: credentials_missing", "FAILED"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unreachable tenant (-want +got):\n%s", diff)
	}
}

// TestPolicySnapshot: a snapshot of one policy makes version 1; an
// unchanged policy gets no new version; a changed one gets version 2.
func TestPolicySnapshot(t *testing.T) {
	f := newFixture(t, graphsim.GenOptions{Seed: 9, Policies: len(intune.Types()), Groups: 2, ScopeTags: 1, Filters: 1})
	f.syncInventory(t)
	ctx := context.Background()
	p := f.client.IntunePolicy.Query().Where(intunepolicy.EnvironmentID(f.env.ID),
		intunepolicy.PolicyType("settingsCatalogPolicy")).FirstX(ctx)
	snapshot := func() *ent.OperationRun {
		return f.process(t, must(f.svc.CapturePolicySnapshot(f.owner, p.ID))(t))
	}
	first := snapshot()
	second := snapshot()
	obj, _ := f.tenant.Object("settingsCatalogPolicy", p.GraphID)
	obj["description"] = "changed in the portal"
	if _, err := f.tenant.Put("settingsCatalogPolicy", obj); err != nil {
		t.Fatal(err)
	}
	third := snapshot()
	summaries := []results.OperationSummary{first.Summary, second.Summary, third.Summary}
	// A snapshot is one GET of the policy.
	want := []results.OperationSummary{{Captured: 1, Version: 1, GraphRequests: 1}, {Unchanged: 1, Version: 1, GraphRequests: 1},
		{Captured: 1, Version: 2, GraphRequests: 1}}
	if diff := cmp.Diff(want, summaries); diff != "" {
		t.Errorf("summaries (-want +got):\n%s", diff)
	}
	versions := f.client.PolicyVersion.Query().Where(policyversion.PolicyID(p.ID)).Order(ent.Asc(policyversion.FieldVersion)).AllX(ctx)
	if len(versions) != 2 || versions[0].ContentHash == versions[1].ContentHash ||
		versions[1].Payload["description"] != "changed in the portal" || !versions[1].CapturedAt.Equal(f.clock.Now()) {
		t.Errorf("versions %+v, want 2 with different content, the second holding the change", versions)
	}
	if third.Context.PolicyVersionID != versions[1].ID {
		t.Errorf("run context %v does not name version 2 (%s)", third.Context, versions[1].ID)
	}
}

// TestInventoryUpsert: a sync makes one row per object; a later sync
// refreshes the rows, marks the objects gone from the tenant as missing,
// and clears the mark when they come back.
func TestInventoryUpsert(t *testing.T) {
	f := newFixture(t, graphsim.GenOptions{Seed: 4, Policies: 10, Groups: 2, ScopeTags: 1, Filters: 1})
	ctx := context.Background()
	total := 0
	for _, typ := range intune.Types() {
		total += len(f.tenant.Objects(typ.Key))
	}
	first := f.syncInventory(t)
	if first.Summary.Objects != total || first.Summary.TypesFailed != 0 {
		t.Fatalf("first sync summary %v, want %d objects", first.Summary, total)
	}

	gone := f.client.IntunePolicy.Query().Where(intunepolicy.EnvironmentID(f.env.ID),
		intunepolicy.PolicyType("settingsCatalogPolicy")).FirstX(ctx)
	typ, _ := intune.Lookup(gone.PolicyType)
	obj, _ := f.tenant.Object(typ.Key, gone.GraphID)
	if err := f.graph.Delete(ctx, typ.Path+"/"+url.PathEscape(gone.GraphID)); err != nil {
		t.Fatalf("delete %s in the tenant: %v", gone.GraphID, err)
	}
	// The sync marks rows older than its start: time must move on.
	f.clock.Advance(time.Hour)
	second := f.syncInventory(t)
	rows := f.client.IntunePolicy.Query().Where(intunepolicy.EnvironmentID(f.env.ID)).AllX(ctx)
	type state struct{ Rows, Objects, Missing, Fresh int }
	count := func(rows []*ent.IntunePolicy, objects int) state {
		s := state{Rows: len(rows), Objects: objects}
		for _, r := range rows {
			if r.MissingSince != nil {
				s.Missing++
				if r.ID != gone.ID || !r.MissingSince.Equal(f.clock.Now()) {
					t.Errorf("row %s (%s) missing since %v", r.ID, r.DisplayName, r.MissingSince)
				}
			}
			if r.SyncedAt.Equal(f.clock.Now()) {
				s.Fresh++
			}
		}
		return s
	}
	if diff := cmp.Diff(state{total, total - 1, 1, total - 1}, count(rows, second.Summary.Objects)); diff != "" {
		t.Errorf("after the delete (-want +got):\n%s", diff)
	}

	if _, err := f.tenant.Put(typ.Key, obj); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	third := f.syncInventory(t)
	rows = f.client.IntunePolicy.Query().Where(intunepolicy.EnvironmentID(f.env.ID)).AllX(ctx)
	if diff := cmp.Diff(state{total, total, 0, total}, count(rows, third.Summary.Objects)); diff != "" {
		t.Errorf("after the object came back (-want +got):\n%s", diff)
	}
}
