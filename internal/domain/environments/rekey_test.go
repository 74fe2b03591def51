package environments_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/environments"
)

func TestRekey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustCreate(t, f.validInput("A"))
	b := f.mustCreate(t, f.validInput("B"))
	if _, err := f.svc.Archive(f.owner, b.ID); err != nil {
		t.Fatal(err)
	}
	in := f.validInput("Other")
	in.WorkspaceID = f.other.ID
	c, err := f.svc.Create(f.outsider, in)
	if err != nil {
		t.Fatal(err)
	}
	// A row without credentials (as devseed makes) is left alone.
	f.db.Environment.Create().SetWorkspaceID(f.acme.ID).SetDisplayName("No creds").
		SetAzureTenantID("contoso.onmicrosoft.com").SetKind(environment.KindTEST).
		SetGraphBaseURL(environments.DefaultGraphBaseURL).ExecX(ctx)

	newBox := mustKey(t, 9)
	n, err := environments.Rekey(ctx, f.db.Client, &audit.Recorder{}, f.box, newBox)
	if err != nil {
		t.Fatalf("Rekey: %v", err)
	}
	if n != 3 {
		t.Errorf("Rekey re-encrypted %d secrets, want 3", n)
	}
	for _, id := range []string{a.ID, b.ID, c.ID} {
		env := f.db.Environment.GetX(ctx, id)
		if pt, err := newBox.Open(env.ClientSecretEncrypted, []byte(id)); err != nil || string(pt) != testSecret {
			t.Errorf("%s after Rekey opens with the new key to %q, %v; want the secret", env.DisplayName, pt, err)
		}
		if _, err := f.box.Open(env.ClientSecretEncrypted, []byte(id)); err == nil {
			t.Errorf("%s still opens with the old key", env.DisplayName)
		}
	}
	for ws, want := range map[string]float64{f.acme.ID: 2, f.other.ID: 1} {
		entries := f.auditEntries(t, "secret_key.rotate", ws)
		if len(entries) != 1 || entries[0].Metadata["environments"] != want {
			t.Errorf("secret_key.rotate entries of %s = %v, want one with environments=%v", ws, entries, want)
		}
	}
	assertNoSecret(t, f.db, testSecret)

	// Running it again with the old key as current changes nothing and says
	// the secrets already open with the new key.
	before := f.db.Environment.GetX(ctx, a.ID).ClientSecretEncrypted
	_, err = environments.Rekey(ctx, f.db.Client, &audit.Recorder{}, f.box, newBox)
	if !errors.Is(err, environments.ErrCredentialsUnreadable) || !strings.Contains(err.Error(), "already open with the new key") {
		t.Errorf("second Rekey = %v, want ErrCredentialsUnreadable saying they already open with the new key", err)
	}
	if after := f.db.Environment.GetX(ctx, a.ID).ClientSecretEncrypted; !bytes.Equal(before, after) {
		t.Error("a failed Rekey changed a stored secret")
	}
}

// TestRekeyAllOrNothing: one secret sealed with a foreign key stops the whole
// rotation before anything is written.
func TestRekeyAllOrNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustCreate(t, f.validInput("A"))
	b := f.mustCreate(t, f.validInput("B"))
	foreign, err := mustKey(t, 3).Seal([]byte(testSecret), []byte(b.ID))
	if err != nil {
		t.Fatal(err)
	}
	f.db.Environment.UpdateOneID(b.ID).SetClientSecretEncrypted(foreign).ExecX(ctx)
	before := f.db.Environment.GetX(ctx, a.ID).ClientSecretEncrypted

	_, err = environments.Rekey(ctx, f.db.Client, &audit.Recorder{}, f.box, mustKey(t, 9))
	if !errors.Is(err, environments.ErrCredentialsUnreadable) {
		t.Fatalf("Rekey with an unreadable secret = %v, want ErrCredentialsUnreadable", err)
	}
	if !strings.Contains(err.Error(), `"B"`) || strings.Contains(err.Error(), `"A"`) {
		t.Errorf("error %q should name B (unreadable) and not A", err)
	}
	if after := f.db.Environment.GetX(ctx, a.ID).ClientSecretEncrypted; !bytes.Equal(before, after) {
		t.Error("Rekey re-encrypted A although B could not be opened")
	}
	if n := len(f.auditEntries(t, "secret_key.rotate", f.acme.ID)); n != 0 {
		t.Errorf("%d secret_key.rotate entries after a failed rotation, want 0", n)
	}
}
