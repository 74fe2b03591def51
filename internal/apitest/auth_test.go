package apitest

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/ent/membership"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/accounts"
	"github.com/restored/restored/internal/platform/ids"
)

// operation is one GraphQL operation of the API and who may call it. Every
// operation the schema has must appear here (TestAuthMatrixCoversSchema).
type operation struct {
	field string // the root field, as in the schema
	query string
	vars  func(e *env) map[string]any
	// allowed lists the callers who get data; every other authenticated
	// caller must get FORBIDDEN.
	allowed []string
	// stateError: allowed callers pass authorization but the object's state
	// refuses the call (this code); the matrix only checks who gets past.
	stateError string
	// trigger, for a subscription, makes events arrive for caller until
	// stopped (e.pulse when nil).
	trigger func(e *env, caller string) (stop func())
}

// callers of the matrix, by name.
const (
	owner      = "owner"
	operator   = "operator"
	auditor    = "auditor"
	otherOwner = "other-workspace-owner"
)

var everyone = []string{owner, operator, auditor, otherOwner}

var demoRoles = []string{owner, operator, auditor}

var capturers = []string{owner, operator}

var owners = []string{owner}

// freshEnv creates an environment of the demo workspace directly.
func (e *env) freshEnv() string {
	e.t.Helper()
	return e.app.DB.Client.Environment.Create().SetWorkspaceID(e.wsID).SetDisplayName(ids.New("name")).
		SetAzureTenantID("fresh.onmicrosoft.com").SetKind(environment.KindTEST).
		SetGraphBaseURL("https://graph.microsoft.com/beta").SaveX(context.Background()).ID
}

// freshMember adds an auditor to the demo workspace and returns the membership.
func (e *env) freshMember() string {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.app.Accounts.EnsureMember(ctx, e.wsID, strings.ToLower(ids.New("m"))+"@demo.restored.test", access.Auditor)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.app.DB.Client.Membership.Query().Where(membership.UserID(u.ID), membership.WorkspaceID(e.wsID)).OnlyIDX(ctx)
}

var apiOperations = []operation{
	{
		field: "members", query: `query($ws: ID!) { members(workspaceId: $ws) { totalCount edges { node { role user { email } } } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"ws": e.wsID} },
		allowed: demoRoles,
	},
	{
		field: "createEnvironment", query: `mutation($ws: ID!, $name: String!) { createEnvironment(input: {workspaceId: $ws, displayName: $name, kind: TEST, azureTenantId: "x.onmicrosoft.com", clientId: "8c0b9b2b-3d56-4daf-9b1e-5d9bfaa08337", clientSecret: "s"}) { id } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"ws": e.wsID, "name": ids.New("env")} },
		allowed: owners,
	},
	{
		field: "updateEnvironment", query: `mutation($id: ID!) { updateEnvironment(input: {environmentId: $id, writeEnabled: true}) { id writeEnabled } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.freshEnv()} },
		allowed: owners,
	},
	{
		field: "rotateEnvironmentCredentials", query: `mutation($id: ID!) { rotateEnvironmentCredentials(input: {environmentId: $id, clientId: "8c0b9b2b-3d56-4daf-9b1e-5d9bfaa08337", clientSecret: "n"}) { id } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.freshEnv()} },
		allowed: owners,
	},
	{
		field: "archiveEnvironment", query: `mutation($id: ID!) { archiveEnvironment(environmentId: $id) { id archivedAt } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.freshEnv()} },
		allowed: owners,
	},
	{
		field: "verifyEnvironment", query: `mutation($id: ID!) { verifyEnvironment(environmentId: $id) { id type } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.freshEnv()} },
		allowed: owners,
	},
	{
		field: "inviteMember", query: `mutation($ws: ID!, $email: String!) { inviteMember(input: {workspaceId: $ws, email: $email, role: AUDITOR}) { id } }`,
		vars: func(e *env) map[string]any {
			return map[string]any{"ws": e.wsID, "email": strings.ToLower(ids.New("i")) + "@demo.restored.test"}
		},
		allowed: owners,
	},
	{
		field: "setMemberRole", query: `mutation($id: ID!) { setMemberRole(input: {membershipId: $id, role: OPERATOR}) { id role } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.freshMember()} },
		allowed: owners,
	},
	{
		field: "removeMember", query: `mutation($id: ID!) { removeMember(membershipId: $id) { revokedTokens } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.freshMember()} },
		allowed: owners,
	},
	{
		field: "restoreRun", query: `query($id: ID!) { restoreRun(id: $id) { id status readiness { canExecute } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: demoRoles,
	},
	{
		field: "restoreRuns", query: `query($env: ID!) { restoreRuns(environmentId: $env) { totalCount } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"env": e.prodEnvID} },
		allowed: demoRoles,
	},
	{
		field: "restoreScopeItems", query: `query($id: ID!) { restoreScopeItems(runId: $id, search: "x") { items(first: 5) { totalCount } groups { count } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: demoRoles,
	},
	{
		field: "restoreMappingSuggestions", query: `query($id: ID!) { restoreMappingSuggestions(runId: $id) { kind sourceId sourceName mappedTargetId inScope suggested { id name } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: demoRoles,
	},
	{
		// The demo environment has no credentials: past authorization, the
		// unreadable target refuses the search.
		field: "restoreTargetSearch", query: `query($id: ID!) { restoreTargetSearch(runId: $id, kind: SCOPE_TAG, search: "x") { id name } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: demoRoles, stateError: "INVALID_TRANSITION",
	},
	{
		field: "createRestoreRun", query: `mutation($env: ID!, $bs: ID!) { createRestoreRun(input: {environmentId: $env, backupSetId: $bs}) { id status } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"env": e.prodEnvID, "bs": e.backupSetID} },
		allowed: capturers,
	},
	{
		field: "selectRestoreBackupSet", query: `mutation($id: ID!, $bs: ID!) { selectRestoreBackupSet(input: {runId: $id, backupSetId: $bs}) { id } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun(), "bs": e.backupSetID} },
		allowed: capturers,
	},
	{
		field: "defineRestoreScope", query: `mutation($id: ID!) { defineRestoreScope(input: {runId: $id, mode: ALL}) { id status } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: capturers,
	},
	{
		field: "runRestoreChecks", query: `mutation($id: ID!) { runRestoreChecks(input: {runId: $id}) { id } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: capturers,
	},
	{
		field: "generateRestorePreview", query: `mutation($id: ID!) { generateRestorePreview(input: {runId: $id}) { id } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: capturers, stateError: "INVALID_TRANSITION",
	},
	{
		field: "confirmRestoreRun", query: `mutation($id: ID!) { confirmRestoreRun(input: {runId: $id, dryRun: true, acknowledged: false}) { id dryRun } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: capturers,
	},
	{
		field: "executeRestoreRun", query: `mutation($id: ID!) { executeRestoreRun(input: {runId: $id}) { id } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: []string{owner}, stateError: "GATE_BLOCKED",
	},
	{
		field: "cancelRestoreRun", query: `mutation($id: ID!) { cancelRestoreRun(input: {runId: $id}) { id status } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: capturers,
	},
	{
		field: "undoRestoreRun", query: `mutation($id: ID!) { undoRestoreRun(runId: $id) { id status undoOfRunId } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.scopedRun()} },
		allowed: capturers, stateError: "INVALID_TRANSITION",
	},
	{
		field: "createRestoreRunFromPolicyVersion", query: `mutation($pv: ID!, $env: ID!) { createRestoreRunFromPolicyVersion(input: {policyVersionId: $pv, environmentId: $env}) { id status } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"pv": e.policyVersionID, "env": e.prodEnvID} },
		allowed: capturers,
	},
	{field: "policyTypes", query: `{ policyTypes { key restorable previewOnlyReason } }`, allowed: everyone},
	{
		field: "policies", query: `query($env: ID!) { policies(environmentId: $env) { totalCount edges { node { id displayName policyType } } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"env": e.prodEnvID} },
		allowed: demoRoles,
	},
	{
		field: "policyVersions", query: `query($id: ID!) { policyVersions(policyId: $id) { totalCount } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.policyID} },
		allowed: demoRoles,
	},
	{
		field: "backupSets", query: `query($env: ID!) { backupSets(environmentId: $env) { edges { node { id name status countsByType { policyType count } } } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"env": e.prodEnvID} },
		allowed: demoRoles,
	},
	{
		field: "backupItems", query: `query($id: ID!) { backupItems(backupSetId: $id) { totalCount } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.backupSetID} },
		allowed: demoRoles,
	},
	{
		field: "operationRuns", query: `query($ws: ID!) { operationRuns(workspaceId: $ws) { edges { node { id type status outcome summary { total failed } context { reasonCodes } } } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"ws": e.wsID} },
		allowed: demoRoles,
	},
	{
		field: "operationRun", query: `query($id: ID!) { operationRun(id: $id) { id type status outcome context { reasonCodes reconciliation { action reasonCodes } } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.opRunID} },
		allowed: demoRoles,
	},
	{
		field: "syncInventory", query: `mutation($env: ID!) { syncInventory(environmentId: $env) { id type status } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"env": e.prodEnvID} },
		allowed: capturers,
	},
	{
		field: "capturePolicySnapshot", query: `mutation($id: ID!) { capturePolicySnapshot(policyId: $id) { id type } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.policyID} },
		allowed: capturers,
	},
	{
		field: "createBackupSet", query: `mutation($env: ID!) { createBackupSet(input: {environmentId: $env, name: "matrix", all: true}) { id subjectId } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"env": e.prodEnvID} },
		allowed: capturers,
	},
	{
		field: "addPoliciesToBackupSet", query: `mutation($bs: ID!, $p: ID!) { addPoliciesToBackupSet(input: {backupSetId: $bs, policyIds: [$p]}) { id } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"bs": e.backupSetID, "p": e.policyID} },
		allowed: capturers,
	},
	{
		field: "notifications", query: `query { notifications(first: 10, unreadOnly: true) { totalCount edges { node { id kind title readAt } } } }`,
		allowed: everyone,
	},
	{
		// Every member marks their own; nobody can reach another's.
		field: "markNotificationsRead", query: `mutation { markNotificationsRead(all: true) }`,
		allowed: everyone,
	},
	{field: "viewer", query: `{ viewer { user { email } role capabilities workspace { id } token { id } memberships { role } } }`, allowed: everyone},
	{field: "workspaces", query: `{ workspaces { edges { node { id slug } } } }`, allowed: everyone},
	{
		field: "environments", query: `query($ws: ID!) { environments(workspaceId: $ws) { totalCount edges { node { id displayName } } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"ws": e.wsID} },
		allowed: []string{owner, operator, auditor},
	},
	{
		field: "node", query: `query($id: ID!) { node(id: $id) { id ... on Environment { displayName } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.prodEnvID} },
		allowed: []string{owner, operator, auditor},
	},
	{
		field: "nodes", query: `query($id: ID!) { nodes(ids: [$id]) { id } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.prodEnvID} },
		allowed: []string{owner, operator, auditor},
	},
	{
		field: "apiTokens", query: `query($ws: ID!) { apiTokens(workspaceId: $ws) { edges { node { id name role lastUsedAt } } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"ws": e.wsID} },
		allowed: []string{owner},
	},
	{
		field: "auditLogs", query: `query($ws: ID!) { auditLogs(workspaceId: $ws) { edges { node { id action } } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"ws": e.wsID} },
		allowed: []string{owner, auditor},
	},
	{
		field: "createApiToken", query: `mutation($ws: ID!) { createApiToken(input: {workspaceId: $ws, name: "matrix", role: AUDITOR}) { secret token { id } } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"ws": e.wsID} },
		allowed: []string{owner},
	},
	{
		field: "revokeApiToken", query: `mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }`,
		// A fresh token of the demo owner for every case: only owners may
		// revoke someone else's token.
		vars: func(e *env) map[string]any {
			tok, _, err := e.app.Accounts.CreateToken(context.Background(), accounts.TokenInput{
				WorkspaceID: e.wsID, UserID: e.ownerUserID, Name: "victim", Role: access.Owner})
			if err != nil {
				e.t.Fatal(err)
			}
			return map[string]any{"id": tok.ID}
		},
		allowed: []string{owner},
	},
}

func (e *env) token(caller string) string {
	return map[string]string{owner: e.owner, operator: e.operator, auditor: e.auditor, otherOwner: e.otherOwner}[caller]
}

// TestAuthMatrix runs every operation as every kind of caller.
func TestAuthMatrix(t *testing.T) {
	e := start(t)
	unauthenticated := map[string]string{"no token": "", "bad token": "rst_not_a_real_token", "malformed": "hello", "revoked": e.revoked, "expired": e.expired}
	for _, op := range apiOperations {
		t.Run(op.field, func(t *testing.T) {
			vars := func() map[string]any {
				if op.vars == nil {
					return nil
				}
				return op.vars(e)
			}
			for name, tok := range unauthenticated {
				r := e.post(tok, op.query, vars())
				if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" || r.Data != nil {
					t.Errorf("%s: got %d %s, want 401 UNAUTHENTICATED without data", name, r.Status, r.Raw)
				}
			}
			for _, caller := range everyone {
				r := e.post(e.token(caller), op.query, vars())
				if slices.Contains(op.allowed, caller) {
					if op.stateError != "" {
						if r.code() != op.stateError {
							t.Errorf("%s: got %d %s, want %s (past authorization)", caller, r.Status, r.Raw, op.stateError)
						}
						continue
					}
					if r.Status != http.StatusOK || len(r.Errors) > 0 {
						t.Errorf("%s: got %d %s, want data", caller, r.Status, r.Raw)
					}
					continue
				}
				if r.code() != "FORBIDDEN" {
					t.Errorf("%s: got %d %s, want FORBIDDEN", caller, r.Status, r.Raw)
				}
			}
		})
	}
}

// TestAuthMatrixSubscriptions runs every subscription as every caller over
// graphql-transport-ws.
func TestAuthMatrixSubscriptions(t *testing.T) {
	e := start(t)
	subs := []operation{{
		field: "auditLogAdded", query: `subscription($ws: ID!) { auditLogAdded(workspaceId: $ws) { id action } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"ws": e.wsID} },
		allowed: []string{owner, auditor},
	}, {
		field: "operationRunUpdated", query: `subscription($id: ID!) { operationRunUpdated(id: $id) { id status } }`,
		vars:    func(e *env) map[string]any { return map[string]any{"id": e.opRunID} },
		allowed: demoRoles,
	}, {
		field: "restoreRunEvents", query: `subscription($id: ID!) { restoreRunEvents(runId: $id) { sequence kind } }`,
		// A run made through the API has its creation in its event log, so an
		// allowed subscriber gets it at once.
		vars: func(e *env) map[string]any {
			var d struct{ CreateRestoreRun struct{ ID string } }
			e.post(e.owner, `mutation($env: ID!, $bs: ID!) { createRestoreRun(input: {environmentId: $env, backupSetId: $bs}) { id } }`,
				map[string]any{"env": e.prodEnvID, "bs": e.backupSetID}).decode(e.t, &d)
			return map[string]any{"id": d.CreateRestoreRun.ID}
		},
		allowed: demoRoles,
	}, {
		field: "notificationReceived", query: `subscription { notificationReceived { id kind title } }`,
		vars:    func(*env) map[string]any { return nil },
		allowed: everyone,
		trigger: (*env).notifyPulse,
	}}
	for _, op := range subs {
		t.Run(op.field, func(t *testing.T) {
			for _, tok := range []string{"", "rst_bad", e.revoked, e.expired} {
				c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + tok})
				if m := c.next(5 * time.Second); m.Type != "closed" || m.ID != "4403" {
					t.Errorf("token %q: got %s %s %s, want close 4403", tok, m.Type, m.ID, m.Payload)
				}
			}
			for _, caller := range everyone {
				c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.token(caller)})
				if m := c.next(5 * time.Second); m.Type != "connection_ack" {
					t.Fatalf("%s: got %s %s, want connection_ack", caller, m.Type, m.Payload)
				}
				c.subscribe("1", op.query, op.vars(e))
				if slices.Contains(op.allowed, caller) {
					// Allowed: the subscription is live; prove it with an event.
					trigger := func(e *env, _ string) func() { return e.pulse() }
					if op.trigger != nil {
						trigger = op.trigger
					}
					stop := trigger(e, caller)
					m := c.next(5 * time.Second)
					stop()
					if m.Type != "next" {
						t.Errorf("%s: got %s %s, want next", caller, m.Type, m.Payload)
					}
					continue
				}
				m := c.next(5 * time.Second)
				if m.Type != "next" && m.Type != "error" || !contains(string(m.Payload), "FORBIDDEN") {
					t.Errorf("%s: got %s %s, want a FORBIDDEN error", caller, m.Type, m.Payload)
				}
			}
		})
	}
}

// TestAuthMatrixCoversSchema fails when an operation is added to the schema
// without a row in the matrix.
func TestAuthMatrixCoversSchema(t *testing.T) {
	e := start(t)
	r := e.post(e.owner, `{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }`, nil)
	var s struct {
		Schema struct {
			QueryType, MutationType, SubscriptionType struct{ Fields []struct{ Name string } }
		} `json:"__schema"`
	}
	r.decode(t, &s)
	covered := map[string]bool{"auditLogAdded": true, "operationRunUpdated": true, "restoreRunEvents": true, "notificationReceived": true}
	for _, op := range apiOperations {
		covered[op.field] = true
	}
	for _, typ := range [][]struct{ Name string }{s.Schema.QueryType.Fields, s.Schema.MutationType.Fields, s.Schema.SubscriptionType.Fields} {
		for _, f := range typ {
			if !covered[f.Name] {
				t.Errorf("operation %q is not in the auth matrix", f.Name)
			}
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
