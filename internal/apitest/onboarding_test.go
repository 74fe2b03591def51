package apitest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/restored/restored/internal/msgraph/graphsim"
)

const createEnv = `mutation($in: CreateEnvironmentInput!) { createEnvironment(input: $in) {
	id displayName kind azureTenantId graphBaseUrl writeEnabled maskedClientId credentialsSetAt
	permissionReport { verified canRead canWrite missingForRead missingForWrite summary } } }`

type envView struct {
	ID, DisplayName, Kind, MaskedClientID string
	PermissionReport                      struct {
		Verified, CanRead, CanWrite     bool
		MissingForRead, MissingForWrite []string
		Summary                         string
	}
}

// onboard creates an environment for a simulated tenant through the API.
func (e *env) onboard(s *sim, tenant, name, secret string) envView {
	e.t.Helper()
	r := e.post(e.owner, createEnv, map[string]any{"in": map[string]any{
		"workspaceId": e.wsID, "displayName": name, "kind": "TEST", "azureTenantId": tenant,
		"clientId": "sim-client-" + tenant, "clientSecret": secret, "graphBaseUrl": graphsim.BaseURL(s.url, tenant), "writeEnabled": true,
	}})
	var d struct{ CreateEnvironment envView }
	r.decode(e.t, &d)
	return d.CreateEnvironment
}

func (e *env) environment(id string) envView {
	e.t.Helper()
	var d struct{ Node envView }
	e.post(e.owner, `query($id: ID!) { node(id: $id) { ... on Environment { id displayName kind maskedClientId
		permissionReport { verified canRead canWrite missingForRead missingForWrite summary } } } }`, map[string]any{"id": id}).decode(e.t, &d)
	return d.Node
}

// TestOnboardingEndToEnd adds a simulated tenant through the API, verifies
// it through the real credential flow, and captures from it.
func TestOnboardingEndToEnd(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant := s.Tenant("fresh")
	tenant.SetCredentials("sim-client-fresh", "fresh-secret-Q9")
	graphsim.Generate(tenant, graphsim.GenOptions{Seed: 21, Policies: 20, Groups: 2})
	v := e.onboard(s, "fresh", "Fresh tenant", "fresh-secret-Q9")
	if v.PermissionReport.Verified || v.MaskedClientID == "" || strings.Contains(v.MaskedClientID, "sim-client-fresh") {
		t.Fatalf("new environment %+v", v)
	}
	op := e.mutateOp(e.owner, `mutation($id: ID!) { verifyEnvironment(environmentId: $id) { `+opFields+` } }`, map[string]any{"id": v.ID}, "verifyEnvironment")
	done := e.waitOp(e.owner, op.ID, 30*time.Second)
	if done.Outcome != "SUCCEEDED" {
		t.Fatalf("verify ended %+v", done)
	}
	v = e.environment(v.ID)
	if !v.PermissionReport.Verified || !v.PermissionReport.CanRead || !v.PermissionReport.CanWrite {
		t.Fatalf("verified environment %+v", v)
	}
	bs := e.backupOf(v.ID, "first capture")
	if n := len(e.itemsOf(bs)); n == 0 {
		t.Fatal("nothing captured from the onboarded tenant")
	}
	// Wrong credentials: the check fails with a safe message.
	r := e.post(e.owner, `mutation($id: ID!) { rotateEnvironmentCredentials(input: {environmentId: $id, clientId: "sim-client-fresh", clientSecret: "wrong-secret-77"}) { id permissionReport { verified } } }`, map[string]any{"id": v.ID})
	if len(r.Errors) > 0 || strings.Contains(r.Raw, `"verified":true`) {
		t.Fatalf("rotate: %s", r.Raw)
	}
	op = e.mutateOp(e.owner, `mutation($id: ID!) { verifyEnvironment(environmentId: $id) { `+opFields+` } }`, map[string]any{"id": v.ID}, "verifyEnvironment")
	done = e.waitOp(e.owner, op.ID, 30*time.Second)
	if done.Outcome != "FAILED" || done.ErrorCode == nil || *done.ErrorCode != "token_unavailable" {
		t.Fatalf("verify with a wrong secret ended %+v", done)
	}
}

// TestTenantWithoutWritePermission: a tenant whose app may only read is
// reported as such; checks block execution with a technical blocker.
func TestTenantWithoutWritePermission(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant := s.Tenant("reader")
	tenant.SetCredentials("sim-client-reader", "reader-secret-1")
	tenant.SetPermissions("DeviceManagementConfiguration.Read.All", "DeviceManagementServiceConfig.Read.All",
		"DeviceManagementRBAC.Read.All", "DeviceManagementApps.Read.All", "Group.Read.All")
	graphsim.Generate(tenant, wizardGen)
	v := e.onboard(s, "reader", "Read-only tenant", "reader-secret-1")
	op := e.mutateOp(e.owner, `mutation($id: ID!) { verifyEnvironment(environmentId: $id) { `+opFields+` } }`, map[string]any{"id": v.ID}, "verifyEnvironment")
	if done := e.waitOp(e.owner, op.ID, 30*time.Second); done.Outcome != "PARTIALLY_SUCCEEDED" {
		t.Fatalf("verify ended %+v", done)
	}
	v = e.environment(v.ID)
	if !v.PermissionReport.CanRead || v.PermissionReport.CanWrite || len(v.PermissionReport.MissingForWrite) == 0 ||
		!strings.Contains(v.PermissionReport.Summary, "DeviceManagementConfiguration.ReadWrite.All") {
		t.Fatalf("report %+v", v.PermissionReport)
	}
	bs := e.backupOf(v.ID, "read-only backup")
	w := &wizard{e: e, t: t, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": v.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": e.itemsOf(bs, "deviceConfiguration")})
	rv := w.checked()
	blocked := false
	for _, c := range rv.CheckResults {
		blocked = blocked || (c.Code == "WRITE_PERMISSION_MISSING" && c.Severity == "BLOCKING")
	}
	if !blocked {
		t.Fatalf("missing write permission does not block: %+v", rv.CheckResults)
	}
	w.previewed()
	r, _ := w.call("", "confirmRestoreRun", map[string]any{"runId": w.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": "Read-only tenant"})
	if r.code() != "GATE_BLOCKED" || !strings.Contains(r.Raw, "TECHNICALLY_ALLOWED") {
		t.Fatalf("confirm on a read-only tenant: %s", r.Raw)
	}
	if r, _ := w.call("", "executeRestoreRun", map[string]any{"runId": w.id}); r.code() != "GATE_BLOCKED" {
		t.Fatalf("execute on a read-only tenant: %s", r.Raw)
	}
}

// TestEnvironmentValidation: one clear BAD_USER_INPUT per field.
func TestEnvironmentValidation(t *testing.T) {
	e := start(t)
	good := map[string]any{"workspaceId": e.wsID, "displayName": "Fabrikam", "kind": "PROD",
		"azureTenantId": "fabrikam.onmicrosoft.com", "clientId": "8c0b9b2b-3d56-4daf-9b1e-5d9bfaa08337", "clientSecret": "s3cret-value"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	cases := []struct {
		name, field string
		in          map[string]any
	}{
		{"empty name", "displayName", with("displayName", "  ")},
		{"duplicate name", "displayName", with("displayName", "contoso production")},
		{"bad tenant", "azureTenantId", with("azureTenantId", "not a tenant!")},
		{"bad client id", "clientId", with("clientId", "not-a-guid")},
		{"empty secret", "clientSecret", with("clientSecret", "")},
		{"plain http", "graphBaseUrl", with("graphBaseUrl", "http://graph.example.com/beta")},
		{"not a URL", "graphBaseUrl", with("graphBaseUrl", "ftp://graph.example.com")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.post(e.owner, createEnv, map[string]any{"in": c.in})
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != c.field {
				t.Fatalf("got %s, want BAD_USER_INPUT on %s", r.Raw, c.field)
			}
			if strings.Contains(r.Raw, "s3cret-value") {
				t.Fatalf("the secret is echoed: %s", r.Raw)
			}
		})
	}
	// Loopback http is allowed (a simulated Graph).
	r := e.post(e.owner, createEnv, map[string]any{"in": with("graphBaseUrl", "http://127.0.0.1:9/t/x/beta")})
	if len(r.Errors) > 0 {
		t.Fatalf("loopback http refused: %s", r.Raw)
	}
}

// TestSecretNeverLeaves scans every response, log line, audit entry and the
// raw database row for a client secret after a full onboarding.
func TestSecretNeverLeaves(t *testing.T) {
	e := start(t)
	s := e.startSim()
	const secret = "Zq8~very-secret-client-value"
	tenant := s.Tenant("scan")
	tenant.SetCredentials("sim-client-scan", secret)
	graphsim.Generate(tenant, graphsim.GenOptions{Seed: 5, Policies: 14, Groups: 2})
	v := e.onboard(s, "scan", "Scanned tenant", secret)
	e.waitOp(e.owner, e.mutateOp(e.owner, `mutation($id: ID!) { verifyEnvironment(environmentId: $id) { `+opFields+` } }`, map[string]any{"id": v.ID}, "verifyEnvironment").ID, 30*time.Second)
	e.backupOf(v.ID, "scan backup")
	e.post(e.owner, `mutation($id: ID!) { rotateEnvironmentCredentials(input: {environmentId: $id, clientId: "sim-client-scan", clientSecret: "`+secret+`"}) { id } }`, map[string]any{"id": v.ID})
	e.post(e.owner, `mutation($id: ID!) { updateEnvironment(input: {environmentId: $id, displayName: "Scanned tenant 2"}) { id } }`, map[string]any{"id": v.ID})
	e.post(e.owner, `query($ws: ID!) { environments(workspaceId: $ws) { edges { node { id displayName azureTenantId graphBaseUrl maskedClientId credentialsSetAt grantedPermissions } } } auditLogs(workspaceId: $ws, first: 500) { edges { node { action metadata } } } }`, map[string]any{"ws": e.wsID})
	e.post(e.owner, `mutation($ws: ID!) { createEnvironment(input: {workspaceId: $ws, displayName: "", kind: TEST, azureTenantId: "x", clientId: "y", clientSecret: "`+secret+`"}) { id } }`, map[string]any{"ws": e.wsID})

	e.seenMu.Lock()
	for _, body := range e.seen {
		if strings.Contains(body, secret) {
			t.Errorf("a response holds the secret: %.300s", body)
		}
	}
	e.seenMu.Unlock()
	if strings.Contains(e.logs.String(), secret) {
		t.Error("a log line holds the secret")
	}
	ctx := context.Background()
	for _, a := range e.app.DB.Client.AuditLog.Query().AllX(ctx) {
		if strings.Contains(canonical(t, a), secret) {
			t.Errorf("audit entry %s holds the secret", a.Action)
		}
	}
	rows, err := e.app.DB.SQL.QueryContext(ctx, "SELECT * FROM environments")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			var raw string
			switch x := v.(type) {
			case []byte:
				raw = string(x)
			case string:
				raw = x
			}
			if strings.Contains(raw, secret) {
				t.Errorf("column %s of the environments table holds the secret in clear", cols[i])
			}
		}
	}
}

// TestLastOwnerProtected: the last owner can be neither demoted nor removed;
// a removed member's tokens stop working.
func TestLastOwnerProtected(t *testing.T) {
	e := start(t)
	var d struct {
		Members struct {
			Edges []struct {
				Node struct {
					ID, Role string
					User     struct{ Email string }
				}
			}
		}
	}
	e.post(e.owner, `query($ws: ID!) { members(workspaceId: $ws) { edges { node { id role user { email } } } } }`, map[string]any{"ws": e.wsID}).decode(t, &d)
	var ownerM, operatorM string
	for _, ed := range d.Members.Edges {
		switch ed.Node.Role {
		case "OWNER":
			ownerM = ed.Node.ID
		case "OPERATOR":
			operatorM = ed.Node.ID
		}
	}
	if r := e.post(e.owner, `mutation($id: ID!) { setMemberRole(input: {membershipId: $id, role: AUDITOR}) { id } }`, map[string]any{"id": ownerM}); r.code() != "INVALID_TRANSITION" {
		t.Fatalf("demote last owner: %s", r.Raw)
	}
	if r := e.post(e.owner, `mutation($id: ID!) { removeMember(membershipId: $id) { revokedTokens } }`, map[string]any{"id": ownerM}); r.code() != "INVALID_TRANSITION" {
		t.Fatalf("remove last owner: %s", r.Raw)
	}
	// Removing the operator revokes its tokens at once.
	r := e.post(e.owner, `mutation($id: ID!) { removeMember(membershipId: $id) { revokedTokens } }`, map[string]any{"id": operatorM})
	if len(r.Errors) > 0 || !strings.Contains(r.Raw, `"revokedTokens":1`) {
		t.Fatalf("remove operator: %s", r.Raw)
	}
	if r := e.post(e.operator, `{ viewer { role } }`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("removed member's token: %s", r.Raw)
	}
	// With a second owner, the first can step down.
	r = e.post(e.owner, `mutation($ws: ID!) { inviteMember(input: {workspaceId: $ws, email: "second@demo.restored.test", role: OWNER}) { id role } }`, map[string]any{"ws": e.wsID})
	if len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if r := e.post(e.owner, `mutation($id: ID!) { setMemberRole(input: {membershipId: $id, role: OPERATOR}) { role } }`, map[string]any{"id": ownerM}); len(r.Errors) > 0 {
		t.Fatalf("demote with another owner: %s", r.Raw)
	}
}
