package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/environments"
	"github.com/restored/restored/internal/platform/secrets"
	"github.com/restored/restored/internal/store"
)

// Keys of the rotation tests, as configured (hex) and as boxes.
var (
	oldKeyHex = strings.Repeat("11", 32)
	newKeyHex = strings.Repeat("22", 32)
)

func mustBox(tb testing.TB, keyHex string) *secrets.Box {
	tb.Helper()
	key, err := hex.DecodeString(keyHex)
	if err != nil {
		tb.Fatal(err)
	}
	box, err := secrets.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	return box
}

// seedEnvironments migrates the database of env and creates, with the old
// key, the named environments in a new workspace, returning them by name.
func seedEnvironments(tb testing.TB, env map[string]string, names ...string) (*store.DB, map[string]*ent.Environment) {
	tb.Helper()
	if _, stderr, err := runCmd(tb, env, "migrate"); err != nil {
		tb.Fatalf("migrate: %v\nstderr: %s", err, stderr)
	}
	ctx := context.Background()
	db := mustOpenDB(tb, env)
	ws := db.Workspace.Create().SetSlug("acme").SetName("Acme").SaveX(ctx)
	u := db.User.Create().SetEmail("owner@acme.test").SaveX(ctx)
	db.Membership.Create().SetWorkspaceID(ws.ID).SetUserID(u.ID).SetRole(access.Owner).ExecX(ctx)
	owner := auth.WithViewer(ctx, &auth.Viewer{User: u, WorkspaceID: ws.ID, Role: access.Owner})
	svc := &environments.Service{Client: db.Client, Secrets: mustBox(tb, oldKeyHex), Audit: &audit.Recorder{}}
	out := map[string]*ent.Environment{}
	for _, name := range names {
		e, err := svc.Create(owner, environments.CreateInput{
			WorkspaceID: ws.ID, DisplayName: name, Kind: environment.KindTEST,
			AzureTenantID: "contoso.onmicrosoft.com", ClientID: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
			ClientSecret: "secret-of-" + name,
		})
		if err != nil {
			tb.Fatalf("create environment %q: %v", name, err)
		}
		out[name] = e
	}
	return db, out
}

// opensWith reports whether env's stored secret opens with keyHex to its
// original value.
func opensWith(tb testing.TB, db *store.DB, e *ent.Environment, keyHex string) bool {
	tb.Helper()
	stored := db.Environment.GetX(context.Background(), e.ID)
	pt, err := mustBox(tb, keyHex).Open(stored.ClientSecretEncrypted, []byte(e.ID))
	return err == nil && string(pt) == "secret-of-"+e.DisplayName
}

func TestKeysRotate(t *testing.T) {
	env := testEnv(t)
	env["RESTORED_SECRET_KEY"] = oldKeyHex
	db, envs := seedEnvironments(t, env, "Contoso", "Fabrikam")

	stdout, stderr, err := runCmd(t, env, "keys", "rotate", "--new-key", newKeyHex)
	if err != nil {
		t.Fatalf("keys rotate: %v\nstderr: %s", err, stderr)
	}
	if !strings.Contains(stdout, "re-encrypted 2 environment client secret(s)") || !strings.Contains(stdout, "set RESTORED_SECRET_KEY") {
		t.Errorf("keys rotate printed %q; want the count and the instruction to set RESTORED_SECRET_KEY", stdout)
	}
	if strings.Contains(stdout+stderr, newKeyHex) || strings.Contains(stdout+stderr, oldKeyHex) {
		t.Error("keys rotate printed a key")
	}
	for _, e := range envs {
		if !opensWith(t, db, e, newKeyHex) || opensWith(t, db, e, oldKeyHex) {
			t.Errorf("%s after rotation: want it to open with the new key only", e.DisplayName)
		}
	}

	// Again with the old key configured: refused, nothing changes, and the
	// operator is told the rotation already happened.
	_, _, err = runCmd(t, env, "keys", "rotate", "--new-key", newKeyHex)
	if err == nil || !strings.Contains(err.Error(), "already open with the new key") {
		t.Errorf("second rotation with the old key = %v; want an error saying the secrets already open with the new key", err)
	}
	for _, e := range envs {
		if !opensWith(t, db, e, newKeyHex) {
			t.Errorf("%s no longer opens with the new key after a refused rotation", e.DisplayName)
		}
	}

	// Back again, the new key given through RESTORED_NEW_SECRET_KEY.
	env["RESTORED_SECRET_KEY"] = newKeyHex
	env["RESTORED_NEW_SECRET_KEY"] = oldKeyHex
	if stdout, stderr, err := runCmd(t, env, "keys", "rotate"); err != nil || !strings.Contains(stdout, "re-encrypted 2 ") {
		t.Fatalf("keys rotate back = %q, %v\nstderr: %s", stdout, err, stderr)
	}
	for _, e := range envs {
		if !opensWith(t, db, e, oldKeyHex) {
			t.Errorf("%s does not open with the old key after rotating back", e.DisplayName)
		}
	}
}

// TestKeysRotateAllOrNothing: one secret that does not open with the current
// key stops the rotation before any secret is written.
func TestKeysRotateAllOrNothing(t *testing.T) {
	env := testEnv(t)
	env["RESTORED_SECRET_KEY"] = oldKeyHex
	db, envs := seedEnvironments(t, env, "Good", "Bad")
	ctx := context.Background()
	foreign, err := mustBox(t, strings.Repeat("33", 32)).Seal([]byte("secret-of-Bad"), []byte(envs["Bad"].ID))
	if err != nil {
		t.Fatal(err)
	}
	db.Environment.UpdateOneID(envs["Bad"].ID).SetClientSecretEncrypted(foreign).ExecX(ctx)
	before := db.Environment.GetX(ctx, envs["Good"].ID).ClientSecretEncrypted

	stdout, _, err := runCmd(t, env, "keys", "rotate", "--new-key", newKeyHex)
	if err == nil || !strings.Contains(err.Error(), `"Bad"`) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("rotation with an unreadable secret = %v (stdout %q); want an error naming Bad and saying nothing changed", err, stdout)
	}
	if after := db.Environment.GetX(ctx, envs["Good"].ID).ClientSecretEncrypted; !bytes.Equal(before, after) {
		t.Error("the readable secret was re-encrypted although the rotation failed")
	}
}

func TestKeysRotateErrors(t *testing.T) {
	env := testEnv(t)
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		wantIn string
	}{
		{"no subcommand", nil, []string{"keys"}, `want "keys rotate`},
		{"unknown subcommand", nil, []string{"keys", "list"}, `want "keys rotate`},
		{"no current key", nil, []string{"keys", "rotate", "--new-key", newKeyHex}, "needs the current key"},
		{"no new key", map[string]string{"RESTORED_SECRET_KEY": oldKeyHex}, []string{"keys", "rotate"}, "needs --new-key"},
		{"short new key", map[string]string{"RESTORED_SECRET_KEY": oldKeyHex}, []string{"keys", "rotate", "--new-key", "abcd"}, "64 hex characters"},
		{"new key not hex", map[string]string{"RESTORED_SECRET_KEY": oldKeyHex}, []string{"keys", "rotate", "--new-key", strings.Repeat("zz", 32)}, "64 hex characters"},
		{"same key", map[string]string{"RESTORED_SECRET_KEY": oldKeyHex}, []string{"keys", "rotate", "--new-key", strings.ToUpper(oldKeyHex)}, "is the current key"},
		{"bad current key", map[string]string{"RESTORED_SECRET_KEY": "1234"}, []string{"keys", "rotate", "--new-key", newKeyHex}, "secret key must be 64 hex characters"},
		{"unmigrated database", map[string]string{"RESTORED_SECRET_KEY": oldKeyHex}, []string{"keys", "rotate", "--new-key", newKeyHex}, "restored migrate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			for k, v := range tt.env {
				e[k] = v
			}
			stdout, stderr, err := runCmd(t, e, tt.args...)
			if err == nil {
				t.Fatalf("%v succeeded, printing %q; want an error", tt.args, stdout)
			}
			if !strings.Contains(err.Error(), tt.wantIn) && !strings.Contains(stderr, tt.wantIn) {
				t.Errorf("%v: error %q (stderr %q) does not mention %q", tt.args, err, stderr, tt.wantIn)
			}
		})
	}
}
