package apitest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/restored/restored/internal/platform/config"
)

// TestGraphQLOverHTTP checks the GraphQL-over-HTTP behaviours clients rely on.
func TestGraphQLOverHTTP(t *testing.T) {
	e := start(t)
	get := func(q string, accept string) *response {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?query="+url.QueryEscape(q), nil)
		req.Header.Set("Authorization", "Bearer "+e.owner)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		return e.do(req)
	}

	t.Run("GET query", func(t *testing.T) {
		r := get(`{ viewer { role } }`, "")
		var d struct{ Viewer struct{ Role string } }
		r.decode(t, &d)
		if r.Status != 200 || d.Viewer.Role != "OWNER" {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
	})
	t.Run("GET refuses mutations", func(t *testing.T) {
		r := get(`mutation { revokeApiToken(id: "tok_x") { id } }`, "")
		if r.Status == 200 && len(r.Errors) == 0 {
			t.Fatalf("mutation over GET was accepted: %s", r.Raw)
		}
		if r.Status != http.StatusMethodNotAllowed && r.Status != http.StatusNotAcceptable && r.Status != http.StatusBadRequest {
			t.Errorf("status %d, want a 4xx refusal", r.Status)
		}
	})
	t.Run("graphql-response+json", func(t *testing.T) {
		body := `{"query":"{ viewer { role } }"}`
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/graphql-response+json")
		req.Header.Set("Authorization", "Bearer "+e.owner)
		r := e.do(req)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/graphql-response+json") {
			t.Errorf("content type %q", ct)
		}
		req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.owner)
		r = e.do(req)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("content type %q", ct)
		}
	})
	t.Run("GraphQL-over-HTTP request errors", func(t *testing.T) {
		send := func(accept, contentType, body string) *response {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(body))
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			req.Header.Set("Authorization", "Bearer "+e.owner)
			return e.do(req)
		}
		for _, tc := range []struct {
			name, accept, contentType, body string
			status                          int
			noData                          bool
		}{
			{"parse failure, json", "application/json", "application/json", `{"query":"{ viewer { "}`, 200, false},
			{"validation failure, json", "application/json", "application/json", `{"query":"{ viewer { nope } }"}`, 200, false},
			{"validation failure, no accept", "", "application/json", `{"query":"{ viewer { nope } }"}`, 200, false},
			{"parse failure, graphql-response", "application/graphql-response+json", "application/json", `{"query":"{ viewer { "}`, 400, true},
			{"validation failure, graphql-response", "application/graphql-response+json", "application/json", `{"query":"{ viewer { nope } }"}`, 400, true},
			{"bad variables, graphql-response", "application/graphql-response+json", "application/json", `{"query":"query($n: Int!) { viewer { role } }","variables":{"n":"x"}}`, 400, true},
			{"JSON parse failure, graphql-response", "application/graphql-response+json", "application/json", `{"query":`, 400, true},
			{"no content type", "", "", `{"query":"{ viewer { role } }"}`, 0, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := send(tc.accept, tc.contentType, tc.body)
				if tc.status != 0 && r.Status != tc.status {
					t.Errorf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
				}
				if len(r.Errors) == 0 || r.code() == "" {
					t.Fatalf("no error with extensions.code: %d %s", r.Status, r.Raw)
				}
				if tc.noData && strings.Contains(r.Raw, `"data"`) {
					t.Errorf("a request error carries a data entry: %s", r.Raw)
				}
			})
		}
		r := get(`mutation { revokeApiToken(id: "tok_x") { id } }`, "")
		if r.code() != "BAD_USER_INPUT" {
			t.Errorf("mutation over GET: no extensions.code: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("validation error", func(t *testing.T) {
		r := e.post(e.owner, `{ viewer { nope } }`, nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "GRAPHQL_VALIDATION_FAILED" || (r.Data != nil && string(r.Data) != "null") {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		r := e.post(e.owner, `{ viewer { `, nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "GRAPHQL_PARSE_FAILED" {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
	})
	t.Run("invalid JSON is not echoed", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query": "clientSecret=hunter2`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.owner)
		r := e.do(req)
		if r.Status != http.StatusBadRequest || r.code() != "BAD_USER_INPUT" || strings.Contains(r.Raw, "hunter2") {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
	})
	t.Run("page size bound", func(t *testing.T) {
		r := e.post(e.owner, `query($ws: ID!) { environments(workspaceId: $ws, first: 100000) { totalCount } }`, map[string]any{"ws": e.wsID})
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "first" {
			t.Fatalf("got %s", r.Raw)
		}
	})
	t.Run("unreadable cursor", func(t *testing.T) {
		// Inline and through a variable: both are the client's input.
		for _, r := range []*response{
			e.post(e.owner, `query($ws: ID!) { environments(workspaceId: $ws, first: 5, after: "not-a-cursor!") { totalCount } }`, map[string]any{"ws": e.wsID}),
			e.post(e.owner, `query($ws: ID!, $c: Cursor) { environments(workspaceId: $ws, first: 5, after: $c) { totalCount } }`, map[string]any{"ws": e.wsID, "c": "AAAA"}),
		} {
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "after" || strings.Contains(r.Raw, "msgpack") {
				t.Errorf("got %s", r.Raw)
			}
		}
	})
	t.Run("unknown node", func(t *testing.T) {
		for _, id := range []string{"env_00000000000000000000000000", "garbage"} {
			r := e.post(e.owner, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
			if r.code() != "NOT_FOUND" {
				t.Errorf("%s: got %s", id, r.Raw)
			}
		}
	})
	t.Run("GraphiQL and health need no token", func(t *testing.T) {
		for path, want := range map[string]string{"/": "graphiql", "/healthz": `"ok"`, "/readyz": `"database":"ok"`} {
			res, err := http.Get(e.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !strings.Contains(strings.ToLower(b.String()), strings.ToLower(want)) {
				t.Errorf("%s: %d %.200s", path, res.StatusCode, b.String())
			}
		}
	})
}

// TestLimits checks that each configured limit answers with a clear error.
func TestLimits(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.MaxBodyBytes = 2048
		c.MaxDepth = 3
		c.MaxComplexity = 150
	})
	t.Run("body size", func(t *testing.T) {
		q := `{ viewer { role } }` + strings.Repeat(" ", 4096)
		r := e.post(e.owner, q, nil)
		if r.Status != http.StatusRequestEntityTooLarge || r.code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "2048") {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
	})
	t.Run("depth", func(t *testing.T) {
		r := e.post(e.owner, `{ viewer { memberships { workspace { id } } } }`, nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "DEPTH_LIMIT_EXCEEDED" {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
		// Through a fragment too.
		r = e.post(e.owner, `{ viewer { ...M } } fragment M on Viewer { memberships { workspace { id } } }`, nil)
		if r.code() != "BAD_USER_INPUT" {
			t.Fatalf("fragment: got %d %s", r.Status, r.Raw)
		}
		// At the limit is fine, and introspection is not counted.
		r = e.post(e.owner, `{ viewer { workspace { id } } __schema { types { fields { type { ofType { name } } } } } }`, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("within limit: %s", r.Raw)
		}
	})
	t.Run("complexity", func(t *testing.T) {
		q := "{"
		for i := range 55 {
			q += fmt.Sprintf(" v%d: viewer { role capabilities }", i)
		}
		r := e.post(e.owner, q+" }", nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
	})
	t.Run("complexity counts list sizes", func(t *testing.T) {
		// A page costs its size times its fields: 1 + 10×4 is over 40,
		// 1 + 5×4 is not, and a list without first is costed as a page of 50.
		e := start(t, func(c *config.Config) { c.MaxComplexity = 40 })
		for q, refused := range map[string]bool{
			`{ workspaces(first: 10) { edges { node { id name } } } }`:                                                          true,
			`{ workspaces(last: 10) { edges { node { id name } } } }`:                                                           true,
			`{ workspaces { edges { node { id name } } } }`:                                                                     true,
			`{ workspaces(first: 5) { edges { node { id name } } } }`:                                                           false,
			`{ a: workspaces(first: 5) { edges { node { id name } } } b: workspaces(first: 5) { edges { node { id name } } } }`: true,
		} {
			r := e.post(e.owner, q, nil)
			got := len(r.Errors) > 0 && r.Errors[0].Extensions["reason"] == "COMPLEXITY_LIMIT_EXCEEDED"
			if got != refused || (!refused && len(r.Errors) > 0) {
				t.Errorf("%s: refused=%v, want %v: %s", q, got, refused, r.Raw)
			}
		}
	})
	t.Run("response size", func(t *testing.T) {
		small := start(t, func(c *config.Config) { c.MaxResponseBytes = 64 })
		r := small.post(small.owner, `{ viewer { role capabilities } }`, nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "RESPONSE_TOO_LARGE" ||
			!strings.Contains(r.Errors[0].Message, "limit of 64") || strings.Contains(r.Raw, "capabilities") {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
		if r := small.post(small.owner, `{ viewer { role } }`, nil); len(r.Errors) > 0 {
			t.Fatalf("small response refused: %s", r.Raw)
		}
	})
}
