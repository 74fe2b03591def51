package restore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/intune"
)

// TestRefsAcrossTenants: every kind of reference of a compliance policy is
// rewritten to a target id, by the rule that applies to it, and the backup
// item is left as it was.
func TestRefsAcrossTenants(t *testing.T) {
	ctx := context.Background()
	typ, _ := intune.Lookup("deviceCompliancePolicy")
	run := &ent.RestoreRun{
		GroupMapping:    map[string]string{"g1": "T-g1", "cc": "T-cc"},
		ScopeTagMapping: map[string]string{"tag-mapped": "5"},
		FilterMapping:   map[string]string{"f-mapped": "f1"},
	}
	x := checkTarget(false, testTime)
	// In scope: tag "tag-scoped" matched onto target tag "5"; filter
	// "f-new" created by the run ("Kiosks" in the backup).
	scoped := map[string]string{"roleScopeTag/tag-scoped": "5", "assignmentFilter/f-new": ""}
	sourceNames := map[string]string{"assignmentFilter/f-new": "Kiosks", "notificationMessageTemplate/n-src": "WARN"}
	remembered := map[string]map[string]string{"roleScopeTag": {"tag-known": "5", "tag-deleted": "gone"}}
	rf, err := newRefs(ctx, run, x, false, scoped, sourceNames, remembered)
	if err != nil {
		t.Fatal(err)
	}
	b := &ent.BackupItem{ID: "b1", PolicyType: typ.Key, DisplayName: "Compliance", SourceGraphID: "c-src",
		Payload: complianceWith("n-src"),
		Assignments: []map[string]any{
			{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g1",
				"deviceAndAppManagementAssignmentFilterId": "f-mapped", "deviceAndAppManagementAssignmentFilterType": "include"}},
			{"target": map[string]any{"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
				"deviceAndAppManagementAssignmentFilterId": "f-new", "deviceAndAppManagementAssignmentFilterType": "exclude"}},
			{"target": map[string]any{"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget",
				"deviceAndAppManagementAssignmentFilterId": noFilter}},
		},
		ScopeTagIds: []string{"0", "tag-mapped", "tag-scoped", "tag-known", "tag-deleted"},
	}
	b.Payload["roleScopeTagIds"] = []any{"0", "tag-mapped", "tag-scoped", "tag-known", "tag-deleted"}
	untouched := cloneJSON(b.Payload)

	got := rf.desired(typ, b)
	// "tag-deleted" was remembered onto an object deleted since: it stays
	// unresolved (its source id), which the checks block.
	wantTags := []string{"0", "5", "5", "5", "tag-deleted"}
	if diff := cmp.Diff(wantTags, got.scopeTags); diff != "" {
		t.Errorf("scope tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(toAnyStrings(wantTags), got.payload["roleScopeTagIds"]); diff != "" {
		t.Errorf("payload scope tags (-want +got):\n%s", diff)
	}
	action := got.payload["scheduledActionsForRule"].([]any)[0].(map[string]any)["scheduledActionConfigurations"].([]any)[1].(map[string]any)
	// The template matched by name ("WARN" is the target's "Warn"), the CC'd group by the mapping.
	if action["notificationTemplateId"] != "n1" || cmp.Diff([]any{"T-cc"}, action["notificationMessageCCList"]) != "" {
		t.Errorf("scheduled action %v", action)
	}
	type m = map[string]any
	wantAssignments := []m{
		{"target": m{"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
			"deviceAndAppManagementAssignmentFilterId": "new: Kiosks", "deviceAndAppManagementAssignmentFilterType": "exclude"}},
		{"target": m{"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget", "deviceAndAppManagementAssignmentFilterId": noFilter}},
		{"target": m{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "T-g1",
			"deviceAndAppManagementAssignmentFilterId": "f1", "deviceAndAppManagementAssignmentFilterType": "include"}},
	}
	if diff := cmp.Diff(wantAssignments, got.assignments); diff != "" {
		t.Errorf("assignments (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(untouched, b.Payload); diff != "" {
		t.Errorf("backup payload modified (-want +got):\n%s", diff)
	}

	// Once the executor created the filter, later items refer to its id.
	rf.setCreated("assignmentFilter", "f-new", "f-created")
	got = rf.desired(typ, b)
	if f := got.assignments[0]["target"].(map[string]any)["deviceAndAppManagementAssignmentFilterId"]; f != "f-created" {
		t.Errorf("created filter referred to as %v", f)
	}

	// Labels: target ids with their names.
	for _, tc := range []struct{ kind, id, want string }{
		{refScopeTag, "5", "5 (Paris)"},
		{refScopeTag, "0", "0 (Default)"},
		{refFilter, "f1", "f1 (Corp devices)"},
		{refTemplate, "n1", "n1 (Warn)"},
		{refGroup, "g1", "g1 (Group one)"},
		{refFilter, "new: Kiosks", "new: Kiosks"},
		{refScopeTag, "unknown", "unknown"},
	} {
		if got := rf.label(ctx, tc.kind, tc.id); got != tc.want {
			t.Errorf("label(%s, %s) = %q, want %q", tc.kind, tc.id, got, tc.want)
		}
	}
}

// TestRefsResolve: how each reference resolves, in order of precedence.
func TestRefsResolve(t *testing.T) {
	ctx := context.Background()
	run := &ent.RestoreRun{ScopeTagMapping: map[string]string{"s": "5", "0": "5"}, GroupMapping: map[string]string{"g": "g1"}}
	scoped := map[string]string{"roleScopeTag/s": "other", "roleScopeTag/in": "5"}
	cross, err := newRefs(ctx, run, checkTarget(false, testTime), false, scoped, nil,
		map[string]map[string]string{"notificationMessageTemplate": {"n": "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	same, err := newRefs(ctx, run, checkTarget(true, testTime), true, nil, nil,
		map[string]map[string]string{"assignmentFilter": {"f-recreated": "f1"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		r              *refs
		kind, src      string
		wantID, wantBy string
	}{
		{"the Default tag is itself, even mapped", cross, refScopeTag, "0", "0", viaBuiltin},
		{"a mapping wins over the scope", cross, refScopeTag, "s", "5", viaMapping},
		{"a foundation in scope", cross, refScopeTag, "in", "5", viaScope},
		{"a group mapping", cross, refGroup, "g", "g1", viaMapping},
		{"an unmapped group across tenants", cross, refGroup, "x", "x", ""},
		{"an unmapped group in the same tenant", same, refGroup, "x", "x", viaSame},
		{"a remembered template", cross, refTemplate, "n", "n1", viaIdentity},
		{"an unknown tag across tenants", cross, refScopeTag, "x", "x", ""},
		{"an unknown filter in the same tenant", same, refFilter, "x", "x", viaSame},
		{"a filter a run re-created in the same tenant", same, refFilter, "f-recreated", "f1", viaIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, by := tt.r.resolve(tt.kind, tt.src)
			if id != tt.wantID || by != tt.wantBy {
				t.Errorf("resolve(%s, %s) = %q via %q, want %q via %q", tt.kind, tt.src, id, by, tt.wantID, tt.wantBy)
			}
		})
	}
}

// testTime is when the test targets' objects were modified.
var testTime = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// TestCustomADMXCounterparts: an imported definition resolves to the one
// target definition of its class, category path and name (case aside),
// and each option to the one of its label; anything else is a problem
// naming the setting, and built-in definitions are never touched.
func TestCustomADMXCounterparts(t *testing.T) {
	value := func(policyType, name, label string) map[string]any {
		v := map[string]any{"enabled": true, "definition": map[string]any{"id": "src-def", "displayName": name, "classType": "machine",
			"categoryPath": `\Contoso`, "policyType": policyType}, "presentationValues": []any{}}
		if label != "" {
			v["presentationValues"] = []any{map[string]any{"value": "x", "presentation": map[string]any{"id": "src-pres", "label": label}}}
		}
		return v
	}
	target := map[string][]admxDefinition{
		admxKey(map[string]any{"displayName": "Banner", "classType": "machine", "categoryPath": `\Contoso`}): {
			{id: "t-def", presentations: map[string][]string{"banner text": {"t-pres"}, "twice": {"t-a", "t-b"}}}},
		admxKey(map[string]any{"displayName": "Twin", "classType": "machine", "categoryPath": `\Contoso`}): {{id: "t-1"}, {id: "t-2"}},
	}
	type result struct{ Def, Pres, Problem string }
	for name, tc := range map[string]struct {
		sameTenant bool
		value      map[string]any
		want       result
	}{
		"matched":         {value: value("admxIngested", "BANNER", "Banner Text"), want: result{Def: "t-def", Pres: "t-pres"}},
		"no option":       {value: value("admxIngested", "Banner", ""), want: result{Def: "t-def"}},
		"built-in":        {value: value("admxBacked", "Banner", "Banner text"), want: result{Def: "src-def", Pres: "src-pres"}},
		"same tenant":     {sameTenant: true, value: value("admxIngested", "Banner", "Banner text"), want: result{Def: "src-def", Pres: "src-pres"}},
		"missing":         {value: value("admxIngested", "Gone", ""), want: result{Def: "src-def", Problem: `"Gone" (\Contoso, machine)`}},
		"two definitions": {value: value("admxIngested", "Twin", ""), want: result{Def: "src-def", Problem: "2 definitions of the target match"}},
		"unknown option":  {value: value("admxIngested", "Banner", "Color"), want: result{Def: "src-def", Pres: "src-pres", Problem: `no single option labelled "Color"`}},
		"option not captured": {value: func() map[string]any {
			v := value("admxIngested", "Banner", "")
			v["presentationValues"] = []any{map[string]any{"value": "x"}}
			return v
		}(), want: result{Def: "src-def", Problem: "does not say which option"}},
		"ambiguous options": {value: value("admxIngested", "Banner", "twice"), want: result{Def: "src-def", Pres: "src-pres", Problem: `no single option labelled "twice"`}},
	} {
		t.Run(name, func(t *testing.T) {
			r := &refs{sameTenant: tc.sameTenant, admx: target}
			payload := map[string]any{"definitionValues": []any{tc.value}}
			var got result
			for _, m := range r.customADMX(payload) {
				got.Problem = m.problem
			}
			r.rewritePayload(payload)
			v := payload["definitionValues"].([]any)[0].(map[string]any)
			got.Def = v["definition"].(map[string]any)["id"].(string)
			if pvs := v["presentationValues"].([]any); len(pvs) > 0 {
				if p, ok := pvs[0].(map[string]any)["presentation"].(map[string]any); ok {
					got.Pres = p["id"].(string)
				}
			}
			if got.Def != tc.want.Def || got.Pres != tc.want.Pres || (tc.want.Problem == "") != (got.Problem == "") || !strings.Contains(got.Problem, tc.want.Problem) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
