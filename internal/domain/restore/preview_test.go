package restore

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/intune"
)

func TestPreviewMessage(t *testing.T) {
	tests := []struct {
		name    string
		summary results.PreviewSummary
		want    string
	}{
		{"empty summary", results.PreviewSummary{}, "No policy changes detected."},
		{"all zero", results.PreviewSummary{Items: 0, PoliciesChanged: 0, PoliciesCreated: 0, PoliciesUnchanged: 0, PreviewOnly: 0, Skipped: 0, AssignmentsChanged: 0, ScopeTagsChanged: 0, Failed: 0},
			"No policy changes detected."},
		{"only unchanged", results.PreviewSummary{Items: 4, PoliciesUnchanged: 4}, "No policy changes detected."},
		{"only preview-only", results.PreviewSummary{Items: 2, PreviewOnly: 2},
			"No policy changes detected (2 preview-only item(s) are never restored)."},
		{"preview-only and unchanged", results.PreviewSummary{Items: 4, PreviewOnly: 1, PoliciesUnchanged: 3},
			"No policy changes detected (1 preview-only item(s) are never restored)."},
		{"one changed", results.PreviewSummary{PoliciesChanged: 1}, "1 policy will change."},
		{"two changed", results.PreviewSummary{PoliciesChanged: 2}, "2 policies will change."},
		{"one created", results.PreviewSummary{PoliciesCreated: 1}, "1 policy will be created."},
		{"two created", results.PreviewSummary{PoliciesCreated: 2}, "2 policies will be created."},
		{"one item's assignments", results.PreviewSummary{AssignmentsChanged: 1}, "1 item gets different assignments."},
		{"items' assignments", results.PreviewSummary{AssignmentsChanged: 4}, "4 items get different assignments."},
		{"one item's scope tags", results.PreviewSummary{ScopeTagsChanged: 1}, "1 item gets different scope tags."},
		{"items' scope tags", results.PreviewSummary{ScopeTagsChanged: 2}, "2 items get different scope tags."},
		{"changed and one unchanged", results.PreviewSummary{PoliciesChanged: 1, PoliciesUnchanged: 1},
			"1 policy will change. 1 policy is already as in the backup."},
		{"created and unchanged", results.PreviewSummary{PoliciesCreated: 2, PoliciesUnchanged: 7},
			"2 policies will be created. 7 policies are already as in the backup."},
		{"one failed, nothing else", results.PreviewSummary{Items: 1, Failed: 1},
			"1 item could not be read from the target and was not compared. No policy changes detected."},
		{"failed beside changes", results.PreviewSummary{Failed: 2, PoliciesChanged: 1},
			"2 items could not be read from the target and were not compared. 1 policy will change."},
		{"everything", results.PreviewSummary{PoliciesChanged: 2, PoliciesCreated: 1, AssignmentsChanged: 3, ScopeTagsChanged: 1, PoliciesUnchanged: 5, PreviewOnly: 4},
			"2 policies will change, 1 policy will be created, 3 items get different assignments, 1 item gets different scope tags. 5 policies are already as in the backup."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := previewMessage(tt.summary); got != tt.want {
				t.Errorf("previewMessage(%v)\n got %q\nwant %q", tt.summary, got, tt.want)
			}
		})
	}
}

// backupItem is a backed up device configuration with assignments to two
// groups, all devices, and three scope tags. A fresh one each call, so a
// test can compare an item used against an untouched one.
func backupItem() *ent.BackupItem {
	return &ent.BackupItem{
		ID: "b1", PolicyType: "deviceConfiguration", DisplayName: "Wi-Fi",
		Payload: map[string]any{
			"@odata.type":     "#microsoft.graph.windows10GeneralConfiguration",
			"displayName":     "Wi-Fi",
			"roleScopeTagIds": []any{"0", "5", "6"},
			"settings":        map[string]any{"ssid": "corp"},
		},
		Assignments: []map[string]any{
			{"id": "a1", "source": "direct", "target": map[string]any{
				"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g1",
				"deviceAndAppManagementAssignmentFilterId": "f1"}},
			{"id": "a2", "target": map[string]any{
				"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "g2"}},
			{"id": "a3", "target": map[string]any{"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}},
		},
		ScopeTagIds: []string{"0", "5", "6"},
	}
}

func TestDesiredState(t *testing.T) {
	typ, ok := intune.Lookup("deviceConfiguration")
	if !ok {
		t.Fatal("no deviceConfiguration type")
	}
	type m = map[string]any
	tests := []struct {
		name            string
		groups, tags    map[string]string
		item            func() *ent.BackupItem
		wantAssignments []m
		wantTags        []string
	}{
		{
			name:   "mapped",
			groups: map[string]string{"g1": "t1", "g9": "t9"},
			tags:   map[string]string{"5": "50", "9": "90"},
			item:   backupItem,
			// Ids and sources dropped, ordered by target.
			wantAssignments: []m{
				{"target": m{"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}},
				{"target": m{"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "g2"}},
				{"target": m{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "t1",
					"deviceAndAppManagementAssignmentFilterId": "f1"}},
			},
			wantTags: []string{"0", "50", "6"},
		},
		{
			name: "no mappings",
			item: backupItem,
			wantAssignments: []m{
				{"target": m{"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}},
				{"target": m{"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "g2"}},
				{"target": m{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g1",
					"deviceAndAppManagementAssignmentFilterId": "f1"}},
			},
			wantTags: []string{"0", "5", "6"},
		},
		{
			name:   "excluded group mapped too",
			groups: map[string]string{"g1": "t1", "g2": "t2"},
			item:   backupItem,
			wantAssignments: []m{
				{"target": m{"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}},
				{"target": m{"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "t2"}},
				{"target": m{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "t1",
					"deviceAndAppManagementAssignmentFilterId": "f1"}},
			},
			wantTags: []string{"0", "5", "6"},
		},
		{
			name:   "nothing assigned, no tags",
			groups: map[string]string{"g1": "t1"},
			tags:   map[string]string{"5": "50"},
			item: func() *ent.BackupItem {
				b := backupItem()
				b.Assignments, b.ScopeTagIds = nil, nil
				return b
			},
			wantAssignments: []m{},
			wantTags:        []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &ent.RestoreRun{GroupMapping: tt.groups, ScopeTagMapping: tt.tags}
			b := tt.item()
			rf := &refs{run: run, sameTenant: true, created: map[string]string{}}
			got := rf.desired(typ, b)
			if diff := cmp.Diff(tt.wantAssignments, got.assignments); diff != "" {
				t.Errorf("assignments (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantTags, got.scopeTags); diff != "" {
				t.Errorf("scope tags (-want +got):\n%s", diff)
			}
			// The payload's own scope tag ids are the written ones too.
			wantPayload := tt.item().Payload
			if _, ok := wantPayload["roleScopeTagIds"]; ok {
				wantPayload["roleScopeTagIds"] = toAnyStrings(tt.wantTags)
			}
			if diff := cmp.Diff(wantPayload, got.payload); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			// The backup item is untouched, and so is it when the result is
			// changed (its maps are copies).
			got.payload["displayName"] = "changed"
			for _, a := range got.assignments {
				if target, ok := a["target"].(map[string]any); ok {
					target["groupId"] = "changed"
				}
				a["extra"] = true
			}
			if len(got.scopeTags) > 0 {
				got.scopeTags[0] = "changed"
			}
			want := tt.item()
			if diff := cmp.Diff(want.Payload, b.Payload); diff != "" {
				t.Errorf("backup payload modified (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want.Assignments, b.Assignments); diff != "" {
				t.Errorf("backup assignments modified (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want.ScopeTagIds, b.ScopeTagIds); diff != "" {
				t.Errorf("backup scope tags modified (-want +got):\n%s", diff)
			}
			// And so are the run's mappings.
			if diff := cmp.Diff(tt.groups, run.GroupMapping); diff != "" {
				t.Errorf("group mapping modified (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.tags, run.ScopeTagMapping); diff != "" {
				t.Errorf("scope tag mapping modified (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWorstSeverity(t *testing.T) {
	r := func(sev results.Severity) result { return result{Code: "X", Severity: sev} }
	tests := []struct {
		name string
		in   []result
		want results.Severity
	}{
		{"none", nil, SeveritySafe},
		{"safe", []result{r(SeveritySafe)}, SeveritySafe},
		{"warning over safe", []result{r(SeveritySafe), r(SeverityWarning), r(SeveritySafe)}, SeverityWarning},
		{"blocking over warning", []result{r(SeverityWarning), r(SeverityBlocking)}, SeverityBlocking},
		{"blocking first", []result{r(SeverityBlocking), r(SeverityWarning), r(SeveritySafe)}, SeverityBlocking},
		{"blocking among safes", []result{r(SeveritySafe), r(SeverityBlocking), r(SeveritySafe)}, SeverityBlocking},
		{"unknown severity counts as safe", []result{r(""), r("INFO")}, SeveritySafe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := worstSeverity(tt.in); got != tt.want {
				t.Errorf("worstSeverity = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPermissionResults(t *testing.T) {
	checked := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	all := []string{
		"DeviceManagementConfiguration.ReadWrite.All", "DeviceManagementServiceConfig.ReadWrite.All",
		"DeviceManagementRBAC.ReadWrite.All", "DeviceManagementApps.ReadWrite.All", "Group.Read.All",
	}
	readOnly := []string{
		"DeviceManagementConfiguration.Read.All", "DeviceManagementServiceConfig.Read.All",
		"DeviceManagementRBAC.Read.All", "DeviceManagementApps.Read.All", "Group.Read.All",
	}
	unverified := result{CheckPermissionUnknown, SeverityWarning,
		"The app's permissions in this tenant were never verified: inventory and restore may be partial.", false}
	tests := []struct {
		name    string
		granted []string
		checked *time.Time
		want    []result
	}{
		{name: "never verified", checked: nil, want: []result{unverified}},
		{name: "never verified, whatever is listed", granted: all, checked: nil, want: []result{unverified}},
		{name: "all granted", granted: all, checked: &checked},
		{name: "all granted, other case", granted: []string{
			"devicemanagementconfiguration.readwrite.all", "DEVICEMANAGEMENTSERVICECONFIG.READWRITE.ALL",
			"DeviceManagementRBAC.ReadWrite.All", "DeviceManagementApps.ReadWrite.All", "Directory.Read.All",
		}, checked: &checked},
		{
			name: "read only", granted: readOnly, checked: &checked,
			want: []result{{CheckWritePermission, SeverityBlocking,
				"The app cannot write: it lacks DeviceManagementConfiguration.ReadWrite.All, DeviceManagementServiceConfig.ReadWrite.All, DeviceManagementRBAC.ReadWrite.All, DeviceManagementApps.ReadWrite.All.", true}},
		},
		{
			name: "nothing granted", granted: nil, checked: &checked,
			want: []result{
				{CheckReadPermission, SeverityWarning,
					"Inventory and restore may be partial: the app lacks DeviceManagementConfiguration.Read.All, DeviceManagementServiceConfig.Read.All, DeviceManagementRBAC.Read.All, DeviceManagementApps.Read.All, Group.Read.All.", false},
				{CheckWritePermission, SeverityBlocking,
					"The app cannot write: it lacks DeviceManagementConfiguration.ReadWrite.All, DeviceManagementServiceConfig.ReadWrite.All, DeviceManagementRBAC.ReadWrite.All, DeviceManagementApps.ReadWrite.All, Group.Read.All.", true},
			},
		},
		{
			name: "apps missing", granted: all[:3:3], checked: &checked,
			want: []result{
				{CheckReadPermission, SeverityWarning,
					"Inventory and restore may be partial: the app lacks DeviceManagementApps.Read.All, Group.Read.All.", false},
				{CheckWritePermission, SeverityBlocking,
					"The app cannot write: it lacks DeviceManagementApps.ReadWrite.All, Group.Read.All.", true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &ent.Environment{DisplayName: "Contoso", GrantedPermissions: tt.granted, PermissionsCheckedAt: tt.checked}
			if diff := cmp.Diff(tt.want, permissionResults(env)); diff != "" {
				t.Errorf("permissionResults (-want +got):\n%s", diff)
			}
		})
	}
}
