package apitest

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/config"
)

// TestMetrics: /metrics (no token, Prometheus text) counts GraphQL
// operations by name, jobs by type and outcome, Graph requests by status,
// live subscriptions and the queues' depth.
func TestMetrics(t *testing.T) {
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "metrics", graphsim.GenOptions{Seed: 3, Policies: 5})
	e.backupOf(envRow.ID, "for metrics") // a capture job: Graph requests and a finished job
	if r := e.post(e.owner, `query Who { viewer { role } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	e.post(e.owner, `query Broken { viewer { nope } }`, nil)
	c := e.dial("graphql-transport-ws", map[string]any{"Authorization": "Bearer " + e.owner})
	if m := c.next(5 * time.Second); m.Type != "connection_ack" {
		t.Fatalf("got %+v", m)
	}
	c.subscribe("1", `subscription($ws: ID!) { auditLogAdded(workspaceId: $ws) { id } }`, map[string]any{"ws": e.wsID})

	want := []string{
		`restored_graphql_operations_total{operation="Who",result="ok",type="query"} 1`,
		`restored_graphql_operation_duration_seconds_count{operation="Who",type="query"} 1`,
		`restored_jobs_total{outcome="SUCCEEDED",type="backup_set.capture"} 1`,
		`restored_live_subscriptions 1`,
		`restored_queue_tasks{queue=`,
		`go_goroutines`,
	}
	var body string
	deadline := time.Now().Add(10 * time.Second) // the subscription registers asynchronously
	for {
		body = e.scrapeMetrics(t)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s:\n%s", missing, grepLines(body, "restored_"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !regexp.MustCompile(`restored_graph_requests_total\{method="GET",status="200"\} [1-9]`).MatchString(body) {
		t.Errorf("no successful Graph GET counted:\n%s", grepLines(body, "restored_graph"))
	}
	if !regexp.MustCompile(`restored_graphql_operations_total\{operation="(Broken|anonymous)",result="error",type="(query|unknown)"\} 1`).MatchString(body) {
		t.Errorf("the failed operation is not counted as an error:\n%s", grepLines(body, "restored_graphql_operations"))
	}
	if strings.Contains(body, e.owner) {
		t.Error("a token reached /metrics")
	}

	// The capture's operation run says what it cost in Graph requests: at
	// least one list per type plus one GET per object of the GET-each types.
	var d struct {
		OperationRuns struct {
			Edges []struct {
				Node struct {
					Summary struct{ GraphRequests, Captured int }
				}
			}
		}
	}
	e.post(e.owner, `query($ws: ID!) { operationRuns(workspaceId: $ws, type: "backup_set.capture") { edges { node { summary { graphRequests captured } } } } }`,
		map[string]any{"ws": e.wsID}).decode(t, &d)
	if len(d.OperationRuns.Edges) != 1 {
		t.Fatalf("capture runs: %+v", d)
	}
	if sm := d.OperationRuns.Edges[0].Node.Summary; sm.GraphRequests < 2 || sm.Captured == 0 {
		t.Errorf("capture summary %+v: want its Graph requests counted", sm)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsToken: with --metrics-token, /metrics answers 401 without that
// bearer token (an API token is not it) and the metrics with it.
func TestMetricsToken(t *testing.T) {
	e := start(t, func(c *config.Config) { c.MetricsToken = "scrape-secret" })
	get := func(auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, auth := range []string{"", "Bearer " + e.owner, "Bearer scrape-secre", "scrape-secret"} {
		if code, body := get(auth); code != http.StatusUnauthorized || strings.Contains(body, "go_goroutines") || !strings.Contains(body, "UNAUTHENTICATED") {
			t.Errorf("Authorization %q: %d %s", auth, code, body)
		}
	}
	if code, body := get("Bearer scrape-secret"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("with the metrics token: %d %.200s", code, body)
	}
}

// scrapeMetrics returns /metrics as Prometheus text, failing unless it
// answers 200.
func (e *env) scrapeMetrics(t testing.TB) string {
	t.Helper()
	res, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", res.StatusCode, b)
	}
	return string(b)
}

// counters reads a counter with one label from /metrics, by that label's
// value.
func (e *env) counters(t testing.TB, name, label string) map[string]float64 {
	t.Helper()
	format := name + "{" + label + "=%q} %g"
	out := map[string]float64{}
	for _, line := range strings.Split(e.scrapeMetrics(t), "\n") {
		var value string
		var v float64
		if _, err := fmt.Sscanf(line, format, &value, &v); err == nil {
			out[value] = v
		}
	}
	return out
}
