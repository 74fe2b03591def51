package apitest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/restored/restored/internal/msgraph/graphsim"
)

// TestPreviewOneLeafOfSettingsCatalog: one leaf deep in a settings catalog
// policy's children differs between the backup and the target. The preview
// lists exactly that leaf, by a path naming the setting, with both values
// whole, although the policy's settings are several KiB. A second policy
// whose assignment's filter differs counts as changed assignments: one
// changed assignment entry, neither added nor removed.
func TestPreviewOneLeafOfSettingsCatalog(t *testing.T) {
	e := start(t)
	s := e.startSim()
	tenant, envRow := e.tenantEnv(s, "leaf", graphsim.GenOptions{Seed: 3, Groups: 2, Filters: 1})
	const (
		parent = "device_vendor_msft_bitlocker_requiredeviceencryption"
		method = "device_vendor_msft_bitlocker_encryptionmethodbydrivetype"
		leaf   = method + "_encryptionmethodwithxtsosdropdown_name"
	)
	choice := func(id, value string, children ...any) map[string]any {
		return map[string]any{
			"@odata.type":         "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
			"settingDefinitionId": id,
			"choiceSettingValue": map[string]any{
				"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingValue",
				"value":       id + value, "children": append([]any{}, children...),
			},
		}
	}
	setting := func(inst map[string]any) any {
		return map[string]any{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": inst}
	}
	settings := []any{setting(choice(parent, "_1",
		choice(method, "_1", choice(leaf, "_6"), choice(method+"_encryptionmethodwithxtsfdvdropdown_name", "_4"))))}
	for i := range 40 {
		settings = append(settings, setting(choice(fmt.Sprintf("device_vendor_msft_policy_config_defender_setting%02d", i), "_1")))
	}
	group := tenant.Groups()[0]["id"]
	pol, err := tenant.Put("settingsCatalogPolicy", map[string]any{
		"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
		"name":        "Windows BitLocker baseline", "platforms": "windows10", "technologies": "mdm",
		"settings":    settings,
		"assignments": []any{map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	filter := tenant.Objects("assignmentFilter")[0]["id"]
	filtered := func(mode string) map[string]any {
		return map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group,
			"deviceAndAppManagementAssignmentFilterId": filter, "deviceAndAppManagementAssignmentFilterType": mode}}
	}
	fw := map[string]any{
		"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
		"name":        "Windows firewall", "platforms": "windows10", "technologies": "mdm",
		"settings":    []any{setting(choice("vendor_msft_firewall_mdmstore_domainprofile_enablefirewall", "_true"))},
		"assignments": []any{filtered("include")},
	}
	fwPol, err := tenant.Put("settingsCatalogPolicy", fw)
	if err != nil {
		t.Fatal(err)
	}
	bs := e.backupOf(envRow.ID, "before")
	items := e.itemsOf(bs, "settingsCatalogPolicy")
	if len(items) != 2 {
		t.Fatalf("backed up settings catalog items: %v", items)
	}

	// In the target, XTS-AES 128 (_6) becomes XTS-AES 256 (_7), three levels down.
	cur, _ := tenant.Object("settingsCatalogPolicy", pol["id"].(string))
	inst := cur["settings"].([]any)[0].(map[string]any)["settingInstance"].(map[string]any)
	child := inst["choiceSettingValue"].(map[string]any)["children"].([]any)[0].(map[string]any)
	grandchild := child["choiceSettingValue"].(map[string]any)["children"].([]any)[0].(map[string]any)
	grandchild["choiceSettingValue"].(map[string]any)["value"] = leaf + "_7"
	if _, err := tenant.Put("settingsCatalogPolicy", cur); err != nil {
		t.Fatal(err)
	}
	fw["id"], fw["assignments"] = fwPol["id"], []any{filtered("exclude")}
	if _, err := tenant.Put("settingsCatalogPolicy", fw); err != nil {
		t.Fatal(err)
	}

	w := &wizard{e: e, t: t, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": envRow.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": items})
	w.checked()
	v := w.previewed()
	if p := v.PreviewSummary; p == nil || p.Items != 2 || p.PoliciesChanged != 2 || p.AssignmentsChanged != 1 {
		t.Fatalf("preview summary %+v", v.PreviewSummary)
	}

	var d struct {
		RestoreRun struct {
			PreviewItems struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						DiffTruncated bool
						PreviewDiff   struct {
							Settings []struct {
								Path, Op      string
								Before, After any
							}
							Assignments struct {
								Added, Removed []map[string]any
								Changed        []struct{ Path string }
							}
						}
					}
				}
			}
		}
	}
	e.post(e.owner, `query($id: ID!) { restoreRun(id: $id) { previewItems(actions: [UPDATE]) { totalCount edges { node {
		diffTruncated previewDiff { settings { path op before after } assignments { added removed changed { path } } } } } } } }`,
		map[string]any{"id": w.id}).decode(t, &d)
	if d.RestoreRun.PreviewItems.TotalCount != 2 {
		t.Fatalf("updated items: %+v", d.RestoreRun.PreviewItems)
	}
	byChanges := map[int]int{} // number of settings changes -> edge
	for i, ed := range d.RestoreRun.PreviewItems.Edges {
		byChanges[len(ed.Node.PreviewDiff.Settings)] = i
	}
	i, ok := byChanges[1]
	j, ok2 := byChanges[0]
	if !ok || !ok2 {
		t.Fatalf("preview items %+v", d.RestoreRun.PreviewItems.Edges)
	}
	n := d.RestoreRun.PreviewItems.Edges[i].Node
	wantPath := "settings[" + parent + "].choiceSettingValue.children[" + method + "].choiceSettingValue.children[" + leaf + "].choiceSettingValue.value"
	c := n.PreviewDiff.Settings[0]
	// The target has _7 now; the restore writes the backup's _6.
	if c.Path != wantPath || c.Op != "changed" || c.Before != leaf+"_7" || c.After != leaf+"_6" {
		t.Fatalf("change %+v, want %s changed %s_7 -> %s_6", c, wantPath, leaf, leaf)
	}
	if n.DiffTruncated || strings.Contains(fmt.Sprint(c.Before, c.After), "not shown") {
		t.Fatalf("truncated: %+v", n)
	}
	a := n.PreviewDiff.Assignments
	if len(a.Added)+len(a.Removed)+len(a.Changed) != 0 || a.Changed == nil {
		t.Fatalf("assignments %+v", a)
	}
	a = d.RestoreRun.PreviewItems.Edges[j].Node.PreviewDiff.Assignments
	want := fmt.Sprintf("assignments[groupAssignmentTarget:%s].target.deviceAndAppManagementAssignmentFilterType", group)
	if len(a.Added)+len(a.Removed) != 0 || len(a.Changed) != 1 || a.Changed[0].Path != want {
		t.Fatalf("filter change: %+v, want one change at %s", a, want)
	}
}
