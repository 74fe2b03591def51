package environments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/auditlog"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/environments"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/secrets"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/internal/testenv"
)

// testSecret is the client secret of most tests; tests look for it (and its
// distinctive middle) wherever it must not be.
const testSecret = "Zq8~rEsToReD-TeSt-SeCrEt-0123456789abcdef"

// tenantGUID and clientGUID are well-formed ids of a real-looking tenant.
const (
	tenantGUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	clientGUID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
)

// fixture is a migrated database with two workspaces, "acme" with an owner,
// an operator and an auditor, and "other" with its own owner.
type fixture struct {
	db    *store.DB
	svc   *environments.Service
	box   *secrets.Box
	clock *clock.Clock
	acme  *ent.Workspace
	other *ent.Workspace
	// Contexts of acme's owner, operator and auditor, and of other's owner.
	owner, operator, auditor, outsider context.Context
}

// mustKey returns a box for a fixed 32-byte key made of b.
func mustKey(tb testing.TB, b byte) *secrets.Box {
	tb.Helper()
	box, err := secrets.New(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return box
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	db := testenv.DB(tb)
	f := &fixture{db: db, box: mustKey(tb, 7), clock: clock.At(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))}
	f.svc = &environments.Service{Client: db.Client, Secrets: f.box, Audit: &audit.Recorder{}, Clock: f.clock}
	f.acme = db.Workspace.Create().SetSlug("acme").SetName("Acme").SaveX(ctx)
	f.other = db.Workspace.Create().SetSlug("other").SetName("Other").SaveX(ctx)
	f.owner = viewerCtx(tb, db, f.acme, "owner@acme.test", access.Owner)
	f.operator = viewerCtx(tb, db, f.acme, "operator@acme.test", access.Operator)
	f.auditor = viewerCtx(tb, db, f.acme, "auditor@acme.test", access.Auditor)
	f.outsider = viewerCtx(tb, db, f.other, "owner@other.test", access.Owner)
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

// validInput returns a valid CreateInput for acme.
func (f *fixture) validInput(name string) environments.CreateInput {
	return environments.CreateInput{
		WorkspaceID: f.acme.ID, DisplayName: name, Kind: environment.KindTEST,
		AzureTenantID: tenantGUID, ClientID: clientGUID, ClientSecret: testSecret,
	}
}

// mustCreate creates an environment as acme's owner.
func (f *fixture) mustCreate(tb testing.TB, in environments.CreateInput) *ent.Environment {
	tb.Helper()
	env, err := f.svc.Create(f.owner, in)
	if err != nil {
		tb.Fatalf("Create(%q): %v", in.DisplayName, err)
	}
	return env
}

// wantCode fails unless err is an *apperr.Error with code (and, when field
// is not empty, that field).
func wantCode(tb testing.TB, err error, code apperr.Code, field string) {
	tb.Helper()
	e, ok := apperr.As(err)
	if !ok {
		tb.Fatalf("error = %v, want %s", err, code)
	}
	if e.Code != code || e.Field != field {
		tb.Fatalf("error = %s on field %q (%q), want %s on field %q", e.Code, e.Field, e.Message, code, field)
	}
}

// auditEntries returns the audit entries of action about object, oldest first.
func (f *fixture) auditEntries(tb testing.TB, action, objectID string) []*ent.AuditLog {
	tb.Helper()
	entries, err := f.db.AuditLog.Query().
		Where(auditlog.Action(action), auditlog.ObjectID(objectID)).
		Order(auditlog.ByCreatedAt(), auditlog.ByID()).
		All(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return entries
}

// rawRows returns every column of every row of table as text, as the
// database holds it, for looking for things that must not be there.
func rawRows(tb testing.TB, db *store.DB, table string) string {
	tb.Helper()
	rows, err := db.SQL.QueryContext(context.Background(), "SELECT * FROM "+table)
	if err != nil {
		tb.Fatalf("SELECT * FROM %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				out.Write(v)
			default:
				fmt.Fprint(&out, v)
			}
			out.WriteByte(0)
		}
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out.String()
}

// assertNoSecret fails if secret appears in the environments or audit_logs
// tables, raw, or in any audit entry's metadata.
func assertNoSecret(tb testing.TB, db *store.DB, secret string) {
	tb.Helper()
	for _, table := range []string{"environments", "audit_logs"} {
		if strings.Contains(rawRows(tb, db, table), secret) {
			tb.Errorf("the client secret is stored in clear in table %s", table)
		}
	}
	entries, err := db.AuditLog.Query().All(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		b, _ := json.Marshal(e.Metadata)
		if strings.Contains(string(b), secret) {
			tb.Errorf("audit entry %s (%s) metadata holds the client secret: %s", e.ID, e.Action, b)
		}
		for k := range e.Metadata {
			if strings.Contains(strings.ToLower(k), "secret") {
				tb.Errorf("audit entry %s (%s) has a metadata key %q about the secret", e.ID, e.Action, k)
			}
		}
	}
}

func TestCreate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := f.validInput("  Contoso Test  ")
	in.AzureTenantID = strings.ToUpper(tenantGUID)
	in.Kind = "test" // any case
	env := f.mustCreate(t, in)

	type row struct {
		WorkspaceID, DisplayName, AzureTenantID, GraphBaseURL, ClientID string
		Kind                                                            environment.Kind
		WriteEnabled                                                    bool
	}
	want := row{f.acme.ID, "Contoso Test", tenantGUID, environments.DefaultGraphBaseURL, clientGUID, environment.KindTEST, false}
	got := row{env.WorkspaceID, env.DisplayName, env.AzureTenantID, env.GraphBaseURL, env.ClientID, env.Kind, env.WriteEnabled}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created environment mismatch (-want +got):\n%s", diff)
	}
	if env.CredentialsSetAt == nil || !env.CredentialsSetAt.Equal(f.clock.Now()) {
		t.Errorf("credentials_set_at = %v, want %v", env.CredentialsSetAt, f.clock.Now())
	}
	if env.ArchivedAt != nil || env.PermissionsCheckedAt != nil || len(env.GrantedPermissions) != 0 {
		t.Errorf("new environment: archived %v, permissions %v checked %v; want none", env.ArchivedAt, env.GrantedPermissions, env.PermissionsCheckedAt)
	}
	stored, err := f.db.Environment.Get(ctx, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, row{stored.WorkspaceID, stored.DisplayName, stored.AzureTenantID, stored.GraphBaseURL, stored.ClientID, stored.Kind, stored.WriteEnabled}); diff != "" {
		t.Errorf("stored environment mismatch (-want +got):\n%s", diff)
	}

	entries := f.auditEntries(t, "environment.create", env.ID)
	if len(entries) != 1 {
		t.Fatalf("%d environment.create entries, want 1", len(entries))
	}
	e := entries[0]
	if e.WorkspaceID != f.acme.ID || e.EnvironmentID == nil || *e.EnvironmentID != env.ID || e.ActorLabel != "owner@acme.test" {
		t.Errorf("audit entry = workspace %s, environment %v, actor %q; want %s, %s, owner@acme.test", e.WorkspaceID, e.EnvironmentID, e.ActorLabel, f.acme.ID, env.ID)
	}
	for k, v := range map[string]any{"id": env.ID, "name": "Contoso Test", "kind": "TEST", "tenant": tenantGUID} {
		if e.Metadata[k] != v {
			t.Errorf("audit metadata[%q] = %v, want %v", k, e.Metadata[k], v)
		}
	}
	assertNoSecret(t, f.db, testSecret)
}

func TestCreateNormalizes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name                   string
		base, tenant, clientID string
		wantBase, wantTenant   string
		wantClientID           string
	}{
		{"default base URL", "", "contoso.onmicrosoft.com", clientGUID, environments.DefaultGraphBaseURL, "contoso.onmicrosoft.com", clientGUID},
		{"domain lowercased", "https://graph.microsoft.com/beta", "Contoso.OnMicrosoft.com", strings.ToUpper(clientGUID), "https://graph.microsoft.com/beta", "contoso.onmicrosoft.com", clientGUID},
		{"trailing slash, scheme and host case", "HTTPS://Graph.Microsoft.US/beta/", tenantGUID, clientGUID, "https://graph.microsoft.us/beta", tenantGUID, clientGUID},
		{"graphsim over https loopback", "https://127.0.0.1:8443/t/contoso/beta", "contoso", "sim-client", "https://127.0.0.1:8443/t/contoso/beta", "contoso", "sim-client"},
		{"plain http on localhost", "http://localhost:8080/t/fabrikam/beta", "fabrikam", "sim-client", "http://localhost:8080/t/fabrikam/beta", "fabrikam", "sim-client"},
		{"plain http on 127.0.0.0/8", "http://127.1.2.3/beta", "fabrikam.example", "sim.client_2", "http://127.1.2.3/beta", "fabrikam.example", "sim.client_2"},
		{"plain http on ::1", "http://[::1]:9000/beta", tenantGUID, clientGUID, "http://[::1]:9000/beta", tenantGUID, clientGUID},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := f.validInput(fmt.Sprintf("env %d", i))
			in.GraphBaseURL, in.AzureTenantID, in.ClientID = tt.base, tt.tenant, tt.clientID
			env := f.mustCreate(t, in)
			got := [3]string{env.GraphBaseURL, env.AzureTenantID, env.ClientID}
			if diff := cmp.Diff([3]string{tt.wantBase, tt.wantTenant, tt.wantClientID}, got); diff != "" {
				t.Errorf("base URL, tenant, client id mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateValidation(t *testing.T) {
	f := newFixture(t)
	const sim = "http://127.0.0.1:8080/t/contoso/beta"
	tests := []struct {
		name  string
		edit  func(*environments.CreateInput)
		field string
	}{
		{"empty name", func(in *environments.CreateInput) { in.DisplayName = "" }, "displayName"},
		{"blank name", func(in *environments.CreateInput) { in.DisplayName = " \t " }, "displayName"},
		{"name of 201 characters", func(in *environments.CreateInput) { in.DisplayName = strings.Repeat("x", 201) }, "displayName"},
		{"name over 200 bytes", func(in *environments.CreateInput) { in.DisplayName = strings.Repeat("é", 101) }, "displayName"},
		{"name with a line break", func(in *environments.CreateInput) { in.DisplayName = "Contoso\nProduction" }, "displayName"},
		{"name not UTF-8", func(in *environments.CreateInput) { in.DisplayName = "Contoso \xff" }, "displayName"},
		{"no kind", func(in *environments.CreateInput) { in.Kind = "" }, "kind"},
		{"unknown kind", func(in *environments.CreateInput) { in.Kind = "STAGING" }, "kind"},
		{"base URL without scheme", func(in *environments.CreateInput) { in.GraphBaseURL = "graph.microsoft.com/beta" }, "graphBaseUrl"},
		{"base URL plain http", func(in *environments.CreateInput) { in.GraphBaseURL = "http://graph.microsoft.com/beta" }, "graphBaseUrl"},
		{"base URL plain http on a private address", func(in *environments.CreateInput) { in.GraphBaseURL = "http://10.0.0.1/beta" }, "graphBaseUrl"},
		{"base URL plain http on a localhost lookalike", func(in *environments.CreateInput) { in.GraphBaseURL = "http://localhost.evil.example/beta" }, "graphBaseUrl"},
		{"base URL ftp", func(in *environments.CreateInput) { in.GraphBaseURL = "ftp://graph.microsoft.com/beta" }, "graphBaseUrl"},
		{"base URL with user info", func(in *environments.CreateInput) { in.GraphBaseURL = "https://user:pw@graph.microsoft.com/beta" }, "graphBaseUrl"},
		{"base URL with a query", func(in *environments.CreateInput) { in.GraphBaseURL = "https://graph.microsoft.com/beta?x=1" }, "graphBaseUrl"},
		{"base URL with an empty query", func(in *environments.CreateInput) { in.GraphBaseURL = "https://graph.microsoft.com/beta?" }, "graphBaseUrl"},
		{"base URL with a fragment", func(in *environments.CreateInput) { in.GraphBaseURL = "https://graph.microsoft.com/beta#top" }, "graphBaseUrl"},
		{"base URL without host", func(in *environments.CreateInput) { in.GraphBaseURL = "https:///beta" }, "graphBaseUrl"},
		{"base URL opaque", func(in *environments.CreateInput) { in.GraphBaseURL = "https:graph.microsoft.com" }, "graphBaseUrl"},
		{"base URL unparsable", func(in *environments.CreateInput) { in.GraphBaseURL = "https://graph.microsoft.com:port/beta" }, "graphBaseUrl"},
		{"no tenant", func(in *environments.CreateInput) { in.AzureTenantID = "" }, "azureTenantId"},
		{"single-label tenant on real Graph", func(in *environments.CreateInput) { in.AzureTenantID = "contoso" }, "azureTenantId"},
		{"tenant with spaces", func(in *environments.CreateInput) { in.AzureTenantID = "contoso corp.com" }, "azureTenantId"},
		{"tenant with an empty label", func(in *environments.CreateInput) { in.AzureTenantID = "contoso..com" }, "azureTenantId"},
		{"tenant label with a leading dash", func(in *environments.CreateInput) { in.AzureTenantID = "-contoso.com" }, "azureTenantId"},
		{"tenant an IP address", func(in *environments.CreateInput) { in.AzureTenantID = "10.1.2.3" }, "azureTenantId"},
		{"tenant a malformed GUID", func(in *environments.CreateInput) { in.AzureTenantID = "72f988bf-86f1-41af-91ab-2d7cd011db4" }, "azureTenantId"},
		{"tenant a URL", func(in *environments.CreateInput) { in.AzureTenantID = "https://login.microsoftonline.com/contoso.com" }, "azureTenantId"},
		{"tenant too long", func(in *environments.CreateInput) { in.AzureTenantID = strings.Repeat("a.", 127) + "com" }, "azureTenantId"},
		{"single-label tenant with a bad character on graphsim", func(in *environments.CreateInput) {
			in.GraphBaseURL, in.AzureTenantID, in.ClientID = sim, "contoso_1", "sim-client"
		}, "azureTenantId"},
		{"no client id", func(in *environments.CreateInput) { in.ClientID = "" }, "clientId"},
		{"simulated client id on real Graph", func(in *environments.CreateInput) { in.ClientID = "sim-client" }, "clientId"},
		{"client id with a space on graphsim", func(in *environments.CreateInput) {
			in.GraphBaseURL, in.AzureTenantID, in.ClientID = sim, "contoso", "sim client"
		}, "clientId"},
		{"client id too long on graphsim", func(in *environments.CreateInput) {
			in.GraphBaseURL, in.AzureTenantID, in.ClientID = sim, "contoso", strings.Repeat("c", 101)
		}, "clientId"},
		{"no secret", func(in *environments.CreateInput) { in.ClientSecret = "" }, "clientSecret"},
		{"secret with a trailing line break", func(in *environments.CreateInput) { in.ClientSecret = testSecret + "\n" }, "clientSecret"},
		{"secret with a leading space", func(in *environments.CreateInput) { in.ClientSecret = " " + testSecret }, "clientSecret"},
		{"secret too long", func(in *environments.CreateInput) { in.ClientSecret = strings.Repeat("s", 1025) }, "clientSecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := f.validInput("Contoso")
			tt.edit(&in)
			_, err := f.svc.Create(f.owner, in)
			wantCode(t, err, apperr.BadUserInput, tt.field)
			if in.ClientSecret != "" && strings.Contains(err.Error(), in.ClientSecret) {
				t.Errorf("error %q echoes the client secret", err)
			}
		})
	}
	if n := f.db.Environment.Query().CountX(context.Background()); n != 0 {
		t.Errorf("%d environments after only invalid creates, want 0", n)
	}
	// The limits are inclusive.
	in := f.validInput(strings.Repeat("é", 100)) // 200 bytes
	in.ClientSecret = strings.Repeat("s", 1024)
	f.mustCreate(t, in)
}

func TestCreateDuplicateName(t *testing.T) {
	f := newFixture(t)
	first := f.mustCreate(t, f.validInput("Contoso Production"))
	for _, name := range []string{"Contoso Production", "contoso production", " CONTOSO PRODUCTION "} {
		_, err := f.svc.Create(f.owner, f.validInput(name))
		wantCode(t, err, apperr.BadUserInput, "displayName")
		if !strings.Contains(err.Error(), "already exists") {
			t.Errorf("duplicate name error %q does not say the name is taken", err)
		}
	}
	// LIKE wildcards in a name are plain characters.
	f.mustCreate(t, f.validInput("Fab_100%"))
	f.mustCreate(t, f.validInput("Fabx100 and more"))
	// Another workspace may use the name.
	in := f.validInput("Contoso Production")
	in.WorkspaceID = f.other.ID
	if _, err := f.svc.Create(f.outsider, in); err != nil {
		t.Errorf("same name in another workspace: %v", err)
	}
	// An archived environment keeps its name.
	if _, err := f.svc.Archive(f.owner, first.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Create(f.owner, f.validInput("Contoso Production"))
	wantCode(t, err, apperr.BadUserInput, "displayName")
}

// TestCreateConcurrentSameName races creates of one name: exactly one wins
// and the others get the displayName error, not a constraint error.
func TestCreateConcurrentSameName(t *testing.T) {
	f := newFixture(t)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Create(f.owner, f.validInput("Racy"))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		wantCode(t, err, apperr.BadUserInput, "displayName")
	}
	if ok != 1 {
		t.Errorf("%d concurrent creates of one name succeeded, want 1", ok)
	}
}

func TestSecretSealedAtRest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustCreate(t, f.validInput("A"))
	in := f.validInput("B")
	in.ClientSecret = "another-" + testSecret
	b := f.mustCreate(t, in)
	assertNoSecret(t, f.db, testSecret)

	stored, err := f.db.Environment.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.ClientSecretEncrypted) == 0 {
		t.Fatal("no sealed secret stored")
	}
	pt, err := f.box.Open(stored.ClientSecretEncrypted, []byte(a.ID))
	if err != nil || string(pt) != testSecret {
		t.Errorf("Open with the environment's id = %q, %v; want the secret", pt, err)
	}
	// Sealed to its row: it does not open as another environment's secret
	// (a value copied between rows), nor with another key.
	if _, err := f.box.Open(stored.ClientSecretEncrypted, []byte(b.ID)); err == nil {
		t.Error("the sealed secret opens with another environment's id as associated data")
	}
	if _, err := mustKey(t, 8).Open(stored.ClientSecretEncrypted, []byte(a.ID)); err == nil {
		t.Error("the sealed secret opens with another key")
	}
	// Two seals of one secret differ (random nonces): equal ciphertexts
	// would tell a reader which tenants share credentials.
	in = f.validInput("C")
	c := f.mustCreate(t, in)
	sc, _ := f.db.Environment.Get(ctx, c.ID)
	if bytes.Equal(sc.ClientSecretEncrypted, stored.ClientSecretEncrypted) {
		t.Error("two environments with the same secret have the same ciphertext")
	}
}

func TestCreateWithoutKey(t *testing.T) {
	f := newFixture(t)
	f.svc.Secrets = nil
	_, err := f.svc.Create(f.owner, f.validInput("A"))
	wantCode(t, err, apperr.Internal, "")
	if !strings.Contains(err.Error(), "RESTORED_SECRET_KEY") {
		t.Errorf("error %q does not tell what to configure", err)
	}
	if n := f.db.Environment.Query().CountX(context.Background()); n != 0 {
		t.Errorf("%d environments stored without a key, want 0", n)
	}
}

// TestOwnerOnly checks that every change needs workspace.manage in the
// environment's own workspace.
func TestOwnerOnly(t *testing.T) {
	f := newFixture(t)
	env := f.mustCreate(t, f.validInput("A"))
	// Re-read: the database's timestamps are less precise than Go's.
	env = f.db.Environment.GetX(context.Background(), env.ID)
	name := "B"
	ops := map[string]func(ctx context.Context) error{
		"Create": func(ctx context.Context) error {
			_, err := f.svc.Create(ctx, f.validInput("New"))
			return err
		},
		"Update": func(ctx context.Context) error {
			_, err := f.svc.Update(ctx, env.ID, environments.UpdateInput{DisplayName: &name})
			return err
		},
		"RotateCredentials": func(ctx context.Context) error {
			_, err := f.svc.RotateCredentials(ctx, env.ID, clientGUID, "new-"+testSecret)
			return err
		},
		"Archive": func(ctx context.Context) error {
			_, err := f.svc.Archive(ctx, env.ID)
			return err
		},
	}
	callers := []struct {
		name string
		ctx  context.Context
		code apperr.Code
	}{
		{"operator", f.operator, apperr.Forbidden},
		{"auditor", f.auditor, apperr.Forbidden},
		{"owner of another workspace", f.outsider, apperr.Forbidden},
		{"anonymous", context.Background(), apperr.Unauthenticated},
	}
	for op, call := range ops {
		for _, c := range callers {
			t.Run(op+"/"+c.name, func(t *testing.T) {
				wantCode(t, call(c.ctx), c.code, "")
			})
		}
	}
	got, err := f.db.Environment.Get(context.Background(), env.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != "A" || got.ArchivedAt != nil || !got.UpdatedAt.Equal(env.UpdatedAt) {
		t.Errorf("environment changed by refused calls: %+v", got)
	}
	if n := f.db.Environment.Query().CountX(context.Background()); n != 1 {
		t.Errorf("%d environments after refused creates, want 1", n)
	}
	// Unknown ids are NOT_FOUND for owners.
	_, err = f.svc.Archive(f.owner, "env_00000000000000000000000000")
	wantCode(t, err, apperr.NotFound, "")
}

func TestUpdate(t *testing.T) {
	f := newFixture(t)
	env := f.mustCreate(t, f.validInput("Contoso"))
	f.mustCreate(t, f.validInput("Fabrikam"))
	ptr := func(s string) *string { return &s }
	prod, yes := environment.KindPROD, true

	got, err := f.svc.Update(f.owner, env.ID, environments.UpdateInput{DisplayName: ptr(" Contoso Prod "), Kind: &prod, WriteEnabled: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != "Contoso Prod" || got.Kind != environment.KindPROD || !got.WriteEnabled {
		t.Errorf("updated = %q %s write %v, want Contoso Prod PROD write true", got.DisplayName, got.Kind, got.WriteEnabled)
	}
	entries := f.auditEntries(t, "environment.update", env.ID)
	if len(entries) != 1 {
		t.Fatalf("%d environment.update entries, want 1", len(entries))
	}
	md, _ := json.Marshal(entries[0].Metadata)
	var meta struct {
		Changed  []string
		From, To map[string]any
	}
	if err := json.Unmarshal(md, &meta); err != nil {
		t.Fatal(err)
	}
	wantMeta := struct {
		Changed  []string
		From, To map[string]any
	}{
		Changed: []string{"displayName", "kind", "writeEnabled"},
		From:    map[string]any{"displayName": "Contoso", "kind": "TEST", "writeEnabled": false},
		To:      map[string]any{"displayName": "Contoso Prod", "kind": "PROD", "writeEnabled": true},
	}
	if diff := cmp.Diff(wantMeta, meta); diff != "" {
		t.Errorf("update audit metadata mismatch (-want +got):\n%s", diff)
	}

	// Nothing changed: no error, no entry.
	if _, err := f.svc.Update(f.owner, env.ID, environments.UpdateInput{DisplayName: ptr("Contoso Prod"), Kind: &prod}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.auditEntries(t, "environment.update", env.ID)); n != 1 {
		t.Errorf("%d update entries after a no-op update, want 1", n)
	}
	// A case-only rename of itself is allowed.
	if got, err := f.svc.Update(f.owner, env.ID, environments.UpdateInput{DisplayName: ptr("CONTOSO PROD")}); err != nil || got.DisplayName != "CONTOSO PROD" {
		t.Errorf("case-only rename = %v, %v", got, err)
	}

	// Validation, field by field.
	bad := "STAGING"
	for name, in := range map[string]struct {
		in    environments.UpdateInput
		field string
	}{
		"empty name":     {environments.UpdateInput{DisplayName: ptr("")}, "displayName"},
		"long name":      {environments.UpdateInput{DisplayName: ptr(strings.Repeat("n", 201))}, "displayName"},
		"taken name":     {environments.UpdateInput{DisplayName: ptr("fabrikam")}, "displayName"},
		"unknown kind":   {environments.UpdateInput{Kind: (*environments.Kind)(&bad)}, "kind"},
		"empty kind":     {environments.UpdateInput{Kind: new(environments.Kind)}, "kind"},
		"name then kind": {environments.UpdateInput{DisplayName: ptr("ok"), Kind: (*environments.Kind)(&bad)}, "kind"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.svc.Update(f.owner, env.ID, in.in)
			wantCode(t, err, apperr.BadUserInput, in.field)
		})
	}
}

func TestRotateCredentials(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := f.mustCreate(t, f.validInput("A"))
	f.clock.Advance(time.Minute)
	if _, err := f.svc.RecordPermissions(ctx, env.ID, []string{"Group.Read.All"}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)

	const newClient = "ffffffff-4e5f-4a6b-8c7d-9e0f1a2b0000"
	const newSecret = "rotated-" + testSecret
	got, err := f.svc.RotateCredentials(f.owner, env.ID, strings.ToUpper(newClient), newSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientID != newClient {
		t.Errorf("client id = %q, want %q", got.ClientID, newClient)
	}
	if got.CredentialsSetAt == nil || !got.CredentialsSetAt.Equal(f.clock.Now()) {
		t.Errorf("credentials_set_at = %v, want %v", got.CredentialsSetAt, f.clock.Now())
	}
	stored := f.db.Environment.GetX(ctx, env.ID)
	if len(stored.GrantedPermissions) != 0 || stored.PermissionsCheckedAt != nil {
		t.Errorf("after rotation: permissions %v checked at %v; want them cleared", stored.GrantedPermissions, stored.PermissionsCheckedAt)
	}
	if pt, err := f.box.Open(stored.ClientSecretEncrypted, []byte(env.ID)); err != nil || string(pt) != newSecret {
		t.Errorf("stored secret opens to %q, %v; want the new secret", pt, err)
	}
	entries := f.auditEntries(t, "environment.rotate_credentials", env.ID)
	if len(entries) != 1 {
		t.Fatalf("%d rotate entries, want 1", len(entries))
	}
	md, _ := json.Marshal(entries[0].Metadata)
	if strings.Contains(string(md), newClient) || !strings.Contains(string(md), "ffff…0000") {
		t.Errorf("rotate audit metadata %s: want the masked client id only", md)
	}
	assertNoSecret(t, f.db, testSecret)
	assertNoSecret(t, f.db, newSecret)

	// Validation uses the environment's Graph base URL.
	_, err = f.svc.RotateCredentials(f.owner, env.ID, "sim-client", newSecret)
	wantCode(t, err, apperr.BadUserInput, "clientId")
	_, err = f.svc.RotateCredentials(f.owner, env.ID, newClient, "")
	wantCode(t, err, apperr.BadUserInput, "clientSecret")
	in := f.validInput("Sim")
	in.GraphBaseURL, in.AzureTenantID, in.ClientID = "https://127.0.0.1:8443/t/contoso/beta", "contoso", "sim-client"
	sim := f.mustCreate(t, in)
	if _, err := f.svc.RotateCredentials(f.owner, sim.ID, "sim-client-2", newSecret); err != nil {
		t.Errorf("rotate a simulated tenant to another simulated client id: %v", err)
	}
}

func TestArchive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := f.validInput("A")
	in.WriteEnabled = true
	env := f.mustCreate(t, in)
	f.clock.Advance(time.Hour)
	archived, err := f.svc.Archive(f.owner, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	if archived.ArchivedAt == nil || !archived.ArchivedAt.Equal(f.clock.Now()) || archived.WriteEnabled {
		t.Errorf("archived: at %v write %v; want %v and writes off", archived.ArchivedAt, archived.WriteEnabled, f.clock.Now())
	}
	f.clock.Advance(time.Hour)
	again, err := f.svc.Archive(f.owner, env.ID)
	if err != nil {
		t.Fatalf("second Archive: %v", err)
	}
	if again.ArchivedAt == nil || !again.ArchivedAt.Equal(*archived.ArchivedAt) {
		t.Errorf("second Archive moved archived_at from %v to %v", archived.ArchivedAt, again.ArchivedAt)
	}
	if n := len(f.auditEntries(t, "environment.archive", env.ID)); n != 1 {
		t.Errorf("%d archive entries after archiving twice, want 1", n)
	}

	name, yes := "B", true
	_, err = f.svc.Update(f.owner, env.ID, environments.UpdateInput{DisplayName: &name})
	wantCode(t, err, apperr.InvalidTransition, "")
	_, err = f.svc.Update(f.owner, env.ID, environments.UpdateInput{WriteEnabled: &yes})
	wantCode(t, err, apperr.InvalidTransition, "")
	_, err = f.svc.RotateCredentials(f.owner, env.ID, clientGUID, "new-"+testSecret)
	wantCode(t, err, apperr.InvalidTransition, "")

	// Still readable, unchanged.
	got := f.db.Environment.GetX(ctx, env.ID)
	if got.DisplayName != "A" || got.WriteEnabled || got.ArchivedAt == nil {
		t.Errorf("archived environment after refused changes: %q write %v archived %v", got.DisplayName, got.WriteEnabled, got.ArchivedAt)
	}
	if pt, err := f.box.Open(got.ClientSecretEncrypted, []byte(env.ID)); err != nil || string(pt) != testSecret {
		t.Errorf("archived environment's secret: %q, %v; want the original", pt, err)
	}
}

// TestArchiveRacesUpdate runs archive and updates concurrently: whatever the
// order, an archived environment never ends with writes enabled.
func TestArchiveRacesUpdate(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		env := f.mustCreate(t, f.validInput(fmt.Sprintf("E%d", i)))
		yes := true
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := f.svc.Archive(f.owner, env.ID); err != nil {
				t.Errorf("Archive: %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			_, err := f.svc.Update(f.owner, env.ID, environments.UpdateInput{WriteEnabled: &yes})
			if err != nil && apperr.CodeOf(err) != apperr.InvalidTransition {
				t.Errorf("Update: %v", err)
			}
		}()
		wg.Wait()
		got := f.db.Environment.GetX(context.Background(), env.ID)
		if got.ArchivedAt == nil || got.WriteEnabled {
			t.Errorf("after archive racing update: archived %v, write %v; want archived with writes off", got.ArchivedAt, got.WriteEnabled)
		}
	}
}

func TestRecordPermissions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := f.mustCreate(t, f.validInput("A"))
	checked := f.clock.Now().Add(time.Second)
	got, err := f.svc.RecordPermissions(ctx, env.ID, []string{"Group.Read.All", " DeviceManagementApps.Read.All", "Group.Read.All", ""}, checked)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"DeviceManagementApps.Read.All", "Group.Read.All"}, got.GrantedPermissions); diff != "" {
		t.Errorf("granted permissions mismatch (-want +got):\n%s", diff)
	}
	stored := f.db.Environment.GetX(ctx, env.ID)
	if stored.PermissionsCheckedAt == nil || !stored.PermissionsCheckedAt.Equal(checked) {
		t.Errorf("permissions_checked_at = %v, want %v", stored.PermissionsCheckedAt, checked)
	}
	if diff := cmp.Diff(got.GrantedPermissions, stored.GrantedPermissions); diff != "" {
		t.Errorf("stored permissions differ from returned (-returned +stored):\n%s", diff)
	}

	// A check that began before the credentials changed is stale.
	f.clock.Advance(time.Hour)
	if _, err := f.svc.RotateCredentials(f.owner, env.ID, clientGUID, "new-"+testSecret); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.RecordPermissions(ctx, env.ID, []string{"Group.Read.All"}, f.clock.Now().Add(-time.Minute))
	wantCode(t, err, apperr.InvalidTransition, "")
	if s := f.db.Environment.GetX(ctx, env.ID); len(s.GrantedPermissions) != 0 {
		t.Errorf("a stale check stored permissions %v", s.GrantedPermissions)
	}
	_, err = f.svc.RecordPermissions(ctx, "env_00000000000000000000000000", nil, f.clock.Now())
	wantCode(t, err, apperr.NotFound, "")
}

func TestMaskedClientID(t *testing.T) {
	for id, want := range map[string]string{
		"":                                     "",
		clientGUID:                             "0a1b…3c4d",
		"12345678901":                          "1234…8901",
		"sim-client":                           "…nt",
		"abcde":                                "…de",
		"abcd":                                 "…",
		"a":                                    "…",
		"0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D": "0A1B…3C4D",
	} {
		if got := environments.MaskedClientID(&ent.Environment{ClientID: id}); got != want {
			t.Errorf("MaskedClientID(%q) = %q, want %q", id, got, want)
		}
	}
}
