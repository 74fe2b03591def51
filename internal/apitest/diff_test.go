package apitest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	settings := bitlockerSettings("_6")
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
		"settings":    []any{scSetting(scChoice("vendor_msft_firewall_mdmstore_domainprofile_enablefirewall", "_true"))},
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
	setXTSLeaf(t, tenant, pol["id"].(string), "_7")
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
	c := n.PreviewDiff.Settings[0]
	// The target has _7 now; the restore writes the backup's _6.
	if c.Path != xtsLeafPath || c.Op != "changed" || c.Before != xtsLeaf+"_7" || c.After != xtsLeaf+"_6" {
		t.Fatalf("change %+v, want %s changed %s_7 -> %s_6", c, xtsLeafPath, xtsLeaf, xtsLeaf)
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

// The BitLocker settings the one-leaf tests change: the XTS-AES method of
// OS drives, three levels down a settings catalog policy.
const (
	bitlockerParent = "device_vendor_msft_bitlocker_requiredeviceencryption"
	bitlockerMethod = "device_vendor_msft_bitlocker_encryptionmethodbydrivetype"
	xtsLeaf         = bitlockerMethod + "_encryptionmethodwithxtsosdropdown_name"
	xtsLeafPath     = "settings[" + bitlockerParent + "].choiceSettingValue.children[" + bitlockerMethod +
		"].choiceSettingValue.children[" + xtsLeaf + "].choiceSettingValue.value"
)

// scChoice is a settings catalog choice setting instance whose value is
// id+value.
func scChoice(id, value string, children ...any) map[string]any {
	return map[string]any{
		"@odata.type":         "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
		"settingDefinitionId": id,
		"choiceSettingValue": map[string]any{
			"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingValue",
			"value":       id + value, "children": append([]any{}, children...),
		},
	}
}

// scSetting wraps a setting instance as a policy's setting.
func scSetting(inst map[string]any) any {
	return map[string]any{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": inst}
}

// bitlockerSettings are a BitLocker policy's settings (the XTS leaf set to
// xts) and 40 more, several KiB in all.
func bitlockerSettings(xts string) []any {
	settings := []any{scSetting(scChoice(bitlockerParent, "_1",
		scChoice(bitlockerMethod, "_1", scChoice(xtsLeaf, xts), scChoice(bitlockerMethod+"_encryptionmethodwithxtsfdvdropdown_name", "_4"))))}
	for i := range 40 {
		settings = append(settings, scSetting(scChoice(fmt.Sprintf("device_vendor_msft_policy_config_defender_setting%02d", i), "_1")))
	}
	return settings
}

// setXTSLeaf changes the XTS leaf of a BitLocker policy of tenant in place.
func setXTSLeaf(t *testing.T, tenant *graphsim.Tenant, policyID, value string) {
	t.Helper()
	cur, _ := tenant.Object("settingsCatalogPolicy", policyID)
	inst := cur["settings"].([]any)[0].(map[string]any)["settingInstance"].(map[string]any)
	child := inst["choiceSettingValue"].(map[string]any)["children"].([]any)[0].(map[string]any)
	grandchild := child["choiceSettingValue"].(map[string]any)["children"].([]any)[0].(map[string]any)
	grandchild["choiceSettingValue"].(map[string]any)["value"] = xtsLeaf + value
	if _, err := tenant.Put("settingsCatalogPolicy", cur); err != nil {
		t.Fatal(err)
	}
}

// TestCrossTenantPreviewOneLeafOfSettingsCatalog mirrors
// TestPreviewOneLeafOfSettingsCatalog across tenants: the template's
// BitLocker policy and the customer's namesake (its own ids on every
// setting, as Graph stamps them) differ in one leaf three levels down. The
// preview of the restore into the customer is one update with exactly one
// entry: the leaf's path, the customer's value before, the template's after.
func TestCrossTenantPreviewOneLeafOfSettingsCatalog(t *testing.T) {
	e := start(t)
	s := e.startSim()
	source, srcEnv := e.tenantEnv(s, "tpl", graphsim.GenOptions{Seed: 1})
	target, dstEnv := e.tenantEnv(s, "customer", graphsim.GenOptions{Seed: 2})
	policy := func(id string) map[string]any {
		return map[string]any{"id": id, "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
			"name": "Windows BitLocker baseline", "description": "Baseline", "platforms": "windows10", "technologies": "mdm",
			"settings": bitlockerSettings("_6")}
	}
	mustPut(t, source, "settingsCatalogPolicy", policy("src-bitlocker"))
	mustPut(t, target, "settingsCatalogPolicy", policy("t-bitlocker"))
	setXTSLeaf(t, target, "t-bitlocker", "_7")
	bs := e.backupOf(srcEnv.ID, "template")
	item := e.backupItemBySource(bs, "src-bitlocker")

	w := &wizard{e: e, t: t, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": dstEnv.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": []string{item}})
	if v := w.checked(); v.CheckSummary.Blocking != 0 {
		t.Fatalf("checks %+v: %+v", v.CheckSummary, e.items(w.id)[item].CheckResults)
	}
	v := w.previewed()
	if p := v.PreviewSummary; p == nil || p.Items != 1 || p.PoliciesChanged != 1 || p.AssignmentsChanged != 0 {
		t.Fatalf("preview summary %+v", v.PreviewSummary)
	}
	it := e.items(w.id)[item]
	if deref(it.PlannedAction) != "UPDATE" || deref(it.TargetGraphID) != "t-bitlocker" || it.PreviewDiff == nil {
		t.Fatalf("item planned %s onto %s: %+v", deref(it.PlannedAction), deref(it.TargetGraphID), it)
	}
	type change struct {
		Path, Op      string
		Before, After any
	}
	var got []change
	for _, c := range it.PreviewDiff.Settings {
		got = append(got, change(c))
	}
	want := []change{{Path: xtsLeafPath, Op: "changed", Before: xtsLeaf + "_7", After: xtsLeaf + "_6"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings diff (-want +got):\n%s", diff)
	}
}
