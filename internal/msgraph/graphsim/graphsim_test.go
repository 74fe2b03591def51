package graphsim_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph/graphsim"
)

// ---- helpers ----

// env is a graphsim server behind a real HTTP server.
type env struct {
	srv *graphsim.Server
	ts  *httptest.Server
}

func newEnv(tb testing.TB, o graphsim.Options) *env {
	tb.Helper()
	s := graphsim.New(o)
	ts := httptest.NewServer(s.Handler())
	tb.Cleanup(ts.Close)
	return &env{srv: s, ts: ts}
}

// tickingClock advances one second per reading, so every write gets a new
// lastModifiedDateTime without sleeping.
func tickingClock() func() time.Time {
	var n atomic.Int64
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

// graph returns the Graph beta URL of path in tenant.
func (e *env) graph(tenant, path string) string {
	return graphsim.BaseURL(e.ts.URL, tenant) + "/" + path
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r resp) code() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// call sends a request; body is JSON-encoded unless it is a string (sent
// as is). headers alternate name, value.
func call(tb testing.TB, client *http.Client, method, u string, body any, headers ...string) resp {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r
}

func (e *env) do(tb testing.TB, method, u string, body any, headers ...string) resp {
	tb.Helper()
	return call(tb, e.ts.Client(), method, u, body, headers...)
}

func mustStatus(tb testing.TB, r resp, want int) {
	tb.Helper()
	if r.status != want {
		tb.Fatalf("status %d, want %d: %s", r.status, want, r.raw)
	}
}

func mustPut(tb testing.TB, t *graphsim.Tenant, typeKey string, obj map[string]any) map[string]any {
	tb.Helper()
	out, err := t.Put(typeKey, obj)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func values(r resp) []any { v, _ := r.body["value"].([]any); return v }

// decodeJWT returns the payload of a token.
func decodeJWT(tb testing.TB, tok string) map[string]any {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func token(tb testing.TB, e *env, tenant, clientID, secret string) string {
	tb.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {"https://graph.microsoft.com/.default"}}
	res, err := e.ts.Client().PostForm(e.ts.URL+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != 200 {
		tb.Fatalf("token: %d %v", res.StatusCode, body)
	}
	return body["access_token"].(string)
}

func anySlice(v any) []any { s, _ := v.([]any); return s }

// ---- CRUD for every catalog type ----

// TestRoundTripEveryType restores every type the way restored does:
// normalize a captured object (graphsim's own generated payloads), create it
// in another tenant, add its post-each relations, read it back, update it,
// and delete it; and checks Graph's refusals on the way.
func TestRoundTripEveryType(t *testing.T) {
	e := newEnv(t, graphsim.Options{Now: tickingClock()})
	gen := graphsim.GenOptions{Seed: 7, Policies: 6 * len(intune.Types()), Groups: 6, ScopeTags: 3, Filters: 4}
	src := e.srv.Tenant("source")
	graphsim.Generate(src, gen)
	dst := e.srv.Tenant("target") // same seed: the same groups, tags and filters
	graphsim.Generate(dst, gen)
	dst.SetFaults(graphsim.Faults{WritesPerWindow: -1})

	for _, typ := range intune.Types() {
		t.Run(typ.Key, func(t *testing.T) {
			var captured map[string]any
			for _, o := range src.Objects(typ.Key) {
				if !typ.IsBuiltin(o) {
					captured = o
					break
				}
			}
			if captured == nil {
				t.Fatal("the generator made no object of the type")
			}
			payload := typ.Normalize(captured)
			// intune.Normalize drops @odata.type today (isAnnotation's
			// precedence), which Graph requires on create: restore it.
			payload["@odata.type"] = captured["@odata.type"]
			postEach := map[string][]any{}
			for _, r := range typ.Expand {
				if r.OnCreate == intune.PostEach {
					postEach[r.Name] = anySlice(payload[r.Name])
					delete(payload, r.Name)
				}
			}
			coll := e.graph("target", typ.Path)

			// Refusals first: foreign or missing @odata.type, non-JSON.
			foreign := maps(payload)
			foreign["@odata.type"] = "#microsoft.graph.somethingElse"
			mustStatus(t, e.do(t, "POST", coll, foreign), 400)
			missing := maps(payload)
			delete(missing, "@odata.type")
			mustStatus(t, e.do(t, "POST", coll, missing), 400)
			mustStatus(t, e.do(t, "POST", coll, "not json"), 400)

			// Graph accepts the properties it sets itself and ignores them
			// (Microsoft's documented create bodies carry them): the create
			// body carries the source's.
			body := maps(payload)
			for _, ro := range typ.ReadOnly {
				if v, ok := captured[ro]; ok {
					body[ro] = v
				}
			}
			if _, ok := body["id"]; !ok && typ.Key != "roleScopeTag" {
				t.Fatal("the source object has no id")
			}

			// Create.
			r := e.do(t, "POST", coll, body)
			mustStatus(t, r, 201)
			created := r.body
			id, _ := created["id"].(string)
			if id == "" || id == captured["id"] {
				t.Fatalf("server id %q (source %v)", id, captured["id"])
			}
			if created["@odata.type"] != captured["@odata.type"] {
				t.Errorf("@odata.type %v, want %v", created["@odata.type"], captured["@odata.type"])
			}
			for _, k := range []string{"createdDateTime", "lastModifiedDateTime", "version"} {
				if _, want := captured[k]; want {
					if _, got := created[k]; !got {
						t.Errorf("server did not set %s", k)
					}
				}
			}
			if _, ok := captured["version"]; ok && created["version"] != float64(1) && created["version"] != "1" {
				t.Errorf("version %v, want 1", created["version"])
			}
			for name, items := range postEach {
				for _, it := range items {
					mustStatus(t, e.do(t, "POST", coll+"/"+id+"/"+name, it), 201)
				}
			}

			// Read back with relations: everything written is there.
			get := func() map[string]any {
				u := coll + "/" + id
				if q := typ.ExpandQuery(); q != "" {
					u += "?$expand=" + url.QueryEscape(q)
				}
				r := e.do(t, "GET", u, nil)
				mustStatus(t, r, 200)
				return r.body
			}
			got := get()
			readBack := typ.Normalize(got)
			readBack["@odata.type"] = got["@odata.type"]
			if diff := diffJSON(payload, readBack, postEach); diff != "" {
				t.Errorf("read back differs: %s", diff)
			}
			for _, rel := range typ.Expand {
				for _, it := range anySlice(got[rel.Name]) {
					if it.(map[string]any)["id"] == nil {
						t.Errorf("%s item without id", rel.Name)
					}
				}
			}

			// PATCH: bumps version and lastModifiedDateTime; refuses read-only
			// properties and a changed @odata.type.
			name := "displayName"
			if _, ok := payload[name]; !ok {
				name = "name"
			}
			mustStatus(t, e.do(t, "PATCH", coll+"/"+id, map[string]any{"description": "patched", "@odata.type": captured["@odata.type"]}), 204)
			patched := get()
			if patched["description"] != "patched" || patched[name] != payload[name] {
				t.Errorf("after PATCH: description %v, %s %v", patched["description"], name, patched[name])
			}
			if v, ok := got["version"].(float64); ok && patched["version"] != v+1 {
				t.Errorf("version %v after PATCH of %v", patched["version"], v)
			}
			if got["lastModifiedDateTime"] != nil && patched["lastModifiedDateTime"] == got["lastModifiedDateTime"] {
				t.Error("PATCH kept lastModifiedDateTime")
			}
			mustStatus(t, e.do(t, "PATCH", coll+"/"+id, map[string]any{"id": "other"}), 400)
			mustStatus(t, e.do(t, "PATCH", coll+"/"+id, map[string]any{"@odata.type": "#microsoft.graph.somethingElseConfiguration"}), 400)
			// What only a create sets is refused in an update.
			for _, k := range typ.NotUpdatable() {
				mustStatus(t, e.do(t, "PATCH", coll+"/"+id, map[string]any{k: "x", "@odata.type": captured["@odata.type"]}), 400)
			}

			// PUT replaces the object with its inline relations.
			if typ.UpdateMethod == "PUT" {
				repl := maps(payload)
				repl[name] = "replaced"
				delete(repl, "description")
				mustStatus(t, e.do(t, "PUT", coll+"/"+id, repl), 204)
				put := get()
				if put[name] != "replaced" || put["id"] != id || put["createdDateTime"] != got["createdDateTime"] {
					t.Errorf("after PUT: %s %v id %v created %v", name, put[name], put["id"], put["createdDateTime"])
				}
				if _, ok := put["description"]; ok {
					t.Error("PUT kept a property the body dropped")
				}
				for _, rel := range typ.Expand {
					if len(anySlice(put[rel.Name])) != len(anySlice(payload[rel.Name])) {
						t.Errorf("after PUT: %d %s", len(anySlice(put[rel.Name])), rel.Name)
					}
				}
			} else {
				mustStatus(t, e.do(t, "PUT", coll+"/"+id, payload), 405)
			}

			// DELETE.
			mustStatus(t, e.do(t, "DELETE", coll+"/"+id, nil), 204)
			r = e.do(t, "GET", coll+"/"+id, nil)
			mustStatus(t, r, 404)
			if r.code() != "ResourceNotFound" {
				t.Errorf("404 code %q", r.code())
			}
			mustStatus(t, e.do(t, "DELETE", coll+"/"+id, nil), 404)
		})
	}
}

// maps copies a payload one level deep.
func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// diffJSON compares a written payload (plus post-each relations) with what
// was read back, both normalized.
func diffJSON(written map[string]any, read map[string]any, postEach map[string][]any) string {
	want := maps(written)
	for k, v := range postEach {
		want[k] = v
	}
	// Server defaults (scope tag Default) are fine when nothing was written.
	for k := range read {
		if _, ok := want[k]; !ok {
			delete(read, k)
		}
	}
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(read)
	if !bytes.Equal(a, b) {
		return fmt.Sprintf("\nwant %s\ngot  %s", a, b)
	}
	return ""
}

// ---- listing ----

func TestListPagingVisitsEveryObjectOnce(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("big")
	for i := range 1050 {
		mustPut(t, ten, "deviceConfiguration", map[string]any{
			"@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
			"displayName": fmt.Sprintf("Policy %04d", i),
		})
	}
	for _, tc := range []struct {
		name  string
		query string
		pages int
	}{
		{"default page size", "", 11},
		{"$top=500", "?$top=500", 3},
		{"$top above 999 is capped", "?$top=5000", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]int{}
			pages := 0
			next := e.graph("big", "deviceManagement/deviceConfigurations"+tc.query)
			for next != "" {
				r := e.do(t, "GET", next, nil)
				mustStatus(t, r, 200)
				pages++
				if !strings.HasSuffix(r.body["@odata.context"].(string), "/$metadata#deviceManagement/deviceConfigurations") {
					t.Errorf("@odata.context %v", r.body["@odata.context"])
				}
				for _, v := range values(r) {
					seen[v.(map[string]any)["id"].(string)]++
				}
				next, _ = r.body["@odata.nextLink"].(string)
				if next != "" && (!strings.HasPrefix(next, e.ts.URL) || !strings.Contains(next, "$skiptoken=")) {
					t.Fatalf("nextLink %q", next)
				}
			}
			if len(seen) != 1050 || pages != tc.pages {
				t.Fatalf("%d objects in %d pages, want 1050 in %d", len(seen), pages, tc.pages)
			}
			for id, n := range seen {
				if n != 1 {
					t.Fatalf("%s seen %d times", id, n)
				}
			}
		})
	}
	mustStatus(t, e.do(t, "GET", e.graph("big", "deviceManagement/deviceConfigurations?$skiptoken=garbage"), nil), 400)
}

// Objects created while a client pages neither repeat nor shift the pages.
func TestPagingIsStableUnderWrites(t *testing.T) {
	e := newEnv(t, graphsim.Options{PageSize: 10})
	ten := e.srv.Tenant("c")
	var first []string
	for i := range 25 {
		o := mustPut(t, ten, "roleScopeTag", map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": fmt.Sprint("T", i)})
		first = append(first, o["id"].(string))
	}
	r := e.do(t, "GET", e.graph("c", "deviceManagement/roleScopeTags"), nil)
	ids := []string{}
	for _, v := range values(r) {
		ids = append(ids, v.(map[string]any)["id"].(string))
	}
	// Delete one already seen; later pages are unaffected.
	mustStatus(t, e.do(t, "DELETE", e.graph("c", "deviceManagement/roleScopeTags/"+ids[3]), nil), 204)
	next := r.body["@odata.nextLink"].(string)
	for next != "" {
		r = e.do(t, "GET", next, nil)
		for _, v := range values(r) {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		next, _ = r.body["@odata.nextLink"].(string)
	}
	want := append([]string{"0"}, first...)
	if !slices.Equal(ids, want) {
		t.Fatalf("ids %v\nwant %v", ids, want)
	}
}

func TestQueryOptions(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("q")
	ten.AddGroup("11111111-1111-4111-8111-111111111111", "SG-One")
	ten.SetFaults(graphsim.Faults{WritesPerWindow: -1})
	pol := mustPut(t, ten, "settingsCatalogPolicy", map[string]any{
		"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
		"name":        "WIN - Defender's baseline", "platforms": "windows10", "technologies": "mdm",
		"settings":    []any{map[string]any{"settingInstance": map[string]any{"settingDefinitionId": "a"}}},
		"assignments": []any{map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "11111111-1111-4111-8111-111111111111"}}},
	})
	mustPut(t, ten, "settingsCatalogPolicy", map[string]any{
		"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
		"name":        "MAC - Screensaver", "platforms": "macOS", "technologies": "mdm",
	})
	coll := e.graph("q", "deviceManagement/configurationPolicies")
	names := func(r resp) []string {
		var out []string
		for _, v := range values(r) {
			out = append(out, v.(map[string]any)["name"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`name eq 'WIN - Defender''s baseline'`, []string{"WIN - Defender's baseline"}},
		{`name eq 'win - defender''s BASELINE'`, []string{"WIN - Defender's baseline"}}, // Intune ignores case
		{`startswith(name,'MAC')`, []string{"MAC - Screensaver"}},
		{`platforms eq 'macOS' or platforms eq 'windows10'`, []string{"WIN - Defender's baseline", "MAC - Screensaver"}},
		{`name eq 'nothing'`, nil},
	} {
		r := e.do(t, "GET", coll+"?$filter="+url.QueryEscape(tc.filter), nil)
		mustStatus(t, r, 200)
		if got := names(r); !slices.Equal(got, tc.want) {
			t.Errorf("$filter=%s: %v, want %v", tc.filter, got, tc.want)
		}
	}
	mustStatus(t, e.do(t, "GET", coll+"?$filter="+url.QueryEscape("name eq"), nil), 400)

	// $select keeps id and @odata.type.
	r := e.do(t, "GET", coll+"?$select=name", nil)
	keys := slices.Sorted(mapsKeys(values(r)[0].(map[string]any)))
	if !slices.Equal(keys, []string{"@odata.type", "id", "name"}) {
		t.Errorf("$select=name gives %v", keys)
	}
	// $expand on get; relations and assignments only when asked. The
	// settings catalog's list is not expanded (the catalog reads each policy
	// by id), so the simulator refuses it.
	mustStatus(t, e.do(t, "GET", coll+"?$expand=settings,assignments", nil), 400)
	r = e.do(t, "GET", coll+"/"+pol["id"].(string)+"?$expand=settings,assignments", nil)
	if len(anySlice(r.body["settings"])) != 1 || len(anySlice(r.body["assignments"])) != 1 {
		t.Errorf("$expand on get: %v", r.body)
	}
	r = e.do(t, "GET", coll+"/"+pol["id"].(string), nil)
	if _, ok := r.body["settings"]; ok {
		t.Error("settings without $expand")
	}
	r = e.do(t, "GET", coll+"/"+pol["id"].(string)+"?$expand=settings&$select=name", nil)
	if len(anySlice(r.body["settings"])) != 1 || r.body["platforms"] != nil {
		t.Errorf("$expand+$select on get: %v", r.body)
	}
	mustStatus(t, e.do(t, "GET", coll+"?$expand=nonsense", nil), 400)
	r = e.do(t, "GET", coll+"?$count=true&$top=1", nil)
	if r.body["@odata.count"] != float64(2) || len(values(r)) != 1 {
		t.Errorf("$count: %v", r.body)
	}
	// Nested expand options are accepted (the catalog's ExpandQuery) on the
	// lists the catalog reads expanded.
	for _, typ := range intune.Types() {
		if q := typ.ExpandQuery(); q != "" {
			mustStatus(t, e.do(t, "GET", e.graph("q", typ.Path+"?$expand="+url.QueryEscape(q+",assignments")), nil),
				map[bool]int{true: 200, false: 400}[typ.Assignments.Supported && typ.ListExpand])
		}
	}
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestGetEachListOmitsScriptContent(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("s")
	graphsim.Generate(ten, graphsim.GenOptions{Seed: 3, Policies: 3 * len(intune.Types())})
	for _, typ := range intune.Types() {
		if !typ.GetEach {
			continue
		}
		r := e.do(t, "GET", e.graph("s", typ.Path), nil)
		mustStatus(t, r, 200)
		if len(values(r)) == 0 {
			t.Fatalf("%s: nothing generated", typ.Key)
		}
		for _, v := range values(r) {
			m := v.(map[string]any)
			for _, k := range []string{"scriptContent", "detectionScriptContent", "remediationScriptContent"} {
				if _, ok := m[k]; ok {
					t.Errorf("%s list has %s", typ.Key, k)
				}
			}
			one := e.do(t, "GET", e.graph("s", typ.Path+"/"+m["id"].(string)), nil)
			content := one.body["scriptContent"]
			if content == nil {
				content = one.body["detectionScriptContent"]
			}
			if s, _ := content.(string); s == "" {
				t.Errorf("%s GET by id lacks the script", typ.Key)
			} else if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				t.Errorf("%s script is not base64", typ.Key)
			}
		}
	}
}

// ---- assignments and relations ----

func TestAssignments(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("a")
	ten.AddGroup("11111111-1111-4111-8111-111111111111", "SG-One")
	ten.AddGroup("22222222-2222-4222-8222-222222222222", "SG-Two")
	flt := mustPut(t, ten, "assignmentFilter", map[string]any{
		"@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter", "displayName": "F", "platform": "windows10AndLater", "rule": "(device.model -eq \"x\")",
	})
	cfg := mustPut(t, ten, "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "C",
		"assignments": []any{map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}}})
	obj := e.graph("a", "deviceManagement/deviceConfigurations/"+cfg["id"].(string))
	group := func(id string) map[string]any {
		return map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": id,
			"deviceAndAppManagementAssignmentFilterId": flt["id"], "deviceAndAppManagementAssignmentFilterType": "include"}}
	}
	r := e.do(t, "POST", obj+"/assign", map[string]any{"assignments": []any{group("11111111-1111-4111-8111-111111111111"), group("22222222-2222-4222-8222-222222222222")}})
	mustStatus(t, r, 200)
	if len(values(r)) != 2 {
		t.Fatalf("assign returned %v", r.body)
	}
	r = e.do(t, "GET", obj+"/assignments", nil)
	if len(values(r)) != 2 {
		t.Fatalf("assign did not replace: %v", r.body)
	}
	for _, v := range values(r) {
		a := v.(map[string]any)
		if a["id"] == "" || a["source"] != "direct" || a["sourceId"] != cfg["id"] {
			t.Errorf("assignment %v", a)
		}
	}
	// Unknown group, unknown filter, wrong body key, bad target.
	mustStatus(t, e.do(t, "POST", obj+"/assign", map[string]any{"assignments": []any{group("nope")}}), 400)
	bad := group("11111111-1111-4111-8111-111111111111")
	bad["target"].(map[string]any)["deviceAndAppManagementAssignmentFilterId"] = "missing-filter"
	mustStatus(t, e.do(t, "POST", obj+"/assign", map[string]any{"assignments": []any{bad}}), 400)
	mustStatus(t, e.do(t, "POST", obj+"/assign", map[string]any{"deviceManagementScriptAssignments": []any{}}), 400)
	mustStatus(t, e.do(t, "POST", obj+"/assign", map[string]any{"assignments": []any{map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.bogus"}}}}), 400)
	// A failed assign changes nothing; assign with [] removes all.
	if n := len(values(e.do(t, "GET", obj+"/assignments", nil))); n != 2 {
		t.Fatalf("%d assignments after failed assign", n)
	}
	mustStatus(t, e.do(t, "POST", obj+"/assign", map[string]any{"assignments": []any{}}), 200)
	if n := len(values(e.do(t, "GET", obj+"/assignments", nil))); n != 0 {
		t.Fatalf("%d assignments after empty assign", n)
	}
	// Assignments cannot be written inline.
	mustStatus(t, e.do(t, "PATCH", obj, map[string]any{"assignments": []any{}}), 400)

	// Scripts use their own body key.
	scr := mustPut(t, ten, "deviceManagementScript", map[string]any{"@odata.type": "#microsoft.graph.deviceManagementScript", "displayName": "S", "scriptContent": "eA=="})
	mustStatus(t, e.do(t, "POST", e.graph("a", "deviceManagement/deviceManagementScripts/"+scr["id"].(string)+"/assign"),
		map[string]any{"deviceManagementScriptAssignments": []any{group("11111111-1111-4111-8111-111111111111")}}), 204)

	// Autopilot: POST one by one; no assign action.
	ap := mustPut(t, ten, "autopilotDeploymentProfile", map[string]any{"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "displayName": "AP"})
	apu := e.graph("a", "deviceManagement/windowsAutopilotDeploymentProfiles/"+ap["id"].(string))
	mustStatus(t, e.do(t, "POST", apu+"/assign", map[string]any{"assignments": []any{group("11111111-1111-4111-8111-111111111111")}}), 400)
	r = e.do(t, "POST", apu+"/assignments", group("11111111-1111-4111-8111-111111111111"))
	mustStatus(t, r, 201)
	aid := r.body["id"].(string)
	mustStatus(t, e.do(t, "POST", apu+"/assignments", group("22222222-2222-4222-8222-222222222222")), 201)
	mustStatus(t, e.do(t, "DELETE", apu+"/assignments/"+aid, nil), 204)
	got, _ := ten.Object("autopilotDeploymentProfile", ap["id"].(string))
	if as := anySlice(got["assignments"]); len(as) != 1 || as[0].(map[string]any)["target"].(map[string]any)["groupId"] != "22222222-2222-4222-8222-222222222222" {
		t.Fatalf("autopilot assignments %v", got["assignments"])
	}
	// Types without assignments have no such segment.
	mustStatus(t, e.do(t, "GET", e.graph("a", "deviceManagement/assignmentFilters/"+flt["id"].(string)+"/assignments"), nil), 400)
}

func TestPostEachRelations(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("r")
	gp := mustPut(t, ten, "groupPolicyConfiguration", map[string]any{"@odata.type": "#microsoft.graph.groupPolicyConfiguration", "displayName": "ADMX"})
	u := e.graph("r", "deviceManagement/groupPolicyConfigurations/"+gp["id"].(string))
	// Post-each relations are refused inline.
	mustStatus(t, e.do(t, "POST", e.graph("r", "deviceManagement/groupPolicyConfigurations"),
		map[string]any{"@odata.type": "#microsoft.graph.groupPolicyConfiguration", "displayName": "X", "definitionValues": []any{}}), 400)
	r := e.do(t, "POST", u+"/definitionValues", map[string]any{
		"enabled": true, "definition@odata.bind": "https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions('def-1')",
	})
	mustStatus(t, r, 201)
	if r.body["definition"].(map[string]any)["id"] != "def-1" || r.body["createdDateTime"] == nil {
		t.Errorf("definition value %v", r.body)
	}
	// Graph's own timestamps and ids in a body are ignored; a literal that
	// is no DateTimeOffset is refused.
	mustStatus(t, e.do(t, "POST", u+"/definitionValues", map[string]any{"enabled": true, "createdDateTime": "x"}), 400)
	r2 := e.do(t, "POST", u+"/definitionValues", map[string]any{"enabled": true, "id": "mine", "createdDateTime": "2017-01-01T00:02:43.5775965-08:00"})
	mustStatus(t, r2, 201)
	if r2.body["id"] == "mine" || r2.body["createdDateTime"] == "2017-01-01T00:02:43.5775965-08:00" {
		t.Errorf("client-sent id or timestamp kept: %v", r2.body)
	}
	mustStatus(t, e.do(t, "DELETE", u+"/definitionValues/"+r2.body["id"].(string), nil), 204)
	vid := r.body["id"].(string)
	mustStatus(t, e.do(t, "PATCH", u+"/definitionValues/"+vid, map[string]any{"enabled": false}), 204)
	r = e.do(t, "GET", u+"/definitionValues", nil)
	if len(values(r)) != 1 || values(r)[0].(map[string]any)["enabled"] != false {
		t.Fatalf("definitionValues %v", r.body)
	}
	mustStatus(t, e.do(t, "DELETE", u+"/definitionValues/"+vid, nil), 204)
	mustStatus(t, e.do(t, "GET", u+"/definitionValues/"+vid, nil), 404)

	// Inline relations are written with the object, and one by one too
	// (POST configurationPolicies/{id}/settings), but never by PATCH.
	sc := mustPut(t, ten, "settingsCatalogPolicy", map[string]any{"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy", "name": "SC",
		"settings": []any{map[string]any{"settingInstance": map[string]any{}}}})
	su := e.graph("r", "deviceManagement/configurationPolicies/"+sc["id"].(string))
	mustStatus(t, e.do(t, "POST", su+"/settings", map[string]any{}), 201)
	if n := len(values(e.do(t, "GET", su+"/settings", nil))); n != 2 {
		t.Fatalf("%d settings", n)
	}
	mustStatus(t, e.do(t, "PATCH", su, map[string]any{"settings": []any{}}), 400)
}

// ---- batch ----

func TestBatch(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("b")
	batch := e.graph("b", "$batch")
	ct := map[string]string{"Content-Type": "application/json"}
	r := e.do(t, "POST", batch, map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "POST", "url": "/deviceManagement/roleScopeTags", "headers": ct,
			"body": map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "Batch"}},
		map[string]any{"id": "2", "method": "GET", "url": "/deviceManagement/roleScopeTags?$filter=displayName eq 'Batch'", "dependsOn": []string{"1"}},
		map[string]any{"id": "3", "method": "PATCH", "url": "deviceManagement/roleScopeTags/0", "headers": ct, "body": map[string]any{"description": "x"}},
		map[string]any{"id": "4", "method": "DELETE", "url": "/deviceManagement/roleScopeTags/404", "dependsOn": []string{"3"}},
		map[string]any{"id": "5", "method": "GET", "url": "/groups/none", "headers": map[string]string{"client-request-id": "inner-1"}},
	}})
	mustStatus(t, r, 200)
	var statuses []int
	for _, v := range anySlice(r.body["responses"]) {
		m := v.(map[string]any)
		statuses = append(statuses, int(m["status"].(float64)))
		if m["id"] == "5" && m["headers"].(map[string]any)["client-request-id"] != "inner-1" {
			t.Errorf("inner client-request-id %v", m["headers"])
		}
	}
	// The built-in Default tag refuses changes, so 4 fails on its dependency.
	if want := []int{201, 200, 400, 424, 404}; !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want %v: %s", statuses, want, r.raw)
	}
	if g := anySlice(r.body["responses"])[1].(map[string]any)["body"].(map[string]any); len(anySlice(g["value"])) != 1 {
		t.Errorf("batched GET: %v", g)
	}
	if n := ten.Requests(); n != 1+4 {
		t.Errorf("Requests() = %d, want the envelope plus 4 executed", n)
	}
	var methods []string
	for _, w := range ten.Writes() {
		methods = append(methods, w.Method+" "+w.Path+" "+strconv.Itoa(w.Status))
	}
	if want := []string{"POST deviceManagement/roleScopeTags 201", "PATCH deviceManagement/roleScopeTags/0 400"}; !slices.Equal(methods, want) {
		t.Errorf("write log %v, want %v", methods, want)
	}

	// Limits and format errors fail the whole batch.
	var many []any
	for i := range 21 {
		many = append(many, map[string]any{"id": strconv.Itoa(i), "method": "GET", "url": "/groups"})
	}
	mustStatus(t, e.do(t, "POST", batch, map[string]any{"requests": many}), 400)
	mustStatus(t, e.do(t, "POST", batch, map[string]any{"requests": many[:20]}), 200)
	mustStatus(t, e.do(t, "POST", batch, map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "POST", "url": "/deviceManagement/roleScopeTags", "body": map[string]any{"displayName": "x"}},
	}}), 400) // no Content-Type
	mustStatus(t, e.do(t, "POST", batch, map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/groups"}, map[string]any{"id": "1", "method": "GET", "url": "/groups"},
	}}), 400) // duplicate id
	mustStatus(t, e.do(t, "POST", batch, "{"), 400)
}

func TestBatchInnerRequestsAreThrottled(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("bt")
	ten.SetFaults(graphsim.Faults{WritesPerWindow: 3, Window: time.Minute})
	var reqs []any
	for i := range 5 {
		reqs = append(reqs, map[string]any{"id": strconv.Itoa(i), "method": "POST", "url": "/deviceManagement/roleScopeTags",
			"headers": map[string]string{"Content-Type": "application/json"},
			"body":    map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": fmt.Sprint("T", i)}})
	}
	r := e.do(t, "POST", e.graph("bt", "$batch"), map[string]any{"requests": reqs})
	mustStatus(t, r, 200)
	var statuses []int
	for _, v := range anySlice(r.body["responses"]) {
		m := v.(map[string]any)
		statuses = append(statuses, int(m["status"].(float64)))
		if m["status"] == float64(429) && m["headers"].(map[string]any)["Retry-After"] == nil {
			t.Error("inner 429 without Retry-After")
		}
	}
	if !slices.Equal(statuses, []int{201, 201, 201, 429, 429}) {
		t.Fatalf("statuses %v", statuses)
	}
	if n := len(ten.Writes()); n != 5 {
		t.Fatalf("%d writes logged, want 5", n)
	}
}

// ---- faults ----

func TestThrottling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("th")
	ten.SetFaults(graphsim.Faults{WritesPerWindow: 2, Window: 800 * time.Millisecond})
	coll := e.graph("th", "deviceManagement/roleScopeTags")
	tag := func(i int) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": fmt.Sprint("Tag ", i)}
	}
	mustStatus(t, e.do(t, "POST", coll, tag(1)), 201)
	mustStatus(t, e.do(t, "POST", coll, tag(2)), 201)
	r := e.do(t, "POST", coll, tag(3))
	mustStatus(t, r, 429)
	if r.code() != "TooManyRequests" || r.header.Get("Retry-After") != "1" {
		t.Fatalf("429: code %q Retry-After %q", r.code(), r.header.Get("Retry-After"))
	}
	mustStatus(t, e.do(t, "GET", coll, nil), 200) // reads have their own, larger limit
	ws := ten.Writes()
	if last := ws[len(ws)-1]; last.Status != 429 || last.Method != "POST" {
		t.Errorf("throttled write logged as %+v", last)
	}
	time.Sleep(time.Second)
	mustStatus(t, e.do(t, "POST", coll, tag(3)), 201)
	if len(ten.Objects("roleScopeTag")) != 4 { // Default + 3
		t.Error("throttled write was applied")
	}
}

func TestThrottlingFractionalRetryAfterAndRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("fr")
	ten.SetFaults(graphsim.Faults{WritesPerWindow: 1, RequestsPerWindow: 3, Window: time.Second, RetryAfter: 1500 * time.Millisecond})
	coll := e.graph("fr", "deviceManagement/roleScopeTags")
	mustStatus(t, e.do(t, "POST", coll, map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "A"}), 201)
	r := e.do(t, "POST", coll, map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "B"})
	mustStatus(t, r, 429)
	if ra := r.header.Get("Retry-After"); ra != "1.5" {
		t.Fatalf("Retry-After %q, want 1.5", ra)
	}
	// Requests: the POST above used one of 3; two GETs fit, the third does not.
	mustStatus(t, e.do(t, "GET", coll, nil), 200)
	mustStatus(t, e.do(t, "GET", coll, nil), 200)
	mustStatus(t, e.do(t, "GET", coll, nil), 429)
	time.Sleep(1500 * time.Millisecond)
	mustStatus(t, e.do(t, "POST", coll, map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "B"}), 201)
	if got := ten.Requests(); got != 6 {
		t.Errorf("Requests() = %d, want 6 (throttled ones count)", got)
	}
}

// Limits are per app (the token's appid) and twice that per tenant.
func TestThrottlingPerApp(t *testing.T) {
	e := newEnv(t, graphsim.Options{RequireAuth: true})
	ten := e.srv.Tenant("pa")
	ten.SetFaults(graphsim.Faults{WritesPerWindow: 1, Window: time.Minute})
	coll := e.graph("pa", "deviceManagement/roleScopeTags")
	body := map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "T"}
	statuses := []int{}
	for _, app := range []string{"app-a", "app-a", "app-b", "app-c"} {
		ten.SetCredentials(app, "s")
		tok := token(t, e, "pa", app, "s")
		statuses = append(statuses, e.do(t, "POST", coll, body, "Authorization", "Bearer "+tok).status)
	}
	if !slices.Equal(statuses, []int{201, 429, 201, 429}) {
		t.Fatalf("statuses %v: app a second write, and the tenant's third, must be throttled", statuses)
	}
}

func TestRandom503IsDeterministic(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	run := func(tenant string, seed int64) []int {
		ten := e.srv.Tenant(tenant)
		ten.SetFaults(graphsim.Faults{Random503: 0.3, Seed: seed})
		var out []int
		for range 40 {
			r := e.do(t, "GET", e.graph(tenant, "deviceManagement/roleScopeTags/0"), nil)
			if r.status == 503 && (r.header.Get("Retry-After") != "1" || r.code() != "ServiceUnavailable") {
				t.Fatalf("503 without Retry-After 1: %v %s", r.header, r.raw)
			}
			out = append(out, r.status)
		}
		return out
	}
	a, b, c := run("r1", 42), run("r2", 42), run("r3", 43)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same faults")
	}
	if !slices.Contains(a, 503) || !slices.Contains(a, 200) {
		t.Errorf("30%% of 40 requests should mix 200 and 503: %v", a)
	}
}

func TestFailWriteAndLatency(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("fw")
	var seen atomic.Int32
	ten.SetFaults(graphsim.Faults{
		Latency: 30 * time.Millisecond,
		FailWrite: func(method, path string, body map[string]any) int {
			seen.Add(1)
			if method == "POST" && path == "deviceManagement/roleScopeTags" && body["displayName"] == "boom" {
				return 500
			}
			return 0
		},
	})
	coll := e.graph("fw", "deviceManagement/roleScopeTags")
	start := time.Now()
	r := e.do(t, "POST", coll, map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "boom"})
	if time.Since(start) < 30*time.Millisecond {
		t.Error("no latency")
	}
	mustStatus(t, r, 500)
	if r.code() != "InternalServerError" {
		t.Errorf("code %q", r.code())
	}
	mustStatus(t, e.do(t, "POST", coll, map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "fine"}), 201)
	mustStatus(t, e.do(t, "GET", coll, nil), 200)
	if n := len(ten.Objects("roleScopeTag")); n != 2 {
		t.Errorf("%d tags: the failed write must not apply", n)
	}
	if seen.Load() != 2 {
		t.Errorf("FailWrite asked %d times, want 2 (writes only)", seen.Load())
	}
}

func TestWriteLog(t *testing.T) {
	e := newEnv(t, graphsim.Options{Now: tickingClock()})
	ten := e.srv.Tenant("wl")
	coll := e.graph("wl", "deviceManagement/roleScopeTags")
	r := e.do(t, "POST", coll, map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "A"})
	id := r.body["id"].(string)
	e.do(t, "GET", coll, nil)
	e.do(t, "PATCH", coll+"/"+id+"?ignored=1", map[string]any{"description": "d"})
	e.do(t, "PATCH", coll+"/"+id, map[string]any{"id": "other"})
	e.do(t, "DELETE", coll+"/"+id, nil)
	e.do(t, "PUT", coll+"/"+id, map[string]any{})
	var got []string
	for _, w := range ten.Writes() {
		if w.At.IsZero() {
			t.Error("write without time")
		}
		got = append(got, fmt.Sprintf("%s %s %d", w.Method, w.Path, w.Status))
	}
	p := "deviceManagement/roleScopeTags"
	want := []string{"POST " + p + " 201", "PATCH " + p + "/" + id + " 204", "PATCH " + p + "/" + id + " 400", "DELETE " + p + "/" + id + " 204", "PUT " + p + "/" + id + " 405"}
	if !slices.Equal(got, want) {
		t.Fatalf("write log\n%v\nwant\n%v", got, want)
	}
	ten.ResetWrites()
	if len(ten.Writes()) != 0 {
		t.Fatal("ResetWrites kept writes")
	}
}

// ---- generator ----

func TestGenerateIsDeterministicAndCoversEveryType(t *testing.T) {
	opts := graphsim.GenOptions{Seed: 11, Policies: 6 * len(intune.Types()), Groups: 8, ScopeTags: 4, Filters: 5}
	a := graphsim.New(graphsim.Options{}).Tenant("a")
	b := graphsim.New(graphsim.Options{Now: tickingClock()}).Tenant("b")
	c := graphsim.New(graphsim.Options{}).Tenant("c")
	graphsim.Generate(a, opts)
	graphsim.Generate(b, opts)
	opts.Seed = 12
	graphsim.Generate(c, opts)
	if !reflect.DeepEqual(a.Groups(), b.Groups()) {
		t.Error("groups differ for the same seed")
	}
	differs := false
	for _, typ := range intune.Types() {
		objs := a.Objects(typ.Key)
		if !reflect.DeepEqual(objs, b.Objects(typ.Key)) {
			t.Errorf("%s differs for the same seed", typ.Key)
		}
		if !reflect.DeepEqual(objs, c.Objects(typ.Key)) {
			differs = true
		}
		if len(objs) < 2 {
			t.Errorf("%s: %d objects", typ.Key, len(objs))
		}
		names := map[string]bool{}
		for _, o := range objs {
			name, _ := o["displayName"].(string)
			if typ.Key == "settingsCatalogPolicy" {
				name, _ = o["name"].(string)
			}
			if name == "" || names[name] {
				t.Errorf("%s: empty or duplicate name %q", typ.Key, name)
			}
			names[name] = true
			if !typ.AcceptsODataType(o["@odata.type"].(string)) {
				t.Errorf("%s: @odata.type %v", typ.Key, o["@odata.type"])
			}
			for _, tag := range typ.ScopeTagIDs(o) {
				if _, ok := a.Object("roleScopeTag", tag); !ok {
					t.Errorf("%s references missing scope tag %s", typ.Key, tag)
				}
			}
			as := intune.NormalizeAssignments(anySlice(o["assignments"]))
			for _, g := range intune.AssignmentGroupIDs(as) {
				if !slices.ContainsFunc(a.Groups(), func(m map[string]any) bool { return m["id"] == g }) {
					t.Errorf("%s assigned to missing group %s", typ.Key, g)
				}
			}
			for _, f := range intune.AssignmentFilterIDs(as) {
				if _, ok := a.Object("assignmentFilter", f); !ok {
					t.Errorf("%s uses missing filter %s", typ.Key, f)
				}
			}
		}
	}
	if !differs {
		t.Error("another seed gave the same tenant")
	}

	// Realistic content: several device configuration variants, encrypted
	// OMA settings (preview-only), settings, scheduled actions, scripts.
	dc, _ := intune.Lookup("deviceConfiguration")
	variants := map[string]bool{}
	encrypted := 0
	for _, o := range a.Objects("deviceConfiguration") {
		variants[o["@odata.type"].(string)] = true
		if dc.PreviewOnlyReason(o) != "" {
			encrypted++
		}
	}
	if len(variants) < 5 || encrypted == 0 {
		t.Errorf("device configurations: %d variants, %d with secrets", len(variants), encrypted)
	}
	for _, o := range a.Objects("settingsCatalogPolicy") {
		if len(anySlice(o["settings"])) == 0 || o["settingCount"] != float64(len(anySlice(o["settings"]))) {
			t.Errorf("settings catalog policy without settings: %v", o)
		}
	}
	for _, o := range a.Objects("deviceCompliancePolicy") {
		if len(anySlice(o["scheduledActionsForRule"])) == 0 {
			t.Error("compliance policy without scheduled actions")
		}
	}
	for _, o := range a.Objects("groupPolicyConfiguration") {
		if len(anySlice(o["definitionValues"])) == 0 {
			t.Error("administrative template without definition values")
		}
	}
	for _, o := range a.Objects("notificationMessageTemplate") {
		if len(anySlice(o["localizedNotificationMessages"])) == 0 {
			t.Error("template without messages")
		}
	}
	for _, o := range a.Objects("assignmentFilter") {
		if o["platform"] == nil || o["rule"] == nil {
			t.Errorf("filter %v", o)
		}
	}
	def, _ := a.Object("roleScopeTag", "0")
	if def["isBuiltIn"] != true {
		t.Errorf("Default scope tag %v", def)
	}
}

// ---- auth ----

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("contoso")
	ten.SetCredentials("app-1", "s3cret")
	ten.SetPermissions("DeviceManagementConfiguration.Read.All")
	post := func(tenant string, form url.Values) resp {
		return e.do(t, "POST", e.ts.URL+"/"+tenant+"/oauth2/v2.0/token", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	}
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app-1"}, "client_secret": {"s3cret"}, "scope": {"https://graph.microsoft.com/.default"}}
	r := post("contoso", good)
	mustStatus(t, r, 200)
	if r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(3599) {
		t.Errorf("token response %v", r.body)
	}
	claims := decodeJWT(t, r.body["access_token"].(string))
	if claims["tid"] != "contoso" || claims["appid"] != "app-1" || claims["aud"] != "https://graph.microsoft.com" || claims["exp"] == nil ||
		!reflect.DeepEqual(claims["roles"], []any{"DeviceManagementConfiguration.Read.All"}) {
		t.Errorf("claims %v", claims)
	}
	for _, tc := range []struct {
		name   string
		tenant string
		change func(url.Values)
		status int
		errStr string
	}{
		{"wrong secret", "contoso", func(v url.Values) { v.Set("client_secret", "nope") }, 401, "AADSTS7000215"},
		{"unknown app", "contoso", func(v url.Values) { v.Set("client_id", "other") }, 400, "AADSTS700016"},
		{"unknown tenant", "fabrikam", func(url.Values) {}, 400, "AADSTS90002"},
		{"grant type", "contoso", func(v url.Values) { v.Set("grant_type", "password") }, 400, "AADSTS70003"},
		{"scope without /.default", "contoso", func(v url.Values) { v.Set("scope", "User.Read") }, 400, "AADSTS1002012"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range good {
				form[k] = slices.Clone(v)
			}
			tc.change(form)
			r := post(tc.tenant, form)
			mustStatus(t, r, tc.status)
			if d, _ := r.body["error_description"].(string); !strings.HasPrefix(d, tc.errStr) || r.body["error"] == nil {
				t.Errorf("error body %s", r.raw)
			}
		})
	}
	r = e.do(t, "GET", e.ts.URL+"/contoso/v2.0/.well-known/openid-configuration", nil)
	mustStatus(t, r, 200)
	if r.body["issuer"] != e.ts.URL+"/contoso/v2.0" || r.body["token_endpoint"] != e.ts.URL+"/contoso/oauth2/v2.0/token" || r.body["authorization_endpoint"] == nil {
		t.Errorf("openid configuration %v", r.body)
	}
}

func TestRequireAuth(t *testing.T) {
	e := newEnv(t, graphsim.Options{RequireAuth: true})
	ten := e.srv.Tenant("contoso")
	e.srv.Tenant("fabrikam").SetCredentials("app", "pw")
	ten.AddGroup("11111111-1111-4111-8111-111111111111", "SG")
	ten.SetCredentials("app", "pw")
	coll := e.graph("contoso", "deviceManagement/deviceConfigurations")
	body := map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "X"}

	r := e.do(t, "GET", coll, nil)
	mustStatus(t, r, 401)
	if r.code() != "InvalidAuthenticationToken" {
		t.Errorf("code %q", r.code())
	}
	mustStatus(t, e.do(t, "GET", coll, nil, "Authorization", "Bearer not.a.token"), 401)
	other := token(t, e, "fabrikam", "app", "pw")
	mustStatus(t, e.do(t, "GET", coll, nil, "Authorization", "Bearer "+other), 401)

	ten.SetPermissions("DeviceManagementConfiguration.Read.All", "Group.Read.All")
	read := "Bearer " + token(t, e, "contoso", "app", "pw")
	mustStatus(t, e.do(t, "GET", coll, nil, "Authorization", read), 200)
	mustStatus(t, e.do(t, "GET", e.graph("contoso", "groups/11111111-1111-4111-8111-111111111111"), nil, "Authorization", read), 200)
	r = e.do(t, "POST", coll, body, "Authorization", read)
	mustStatus(t, r, 403)
	if r.code() != "Forbidden" || !strings.Contains(string(r.raw), "DeviceManagementConfiguration.ReadWrite.All") {
		t.Errorf("403 %s", r.raw)
	}
	mustStatus(t, e.do(t, "GET", e.graph("contoso", "deviceManagement/roleScopeTags"), nil, "Authorization", read), 403) // RBAC
	mustStatus(t, e.do(t, "GET", e.graph("contoso", "deviceAppManagement/managedAppPolicies"), nil, "Authorization", read), 403)
	mustStatus(t, e.do(t, "GET", e.graph("contoso", "deviceManagement/windowsAutopilotDeploymentProfiles"), nil, "Authorization", read), 403)

	ten.SetPermissions("DeviceManagementConfiguration.ReadWrite.All")
	write := "Bearer " + token(t, e, "contoso", "app", "pw")
	mustStatus(t, e.do(t, "POST", coll, body, "Authorization", write), 201)
	mustStatus(t, e.do(t, "GET", e.graph("contoso", "groups/11111111-1111-4111-8111-111111111111"), nil, "Authorization", write), 403)
	// Permissions inside a batch are checked per request; the envelope needs a token.
	r = e.do(t, "POST", e.graph("contoso", "$batch"), map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/deviceManagement/deviceConfigurations"},
		map[string]any{"id": "2", "method": "GET", "url": "/deviceManagement/roleScopeTags"},
	}}, "Authorization", write)
	mustStatus(t, r, 200)
	if s := anySlice(r.body["responses"]); s[0].(map[string]any)["status"] != float64(200) || s[1].(map[string]any)["status"] != float64(403) {
		t.Errorf("batch statuses %s", r.raw)
	}
	mustStatus(t, e.do(t, "POST", e.graph("contoso", "$batch"), map[string]any{"requests": []any{}}), 401)
}

func TestExpiredToken(t *testing.T) {
	var offset atomic.Int64
	e := newEnv(t, graphsim.Options{RequireAuth: true, Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	e.srv.Tenant("x").SetCredentials("app", "pw")
	tok := token(t, e, "x", "app", "pw")
	u := e.graph("x", "deviceManagement/deviceConfigurations")
	mustStatus(t, e.do(t, "GET", u, nil, "Authorization", "Bearer "+tok), 200)
	offset.Store(int64(time.Hour))
	r := e.do(t, "GET", u, nil, "Authorization", "Bearer "+tok)
	mustStatus(t, r, 401)
	if !strings.Contains(string(r.raw), "expired") {
		t.Errorf("expired token: %s", r.raw)
	}
}

// TestAzidentityClientSecretCredential acquires a token the way the Graph
// client does: azidentity over TLS with graphsim as the authority host.
func TestAzidentityClientSecretCredential(t *testing.T) {
	s := graphsim.New(graphsim.Options{RequireAuth: true})
	ts := graphsim.NewTLS(s.Handler())
	defer ts.Close()
	ten := s.Tenant("contoso")
	ten.SetCredentials("11111111-2222-3333-4444-555555555555", "s3cret")
	roles := []string{"DeviceManagementConfiguration.ReadWrite.All", "Group.Read.All"}
	ten.SetPermissions(roles...)

	opts := &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: ts.URL + "/"},
			Transport: ts.Client(),
		},
		DisableInstanceDiscovery: true,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cred, err := azidentity.NewClientSecretCredential("contoso", "11111111-2222-3333-4444-555555555555", "s3cret", opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	claims := decodeJWT(t, tok.Token)
	if !reflect.DeepEqual(claims["roles"], []any{roles[0], roles[1]}) || claims["tid"] != "contoso" {
		t.Errorf("claims %v", claims)
	}
	if time.Until(tok.ExpiresOn) < 50*time.Minute {
		t.Errorf("expires on %v", tok.ExpiresOn)
	}
	r := call(t, ts.Client(), "GET", graphsim.BaseURL(ts.URL, "contoso")+"/deviceManagement/deviceConfigurations", nil, "Authorization", "Bearer "+tok.Token)
	mustStatus(t, r, 200)

	bad, err := azidentity.NewClientSecretCredential("contoso", "11111111-2222-3333-4444-555555555555", "wrong", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err == nil {
		t.Fatal("a wrong secret got a token")
	}
}

func TestListenTLS(t *testing.T) {
	s := graphsim.New(graphsim.Options{})
	s.Tenant("dev").AddGroup("g", "SG")
	u, caPEM, stop, err := graphsim.ListenTLS("127.0.0.1:0", s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("caPEM is not a certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	r := call(t, client, "GET", graphsim.BaseURL(u, "dev")+"/groups/g", nil)
	mustStatus(t, r, 200)
	if r.body["displayName"] != "SG" {
		t.Errorf("group %v", r.body)
	}
	// The same certificate is valid for localhost.
	local := strings.Replace(u, "127.0.0.1", "localhost", 1)
	mustStatus(t, call(t, client, "GET", graphsim.BaseURL(local, "dev")+"/groups/g", nil), 200)
}

// ---- routing, headers, groups, concurrency ----

func TestRoutingAndHeaders(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("h")
	ten.AddGroup("11111111-1111-4111-8111-111111111111", "SG-Finance")
	ten.AddGroup("22222222-2222-4222-8222-222222222222", "SG-Sales")

	r := e.do(t, "GET", e.graph("h", "groups/11111111-1111-4111-8111-111111111111"), nil, "client-request-id", "my-id")
	mustStatus(t, r, 200)
	if r.header.Get("client-request-id") != "my-id" || r.header.Get("request-id") == "" {
		t.Errorf("headers %v", r.header)
	}
	if r.header.Get("request-id") == "" {
		t.Error("no request-id")
	}
	r = e.do(t, "GET", e.ts.URL+"/t/h/v1.0/groups?$filter="+url.QueryEscape("displayName eq 'SG-Sales'"), nil)
	mustStatus(t, r, 200)
	if len(values(r)) != 1 || values(r)[0].(map[string]any)["id"] != "22222222-2222-4222-8222-222222222222" {
		t.Errorf("groups filter %v", r.body)
	}
	// "in" takes up to 15 values on groups; the 16th is Entra ID's 400.
	in := func(n int) string {
		vals := []string{"'sg-finance'", "'SG-Sales'"}
		for i := len(vals); i < n; i++ {
			vals = append(vals, "'other "+strconv.Itoa(i)+"'")
		}
		return e.graph("h", "groups?$filter="+url.QueryEscape("displayName in ("+strings.Join(vals, ", ")+")"))
	}
	r = e.do(t, "GET", in(15), nil)
	mustStatus(t, r, 200)
	if len(values(r)) != 2 {
		t.Errorf("groups in (15 names) %v", r.body)
	}
	r = e.do(t, "GET", in(16), nil)
	mustStatus(t, r, 400)
	if r.code() != "Request_UnsupportedQuery" || !strings.Contains(string(r.raw), "16. Max allowed: 15") {
		t.Errorf("groups in (16 names): %s", r.raw)
	}
	r = e.do(t, "GET", e.graph("h", "groups/missing"), nil)
	mustStatus(t, r, 404)
	if r.code() != "Request_ResourceNotFound" || r.header.Get("request-id") == "" {
		t.Errorf("404 %s %v", r.raw, r.header)
	}
	for _, tc := range []struct {
		url    string
		status int
	}{
		{e.ts.URL + "/t/h/v1.0/deviceManagement/configurationPolicies", 400}, // Intune is beta
		{e.graph("h", "deviceManagement/nothing"), 400},
		{e.graph("nobody", "groups"), 401},
		{e.ts.URL + "/t/h/v2/groups", 400},
		{e.ts.URL + "/elsewhere", 404},
	} {
		r := e.do(t, "GET", tc.url, nil)
		if r.status != tc.status || r.header.Get("request-id") == "" {
			t.Errorf("GET %s: %d (request-id %q), want %d", tc.url, r.status, r.header.Get("request-id"), tc.status)
		}
	}
	// Scope tags must exist; new objects default to "0".
	coll := e.graph("h", "deviceManagement/deviceConfigurations")
	mustStatus(t, e.do(t, "POST", coll, map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "A", "roleScopeTagIds": []any{"9"}}), 400)
	r = e.do(t, "POST", coll, map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "A"})
	mustStatus(t, r, 201)
	if !reflect.DeepEqual(r.body["roleScopeTagIds"], []any{"0"}) {
		t.Errorf("roleScopeTagIds %v", r.body["roleScopeTagIds"])
	}
	// Compliance policies need their block action; names are required.
	mustStatus(t, e.do(t, "POST", e.graph("h", "deviceManagement/deviceCompliancePolicies"),
		map[string]any{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "C"}), 400)
	mustStatus(t, e.do(t, "POST", coll, map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration"}), 400)
}

func TestConcurrentWrites(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := e.srv.Tenant("cc")
	ten.SetFaults(graphsim.Faults{WritesPerWindow: -1, RequestsPerWindow: -1})
	coll := e.graph("cc", "deviceManagement/deviceConfigurations")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				r := e.do(t, "POST", coll, map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": fmt.Sprint(w, "-", i)})
				if r.status != 201 {
					t.Errorf("status %d", r.status)
					return
				}
				id := r.body["id"].(string)
				e.do(t, "PATCH", coll+"/"+id, map[string]any{"description": "x"})
				e.do(t, "GET", coll+"?$top=10", nil)
			}
		}()
	}
	wg.Wait()
	if n := len(ten.Objects("deviceConfiguration")); n != 120 {
		t.Fatalf("%d objects, want 120", n)
	}
	if n := len(ten.Writes()); n != 240 {
		t.Fatalf("%d writes, want 240", n)
	}
}
