package apitest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/url"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/internal/app"
	"github.com/restored/restored/internal/msgraph/graphsim"
)

// sim is a simulated Graph (over TLS, with the real token flow) serving
// tenants for one test's environments.
type sim struct {
	*graphsim.Server
	url string
}

// startSim starts a simulated Graph and lets the app reach it.
func (e *env) startSim() *sim {
	e.t.Helper()
	s := graphsim.New(graphsim.Options{RequireAuth: true})
	srv := graphsim.NewTLS(s.Handler())
	e.t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	u, _ := url.Parse(srv.URL)
	e.app.TrustSimulatedGraph(app.SimTrust{Hosts: []string{u.Host}, AuthorityHost: srv.URL + "/", RootCAs: pool})
	return &sim{Server: s, url: srv.URL}
}

// tenantEnv creates a simulated tenant (generated from gen) and an
// environment of the demo workspace bound to it, with stored credentials.
func (e *env) tenantEnv(s *sim, name string, gen graphsim.GenOptions) (*graphsim.Tenant, *ent.Environment) {
	e.t.Helper()
	t := s.Tenant(name)
	t.SetCredentials("sim-client-"+name, "sim-secret-"+name)
	graphsim.Generate(t, gen)
	ctx := context.Background()
	c := e.app.DB.Client
	envRow := c.Environment.Create().SetWorkspaceID(e.wsID).SetDisplayName("Sim " + name).
		SetAzureTenantID(name).SetKind(environment.KindTEST).SetGraphBaseURL(graphsim.BaseURL(s.url, name)).
		SetClientID("sim-client-" + name).SetWriteEnabled(true).SaveX(ctx)
	sealed, err := e.app.Secrets.Seal([]byte("sim-secret-"+name), []byte(envRow.ID))
	if err != nil {
		e.t.Fatal(err)
	}
	envRow = envRow.Update().SetClientSecretEncrypted(sealed).SetCredentialsSetAt(time.Now()).SaveX(ctx)
	return t, envRow
}

// opRun is an operation run as the API returns it.
type opRun struct {
	ID, Type, Status, Outcome string
	SubjectID                 *string
	Summary                   map[string]int
	Context                   map[string]any
	ErrorCode                 *string
}

// opSummaryFields selects every count of an operation run's summary; they
// decode into opRun.Summary by name.
const opSummaryFields = `summary { types typesFailed objects total captured unchanged version granted missingForRead
	missingForWrite checked blocking warning safe previewed policiesChanged policiesCreated policiesUnchanged previewOnly
	assignmentsChanged scopeTagsChanged items skipped failed }`

const opFields = `id type status outcome subjectId ` + opSummaryFields + ` context { reasonCodes failures { policyType graphId code } all includeFoundations policyIds policyVersionId summary missingForRead missingForWrite lastInterruption } errorCode`

// waitOp polls an operation run over the API until it completes.
func (e *env) waitOp(token, id string, timeout time.Duration) opRun {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := e.post(token, `query($id: ID!) { node(id: $id) { ... on OperationRun { `+opFields+` } } }`, map[string]any{"id": id})
		var d struct{ Node opRun }
		r.decode(e.t, &d)
		if d.Node.Status == "COMPLETED" {
			return d.Node
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("operation %s still %s after %s: %+v", id, d.Node.Status, timeout, d.Node)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mutateOp runs a mutation returning an OperationRun under field.
func (e *env) mutateOp(token, query string, vars map[string]any, field string) opRun {
	e.t.Helper()
	r := e.post(token, query, vars)
	var d map[string]json.RawMessage
	r.decode(e.t, &d)
	var op opRun
	if err := json.Unmarshal(d[field], &op); err != nil {
		e.t.Fatal(err)
	}
	return op
}
