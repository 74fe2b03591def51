package apitest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/restored/restored/ent/backupset"
)

// TestBackupItemPagesFromMemory: a page of a backup set's items asked again
// is answered from memory, byte for byte, until the set gains an item; the
// role is part of what is kept, another workspace is refused as before, a
// page that selects the item's set is never kept, and items cannot be
// changed behind the cache's back.
func TestBackupItemPagesFromMemory(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	db := e.app.DB.Client
	set := e.largeSet(30)
	const q = `query($id: ID!) { backupItems(backupSetId: $id, first: 5) { totalCount edges { node { id displayName policyType } } pageInfo { hasNextPage } } }`
	vars := map[string]any{"id": set}

	before := e.counters(t, "restored_page_cache_requests_total", "result")
	first := e.post(e.owner, q, vars)
	again := e.post(e.owner, q, vars)
	if len(first.Errors) > 0 || again.Raw != first.Raw || !strings.Contains(first.Raw, `"totalCount":30`) {
		t.Fatalf("first %s\nagain %s", first.Raw, again.Raw)
	}
	if got := e.counters(t, "restored_page_cache_requests_total", "result"); got["miss"]-before["miss"] != 1 || got["hit"]-before["hit"] != 1 {
		t.Fatalf("page cache %v → %v, want one miss then one hit", before, got)
	}

	// A new item (a capture, a run recording what it created) moves the
	// set's version: the next request reads the set again.
	db.BackupItem.Create().SetWorkspaceID(e.wsID).SetBackupSetID(set).SetPolicyType("deviceConfiguration").
		SetPlatform("windows").SetSourceGraphID("g-new").SetDisplayName("Policy 00000 new").
		SetPayload(map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration"}).SetContentHash("h").
		ExecX(ctx)
	if v := db.BackupSet.Query().Where(backupset.ID(set)).OnlyX(ctx).ItemsVersion; v != 31 {
		t.Errorf("items_version %d after 31 items, want 31", v)
	}
	after := e.post(e.owner, q, vars)
	if !strings.Contains(after.Raw, `"totalCount":31`) || !strings.Contains(after.Raw, "Policy 00000 new") {
		t.Fatalf("after a new item: %s", after.Raw)
	}

	// Another role is kept apart; another workspace is refused, never served.
	mid := e.counters(t, "restored_page_cache_requests_total", "result")
	if r := e.post(e.auditor, q, vars); r.Raw != after.Raw {
		t.Fatalf("auditor %s", r.Raw)
	}
	if r := e.post(e.otherOwner, q, vars); r.code() != "FORBIDDEN" {
		t.Fatalf("other workspace: %s", r.Raw)
	}
	if got := e.counters(t, "restored_page_cache_requests_total", "result"); got["miss"]-mid["miss"] != 1 || got["hit"] != mid["hit"] {
		t.Fatalf("page cache %v → %v, want the auditor's miss only", mid, got)
	}

	// The item's set is not the page's: its status changes on its own.
	mid = e.counters(t, "restored_page_cache_requests_total", "result")
	withSet := `query($id: ID!) { backupItems(backupSetId: $id, first: 5) { edges { node { id backupSet { status } } } } }`
	for range 2 {
		if r := e.post(e.owner, withSet, vars); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
	}
	if got := e.counters(t, "restored_page_cache_requests_total", "result"); got["miss"] != mid["miss"] || got["hit"] != mid["hit"] {
		t.Fatalf("a page selecting its set was cached: %v → %v", mid, got)
	}

	// Items are append-only: what the cache relies on is enforced.
	id := db.BackupItem.Query().FirstIDX(ctx)
	if err := db.BackupItem.UpdateOneID(id).SetUpdatedAt(time.Now()).Exec(ctx); err == nil {
		t.Error("a backup item was changed")
	}
	if _, err := db.BackupItem.Delete().Exec(ctx); err == nil {
		t.Error("backup items were deleted")
	}
}
