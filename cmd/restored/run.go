package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"

	"github.com/restored/restored/internal/platform/config"
)

// exitError ends the process with a chosen status: `run watch` says how the
// run ended through it.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Exit statuses of `restored run watch`.
const (
	exitCompleted = 0
	exitFailed    = 3 // also: the watch itself failed
	exitPartial   = 2
	exitCancelled = 4
)

const runUsage = `usage: restored run <list|watch> [flags]

  run list  --environment ID [--status S] [--first N]   restore runs of an environment, newest first
  run watch RUN_ID                                       follow a run live until it ends

Both talk to a running server: --url (RESTORED_URL, default http://localhost:8080)
with --token (RESTORED_TOKEN). run watch exits 0 when the run COMPLETED, 2 when
it ended PARTIAL, 3 when it FAILED (or the watch could not go on), 4 when it was
CANCELLED.
`

// apiClient calls restored's GraphQL API as a script would.
type apiClient struct {
	base, token string
	http        *http.Client
}

func runCommand(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stdout, runUsage)
		if len(args) == 0 {
			return errors.New("run: want list or watch")
		}
		return nil
	}
	fs := flag.NewFlagSet("run "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", cmp.Or(getenv("RESTORED_URL"), "http://localhost:8080"), "restored's base URL")
	token := fs.String("token", getenv("RESTORED_TOKEN"), "API token (rst_…)")
	envID := fs.String("environment", "", "environment id (run list)")
	status := fs.String("status", "", "only runs in this status (run list)")
	first := fs.Int("first", 20, "how many runs (run list, at most 500)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *token == "" {
		return errors.New("run: no token: pass --token or set RESTORED_TOKEN")
	}
	c := &apiClient{base: strings.TrimRight(*base, "/"), token: *token, http: &http.Client{Timeout: 30 * time.Second}}
	switch args[0] {
	case "list":
		if *envID == "" {
			return errors.New("run list: --environment is required")
		}
		return c.list(ctx, stdout, *envID, *status, *first)
	case "watch":
		if fs.NArg() != 1 {
			return errors.New("run watch: want exactly one RUN_ID")
		}
		return c.watch(ctx, stdout, fs.Arg(0))
	default:
		fmt.Fprint(stderr, runUsage)
		return fmt.Errorf("unknown run command %q", args[0])
	}
}

// gqlError is an error of a GraphQL response.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) String() string {
	if code, _ := e.Extensions["code"].(string); code != "" {
		return code + ": " + e.Message
	}
	return e.Message
}

// query posts one GraphQL request and decodes its data into out.
func (c *apiClient) query(ctx context.Context, q string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(&r); err != nil {
		return fmt.Errorf("%s answered %d without a GraphQL response", c.base, res.StatusCode)
	}
	if len(r.Errors) > 0 {
		return errors.New(r.Errors[0].String())
	}
	return json.Unmarshal(r.Data, out)
}

func (c *apiClient) list(ctx context.Context, stdout io.Writer, envID, status string, first int) error {
	vars := map[string]any{"env": envID, "first": first}
	if status != "" {
		vars["status"] = strings.ToUpper(status)
	}
	var d struct {
		RestoreRuns struct {
			Edges []struct {
				Node struct {
					ID, Status, CreatedAt string
					BackupSet             struct{ Name string }
					Counts                itemCounts
				}
			}
		}
	}
	err := c.query(ctx, `query($env: ID!, $status: RestoreRunStatus, $first: Int) {
		restoreRuns(environmentId: $env, status: $status, first: $first) { edges { node {
			id status createdAt backupSet { name } counts { PENDING APPLYING SUCCEEDED FAILED SKIPPED total } } } } }`, vars, &d)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "RUN\tSTATUS\tCREATED\tBACKUP SET\tDONE/TOTAL\tFAILED")
	for _, e := range d.RestoreRuns.Edges {
		n := e.Node
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d/%d\t%d\n", n.ID, n.Status, n.CreatedAt, n.BackupSet.Name, n.Counts.done(), n.Counts.Total, n.Counts.FAILED)
	}
	return w.Flush()
}

type itemCounts struct {
	PENDING, APPLYING, SUCCEEDED, FAILED, SKIPPED, Total int
}

func (c itemCounts) done() int { return c.SUCCEEDED + c.FAILED + c.SKIPPED }

// bar draws counts as a 30-character progress bar with the tallies.
func (c itemCounts) bar() string {
	const width = 30
	filled := 0
	if c.Total > 0 {
		filled = width * c.done() / c.Total
	}
	return fmt.Sprintf("[%s%s] %d/%d  ok %d  failed %d  skipped %d", strings.Repeat("#", filled),
		strings.Repeat(".", width-filled), c.done(), c.Total, c.SUCCEEDED, c.FAILED, c.SKIPPED)
}

// runEvent is one restoreRunEvents message.
type runEvent struct {
	Sequence int
	Kind     string
	Status   string
	Action   *string
	Item     *struct {
		DisplayName, PolicyType, Status string
		ErrorCode, ErrorMessage         *string
	}
	Counts *itemCounts
}

// terminal maps a run's final status to the exit status of watch.
var terminal = map[string]int{"COMPLETED": exitCompleted, "PARTIAL": exitPartial, "FAILED": exitFailed, "CANCELLED": exitCancelled}

// watch follows a run: its state now, then every event (restoreRunEvents
// over graphql-transport-ws) with a progress line and one line per failed
// item, until the run ends.
func (c *apiClient) watch(ctx context.Context, stdout io.Writer, runID string) error {
	var d struct {
		RestoreRun struct {
			Status string
			Counts itemCounts
		}
	}
	if err := c.query(ctx, `query($id: ID!) { restoreRun(id: $id) { status counts { PENDING APPLYING SUCCEEDED FAILED SKIPPED total } } }`,
		map[string]any{"id": runID}, &d); err != nil {
		return &exitError{exitFailed, "run watch: " + err.Error()}
	}
	fmt.Fprintf(stdout, "run %s: %s %s\n", runID, d.RestoreRun.Status, d.RestoreRun.Counts.bar())
	if code, done := terminal[d.RestoreRun.Status]; done {
		return endWatch(code, d.RestoreRun.Status)
	}
	u, err := url.Parse(c.base + "/graphql")
	if err != nil {
		return err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	dialer := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 15 * time.Second}
	conn, _, err := dialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		return &exitError{exitFailed, "run watch: " + err.Error()}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	send := func(v any) error { return conn.WriteJSON(v) }
	if err := send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + c.token}}); err != nil {
		return err
	}
	err = send(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
		"query": `subscription($id: ID!) { restoreRunEvents(runId: $id) { sequence kind status action
			item { displayName policyType status errorCode errorMessage }
			counts { PENDING APPLYING SUCCEEDED FAILED SKIPPED total } } }`,
		"variables": map[string]any{"id": runID}}})
	if err != nil {
		return err
	}
	for {
		var m struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			if ctx.Err() != nil {
				return &exitError{exitFailed, "run watch: interrupted"}
			}
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return &exitError{exitFailed, fmt.Sprintf("run watch: the server closed the connection (%d %s)", ce.Code, ce.Text)}
			}
			return &exitError{exitFailed, "run watch: " + err.Error()}
		}
		switch m.Type {
		case "ping":
			_ = send(map[string]any{"type": "pong"})
		case "error":
			var errs []gqlError
			_ = json.Unmarshal(m.Payload, &errs)
			msg := "subscription refused"
			if len(errs) > 0 {
				msg = errs[0].String()
			}
			return &exitError{exitFailed, "run watch: " + msg}
		case "complete":
			return &exitError{exitFailed, "run watch: the server ended the stream before the run ended; run it again to resume"}
		case "next":
			var p struct {
				Data struct {
					RestoreRunEvents runEvent `json:"restoreRunEvents"`
				}
				Errors []gqlError
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
				continue
			}
			ev := p.Data.RestoreRunEvents
			if ev.Item != nil && ev.Item.Status == "FAILED" {
				reason := ""
				if ev.Item.ErrorCode != nil {
					reason = *ev.Item.ErrorCode
				}
				if ev.Item.ErrorMessage != nil {
					reason += ": " + *ev.Item.ErrorMessage
				}
				fmt.Fprintf(stdout, "  failed: %s (%s) %s\n", ev.Item.DisplayName, ev.Item.PolicyType, reason)
			}
			if ev.Counts != nil {
				fmt.Fprintf(stdout, "%s %s\n", ev.Status, ev.Counts.bar())
			} else if ev.Kind == "STEP" {
				fmt.Fprintf(stdout, "%s\n", ev.Status)
			}
			if code, done := terminal[ev.Status]; done {
				return endWatch(code, ev.Status)
			}
		}
	}
}

func endWatch(code int, status string) error {
	if code == exitCompleted {
		return nil
	}
	return &exitError{code, "run ended " + status}
}
