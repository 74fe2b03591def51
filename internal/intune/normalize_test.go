// Tests of the normalizer (normalize.go) and of capture (FromGraph and
// Capture in catalog.go): what Normalize keeps and drops (read-only
// properties, OData annotations but never @odata.type, read-only fields of
// related items, assignments), that it sorts scope tags and leaves its input
// alone; the stable form of assignments and the ids they refer to; that
// ContentHash changes exactly when restorable content does; and what a
// captured object holds, read through a fake intune.Reader.
package intune_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/restored/restored/internal/intune"
)

// mustJSON decodes a JSON object as Graph's payloads are decoded.
func mustJSON(tb testing.TB, s string) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		tb.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// mustJSONList decodes a JSON array.
func mustJSONList(tb testing.TB, s string) []any {
	tb.Helper()
	var l []any
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		tb.Fatalf("decode %s: %v", s, err)
	}
	return l
}

// TestNormalize checks what Normalize keeps and drops for types with and
// without relations.
func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		key  string
		in   string
		want string
	}{
		{
			name: "device configuration",
			key:  "deviceConfiguration",
			in: `{
				"@odata.context": "https://graph.microsoft.com/beta/$metadata#deviceManagement/deviceConfigurations/$entity",
				"@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
				"@odata.etag": "W/\"1\"",
				"id": "11111111-1111-1111-1111-111111111111",
				"createdDateTime": "2024-01-01T00:00:00Z",
				"lastModifiedDateTime": "2024-02-02T00:00:00Z",
				"version": 7,
				"supportsScopeTags": true,
				"deviceManagementApplicabilityRuleOsEdition@odata.type": "#microsoft.graph.deviceManagementApplicabilityRuleOsEdition",
				"roleScopeTagIds@odata.type": "#Collection(String)",
				"deviceSettingStateSummaries@odata.navigationLink": "https://example/x",
				"assignments@odata.context": "https://example/y",
				"assignments": [{"id": "a1", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}],
				"displayName": "Baseline",
				"description": "",
				"passwordRequired": true,
				"passwordMinimumLength": 12,
				"defenderDetectedMalwareActions": {"@odata.type": "#microsoft.graph.defenderDetectedMalwareActions", "lowSeverity": "clean"},
				"roleScopeTagIds": ["9", "0", "10"]
			}`,
			want: `{
				"@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
				"displayName": "Baseline",
				"description": "",
				"passwordRequired": true,
				"passwordMinimumLength": 12,
				"defenderDetectedMalwareActions": {"@odata.type": "#microsoft.graph.defenderDetectedMalwareActions", "lowSeverity": "clean"},
				"roleScopeTagIds": ["0", "10", "9"]
			}`,
		},
		{
			name: "settings catalog with settings",
			key:  "settingsCatalogPolicy",
			in: `{
				"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
				"id": "p1",
				"name": "Edge",
				"platforms": "windows10",
				"settingCount": 2,
				"isAssigned": true,
				"creationSource": null,
				"priorityMetaData": null,
				"roleScopeTagIds": ["0"],
				"settings@odata.context": "https://example/settings",
				"settings": [
					{"id": "0", "@odata.etag": "x", "settingInstance": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance", "settingDefinitionId": "a"}},
					{"id": "1", "settingInstance": {"settingDefinitionId": "b"}},
					"not an object"
				]
			}`,
			want: `{
				"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
				"name": "Edge",
				"platforms": "windows10",
				"creationSource": null,
				"priorityMetaData": null,
				"roleScopeTagIds": ["0"],
				"settings": [
					{"settingInstance": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance", "settingDefinitionId": "a"}},
					{"settingInstance": {"settingDefinitionId": "b"}}
				]
			}`,
		},
		{
			name: "administrative template definition values",
			key:  "groupPolicyConfiguration",
			in: `{
				"@odata.type": "#microsoft.graph.groupPolicyConfiguration",
				"id": "g1",
				"displayName": "ADMX",
				"policyConfigurationIngestionType": "builtIn",
				"definitionValues": [
					{"id": "d1", "createdDateTime": "x", "lastModifiedDateTime": "y", "enabled": true,
					 "definition": {"id": "def1", "displayName": "Allow"}}
				]
			}`,
			want: `{
				"@odata.type": "#microsoft.graph.groupPolicyConfiguration",
				"displayName": "ADMX",
				"policyConfigurationIngestionType": "builtIn",
				"definitionValues": [{"enabled": true, "definition": {"id": "def1", "displayName": "Allow"}}]
			}`,
		},
		{
			// A write body (bindings, nested ids, @odata.type without "#")
			// normalizes like the object Graph reads back.
			name: "administrative template write body",
			key:  "groupPolicyConfiguration",
			in: `{
				"@odata.type": "microsoft.graph.groupPolicyConfiguration",
				"displayName": "ADMX",
				"definitionValues": [
					{"enabled": true, "definition@odata.bind": "https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions('def1')",
					 "presentationValues": [{"@odata.type": "microsoft.graph.groupPolicyPresentationValueText", "id": "pv1", "createdDateTime": "x", "lastModifiedDateTime": "y", "value": "v",
					   "presentation@odata.bind": "https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions('def1')/presentations('p1')"}]}
				]
			}`,
			want: `{
				"@odata.type": "#microsoft.graph.groupPolicyConfiguration",
				"displayName": "ADMX",
				"definitionValues": [{"enabled": true, "definition": {"id": "def1"},
					"presentationValues": [{"@odata.type": "#microsoft.graph.groupPolicyPresentationValueText", "value": "v", "presentation": {"id": "p1"}}]}]
			}`,
		},
		{
			name: "compliance scheduled action configuration ids",
			key:  "deviceCompliancePolicy",
			in: `{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "id": "c1", "displayName": "C", "version": 3,
				"scheduledActionsForRule": [{"id": "r1", "ruleName": "PasswordRequired",
					"scheduledActionConfigurations": [{"id": "a1", "actionType": "block", "gracePeriodHours": 0}]}]}`,
			want: `{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "C",
				"scheduledActionsForRule": [{"ruleName": "PasswordRequired",
					"scheduledActionConfigurations": [{"actionType": "block", "gracePeriodHours": 0}]}]}`,
		},
		{
			// version is the client's own String on remediation scripts.
			name: "remediation script keeps its version",
			key:  "deviceHealthScript",
			in: `{"@odata.type": "#microsoft.graph.deviceHealthScript", "id": "h1", "displayName": "H", "version": "2.1",
				"deviceHealthScriptType": "deviceHealthScript", "isGlobalScript": false, "highestAvailableVersion": null}`,
			want: `{"@odata.type": "#microsoft.graph.deviceHealthScript", "displayName": "H", "version": "2.1",
				"deviceHealthScriptType": "deviceHealthScript"}`,
		},
		{
			name: "relation absent stays absent",
			key:  "deviceCompliancePolicy",
			in:   `{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "id": "c1", "displayName": "C"}`,
			want: `{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "C"}`,
		},
		{
			name: "scope tag of a type without scope tags",
			key:  "roleScopeTag",
			in:   `{"@odata.type": "#microsoft.graph.roleScopeTag", "id": "3", "isBuiltIn": false, "displayName": "Paris", "roleScopeTagIds": ["b", "a"]}`,
			want: `{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "Paris", "roleScopeTagIds": ["b", "a"]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustLookup(t, tt.key).Normalize(mustJSON(t, tt.in))
			if diff := cmp.Diff(mustJSON(t, tt.want), got); diff != "" {
				t.Errorf("Normalize (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNormalizeKeepsInput checks that Normalize leaves its input, including
// related items and the scope tag list, as it was.
func TestNormalizeKeepsInput(t *testing.T) {
	const in = `{
		"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
		"@odata.context": "x",
		"id": "p1",
		"name": "Edge",
		"settingCount": 1,
		"roleScopeTagIds": ["z", "a"],
		"assignments": [{"id": "a1", "target": {"groupId": "g"}}],
		"settings": [{"id": "0", "settingInstance": {"settingDefinitionId": "a"}}]
	}`
	payload := mustJSON(t, in)
	mustLookup(t, "settingsCatalogPolicy").Normalize(payload)
	if diff := cmp.Diff(mustJSON(t, in), payload); diff != "" {
		t.Errorf("Normalize changed its input (-want +got):\n%s", diff)
	}
}

// TestNormalizeAssignments checks that assignments lose what Graph sets
// (ids, sources) and annotations, keep their target and @odata.type, and
// come out in one order whatever order Graph listed them in.
func TestNormalizeAssignments(t *testing.T) {
	const (
		g1  = `{"id": "a1", "source": "direct", "sourceId": "s1", "@odata.context": "x", "@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g1"}}`
		g2  = `{"id": "a2", "source": "direct", "sourceId": "s2", "@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g2"}}`
		all = `{"id": "a3", "@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}`
	)
	want := []map[string]any{
		mustJSON(t, `{"@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}`),
		mustJSON(t, `{"@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g1"}}`),
		mustJSON(t, `{"@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g2"}}`),
	}
	tests := []struct {
		name string
		in   string
		want []map[string]any
	}{
		{"graph order", "[" + g1 + "," + g2 + "," + all + "]", want},
		{"reversed", "[" + all + "," + g2 + "," + g1 + "]", want},
		{"shuffled with junk", "[" + g2 + `, "junk", 3, null, ` + all + "," + g1 + "]", want},
		{"none", "[]", []map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := mustJSONList(t, tt.in)
			got := intune.NormalizeAssignments(raw)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NormalizeAssignments (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(mustJSONList(t, tt.in), raw); diff != "" {
				t.Errorf("NormalizeAssignments changed its input (-want +got):\n%s", diff)
			}
		})
	}
	if got := intune.NormalizeAssignments(nil); got == nil || len(got) != 0 {
		t.Errorf("NormalizeAssignments(nil) = %#v, want an empty, non-nil slice", got)
	}
}

// TestAssignmentIDs checks the group and filter ids assignments refer to:
// each once, in first-seen order, without empty ids or the all-zero "no
// filter" id.
func TestAssignmentIDs(t *testing.T) {
	const zero = "00000000-0000-0000-0000-000000000000"
	tests := []struct {
		name        string
		assignments string
		groups      []string
		filters     []string
	}{
		{
			name: "groups and filters",
			assignments: `[
				{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g2", "deviceAndAppManagementAssignmentFilterId": "f1", "deviceAndAppManagementAssignmentFilterType": "include"}},
				{"target": {"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "g1", "deviceAndAppManagementAssignmentFilterId": "` + zero + `"}},
				{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g2", "deviceAndAppManagementAssignmentFilterId": "f2"}},
				{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget", "deviceAndAppManagementAssignmentFilterId": "f1"}},
				{"target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget", "deviceAndAppManagementAssignmentFilterId": null}}
			]`,
			groups:  []string{"g2", "g1"},
			filters: []string{"f1", "f2"},
		},
		{
			name: "empty ids and missing targets",
			assignments: `[
				{"target": {"groupId": "", "deviceAndAppManagementAssignmentFilterId": ""}},
				{"target": "not an object"},
				{"intent": "required"}
			]`,
		},
		{
			name:        "only the zero filter",
			assignments: `[{"target": {"groupId": "g", "deviceAndAppManagementAssignmentFilterId": "` + zero + `"}}]`,
			groups:      []string{"g"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var assignments []map[string]any
			if err := json.Unmarshal([]byte(tt.assignments), &assignments); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.groups, intune.AssignmentGroupIDs(assignments), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("AssignmentGroupIDs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.filters, intune.AssignmentFilterIDs(assignments), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("AssignmentFilterIDs (-want +got):\n%s", diff)
			}
		})
	}
}

// hashBase is a device configuration as Graph returns it, used by the hash
// tests: each case changes one thing in it.
const hashBase = `{
	"@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
	"id": "c1",
	"displayName": "Baseline",
	"lastModifiedDateTime": "2024-02-02T00:00:00Z",
	"version": 3,
	"passwordRequired": true,
	"passwordMinimumLength": 12,
	"roleScopeTagIds": ["0", "5"],
	"assignments": [
		{"id": "a1", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g1"}},
		{"id": "a2", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g2"}}
	]
}`

// TestContentHash checks that the hash of a captured object ignores what a
// restore never writes (key order, list order of assignments and scope tags,
// read-only properties) and changes with anything it does write.
func TestContentHash(t *testing.T) {
	typ := mustLookup(t, "deviceConfiguration")
	base := intune.FromGraph(typ, mustJSON(t, hashBase)).ContentHash
	if len(base) != 64 {
		t.Fatalf("ContentHash = %q, want 64 hex digits (SHA-256)", base)
	}
	tests := []struct {
		name   string
		change func(p map[string]any)
		same   bool
	}{
		{"unchanged", func(map[string]any) {}, true},
		{"scope tags reordered", func(p map[string]any) { p["roleScopeTagIds"] = []any{"5", "0"} }, true},
		{"assignments reordered", func(p map[string]any) {
			a := p["assignments"].([]any)
			p["assignments"] = []any{a[1], a[0]}
		}, true},
		{"assignment ids changed", func(p map[string]any) {
			for _, a := range p["assignments"].([]any) {
				m := a.(map[string]any)
				m["id"] = "other-" + m["id"].(string)
			}
		}, true},
		{"read-only properties changed", func(p map[string]any) {
			p["id"] = "c2"
			p["lastModifiedDateTime"] = "2025-01-01T00:00:00Z"
			p["version"] = 4
			p["@odata.context"] = "elsewhere"
		}, true},
		{"setting changed", func(p map[string]any) { p["passwordMinimumLength"] = 14 }, false},
		{"setting added", func(p map[string]any) { p["passwordExpirationDays"] = 90 }, false},
		{"name changed", func(p map[string]any) { p["displayName"] = "Baseline 2" }, false},
		{"odata type changed", func(p map[string]any) { p["@odata.type"] = "#microsoft.graph.windows10CustomConfiguration" }, false},
		{"assignment target changed", func(p map[string]any) {
			p["assignments"].([]any)[0].(map[string]any)["target"].(map[string]any)["groupId"] = "g3"
		}, false},
		{"assignment removed", func(p map[string]any) { p["assignments"] = p["assignments"].([]any)[:1] }, false},
		{"scope tag added", func(p map[string]any) { p["roleScopeTagIds"] = []any{"0", "5", "6"} }, false},
		{"scope tag replaced", func(p map[string]any) { p["roleScopeTagIds"] = []any{"0", "6"} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := mustJSON(t, hashBase)
			tt.change(raw)
			got := intune.FromGraph(typ, raw).ContentHash
			if (got == base) != tt.same {
				t.Errorf("hash equal to the original's = %v, want %v", got == base, tt.same)
			}
		})
	}
}

// TestContentHashDirect checks ContentHash itself: the scope tag order does
// not matter, it does not sort the caller's slice, a tag is not the same as
// a payload property, and nil and empty collections hash alike only where
// JSON does.
func TestContentHashDirect(t *testing.T) {
	payload := map[string]any{"displayName": "x", "n": 1.0}
	assignments := []map[string]any{{"target": map[string]any{"groupId": "g"}}}
	tags := []string{"b", "a"}
	h := intune.ContentHash(payload, assignments, tags)
	if got := intune.ContentHash(payload, assignments, []string{"a", "b"}); got != h {
		t.Errorf("hash with tags [a b] = %s, with [b a] = %s; want equal", got, h)
	}
	if diff := cmp.Diff([]string{"b", "a"}, tags); diff != "" {
		t.Errorf("ContentHash reordered the caller's tags (-want +got):\n%s", diff)
	}
	if got := intune.ContentHash(map[string]any{"n": 1.0, "displayName": "x"}, assignments, tags); got != h {
		t.Error("hash depends on how the payload map was built")
	}
	for name, other := range map[string]string{
		"no tags":           intune.ContentHash(payload, assignments, nil),
		"no assignments":    intune.ContentHash(payload, nil, tags),
		"payload changed":   intune.ContentHash(map[string]any{"displayName": "y", "n": 1.0}, assignments, tags),
		"tag moved to body": intune.ContentHash(map[string]any{"displayName": "x", "n": 1.0, "t": []any{"a", "b"}}, assignments, nil),
	} {
		if other == h {
			t.Errorf("%s: hash unchanged", name)
		}
	}
}

// TestFromGraph checks what a captured object holds.
func TestFromGraph(t *testing.T) {
	ts := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	tests := []struct {
		name string
		key  string
		raw  string
		want intune.Captured
	}{
		{
			name: "device configuration",
			key:  "deviceConfiguration",
			raw: `{
				"@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
				"id": "c1",
				"displayName": "Baseline",
				"lastModifiedDateTime": "2024-05-06T07:08:09.1234567Z",
				"passwordRequired": true,
				"roleScopeTagIds": ["5", "0"],
				"assignments": [
					{"id": "a2", "target": {"groupId": "g2"}},
					{"id": "a1", "target": {"groupId": "g1"}}
				]
			}`,
			want: intune.Captured{
				GraphID:      "c1",
				DisplayName:  "Baseline",
				ODataType:    "#microsoft.graph.windows10GeneralConfiguration",
				Platform:     "windows",
				Payload:      map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "Baseline", "passwordRequired": true, "roleScopeTagIds": []any{"0", "5"}},
				Assignments:  []map[string]any{{"target": map[string]any{"groupId": "g1"}}, {"target": map[string]any{"groupId": "g2"}}},
				ScopeTagIDs:  []string{"0", "5"},
				LastModified: ts("2024-05-06T07:08:09.1234567Z"),
			},
		},
		{
			name: "settings catalog name",
			key:  "settingsCatalogPolicy",
			raw: `{
				"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
				"id": "p1",
				"name": "Edge",
				"displayName": "not the name",
				"platforms": "macOS",
				"lastModifiedDateTime": "2024-05-06T07:08:09Z"
			}`,
			want: intune.Captured{
				GraphID:      "p1",
				DisplayName:  "Edge",
				ODataType:    "#microsoft.graph.deviceManagementConfigurationPolicy",
				Platform:     "macOS",
				Payload:      map[string]any{"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy", "name": "Edge", "displayName": "not the name", "platforms": "macOS"},
				Assignments:  []map[string]any{},
				LastModified: ts("2024-05-06T07:08:09Z"),
			},
		},
		{
			name: "unparsable date and no assignments",
			key:  "deviceConfiguration",
			raw:  `{"@odata.type": "#microsoft.graph.iosGeneralDeviceConfiguration", "id": "c2", "displayName": "i", "lastModifiedDateTime": "yesterday"}`,
			want: intune.Captured{
				GraphID:     "c2",
				DisplayName: "i",
				ODataType:   "#microsoft.graph.iosGeneralDeviceConfiguration",
				Platform:    "iOS",
				Payload:     map[string]any{"@odata.type": "#microsoft.graph.iosGeneralDeviceConfiguration", "displayName": "i"},
				Assignments: []map[string]any{},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := mustLookup(t, tt.key)
			got := intune.FromGraph(typ, mustJSON(t, tt.raw))
			if got.Type != typ {
				t.Errorf("Type = %v, want %s", got.Type, typ.Key)
			}
			if got.Assignments == nil {
				t.Error("Assignments is nil, want a non-nil slice")
			}
			if want := intune.ContentHash(got.Payload, got.Assignments, got.ScopeTagIDs); got.ContentHash != want {
				t.Errorf("ContentHash = %s, want the hash of the captured content %s", got.ContentHash, want)
			}
			// Scope tag ids are a set: Graph's order is not part of them.
			opts := []cmp.Option{
				cmpopts.IgnoreFields(intune.Captured{}, "Type", "ContentHash"),
				cmpopts.SortSlices(func(a, b string) bool { return a < b }),
				cmpopts.EquateEmpty(),
			}
			if diff := cmp.Diff(tt.want, *got, opts...); diff != "" {
				t.Errorf("FromGraph (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeReader is an intune.Reader that serves one object and records the
// requests made to it.
type fakeReader struct {
	object map[string]any
	err    error
	paths  []string
	query  []url.Values
}

func (f *fakeReader) Get(_ context.Context, path string, query url.Values) (map[string]any, error) {
	f.paths = append(f.paths, path)
	f.query = append(f.query, query)
	if f.err != nil {
		return nil, f.err
	}
	return f.object, nil
}

func (f *fakeReader) List(context.Context, string, url.Values, func(map[string]any) error) error {
	return errors.New("fakeReader: Capture must not list")
}

var _ intune.Reader = (*fakeReader)(nil)

// TestCapture checks the request Capture makes (the object's path, escaped
// id, and the $expand of its relations plus assignments where the type has
// them) and that it returns the object as FromGraph captures it.
func TestCapture(t *testing.T) {
	tests := []struct {
		key      string
		graphID  string
		wantPath string
		// wantQuery is the whole query string; nil means none.
		wantQuery url.Values
	}{
		{"deviceConfiguration", "c1", "deviceManagement/deviceConfigurations/c1", url.Values{"$expand": {"assignments"}}},
		{"settingsCatalogPolicy", "p1", "deviceManagement/configurationPolicies/p1", url.Values{"$expand": {"settings,assignments"}}},
		{"deviceCompliancePolicy", "x", "deviceManagement/deviceCompliancePolicies/x",
			url.Values{"$expand": {"scheduledActionsForRule($expand=scheduledActionConfigurations),assignments"}}},
		{"notificationMessageTemplate", "n1", "deviceManagement/notificationMessageTemplates/n1", url.Values{"$expand": {"localizedNotificationMessages"}}},
		{"roleScopeTag", "3", "deviceManagement/roleScopeTags/3", url.Values{}},
		{"assignmentFilter", "a/b c", "deviceManagement/assignmentFilters/a%2Fb%20c", url.Values{}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			typ := mustLookup(t, tt.key)
			raw := map[string]any{"@odata.type": typ.ODataBase, "id": tt.graphID, typ.Name(): "Object", "version": 1}
			g := &fakeReader{object: raw}
			got, err := intune.Capture(context.Background(), g, typ, tt.graphID)
			if err != nil {
				t.Fatalf("Capture: %v", err)
			}
			if diff := cmp.Diff([]string{tt.wantPath}, g.paths); diff != "" {
				t.Errorf("paths read (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]url.Values{tt.wantQuery}, g.query, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("queries (-want +got):\n%s", diff)
			}
			if got.Type != typ {
				t.Errorf("Type = %v, want %s", got.Type, typ.Key)
			}
			// Type holds regexps and funcs, which cmp cannot compare.
			ignoreType := cmpopts.IgnoreFields(intune.Captured{}, "Type")
			if diff := cmp.Diff(intune.FromGraph(typ, raw), got, ignoreType); diff != "" {
				t.Errorf("Capture result differs from FromGraph (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCaptureError checks that a failed read is returned as is, with no
// object.
func TestCaptureError(t *testing.T) {
	errGone := errors.New("graph: 404")
	g := &fakeReader{err: errGone}
	got, err := intune.Capture(context.Background(), g, mustLookup(t, "deviceConfiguration"), "c1")
	if !errors.Is(err, errGone) {
		t.Errorf("Capture error = %v, want %v", err, errGone)
	}
	if got != nil {
		t.Errorf("Capture returned %+v with an error, want nil", got)
	}
}
