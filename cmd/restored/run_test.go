package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRunListAndWatch drives `restored run list` and `restored run watch`
// against a real server: the run is listed, and watch follows it over the
// websocket until it ends, its exit status saying how (here CANCELLED: 4).
func TestRunListAndWatch(t *testing.T) {
	const tok = "rst_run_watch_token"
	env := testEnv(t)
	srv := startServe(t, env, "--dev", "--dev-token", tok, "--addr", "127.0.0.1:0")
	ws, _ := dig(gqlData(t, srv.URL, tok, `{ viewer { workspace { id } } }`, nil), "viewer", "workspace", "id").(string)
	envs := gqlData(t, srv.URL, tok, `query($ws: ID!) { environments(workspaceId: $ws) { edges { node { id displayName } } } }`, map[string]any{"ws": ws})
	ids := map[string]string{}
	for _, e := range dig(envs, "environments", "edges").([]any) {
		n := e.(map[string]any)["node"].(map[string]any)
		ids[n["displayName"].(string)] = n["id"].(string)
	}
	// The dev backups are captured in the background: wait for a ready one.
	var setID string
	for deadline := time.Now().Add(60 * time.Second); setID == ""; {
		sets := gqlData(t, srv.URL, tok, `query($env: ID!) { backupSets(environmentId: $env) { edges { node { id status } } } }`,
			map[string]any{"env": ids["Contoso Production"]})
		for _, e := range dig(sets, "backupSets", "edges").([]any) {
			if n := e.(map[string]any)["node"].(map[string]any); n["status"] == "READY" {
				setID = n["id"].(string)
			}
		}
		if setID == "" && time.Now().After(deadline) {
			t.Fatal("no READY dev backup set")
		}
		time.Sleep(200 * time.Millisecond)
	}
	run := gqlData(t, srv.URL, tok, `mutation($env: ID!, $bs: ID!) { createRestoreRun(input: {environmentId: $env, backupSetId: $bs}) { id } }`,
		map[string]any{"env": ids["Contoso Test"], "bs": setID})
	runID := dig(run, "createRestoreRun", "id").(string)

	cli := map[string]string{"RESTORED_URL": srv.URL, "RESTORED_TOKEN": tok}
	out, _, err := runCmd(t, cli, "run", "list", "--environment", ids["Contoso Test"])
	if err != nil || !strings.Contains(out, runID) || !strings.Contains(out, "DRAFT") {
		t.Fatalf("run list: %v\n%s", err, out)
	}

	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, _, err := runCmd(t, cli, "run", "watch", runID)
		done <- result{out, err}
	}()
	time.Sleep(500 * time.Millisecond) // watching, most likely live by now (a replay would do too)
	gqlData(t, srv.URL, tok, `mutation($id: ID!) { cancelRestoreRun(input: {runId: $id}) { status } }`, map[string]any{"id": runID})
	select {
	case r := <-done:
		var ee *exitError
		if !errors.As(r.err, &ee) || ee.code != exitCancelled {
			t.Fatalf("run watch ended with %v, want exit status %d\n%s", r.err, exitCancelled, r.out)
		}
		if !strings.Contains(r.out, "CANCELLED") {
			t.Errorf("watch output does not show the end:\n%s", r.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run watch did not end with the run")
	}

	// Bad input says what is wrong.
	if _, _, err := runCmd(t, map[string]string{"RESTORED_URL": srv.URL}, "run", "watch", runID); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("watch without a token: %v", err)
	}
	if _, _, err := runCmd(t, cli, "run", "watch", "rr_nope"); err == nil {
		t.Error("watch of an unknown run succeeded")
	}
}
