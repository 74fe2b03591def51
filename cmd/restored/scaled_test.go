package main

import (
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/restored/restored/internal/testenv"
)

// TestScaledOut runs restored as production does: two API processes
// without workers and two workers, sharing the database and Redis. A
// subscriber on one API sees, live, a job started through the other API
// and run by one of the workers.
func TestScaledOut(t *testing.T) {
	env := testEnv(t)
	if env["RESTORED_REDIS_URL"] == "" {
		// Locally: one in-process Redis shared by every process of the test.
		env["RESTORED_REDIS_URL"] = testenv.RedisConn(t).URL
	}
	env["RESTORED_SECRET_KEY"] = hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	caFile := t.TempDir() + "/graphsim-ca.pem"
	simListening := regexp.MustCompile(`(?m)^graphsim listening on (https://\S+) `)
	sim := startCmd(t, nil, []string{"graphsim", "--addr", "127.0.0.1:0", "--tenants", "scaled", "--policies", "6", "--ca-out", caFile},
		func(stdout, _ string) bool { return strings.Contains(stdout, "point restored at it") })
	simURL := simListening.FindStringSubmatch(sim.Stdout.String())[1]
	trust := []string{"--graphsim-url", simURL, "--graphsim-ca-file", caFile}

	if _, stderr, err := runCmd(t, env, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	token, _, err := runCmd(t, env, "token", "create", "--workspace", "scaled", "--email", "owner@scaled.test", "--role", "owner")
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(token)
	apiA := startServe(t, env, append([]string{"--worker=false", "--addr", "127.0.0.1:0"}, trust...)...)
	apiB := startServe(t, env, append([]string{"--worker=false", "--addr", "127.0.0.1:0"}, trust...)...)
	var workers []*server
	for range 2 {
		workers = append(workers, startCmd(t, env, append([]string{"worker"}, trust...), func(_, stderr string) bool {
			return strings.Contains(stderr, "worker started")
		}))
	}

	wsID := dig(gqlData(t, apiA.URL, token, `{ viewer { workspace { id } } }`, nil), "viewer", "workspace", "id").(string)
	// The subscriber is on API B.
	conn, _, err := (&websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}).Dial("ws"+strings.TrimPrefix(apiB.URL, "http")+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	var ack struct{ Type string }
	if err := conn.ReadJSON(&ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %v %v", ack, err)
	}
	_ = conn.WriteJSON(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
		"query":     `subscription($ws: ID!) { operationRunUpdated(workspaceId: $ws) { id type status outcome } }`,
		"variables": map[string]any{"ws": wsID}}})
	time.Sleep(300 * time.Millisecond) // the subscription goes live

	// Everything else goes through API A; the jobs run on the workers.
	created := gqlData(t, apiA.URL, token, `mutation($in: CreateEnvironmentInput!) { createEnvironment(input: $in) { id } }`,
		map[string]any{"in": map[string]any{
			"workspaceId": wsID, "displayName": "Scaled", "kind": "TEST", "azureTenantId": "scaled",
			"clientId": "sim-client-scaled", "clientSecret": "sim-secret-scaled",
			"graphBaseUrl": strings.TrimSuffix(simURL, "/") + "/t/scaled/beta",
		}})
	envID := dig(created, "createEnvironment", "id").(string)
	op := gqlData(t, apiA.URL, token, `mutation($env: ID!) { createBackupSet(input: {environmentId: $env, name: "scaled", all: true, includeFoundations: true}) { id } }`,
		map[string]any{"env": envID})
	runID := dig(op, "createBackupSet", "id").(string)

	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	var statuses []string
	for {
		var m struct {
			Type    string
			Payload struct {
				Data struct {
					OperationRunUpdated struct{ ID, Type, Status, Outcome string }
				}
			}
		}
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatalf("API B's subscriber saw %v of run %s, then: %v", statuses, runID, err)
		}
		r := m.Payload.Data.OperationRunUpdated
		if m.Type != "next" || r.ID != runID {
			continue
		}
		statuses = append(statuses, r.Status)
		if r.Status == "COMPLETED" {
			if r.Outcome != "SUCCEEDED" {
				t.Fatalf("capture ended %s", r.Outcome)
			}
			break
		}
	}
	if statuses[0] == "COMPLETED" {
		t.Errorf("API B's subscriber saw only the end %v, not the run going", statuses)
	}
	// The worker logs the job's end just after completing the run.
	ranOn := 0
	for deadline := time.Now().Add(10 * time.Second); ranOn == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ranOn = 0
		for _, w := range workers {
			for _, l := range strings.Split(w.Stderr.String(), "\n") {
				if strings.Contains(l, "job finished") && strings.Contains(l, runID) {
					ranOn++
					if !strings.Contains(l, "tenant=scaled") || !strings.Contains(l, "outcome=SUCCEEDED") {
						t.Errorf("the job's log line does not say its tenant and outcome: %s", l)
					}
				}
			}
		}
	}
	if ranOn != 1 {
		t.Errorf("run %s finished on %d workers, want exactly 1", runID, ranOn)
	}
	for _, api := range []*server{apiA, apiB} {
		if strings.Contains(api.Stderr.String(), "job started") {
			t.Error("an API process without a worker ran a job")
		}
	}
}
