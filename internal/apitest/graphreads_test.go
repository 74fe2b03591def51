package apitest

import (
	"strings"
	"testing"

	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph/graphsim"
)

// TestPreviewReadsListsNotObjects: a same-tenant preview of a whole backup
// (every item an UPDATE or NO_CHANGE of an existing object) reads the types
// whose list returns objects whole page by page, and only the others object
// by object: its Graph requests, counted on the operation run, stay within
// twice the list pages plus the GETs the catalog requires, and under one
// request per item.
func TestPreviewReadsListsNotObjects(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "lists", graphsim.GenOptions{Seed: 5, Policies: 30 * len(intune.Types()), Groups: 3, ScopeTags: 2, Filters: 2})
	bs := e.backupOf(envRow.ID, "all")

	w := &wizard{e: e, t: t, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "ALL"})
	w.checked()
	v := w.previewed()
	if v.PreviewSummary == nil || v.PreviewSummary.Items == 0 {
		t.Fatalf("preview summary %+v", v.PreviewSummary)
	}

	pages, gets, items, listed := 0, 0, 0, 0
	for _, typ := range intune.Types() {
		n := len(e.itemsOf(bs, typ.Key))
		items += n
		pages += max(1, (len(tenant.Objects(typ.Key))+99)/100)
		if typ.ListExpand && n >= 20 {
			listed += n
		} else {
			gets += n
		}
	}
	if listed == 0 {
		t.Fatal("no type has enough items to be read from its list: the test proves nothing")
	}
	var d struct {
		OperationRuns struct {
			Edges []struct {
				Node struct {
					Summary struct{ GraphRequests, Previewed int }
				}
			}
		}
	}
	e.post(e.owner, `query($ws: ID!) { operationRuns(workspaceId: $ws, type: "restore.preview") { edges { node { summary { graphRequests previewed } } } } }`,
		map[string]any{"ws": e.wsID}).decode(t, &d)
	if len(d.OperationRuns.Edges) != 1 {
		t.Fatalf("preview runs: %+v", d)
	}
	sm := d.OperationRuns.Edges[0].Node.Summary
	if sm.Previewed != items {
		t.Errorf("previewed %d items, want %d", sm.Previewed, items)
	}
	if sm.GraphRequests > 2*pages+gets || sm.GraphRequests >= items {
		t.Errorf("preview of %d items (%d from lists) sent %d Graph requests; want at most 2×%d pages + %d GETs, and fewer than one per item",
			items, listed, sm.GraphRequests, pages, gets)
	}
	t.Logf("preview of %d items: %d Graph requests (%d list pages, %d GETs allowed)", items, sm.GraphRequests, pages, gets)
}

// TestPolicyTypesSayHowTheyAreRead: every type tells a client whether its
// objects come whole from its list or cost a GET each, and then why.
func TestPolicyTypesSayHowTheyAreRead(t *testing.T) {
	e := start(t)
	var got struct {
		PolicyTypes []struct {
			Key            string
			ReadFromList   bool
			ReadEachReason *string
		}
	}
	e.post(e.auditor, `{ policyTypes { key readFromList readEachReason } }`, nil).decode(t, &got)
	byKey := map[string]int{}
	for i, pt := range got.PolicyTypes {
		byKey[pt.Key] = i
		if pt.ReadFromList == (pt.ReadEachReason != nil) {
			t.Errorf("%s: readFromList %v with readEachReason %v", pt.Key, pt.ReadFromList, pt.ReadEachReason)
		}
	}
	for key, listed := range map[string]bool{"roleScopeTag": true, "deviceConfiguration": true, "deviceCompliancePolicy": true,
		"settingsCatalogPolicy": false, "groupPolicyConfiguration": false, "deviceManagementScript": false} {
		i, ok := byKey[key]
		if !ok {
			t.Fatalf("no type %s", key)
		}
		if pt := got.PolicyTypes[i]; pt.ReadFromList != listed {
			t.Errorf("%s: readFromList %v, want %v", key, pt.ReadFromList, listed)
		}
	}
	if r := got.PolicyTypes[byKey["settingsCatalogPolicy"]].ReadEachReason; r == nil || !strings.Contains(*r, "settings") {
		t.Errorf("settings catalog reason: %v", r)
	}
}
