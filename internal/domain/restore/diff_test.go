package restore

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fromJSON decodes s as a stored payload or Graph response is decoded:
// numbers become float64.
func fromJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDiffValues(t *testing.T) {
	tests := []struct {
		name          string
		path          string
		before, after any
		want          []Change
	}{
		{
			name:   "equal nested maps",
			before: map[string]any{"a": 1, "b": map[string]any{"c": "x", "d": []any{1, 2}}},
			after:  map[string]any{"b": map[string]any{"d": []any{1, 2}, "c": "x"}, "a": 1},
		},
		{
			name:   "both empty",
			before: map[string]any{},
			after:  map[string]any{},
		},
		{
			name:   "added, removed, changed at the top level in key order",
			before: map[string]any{"keep": true, "gone": "old", "mod": 1},
			after:  map[string]any{"keep": true, "new": "v", "mod": 2},
			want: []Change{
				{Path: "gone", Op: "removed", Before: "old"},
				{Path: "mod", Op: "changed", Before: 1, After: 2},
				{Path: "new", Op: "added", After: "v"},
			},
		},
		{
			name: "nested paths in dot notation",
			before: map[string]any{
				"z": 1,
				"settings": map[string]any{
					"wifi":     map[string]any{"ssid": "corp", "hidden": false},
					"password": map[string]any{"minLength": 8},
				},
			},
			after: map[string]any{
				"z": 1,
				"settings": map[string]any{
					"wifi":     map[string]any{"ssid": "corp2", "hidden": false, "band": "5GHz"},
					"password": map[string]any{},
				},
			},
			want: []Change{
				{Path: "settings.password.minLength", Op: "removed", Before: 8},
				{Path: "settings.wifi.band", Op: "added", After: "5GHz"},
				{Path: "settings.wifi.ssid", Op: "changed", Before: "corp", After: "corp2"},
			},
		},
		{
			name:   "under a path",
			path:   "root",
			before: map[string]any{"a": map[string]any{"b": 1}},
			after:  map[string]any{"a": map[string]any{"b": 2}},
			want:   []Change{{Path: "root.a.b", Op: "changed", Before: 1, After: 2}},
		},
		{
			name:   "arrays of the same length are compared element by element",
			before: map[string]any{"list": []any{"a", "b", "c"}},
			after:  map[string]any{"list": []any{"a", "x", "c"}},
			want:   []Change{{Path: "list[1]", Op: "changed", Before: "b", After: "x"}},
		},
		{
			name:   "array order matters at the same length",
			before: map[string]any{"list": []any{1, 2}},
			after:  map[string]any{"list": []any{2, 1}},
			want: []Change{
				{Path: "list[0]", Op: "changed", Before: 1, After: 2},
				{Path: "list[1]", Op: "changed", Before: 2, After: 1},
			},
		},
		{
			name:   "arrays of different lengths are compared as sets, at each element's own index",
			before: map[string]any{"list": []any{"a", "b", "c"}},
			after:  map[string]any{"list": []any{"c", "a", "d", "e"}},
			want: []Change{
				{Path: "list[1]", Op: "removed", Before: "b"},
				{Path: "list[2]", Op: "added", After: "d"},
				{Path: "list[3]", Op: "added", After: "e"},
			},
		},
		{
			// A duplicate dropped still shows: a list that differs never
			// gives an empty diff.
			name:   "a duplicate removed from a list",
			before: map[string]any{"list": []any{"a", "a", "b"}},
			after:  map[string]any{"list": []any{"a", "b"}},
			want:   []Change{{Path: "list[1]", Op: "removed", Before: "a"}},
		},
		{
			name:   "unkeyed objects of the same length are compared inside",
			before: map[string]any{"rules": []any{map[string]any{"name": "r1", "on": true}}},
			after:  map[string]any{"rules": []any{map[string]any{"name": "r1", "on": false}}},
			want:   []Change{{Path: "rules[0].on", Op: "changed", Before: true, After: false}},
		},
		{
			name:   "arrays of maps equal whatever their key order",
			before: map[string]any{"list": []any{map[string]any{"a": 1, "b": 2}}},
			after:  map[string]any{"list": []any{map[string]any{"b": 2, "a": 1}}},
		},
		{
			name:   "int and float64 of the same number are equal",
			before: map[string]any{"n": 5, "m": map[string]any{"k": int64(7)}},
			after:  fromJSON(t, `{"n": 5, "m": {"k": 7.0}}`),
		},
		{
			name:   "int and float64 of different numbers differ",
			before: map[string]any{"n": 5},
			after:  fromJSON(t, `{"n": 5.5}`),
			want:   []Change{{Path: "n", Op: "changed", Before: 5, After: 5.5}},
		},
		{
			name:   "map replaced by a scalar",
			before: map[string]any{"a": map[string]any{"b": 1}},
			after:  map[string]any{"a": "flat"},
			want:   []Change{{Path: "a", Op: "changed", Before: map[string]any{"b": 1}, After: "flat"}},
		},
		{
			name:   "null value is present, not absent",
			before: map[string]any{"a": nil},
			after:  map[string]any{"a": "set"},
			want:   []Change{{Path: "a", Op: "changed", Before: nil, After: "set"}},
		},
		{
			name:   "added key holding null",
			before: map[string]any{},
			after:  map[string]any{"a": nil},
			want:   []Change{{Path: "a", Op: "added"}},
		},
		{
			name:   "everything added from nothing",
			before: map[string]any{},
			after:  map[string]any{"b": map[string]any{"x": 1}, "a": "v"},
			want: []Change{
				{Path: "a", Op: "added", After: "v"},
				{Path: "b", Op: "added", After: map[string]any{"x": 1}},
			},
		},
		{
			name:   "scalars at the root",
			before: "x",
			after:  "y",
			want:   []Change{{Path: "", Op: "changed", Before: "x", After: "y"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The order must not depend on map iteration: compute several times.
			for range 5 {
				var got []Change
				diffValues(tt.path, tt.before, tt.after, &got)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("diffValues (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestDiffValuesAppends: diffValues appends to what out already holds.
func TestDiffValuesAppends(t *testing.T) {
	got := []Change{{Path: "earlier", Op: "added", After: 1}}
	diffValues("", map[string]any{"a": 1}, map[string]any{"a": 2}, &got)
	want := []Change{{Path: "earlier", Op: "added", After: 1}, {Path: "a", Op: "changed", Before: 1, After: 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Settings catalog fixtures in Graph's shape (deviceManagementConfigurationSetting).
type obj = map[string]any

func setting(inst obj) obj {
	return obj{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": inst}
}

func choice(id, value string, children ...any) obj {
	return obj{
		"@odata.type":         "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
		"settingDefinitionId": id,
		"choiceSettingValue": obj{
			"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingValue",
			"value":       id + value, "children": append([]any{}, children...),
		},
	}
}

func simple(id string, value any) obj {
	return obj{
		"@odata.type":         "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
		"settingDefinitionId": id,
		"simpleSettingValue":  obj{"@odata.type": "#microsoft.graph.deviceManagementConfigurationStringSettingValue", "value": value},
	}
}

// groupCollection is a groupSettingCollectionInstance: a list of groups,
// each a list of child settings.
func groupCollection(id string, groups ...[]any) obj {
	vals := []any{}
	for _, children := range groups {
		vals = append(vals, obj{"children": children})
	}
	return obj{
		"@odata.type":                      "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance",
		"settingDefinitionId":              id,
		"groupSettingCollectionValue":      vals,
		"settingInstanceTemplateReference": nil,
	}
}

// catalogPolicy is a settings catalog policy with many settings around the
// ones given, so that the settings array as a whole is several KiB.
func catalogPolicy(leaf string, fwPorts string, extra ...any) obj {
	settings := []any{}
	for i := range 30 {
		settings = append(settings, setting(choice(fmt.Sprintf("device_vendor_msft_policy_config_defender_setting%02d", i), "_1")))
	}
	const bl = "device_vendor_msft_bitlocker_encryptionmethodbydrivetype"
	settings = append(settings,
		setting(choice("device_vendor_msft_bitlocker_requiredeviceencryption", "_1",
			choice(bl, "_1",
				choice(bl+"_encryptionmethodwithxtsosdropdown_name", leaf),
				choice(bl+"_encryptionmethodwithxtsfdvdropdown_name", "_4")))),
		setting(groupCollection("device_vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}",
			[]any{simple("device_vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}_name", "Allow RDP"),
				simple("device_vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}_localportranges", "3389")},
			[]any{simple("device_vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}_name", "Allow WinRM"),
				simple("device_vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}_localportranges", fwPorts)})),
	)
	settings = append(settings, extra...)
	return obj{
		"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
		"name":        "Windows baseline", "platforms": "windows10", "technologies": "mdm",
		"settings": settings,
	}
}

// reversed returns p with its settings in the opposite order (Graph does not
// keep their order).
func reversed(p obj) obj {
	out := maps.Clone(p)
	s := slices.Clone(p["settings"].([]any))
	slices.Reverse(s)
	out["settings"] = s
	return out
}

func TestDiffKeyedArrays(t *testing.T) {
	const (
		bitlockerLeaf = "settings[device_vendor_msft_bitlocker_requiredeviceencryption].choiceSettingValue.children[device_vendor_msft_bitlocker_encryptionmethodbydrivetype].choiceSettingValue.children[device_vendor_msft_bitlocker_encryptionmethodbydrivetype_encryptionmethodwithxtsosdropdown_name].choiceSettingValue.value"
		xts           = "device_vendor_msft_bitlocker_encryptionmethodbydrivetype_encryptionmethodwithxtsosdropdown_name"
		fw            = "device_vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}"
		arch          = "device_vendor_msft_policy_config_defender_allowarchivescanning"
	)
	oma := func(uri string, value any) obj {
		return obj{"@odata.type": "#microsoft.graph.omaSettingInteger", "displayName": uri, "omaUri": uri, "value": value}
	}
	const camera, usb = "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera", "./Device/Vendor/MSFT/Policy/Config/Connectivity/AllowUSBConnection"
	action := func(typ string, hours any, template string) obj {
		return obj{"actionType": typ, "gracePeriodHours": hours, "notificationTemplateId": template, "notificationMessageCCList": []any{}}
	}
	compliance := func(actions ...any) obj {
		return obj{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "passwordRequired": true,
			"scheduledActionsForRule": []any{obj{"ruleName": "PasswordRequired", "scheduledActionConfigurations": actions}}}
	}
	defValue := func(defID string, enabled bool, presentations ...any) obj {
		return obj{"enabled": enabled, "definition": obj{"id": defID, "displayName": "Def " + defID, "classType": "machine"},
			"presentationValues": append([]any{}, presentations...)}
	}
	presText := func(presID, value string) obj {
		return obj{"@odata.type": "#microsoft.graph.groupPolicyPresentationValueText", "value": value, "presentation": obj{"id": presID}}
	}
	const d1, d2, d3 = "9b1a0ad4-0d30-4a42-a8d4-1a8f6c0b3c01", "c2d3c3f5-3a2d-4e55-8b17-2b4e0a8f3c02", "e0a1e8b4-5c5e-4b1f-9b88-6c1c4b4f3c03"
	const p1 = "7d1f2b6c-4c3d-4c61-9a0b-0f4d9e0b3c11"
	tests := []struct {
		name          string
		before, after any
		want          []Change
	}{
		{
			name:   "settings catalog: one leaf deep in children is one entry naming the setting",
			before: catalogPolicy("_6", "5985"),
			after:  reversed(catalogPolicy("_7", "5985")),
			want:   []Change{{Path: bitlockerLeaf, Op: "changed", Before: xts + "_6", After: xts + "_7"}},
		},
		{
			name:   "settings catalog: a leaf in a group collection's children",
			before: catalogPolicy("_6", "5985"),
			after:  catalogPolicy("_6", "5985-5986"),
			want: []Change{{Path: "settings[" + fw + "].groupSettingCollectionValue[1].children[" + fw + "_localportranges].simpleSettingValue.value",
				Op: "changed", Before: "5985", After: "5985-5986"}},
		},
		{
			name:   "settings catalog: the same settings in another order are no change",
			before: catalogPolicy("_6", "5985"),
			after:  reversed(catalogPolicy("_6", "5985")),
		},
		{
			name:   "settings catalog: a setting added and one removed, whole",
			before: catalogPolicy("_6", "5985", setting(choice("device_vendor_msft_policy_config_defender_allowemailscanning", "_0"))),
			after:  catalogPolicy("_6", "5985", setting(choice(arch, "_1"))),
			want: []Change{
				{Path: "settings[" + arch + "]", Op: "added", After: setting(choice(arch, "_1"))},
				{Path: "settings[device_vendor_msft_policy_config_defender_allowemailscanning]", Op: "removed",
					Before: setting(choice("device_vendor_msft_policy_config_defender_allowemailscanning", "_0"))},
			},
		},
		{
			name:   "settings catalog: a child added under a choice",
			before: obj{"settings": []any{setting(choice(arch, "_1"))}},
			after:  obj{"settings": []any{setting(choice(arch, "_1", simple(arch+"_level", "high")))}},
			want:   []Change{{Path: "settings[" + arch + "].choiceSettingValue.children[" + arch + "_level]", Op: "added", After: simple(arch+"_level", "high")}},
		},
		{
			name:   "settings catalog: created from nothing, setting by setting",
			before: obj{},
			after:  obj{"name": "New", "settings": []any{setting(choice(arch, "_1")), setting(simple("device_vendor_msft_a", "x"))}},
			want: []Change{
				{Path: "name", Op: "added", After: "New"},
				{Path: "settings[device_vendor_msft_a]", Op: "added", After: setting(simple("device_vendor_msft_a", "x"))},
				{Path: "settings[" + arch + "]", Op: "added", After: setting(choice(arch, "_1"))},
			},
		},
		{
			name:   "settings catalog: the instance type changing is named at the setting",
			before: obj{"settings": []any{setting(choice(arch, "_1"))}},
			after:  obj{"settings": []any{setting(simple(arch, "1"))}},
			want: []Change{
				{Path: "settings[" + arch + "].@odata.type", Op: "changed",
					Before: "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance", After: "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance"},
				{Path: "settings[" + arch + "].choiceSettingValue", Op: "removed", Before: choice(arch, "_1")["choiceSettingValue"]},
				{Path: "settings[" + arch + "].simpleSettingValue", Op: "added", After: simple(arch, "1")["simpleSettingValue"]},
			},
		},
		{
			name:   "OMA-URI: changed, added and removed by omaUri, whatever the order",
			before: obj{"omaSettings": []any{oma(camera, 1), oma("./Device/Vendor/MSFT/Policy/Config/Browser/AllowCookies", 2)}},
			after:  obj{"omaSettings": []any{oma(usb, 0), oma(camera, 0)}},
			want: []Change{
				{Path: "omaSettings[./Device/Vendor/MSFT/Policy/Config/Browser/AllowCookies]", Op: "removed", Before: oma("./Device/Vendor/MSFT/Policy/Config/Browser/AllowCookies", 2)},
				{Path: "omaSettings[" + camera + "].value", Op: "changed", Before: 1, After: 0},
				{Path: "omaSettings[" + usb + "]", Op: "added", After: oma(usb, 0)},
			},
		},
		{
			name:   "compliance: a scheduled action changed and one added, by action type",
			before: compliance(action("block", 0, ""), action("retire", 720, "")),
			after:  compliance(action("retire", 720, ""), action("block", 24, ""), action("notification", 0, "tmpl-1")),
			want: []Change{
				{Path: "scheduledActionsForRule[PasswordRequired].scheduledActionConfigurations[block].gracePeriodHours", Op: "changed", Before: 0, After: 24},
				{Path: "scheduledActionsForRule[PasswordRequired].scheduledActionConfigurations[notification]", Op: "added", After: action("notification", 0, "tmpl-1")},
			},
		},
		{
			name:   "compliance: two notifications, the unchanged one paired first",
			before: compliance(action("block", 0, ""), action("notification", 0, "tmpl-1"), action("notification", 48, "tmpl-2")),
			after:  compliance(action("notification", 72, "tmpl-2"), action("block", 0, ""), action("notification", 0, "tmpl-1")),
			want: []Change{
				{Path: "scheduledActionsForRule[PasswordRequired].scheduledActionConfigurations[notification#1].gracePeriodHours", Op: "changed", Before: 48, After: 72},
			},
		},
		{
			name:   "administrative template: definition values by definition id, presentations by presentation id",
			before: obj{"definitionValues": []any{defValue(d1, true, presText(p1, "contoso.com")), defValue(d2, true)}},
			after:  obj{"definitionValues": []any{defValue(d3, false), defValue(d2, false), defValue(d1, true, presText(p1, "fabrikam.com"))}},
			want: []Change{
				{Path: "definitionValues[" + d1 + "].presentationValues[" + p1 + "].value", Op: "changed", Before: "contoso.com", After: "fabrikam.com"},
				{Path: "definitionValues[" + d2 + "].enabled", Op: "changed", Before: true, After: false},
				{Path: "definitionValues[" + d3 + "]", Op: "added", After: defValue(d3, false)},
			},
		},
		{
			// An array named like a keyed one whose elements lack the key
			// is compared as unkeyed.
			name:   "elements without the key fall back to unkeyed",
			before: obj{"settings": []any{obj{"name": "a", "v": 1}, obj{"name": "b", "v": 2}}},
			after:  obj{"settings": []any{obj{"name": "a", "v": 1}, obj{"name": "b", "v": 3}}},
			want:   []Change{{Path: "settings[1].v", Op: "changed", Before: 2, After: 3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 {
				var got []Change
				diffValues("", tt.before, tt.after, &got)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("diffValues (-want +got):\n%s", diff)
				}
				// Leaf values are small: nothing is truncated.
				if _, truncated := limitChanges(got); truncated {
					t.Fatalf("truncated: %+v", got)
				}
			}
		})
	}
}

// TestDiffKeyedLeafOfLargePolicy: the policy is far beyond the value limit,
// the one changed leaf is shown whole on both sides.
func TestDiffKeyedLeafOfLargePolicy(t *testing.T) {
	before, after := catalogPolicy("_6", "5985"), catalogPolicy("_7", "5985")
	if n := len(canonicalJSON(before["settings"])); n <= 2*maxValueBytes {
		t.Fatalf("fixture too small to prove anything: %d bytes", n)
	}
	var got []Change
	diffValues("", before, after, &got)
	got, truncated := limitChanges(got)
	if truncated || len(got) != 1 || got[0].Before == nil || strings.Contains(fmt.Sprint(got[0].After), "not shown") {
		t.Fatalf("changes %+v truncated %v", got, truncated)
	}
}

func TestDiffAssignments(t *testing.T) {
	group := func(typ, id string, filter ...string) obj {
		target := obj{"@odata.type": "#microsoft.graph." + typ, "groupId": id}
		if len(filter) > 0 {
			target["deviceAndAppManagementAssignmentFilterId"] = filter[0]
			target["deviceAndAppManagementAssignmentFilterType"] = filter[1]
		}
		return obj{"target": target}
	}
	allDevices := obj{"target": obj{"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}
	collection := obj{"target": obj{"@odata.type": "#microsoft.graph.configurationManagerCollectionAssignmentTarget", "collectionId": "SMS00001"}}
	tests := []struct {
		name                   string
		have, want             []obj
		wantAdded, wantRemoved []obj
		wantChanged            []Change
	}{
		{name: "none"},
		{
			name: "same targets in another order",
			have: []obj{group("groupAssignmentTarget", "g1"), allDevices},
			want: []obj{allDevices, group("groupAssignmentTarget", "g1")},
		},
		{
			name:        "added and removed by target",
			have:        []obj{group("groupAssignmentTarget", "g1"), group("groupAssignmentTarget", "g2")},
			want:        []obj{group("groupAssignmentTarget", "g2"), group("exclusionGroupAssignmentTarget", "g1"), collection},
			wantAdded:   []obj{collection, group("exclusionGroupAssignmentTarget", "g1")},
			wantRemoved: []obj{group("groupAssignmentTarget", "g1")},
		},
		{
			name: "a filter changed on the same target is one change, not a removal and an addition",
			have: []obj{group("groupAssignmentTarget", "g1", "f1", "include"), allDevices},
			want: []obj{group("groupAssignmentTarget", "g1", "f1", "exclude"), allDevices},
			wantChanged: []Change{{Path: "assignments[groupAssignmentTarget:g1].target.deviceAndAppManagementAssignmentFilterType",
				Op: "changed", Before: "include", After: "exclude"}},
		},
		{
			name:        "an intent added",
			have:        []obj{allDevices},
			want:        []obj{{"intent": "required", "target": allDevices["target"]}},
			wantChanged: []Change{{Path: "assignments[allDevicesAssignmentTarget].intent", Op: "added", After: "required"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			added, removed, changed := diffAssignments(tt.have, tt.want)
			if diff := cmp.Diff(tt.wantAdded, added); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRemoved, removed); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantChanged, changed); diff != "" {
				t.Errorf("changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLimitChanges(t *testing.T) {
	changes := func(n int) []Change {
		out := make([]Change, n)
		for i := range out {
			out[i] = Change{Path: fmt.Sprintf("p%03d", i), Op: "changed", Before: i, After: i + 1}
		}
		return out
	}
	big := strings.Repeat("x", maxValueBytes) // its JSON adds 2 quotes
	fits := strings.Repeat("y", maxValueBytes-2)
	bigMap := map[string]any{"blob": strings.Repeat("z", 3000)}
	bigMapNote := fmt.Sprintf("(%d bytes, not shown)", len(canonicalJSON(bigMap)))

	tests := []struct {
		name          string
		in            []Change
		want          []Change
		wantTruncated bool
	}{
		{name: "none"},
		{name: "at the limit", in: changes(maxChanges), want: changes(maxChanges)},
		{name: "beyond the limit", in: changes(maxChanges + 1), want: changes(maxChanges), wantTruncated: true},
		{name: "far beyond the limit", in: changes(3 * maxChanges), want: changes(maxChanges), wantTruncated: true},
		{
			name: "value that fits is kept",
			in:   []Change{{Path: "a", Op: "added", After: fits}},
			want: []Change{{Path: "a", Op: "added", After: fits}},
		},
		{
			name:          "large value after",
			in:            []Change{{Path: "a", Op: "added", After: big}},
			want:          []Change{{Path: "a", Op: "added", After: fmt.Sprintf("(%d bytes, not shown)", maxValueBytes+2)}},
			wantTruncated: true,
		},
		{
			name:          "large value before, small after",
			in:            []Change{{Path: "a", Op: "changed", Before: bigMap, After: "small"}},
			want:          []Change{{Path: "a", Op: "changed", Before: bigMapNote, After: "small"}},
			wantTruncated: true,
		},
		{
			name: "only the large one of several",
			in: []Change{
				{Path: "a", Op: "removed", Before: 1},
				{Path: "b", Op: "changed", Before: big, After: bigMap},
				{Path: "c", Op: "added", After: nil},
			},
			want: []Change{
				{Path: "a", Op: "removed", Before: 1},
				{Path: "b", Op: "changed", Before: fmt.Sprintf("(%d bytes, not shown)", maxValueBytes+2), After: bigMapNote},
				{Path: "c", Op: "added"},
			},
			wantTruncated: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, truncated := limitChanges(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if truncated != tt.wantTruncated {
				t.Errorf("truncated = %v, want %v", truncated, tt.wantTruncated)
			}
		})
	}
}

func TestSetDiff(t *testing.T) {
	type m = map[string]any
	tests := []struct {
		name                   string
		have, want             []m
		wantAdded, wantRemoved []m
	}{
		{name: "both empty"},
		{
			name: "same elements, other key order and element order",
			have: []m{{"target": m{"groupId": "g1", "@odata.type": "group"}}, {"target": m{"groupId": "g2"}}},
			want: []m{{"target": m{"groupId": "g2"}}, {"target": m{"@odata.type": "group", "groupId": "g1"}}},
		},
		{
			name:        "added and removed",
			have:        []m{{"target": m{"groupId": "g1"}}, {"target": m{"groupId": "g2"}}},
			want:        []m{{"target": m{"groupId": "g2"}}, {"target": m{"groupId": "g3"}}},
			wantAdded:   []m{{"target": m{"groupId": "g3"}}},
			wantRemoved: []m{{"target": m{"groupId": "g1"}}},
		},
		{
			name:      "everything added",
			want:      []m{{"a": 1}, {"b": 2}},
			wantAdded: []m{{"a": 1}, {"b": 2}},
		},
		{
			name:        "everything removed",
			have:        []m{{"a": 1}},
			wantRemoved: []m{{"a": 1}},
		},
		{
			name: "numbers compared after JSON",
			have: []m{{"n": 1.0}},
			want: []m{{"n": 1}},
		},
		{
			name:        "a nested difference makes elements different",
			have:        []m{{"target": m{"groupId": "g1", "filterType": "include"}}},
			want:        []m{{"target": m{"groupId": "g1", "filterType": "exclude"}}},
			wantAdded:   []m{{"target": m{"groupId": "g1", "filterType": "exclude"}}},
			wantRemoved: []m{{"target": m{"groupId": "g1", "filterType": "include"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			added, removed := setDiff(tt.have, tt.want)
			if diff := cmp.Diff(tt.wantAdded, added); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRemoved, removed); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetDiffStrings(t *testing.T) {
	tests := []struct {
		name                   string
		have, want             []string
		wantAdded, wantRemoved []string
	}{
		{name: "same", have: []string{"0", "1"}, want: []string{"1", "0"}},
		{name: "mapped tag", have: []string{"0", "5"}, want: []string{"0", "7"}, wantAdded: []string{"7"}, wantRemoved: []string{"5"}},
		{name: "from nothing", have: []string{}, want: []string{"3"}, wantAdded: []string{"3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			added, removed := setDiff(tt.have, tt.want)
			if diff := cmp.Diff(tt.wantAdded, added); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRemoved, removed); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDiffDefinitionValuesByReference: an administrative template's value
// is compared by its definition's id, not by the definition's catalog text
// (which the backup holds expanded and a target may return bare), while a
// change of the value itself still shows.
func TestDiffDefinitionValuesByReference(t *testing.T) {
	backup := map[string]any{"definitionValues": []any{map[string]any{
		"enabled": true,
		"definition": map[string]any{"id": "d1", "displayName": "Turn off Autoplay", "classType": "machine",
			"categoryPath": `\Windows Components\AutoPlay Policies`},
		"presentationValues": []any{map[string]any{"value": "all",
			"presentation": map[string]any{"id": "p1", "label": "Turn off Autoplay on:"}}},
	}}}
	target := map[string]any{"definitionValues": []any{map[string]any{
		"enabled": true, "definition": map[string]any{"id": "d1"},
		"presentationValues": []any{map[string]any{"value": "all", "presentation": map[string]any{"id": "p1"}}},
	}}}
	var changes []Change
	diffValues("", target, backup, &changes)
	if len(changes) != 0 {
		t.Fatalf("catalog text counted as changes: %+v", changes)
	}
	target["definitionValues"].([]any)[0].(map[string]any)["enabled"] = false
	changes = nil
	diffValues("", target, backup, &changes)
	if len(changes) != 1 || changes[0].Path != "definitionValues[d1].enabled" {
		t.Fatalf("changes %+v, want the one at definitionValues[d1].enabled", changes)
	}
}
