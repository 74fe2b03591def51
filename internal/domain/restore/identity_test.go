package restore

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/internal/testenv"
)

// TestIdentityMap: what a run remembers is found by the next run between
// the same two tenants (and type), moves when restored onto another
// object, and is none of another tenant pair's business.
func TestIdentityMap(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	ws := db.Workspace.Create().SetSlug("acme").SetName("Acme").SaveX(ctx)
	newEnv := func(tenant string) string {
		return db.Environment.Create().SetWorkspaceID(ws.ID).SetDisplayName(tenant).SetKind(environment.KindTEST).
			SetAzureTenantID(tenant).SetGraphBaseURL("https://graph.invalid").SaveX(ctx).ID
	}
	src, dst := newEnv("template.onmicrosoft.com"), newEnv("customer.onmicrosoft.com")
	bs := db.BackupSet.Create().SetWorkspaceID(ws.ID).SetEnvironmentID(src).SetName("b").SetStatus(backupset.StatusREADY).SaveX(ctx)
	run := db.RestoreRun.Create().SetWorkspaceID(ws.ID).SetEnvironmentID(dst).SetBackupSetID(bs.ID).
		SetEnvironmentBadge("TEST").SetTenantLabel("customer").SaveX(ctx)

	tt, err := runTenants(ctx, db.Client, run)
	if err != nil {
		t.Fatal(err)
	}
	if want := (tenants{source: "template.onmicrosoft.com", target: "customer.onmicrosoft.com"}); tt != want {
		t.Fatalf("tenants %+v, want %+v", tt, want)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rememberIdentity(ctx, db.Client, run, tt, "deviceConfiguration", "s1", "t1"))
	must(rememberIdentity(ctx, db.Client, run, tt, "deviceConfiguration", "s2", "t2"))
	must(rememberIdentity(ctx, db.Client, run, tt, "roleScopeTag", "s1", "tag9"))
	// Restored onto another object later: the map moves.
	must(rememberIdentity(ctx, db.Client, run, tt, "deviceConfiguration", "s2", "t3"))
	// Another tenant pair.
	must(rememberIdentity(ctx, db.Client, run, tenants{source: "other", target: tt.target}, "deviceConfiguration", "s1", "x"))

	got, err := identities(ctx, db.Client, ws.ID, tt, "deviceConfiguration")
	must(err)
	if diff := cmp.Diff(map[string]string{"s1": "t1", "s2": "t3"}, got); diff != "" {
		t.Errorf("identities (-want +got):\n%s", diff)
	}
	got, err = identities(ctx, db.Client, ws.ID, tenants{source: tt.target, target: tt.source}, "deviceConfiguration")
	must(err)
	if len(got) != 0 {
		t.Errorf("the reverse direction remembers %v", got)
	}
}
