package graphsim_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph"
	"github.com/restored/restored/internal/msgraph/graphsim"
)

// The ids the examples in testdata/graph-examples refer to: every example
// tenant has these groups, the scope tag "1", the assignment filter and the
// notification template.
const (
	exGroup1   = "5f8a3c1e-2b4d-4e6f-9a1b-3c5d7e9f1a2b"
	exGroup2   = "7b2d4f6a-8c0e-4a1b-9c3d-5e7f9a1b3c5d"
	exFilter   = "3c9e1f5a-7b2d-4c8e-a0f1-2b4d6e8a0c1e"
	exTemplate = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
)

// example is one file of testdata/graph-examples: a create body modelled on
// the Microsoft Graph beta reference's example for the type (with the
// properties Graph sets itself, as Microsoft's examples carry them), the
// items of post-each relations POSTed after it, and assignments written
// the way the type takes them.
type example struct {
	Type        string           `json:"type"`
	Reference   string           `json:"reference"`
	Create      map[string]any   `json:"create"`
	Relations   map[string][]any `json:"relations"`
	Assignments []any            `json:"assignments"`
}

func loadExamples(tb testing.TB) map[string]example {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "graph-examples", "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no examples: %v", err)
	}
	out := map[string]example{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var ex example
		if err := json.Unmarshal(b, &ex); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		if _, ok := intune.Lookup(ex.Type); !ok || ex.Reference == "" || ex.Create == nil {
			tb.Fatalf("%s: type %q, reference %q", p, ex.Type, ex.Reference)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = ex
	}
	return out
}

// exampleTenant creates a tenant with what the examples refer to.
func exampleTenant(tb testing.TB, s *graphsim.Server, id string) *graphsim.Tenant {
	tb.Helper()
	ten := s.Tenant(id)
	ten.AddGroup(exGroup1, "SG-Intune-Pilot")
	ten.AddGroup(exGroup2, "SG-Intune-Excluded")
	mustPut(tb, ten, "roleScopeTag", map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "id": "1", "displayName": "Dept-Finance"})
	mustPut(tb, ten, "assignmentFilter", map[string]any{"@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter", "id": exFilter,
		"displayName": "Corporate", "platform": "windows10AndLater", "rule": `(device.deviceOwnership -eq "Corporate")`})
	mustPut(tb, ten, "notificationMessageTemplate", map[string]any{"@odata.type": "#microsoft.graph.notificationMessageTemplate", "id": exTemplate,
		"displayName": "Warning", "defaultLocale": "en-US", "brandingOptions": "none"})
	return ten
}

// msgraphClient is restored's real Graph client for a tenant of the TLS
// server ts (no token: the simulator runs without auth here).
func msgraphClient(tb testing.TB, ts *httptest.Server, tenant string) *msgraph.Client {
	tb.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	c, err := msgraph.New(msgraph.Config{BaseURL: graphsim.BaseURL(ts.URL, tenant), RootCAs: pool, NoAuth: true, Timeout: 10 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// writeExample creates an example's object, its post-each relation items
// and its assignments through the client and returns the object's id.
func writeExample(tb testing.TB, ctx context.Context, c *msgraph.Client, typ *intune.Type, ex example) string {
	tb.Helper()
	created, err := c.Post(ctx, typ.Path, ex.Create)
	if err != nil {
		tb.Fatalf("create: %v", err)
	}
	id, _ := created["id"].(string)
	if id == "" || id == ex.Create["id"] {
		tb.Fatalf("server id %q (body %v)", id, ex.Create["id"])
	}
	for name, items := range ex.Relations {
		for _, it := range items {
			if _, err := c.Post(ctx, typ.Path+"/"+id+"/"+name, it); err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
		}
	}
	if len(ex.Assignments) > 0 {
		switch typ.Assignments.Write {
		case intune.AssignPost:
			if _, err := c.Post(ctx, typ.Path+"/"+id+"/assign", map[string]any{typ.Assignments.BodyKey: ex.Assignments}); err != nil {
				tb.Fatalf("assign: %v", err)
			}
		case intune.PostEach:
			for _, a := range ex.Assignments {
				if _, err := c.Post(ctx, typ.Path+"/"+id+"/assignments", a); err != nil {
					tb.Fatalf("assignments: %v", err)
				}
			}
		default:
			tb.Fatalf("%s has no assignments", typ.Key)
		}
	}
	return id
}

// TestGraphExamplesRoundTrip writes a documented Graph example body of every
// catalog type through restored's Graph client over HTTPS, reads it back the
// way capture does, and checks that the normalized object equals the
// normalized request: nothing Graph sets itself (ids of the object, its
// settings, scheduled actions and presentation values, timestamps, version
// counters, computed fields) and no spelling Graph accepts (@odata.type
// without "#", OData bindings) shows as drift. The same example written to
// two tenants differs in every id and timestamp, and hashes the same.
func TestGraphExamplesRoundTrip(t *testing.T) {
	s := graphsim.New(graphsim.Options{Now: tickingClock()})
	ts := graphsim.NewTLS(s.Handler())
	defer ts.Close()
	ctx := context.Background()
	covered := map[string]bool{}
	for name, ex := range loadExamples(t) {
		typ, _ := intune.Lookup(ex.Type)
		covered[typ.Key] = true
		t.Run(name, func(t *testing.T) {
			var captured []*intune.Captured
			var raws []map[string]any
			var tenants []*graphsim.Tenant
			for _, tenant := range []string{"a-" + name, "b-" + name} {
				tenants = append(tenants, exampleTenant(t, s, tenant))
				c := msgraphClient(t, ts, tenant)
				id := writeExample(t, ctx, c, typ, ex)
				got, err := intune.Capture(ctx, c, typ, id)
				if err != nil {
					t.Fatalf("capture: %v", err)
				}
				raw, err := c.Get(ctx, typ.Path+"/"+id, nil)
				if err != nil {
					t.Fatal(err)
				}
				captured, raws = append(captured, got), append(raws, raw)
			}

			request := maps(ex.Create)
			for k, v := range ex.Relations {
				request[k] = v
			}
			want := typ.Normalize(request)
			if diff := cmp.Diff(want, captured[0].Payload); diff != "" {
				t.Errorf("read back differs from the request (-request +read):\n%s", diff)
			}
			wantAssignments := intune.NormalizeAssignments(ex.Assignments)
			if diff := cmp.Diff(wantAssignments, captured[0].Assignments); diff != "" {
				t.Errorf("assignments differ (-request +read):\n%s", diff)
			}
			if h := intune.ContentHash(want, wantAssignments, typ.ScopeTagIDs(ex.Create)); h != captured[0].ContentHash {
				t.Errorf("content hash %s, request hashes %s", captured[0].ContentHash, h)
			}

			// Across tenants: Graph's noise differs, the normalized object does not.
			// Scope tags are numbered per tenant, so theirs may coincide.
			if typ.Key != "roleScopeTag" && captured[0].GraphID == captured[1].GraphID {
				t.Error("both tenants gave the same id")
			}
			if captured[0].ContentHash != captured[1].ContentHash {
				t.Errorf("the same example hashes differently in two tenants:\n%s", cmp.Diff(captured[0].Payload, captured[1].Payload))
			}
			for _, r := range typ.Expand {
				a := nestedIDs(t, tenants[0], typ, captured[0].GraphID, r)
				b := nestedIDs(t, tenants[1], typ, captured[1].GraphID, r)
				if len(a) == 0 && len(anySlice(request[r.Name])) > 0 {
					t.Errorf("%s: Graph stamped no ids", r.Name)
				}
				for i := range min(len(a), len(b)) {
					if a[i] == b[i] {
						t.Errorf("%s: id %s in both tenants", r.Name, a[i])
					}
				}
			}
			if _, ok := raws[0]["createdDateTime"]; ok && raws[0]["createdDateTime"] == ex.Create["createdDateTime"] {
				t.Error("the server kept the client's createdDateTime")
			}
		})
	}
	for _, typ := range intune.Types() {
		if !covered[typ.Key] {
			t.Errorf("no Graph example for %s", typ.Key)
		}
	}
}

// nestedIDs returns the ids Graph stamped on the items of relation r of an
// object, and on the items of r's nested collections, in order.
func nestedIDs(tb testing.TB, ten *graphsim.Tenant, typ *intune.Type, id string, r intune.Relation) []string {
	tb.Helper()
	o, ok := ten.Object(typ.Key, id)
	if !ok {
		tb.Fatalf("object %s not found", id)
	}
	var out []string
	var walk func(items []any, r intune.Relation)
	walk = func(items []any, r intune.Relation) {
		for _, it := range items {
			m := it.(map[string]any)
			if id, _ := m["id"].(string); id != "" {
				out = append(out, id)
			} else {
				tb.Errorf("%s item without id: %v", r.Name, m)
			}
			for _, n := range r.Nested {
				walk(anySlice(m[n.Name]), n)
			}
		}
	}
	walk(anySlice(o[r.Name]), r)
	return out
}

// graphErr returns the *msgraph.Error of err, failing the test without one.
func graphErr(tb testing.TB, err error) *msgraph.Error {
	tb.Helper()
	var ge *msgraph.Error
	if !errors.As(err, &ge) {
		tb.Fatalf("error %v is not a Graph error", err)
	}
	return ge
}

// TestExampleRefusalsThroughClient: restored's client sees Graph's 400 for a
// literal of the wrong type as a typed error with Graph's code, and a
// 204 action as no body.
func TestExampleRefusalsThroughClient(t *testing.T) {
	s := graphsim.New(graphsim.Options{})
	ts := graphsim.NewTLS(s.Handler())
	defer ts.Close()
	ctx := context.Background()
	exampleTenant(t, s, "cl")
	c := msgraphClient(t, ts, "cl")
	ex := loadExamples(t)["deviceHealthScript"]
	typ, _ := intune.Lookup(ex.Type)
	bad := maps(ex.Create)
	bad["runAsAccount"] = "root"
	_, err := c.Post(ctx, typ.Path, bad)
	if ge := graphErr(t, err); ge.Status != 400 || ge.Code != "BadRequest" {
		t.Errorf("error %+v", ge)
	}
	id := writeExample(t, ctx, c, typ, example{Type: ex.Type, Create: ex.Create})
	res, err := c.Post(ctx, typ.Path+"/"+id+"/assign", map[string]any{"deviceHealthScriptAssignments": ex.Assignments})
	if err != nil || res != nil {
		t.Errorf("assign: %v %v, want 204 without a body", res, err)
	}
}
