package apitest

import (
	"context"
	"fmt"
	"testing"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupset"
)

// TestLargeBackupSetScope: a backup set of 10,000 items is scoped, listed,
// searched and paged through the API without loading it whole per request
// (pages are bounded; counts come from one aggregate).
func TestLargeBackupSetScope(t *testing.T) {
	e := start(t)
	const n = 10000
	bsID := e.largeSet(n)
	w := &wizard{e: e, t: t, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": e.prodEnvID, "backupSetId": bsID})
	v := w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL"})
	if v.Status != "SCOPED" {
		t.Fatalf("scope %+v", v)
	}
	var d struct {
		RestoreRun struct {
			Items  struct{ TotalCount int }
			Counts map[string]int
		}
		RestoreScopeItems struct {
			Items struct {
				TotalCount int
				Edges      []struct{ Node struct{ DisplayName string } }
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
			}
			Groups []struct{ Count int }
		}
	}
	q := `query($id: ID!, $after: Cursor) {
		restoreRun(id: $id) { items(first: 1) { totalCount } counts { PENDING SUCCEEDED total } }
		restoreScopeItems(runId: $id, search: "policy 09", policyTypes: ["deviceConfiguration"], platforms: ["windows"]) {
			items(first: 100, after: $after) { totalCount edges { node { displayName } } pageInfo { hasNextPage endCursor } }
			groups { count } } }`
	e.post(e.operator, q, map[string]any{"id": w.id}).decode(t, &d)
	if d.RestoreRun.Items.TotalCount != n || d.RestoreRun.Counts["PENDING"] != n || d.RestoreRun.Counts["total"] != n ||
		d.RestoreRun.Counts["SUCCEEDED"] != 0 {
		t.Fatalf("run items %d, counts %v", d.RestoreRun.Items.TotalCount, d.RestoreRun.Counts)
	}
	// "Policy 09xxx", deviceConfiguration (i%4==0) on windows (even): 1000/4 = 250.
	if d.RestoreScopeItems.Items.TotalCount != 250 || len(d.RestoreScopeItems.Items.Edges) != 100 || !d.RestoreScopeItems.Items.PageInfo.HasNextPage {
		t.Fatalf("search: total %d, page %d", d.RestoreScopeItems.Items.TotalCount, len(d.RestoreScopeItems.Items.Edges))
	}
	sum := 0
	for _, g := range d.RestoreScopeItems.Groups {
		sum += g.Count
	}
	if sum != n {
		t.Fatalf("groups count %d items, want %d", sum, n)
	}
	// Paging through the search yields each match once.
	seen := map[string]bool{}
	after := any(nil)
	for {
		e.post(e.operator, q, map[string]any{"id": w.id, "after": after}).decode(t, &d)
		for _, ed := range d.RestoreScopeItems.Items.Edges {
			if seen[ed.Node.DisplayName] {
				t.Fatalf("%s listed twice", ed.Node.DisplayName)
			}
			seen[ed.Node.DisplayName] = true
		}
		if !d.RestoreScopeItems.Items.PageInfo.HasNextPage {
			break
		}
		after = d.RestoreScopeItems.Items.PageInfo.EndCursor
	}
	if len(seen) != 250 {
		t.Fatalf("paged through %d matches, want 250", len(seen))
	}
}

// largeSet stores a READY backup set of n items directly (four types, two
// platforms, names "Policy 00000"…) and returns its id.
func (e *env) largeSet(n int) string {
	e.t.Helper()
	ctx := context.Background()
	c := e.app.DB.Client
	bs := c.BackupSet.Create().SetWorkspaceID(e.wsID).SetEnvironmentID(e.prodEnvID).SetName("huge").
		SetStatus(backupset.StatusREADY).SaveX(ctx)
	types := []string{"deviceConfiguration", "settingsCatalogPolicy", "deviceCompliancePolicy", "deviceManagementScript"}
	for start := 0; start < n; start += 1000 {
		builders := make([]*ent.BackupItemCreate, 0, 1000)
		for i := start; i < min(start+1000, n); i++ {
			builders = append(builders, c.BackupItem.Create().SetWorkspaceID(e.wsID).SetBackupSetID(bs.ID).
				SetPolicyType(types[i%len(types)]).SetPlatform([]string{"windows", "macOS"}[i%2]).
				SetSourceGraphID(fmt.Sprintf("g-%05d", i)).SetDisplayName(fmt.Sprintf("Policy %05d", i)).
				SetPayload(map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration"}).SetContentHash("h"))
		}
		c.BackupItem.CreateBulk(builders...).ExecX(ctx)
	}
	return bs.ID
}
