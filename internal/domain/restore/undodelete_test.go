package restore

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent/restorerunitem"
)

// TestDeletesAreTheLastTiers: an undo's deletes are written after every
// other item, in tiers of their own (never concurrently with a write),
// policies before the foundations they may refer to, scope tags last.
func TestDeletesAreTheLastTiers(t *testing.T) {
	del, upd, cre := restorerunitem.PlannedActionDELETE, restorerunitem.PlannedActionUPDATE, restorerunitem.PlannedActionCREATE
	items := []*runItem{
		{ID: "1", PolicyType: "roleScopeTag", PlannedAction: &del},
		{ID: "2", PolicyType: "deviceConfiguration", PlannedAction: &del},
		{ID: "3", PolicyType: "assignmentFilter", PlannedAction: &del},
		{ID: "4", PolicyType: "deviceConfiguration", PlannedAction: &upd},
		{ID: "5", PolicyType: "roleScopeTag", PlannedAction: &cre},
		{ID: "6", PolicyType: "settingsCatalogPolicy", PlannedAction: &del},
		{ID: "7", PolicyType: "assignmentFilter", PlannedAction: &upd},
	}
	restoreOrder(items)
	var got [][]string
	for _, tier := range tiers(items) {
		var ids []string
		for _, it := range tier {
			ids = append(ids, it.ID+" "+string(*it.PlannedAction)+" "+it.PolicyType)
		}
		got = append(got, ids)
	}
	want := [][]string{
		{"5 CREATE roleScopeTag"},
		{"7 UPDATE assignmentFilter"},
		{"4 UPDATE deviceConfiguration"},
		{"6 DELETE settingsCatalogPolicy", "2 DELETE deviceConfiguration"}, // reverse catalog order
		{"3 DELETE assignmentFilter"},
		{"1 DELETE roleScopeTag"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tiers (-want +got):\n%s", diff)
	}
}
