package apitest

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestRequestIDAndLog: each request gets an id (the caller's plain
// X-Request-Id, or a new one), returned in X-Request-Id and carried by its
// one log line, which names the GraphQL operation and never the token.
func TestRequestIDAndLog(t *testing.T) {
	e := start(t)
	send := func(id string) *response {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"query Who { viewer { role } }","operationName":"Who"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.owner)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		return e.do(req)
	}
	r := send("trace-42.a_b")
	if got := r.Header.Get("X-Request-Id"); got != "trace-42.a_b" {
		t.Fatalf("X-Request-Id %q, want the caller's", got)
	}
	line := ""
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, "request_id=trace-42.a_b") {
			line = l
		}
	}
	for _, want := range []string{`msg="http request"`, "method=POST", "path=/graphql", "status=200", `operation="query Who"`, "graphql_errors=0", "duration_ms="} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %s", line, want)
		}
	}
	if strings.Contains(e.logs.String(), e.owner) {
		t.Error("a token reached the log")
	}
	// An id that is not plain is replaced, never echoed.
	r = send("bad id; <script>")
	if got := r.Header.Get("X-Request-Id"); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(got) {
		t.Fatalf("X-Request-Id %q, want a generated one", got)
	}
	r = send("")
	if got := r.Header.Get("X-Request-Id"); got == "" {
		t.Fatal("no X-Request-Id generated")
	}
}
