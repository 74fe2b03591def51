package graphsim_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph/graphsim"
)

// putExample stores an object of typeKey directly and returns its
// collection URL and id.
func (e *env) putExample(tb testing.TB, ten *graphsim.Tenant, typeKey string, obj map[string]any) (string, string) {
	tb.Helper()
	typ, _ := intune.Lookup(typeKey)
	o := mustPut(tb, ten, typeKey, obj)
	return e.graph(ten.ID(), typ.Path), o["id"].(string)
}

// TestServerSetPropertiesAreAcceptedAndIgnored posts the properties the
// issue lists (version, supportsScopeTags, isAssigned, settingCount,
// creationSource, priorityMetaData, priority, isBuiltIn,
// policyConfigurationIngestionType, isGlobalScript, highestAvailableVersion,
// lastModifiedDateTime) and checks that each is either ignored (Graph's
// value wins) or kept (the client's property), per the Graph beta reference.
func TestServerSetPropertiesAreAcceptedAndIgnored(t *testing.T) {
	e := newEnv(t, graphsim.Options{Now: tickingClock()})
	exampleTenant(t, e.srv, "ro")
	const stale = "2017-01-01T00:00:35.1329464-08:00"
	tests := []struct {
		key     string
		body    map[string]any
		server  map[string]any // Graph's value, whatever the body said
		kept    []string       // the client's value stays
		changed []string       // the body's value must not be stored
	}{
		{key: "deviceConfiguration",
			body: map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "C", "version": 7,
				"supportsScopeTags": false, "lastModifiedDateTime": stale},
			server: map[string]any{"version": float64(1), "supportsScopeTags": true}, changed: []string{"lastModifiedDateTime"}},
		{key: "settingsCatalogPolicy",
			body: map[string]any{"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy", "name": "SC", "settingCount": 12,
				"isAssigned": true, "creationSource": "SecurityBaseline", "priorityMetaData": map[string]any{"priority": 8}, "settings": []any{}},
			server: map[string]any{"settingCount": float64(0), "isAssigned": false}, kept: []string{"creationSource", "priorityMetaData"}},
		{key: "deviceHealthScript",
			body: map[string]any{"@odata.type": "#microsoft.graph.deviceHealthScript", "displayName": "H", "version": "2.1",
				"isGlobalScript": true, "highestAvailableVersion": "9", "deviceHealthScriptType": "managedInstallerScript"},
			server: map[string]any{"isGlobalScript": false, "highestAvailableVersion": nil}, kept: []string{"version", "deviceHealthScriptType"}},
		{key: "groupPolicyConfiguration",
			body:   map[string]any{"@odata.type": "#microsoft.graph.groupPolicyConfiguration", "displayName": "G", "policyConfigurationIngestionType": "custom"},
			kept:   []string{"policyConfigurationIngestionType"},
			server: map[string]any{}},
		{key: "enrollmentConfiguration",
			body: map[string]any{"@odata.type": "#microsoft.graph.deviceEnrollmentLimitConfiguration", "displayName": "E", "priority": 0,
				"version": 9, "limit": 5},
			server: map[string]any{"priority": float64(1), "version": float64(1)}},
		{key: "roleScopeTag",
			body:   map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "T", "isBuiltIn": true},
			server: map[string]any{"isBuiltIn": false}},
		{key: "appProtectionPolicy",
			body: map[string]any{"@odata.type": "#microsoft.graph.iosManagedAppProtection", "displayName": "A", "version": "7",
				"isAssigned": true, "deployedAppCount": 3},
			server: map[string]any{"version": "1", "isAssigned": false, "deployedAppCount": float64(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			typ, _ := intune.Lookup(tt.key)
			r := e.do(t, "POST", e.graph("ro", typ.Path), tt.body)
			mustStatus(t, r, 201)
			for k, v := range tt.server {
				if got, ok := r.body[k]; !ok || got != v {
					t.Errorf("%s = %v (present %v), Graph sets %v", k, got, ok, v)
				}
			}
			for _, k := range tt.kept {
				if !jsonEqual(r.body[k], tt.body[k]) {
					t.Errorf("%s = %v, the client sent %v", k, r.body[k], tt.body[k])
				}
				if containsString(typ.ReadOnly, k) {
					t.Errorf("%s is client-set but the catalog strips it as read-only", k)
				}
			}
			for _, k := range tt.changed {
				if r.body[k] == tt.body[k] {
					t.Errorf("%s kept the client's %v", k, tt.body[k])
				}
			}
			for k := range tt.server {
				if !containsString(typ.ReadOnly, k) {
					t.Errorf("%s is set by Graph but the catalog does not list it as read-only", k)
				}
			}
		})
	}
}

// sample is the smallest object of typ a tenant can hold.
func sample(typ *intune.Type) map[string]any {
	return map[string]any{"@odata.type": typ.ODataBase, typ.Name(): "Sample " + typ.Key}
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// jsonEqual compares decoded JSON values (encoding/json sorts map keys).
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestRelationItemsArePostedOneByOne covers the documented item routes of
// the inline relations: POST configurationPolicies/{id}/settings and POST
// deviceCompliancePolicies/{id}/scheduledActionsForRule, each 201 with the
// ids Graph stamps (on nested scheduled action configurations too).
func TestRelationItemsArePostedOneByOne(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := exampleTenant(t, e.srv, "rel")
	coll, id := e.putExample(t, ten, "settingsCatalogPolicy", map[string]any{"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy", "name": "SC"})
	r := e.do(t, "POST", coll+"/"+id+"/settings", map[string]any{
		"@odata.type": "microsoft.graph.deviceManagementConfigurationSetting", "id": "client",
		"settingInstance": map[string]any{"@odata.type": "microsoft.graph.deviceManagementConfigurationSimpleSettingInstance", "settingDefinitionId": "x"},
	})
	mustStatus(t, r, 201)
	if r.body["id"] == "client" || r.body["id"] == nil || r.body["@odata.type"] != "#microsoft.graph.deviceManagementConfigurationSetting" {
		t.Errorf("setting %v", r.body)
	}
	got := e.do(t, "GET", coll+"/"+id, nil)
	if got.body["settingCount"] != float64(1) {
		t.Errorf("settingCount %v after one POST", got.body["settingCount"])
	}

	ccoll, cid := e.putExample(t, ten, "deviceCompliancePolicy", map[string]any{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "C",
		"scheduledActionsForRule": []any{map[string]any{"ruleName": "PasswordRequired", "scheduledActionConfigurations": []any{map[string]any{"actionType": "block"}}}}})
	r = e.do(t, "POST", ccoll+"/"+cid+"/scheduledActionsForRule", map[string]any{
		"@odata.type": "microsoft.graph.deviceComplianceScheduledActionForRule", "id": "client", "ruleName": "Other",
		"scheduledActionConfigurations": []any{map[string]any{"id": "client-cfg", "actionType": "notification", "gracePeriodHours": 24, "notificationTemplateId": exTemplate}},
	})
	mustStatus(t, r, 201)
	cfg := anySlice(r.body["scheduledActionConfigurations"])
	if r.body["id"] == "client" || len(cfg) != 1 {
		t.Fatalf("rule %v", r.body)
	}
	if cid := cfg[0].(map[string]any)["id"]; cid == nil || cid == "client-cfg" {
		t.Errorf("scheduled action configuration id %v", cid)
	}
	if n := len(values(e.do(t, "GET", ccoll+"/"+cid+"/scheduledActionsForRule", nil))); n != 2 {
		t.Errorf("%d rules", n)
	}
}

// TestScheduleActionsForRules: the action replaces a compliance policy's
// scheduled actions and answers 204 No Content, as documented; it is routed
// with and without the namespace and refuses a body without its parameter.
func TestScheduleActionsForRules(t *testing.T) {
	e := newEnv(t, graphsim.Options{Now: tickingClock()})
	ten := exampleTenant(t, e.srv, "sched")
	coll, id := e.putExample(t, ten, "deviceCompliancePolicy", map[string]any{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "C",
		"scheduledActionsForRule": []any{map[string]any{"ruleName": "PasswordRequired", "scheduledActionConfigurations": []any{map[string]any{"actionType": "block"}}}}})
	before, _ := ten.Object("deviceCompliancePolicy", id)
	body := map[string]any{"deviceComplianceScheduledActionForRules": []any{map[string]any{
		"@odata.type": "#microsoft.graph.deviceComplianceScheduledActionForRule", "id": "f0075d5e-5d5e-f007-5e5d-07f05e5d07f0", "ruleName": "PasswordRequired",
		"scheduledActionConfigurations": []any{
			map[string]any{"@odata.type": "microsoft.graph.deviceComplianceActionItem", "actionType": "block", "gracePeriodHours": 72},
			map[string]any{"actionType": "notification", "gracePeriodHours": 0, "notificationTemplateId": exTemplate},
		},
	}}}
	r := e.do(t, "POST", coll+"/"+id+"/scheduleActionsForRules", body)
	mustStatus(t, r, 204)
	if len(r.raw) != 0 {
		t.Errorf("204 with a body: %s", r.raw)
	}
	after, _ := ten.Object("deviceCompliancePolicy", id)
	rules := anySlice(after["scheduledActionsForRule"])
	if len(rules) != 1 {
		t.Fatalf("rules %v", rules)
	}
	rule := rules[0].(map[string]any)
	cfgs := anySlice(rule["scheduledActionConfigurations"])
	if rule["id"] == "f0075d5e-5d5e-f007-5e5d-07f05e5d07f0" || len(cfgs) != 2 || cfgs[0].(map[string]any)["gracePeriodHours"] != float64(72) {
		t.Fatalf("rule %v", rule)
	}
	for _, c := range cfgs {
		if c.(map[string]any)["id"] == nil {
			t.Errorf("configuration without id: %v", c)
		}
	}
	if cfgs[0].(map[string]any)["@odata.type"] != "#microsoft.graph.deviceComplianceActionItem" {
		t.Errorf("@odata.type stored as %v", cfgs[0].(map[string]any)["@odata.type"])
	}
	if after["version"] == before["version"] || after["lastModifiedDateTime"] == before["lastModifiedDateTime"] {
		t.Error("the action did not count as a modification")
	}
	mustStatus(t, e.do(t, "POST", coll+"/"+id+"/microsoft.graph.scheduleActionsForRules", body), 204)
	mustStatus(t, e.do(t, "POST", coll+"/"+id+"/scheduleActionsForRules", map[string]any{}), 400)
	mustStatus(t, e.do(t, "GET", coll+"/"+id+"/scheduleActionsForRules", nil), 405)
	mustStatus(t, e.do(t, "POST", coll+"/missing/scheduleActionsForRules", body), 404)
	bad := map[string]any{"deviceComplianceScheduledActionForRules": []any{map[string]any{"ruleName": "R",
		"scheduledActionConfigurations": []any{map[string]any{"actionType": "explode"}}}}}
	if r := e.do(t, "POST", coll+"/"+id+"/scheduleActionsForRules", bad); r.status != 400 || r.code() != "BadRequest" {
		t.Errorf("bad actionType: %d %s", r.status, r.raw)
	}
	// Only compliance policies have it.
	dcoll, did := e.putExample(t, ten, "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "D"})
	mustStatus(t, e.do(t, "POST", dcoll+"/"+did+"/scheduleActionsForRules", body), 400)
}

// TestUpdateDefinitionValues: added, updated and deletedIds in one call,
// 204 No Content; an unknown id fails the whole call and changes nothing.
func TestUpdateDefinitionValues(t *testing.T) {
	e := newEnv(t, graphsim.Options{Now: tickingClock()})
	ten := exampleTenant(t, e.srv, "gp")
	coll, id := e.putExample(t, ten, "groupPolicyConfiguration", map[string]any{"@odata.type": "#microsoft.graph.groupPolicyConfiguration", "displayName": "G",
		"definitionValues": []any{
			map[string]any{"id": "dv-1", "enabled": true, "definition": map[string]any{"id": "def-1"}},
			map[string]any{"id": "dv-2", "enabled": true, "definition": map[string]any{"id": "def-2"}},
		}})
	u := coll + "/" + id + "/updateDefinitionValues"
	r := e.do(t, "POST", u, map[string]any{
		"added": []any{map[string]any{"@odata.type": "#microsoft.graph.groupPolicyDefinitionValue", "id": "client", "enabled": true, "configurationType": "policy",
			"createdDateTime":       "2017-01-01T00:02:43.5775965-08:00",
			"definition@odata.bind": "https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions('def-3')",
			"presentationValues":    []any{map[string]any{"@odata.type": "microsoft.graph.groupPolicyPresentationValueText", "value": "v"}}}},
		"updated":    []any{map[string]any{"id": "dv-1", "enabled": false}},
		"deletedIds": []any{"dv-2"},
	})
	mustStatus(t, r, 204)
	o, _ := ten.Object("groupPolicyConfiguration", id)
	dvs := anySlice(o["definitionValues"])
	if len(dvs) != 2 {
		t.Fatalf("definitionValues %v", dvs)
	}
	first, added := dvs[0].(map[string]any), dvs[1].(map[string]any)
	if first["id"] != "dv-1" || first["enabled"] != false {
		t.Errorf("updated %v", first)
	}
	if added["id"] == "client" || added["createdDateTime"] == "2017-01-01T00:02:43.5775965-08:00" ||
		added["definition"].(map[string]any)["id"] != "def-3" {
		t.Errorf("added %v", added)
	}
	if pv := anySlice(added["presentationValues"]); len(pv) != 1 || pv[0].(map[string]any)["id"] == nil {
		t.Errorf("presentation values %v", added["presentationValues"])
	}
	// All or nothing.
	r = e.do(t, "POST", u, map[string]any{"updated": []any{map[string]any{"id": "dv-1", "enabled": true}}, "deletedIds": []any{"nope"}})
	mustStatus(t, r, 404)
	o, _ = ten.Object("groupPolicyConfiguration", id)
	if anySlice(o["definitionValues"])[0].(map[string]any)["enabled"] != false {
		t.Error("a failed updateDefinitionValues changed a value")
	}
	mustStatus(t, e.do(t, "POST", coll+"/"+id+"/microsoft.graph.updateDefinitionValues", map[string]any{"deletedIds": []any{}}), 204)
	mustStatus(t, e.do(t, "POST", u, map[string]any{"deletedIds": "dv-1"}), 400)
}

// TestAssignStatusCodes: the assign action answers what the Graph beta
// reference documents per type: 200 with the assignments, or 204 No Content
// where the action returns None.
func TestAssignStatusCodes(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := exampleTenant(t, e.srv, "st")
	want := map[string]int{
		"deviceConfiguration":      200,
		"settingsCatalogPolicy":    200,
		"deviceCompliancePolicy":   200,
		"groupPolicyConfiguration": 200,
		"deviceManagementScript":   204,
		"deviceShellScript":        204,
		"deviceHealthScript":       204,
		"enrollmentConfiguration":  204,
		"appProtectionPolicy":      204,
	}
	target := map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": exGroup1}}
	for _, typ := range intune.Types() {
		if typ.Assignments.Write != intune.AssignPost {
			continue
		}
		status, ok := want[typ.Key]
		if !ok {
			t.Errorf("%s: no documented status", typ.Key)
			continue
		}
		obj := sample(typ)
		coll, id := e.putExample(t, ten, typ.Key, obj)
		r := e.do(t, "POST", coll+"/"+id+"/assign", map[string]any{typ.Assignments.BodyKey: []any{target}})
		mustStatus(t, r, status)
		if status == 204 && len(r.raw) != 0 {
			t.Errorf("%s: 204 with a body %s", typ.Key, r.raw)
		}
		if status == 200 && len(values(r)) != 1 {
			t.Errorf("%s: 200 without the assignments: %s", typ.Key, r.raw)
		}
		if o, _ := ten.Object(typ.Key, id); len(anySlice(o["assignments"])) != 1 {
			t.Errorf("%s: assign stored %v", typ.Key, o["assignments"])
		}
		// Routed with the namespace too.
		mustStatus(t, e.do(t, "POST", coll+"/"+id+"/microsoft.graph.assign", map[string]any{typ.Assignments.BodyKey: []any{}}), status)
	}
	// Deletes answer 204 everywhere.
	for _, typ := range intune.Types() {
		if typ.IsBuiltin(sample(typ)) {
			continue
		}
		coll, id := e.putExample(t, ten, typ.Key, sample(typ))
		mustStatus(t, e.do(t, "DELETE", coll+"/"+id, nil), 204)
	}
}

// TestEveryAssignmentTargetWithAndWithoutHash writes each assignment target
// type with "@odata.type" spelled "#microsoft.graph.x" and
// "microsoft.graph.x", through the assign action and through POST
// {id}/assignments, and reads it back with the "#".
func TestEveryAssignmentTargetWithAndWithoutHash(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := exampleTenant(t, e.srv, "tg")
	targets := map[string]map[string]any{
		"groupAssignmentTarget":                          {"groupId": exGroup1, "deviceAndAppManagementAssignmentFilterId": exFilter, "deviceAndAppManagementAssignmentFilterType": "include"},
		"exclusionGroupAssignmentTarget":                 {"groupId": exGroup2},
		"allDevicesAssignmentTarget":                     {"deviceAndAppManagementAssignmentFilterId": exFilter, "deviceAndAppManagementAssignmentFilterType": "exclude"},
		"allLicensedUsersAssignmentTarget":               {"deviceAndAppManagementAssignmentFilterType": "none"},
		"configurationManagerCollectionAssignmentTarget": {"collectionId": "SMS00001"},
	}
	coll, id := e.putExample(t, ten, "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "D"})
	apColl, apID := e.putExample(t, ten, "autopilotDeploymentProfile", map[string]any{"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "displayName": "AP"})
	for kind, props := range targets {
		for _, prefix := range []string{"#", ""} {
			t.Run(prefix+kind, func(t *testing.T) {
				target := map[string]any{"@odata.type": prefix + "microsoft.graph." + kind}
				for k, v := range props {
					target[k] = v
				}
				r := e.do(t, "POST", coll+"/"+id+"/assign", map[string]any{"assignments": []any{map[string]any{"target": target}}})
				mustStatus(t, r, 200)
				got := values(e.do(t, "GET", coll+"/"+id+"/assignments", nil))
				if len(got) != 1 {
					t.Fatalf("assignments %v", got)
				}
				gt := got[0].(map[string]any)["target"].(map[string]any)
				if gt["@odata.type"] != "#microsoft.graph."+kind {
					t.Errorf("stored @odata.type %v", gt["@odata.type"])
				}
				for k, v := range props {
					if gt[k] != v {
						t.Errorf("%s = %v, want %v", k, gt[k], v)
					}
				}
				r = e.do(t, "POST", apColl+"/"+apID+"/assignments", map[string]any{"target": target})
				mustStatus(t, r, 201)
				if r.body["target"].(map[string]any)["@odata.type"] != "#microsoft.graph."+kind {
					t.Errorf("created assignment %v", r.body)
				}
				mustStatus(t, e.do(t, "DELETE", apColl+"/"+apID+"/assignments/"+r.body["id"].(string), nil), 204)
			})
		}
	}
	// A Configuration Manager target needs its collection; unknown kinds
	// are refused whatever their spelling.
	for _, target := range []map[string]any{
		{"@odata.type": "microsoft.graph.configurationManagerCollectionAssignmentTarget"},
		{"@odata.type": "microsoft.graph.somethingAssignmentTarget"},
		{"@odata.type": "##microsoft.graph.groupAssignmentTarget", "groupId": exGroup1},
	} {
		mustStatus(t, e.do(t, "POST", coll+"/"+id+"/assign", map[string]any{"assignments": []any{map[string]any{"target": target}}}), 400)
	}
}

// TestPrimitiveLiteralsAreValidated: a literal that is not of its declared
// Edm type or enum fails with Graph's 400 BadRequest "Cannot convert the
// literal"; the same body with a valid literal is accepted.
func TestPrimitiveLiteralsAreValidated(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	ten := exampleTenant(t, e.srv, "prim")
	hcoll, hid := e.putExample(t, ten, "deviceHealthScript", map[string]any{"@odata.type": "#microsoft.graph.deviceHealthScript", "displayName": "H"})
	dcoll, did := e.putExample(t, ten, "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "D"})
	coll := func(key string) string { typ, _ := intune.Lookup(key); return e.graph("prim", typ.Path) }
	runOnce := func(date string) map[string]any {
		return map[string]any{"deviceHealthScriptAssignments": []any{map[string]any{
			"target":      map[string]any{"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"},
			"runSchedule": map[string]any{"@odata.type": "microsoft.graph.deviceHealthScriptRunOnceSchedule", "interval": 1, "time": "11:58:36.2550000", "date": date},
		}}}
	}
	group := func(groupID, filterType string) map[string]any {
		return map[string]any{"assignments": []any{map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget",
			"groupId": groupID, "deviceAndAppManagementAssignmentFilterType": filterType}}}}
	}
	wufb := func(date string) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration", "displayName": "U", "qualityUpdatesPauseStartDate": date}
	}
	script := func(runAs, created string) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.deviceManagementScript", "displayName": "S", "scriptContent": "eA==", "runAsAccount": runAs, "createdDateTime": created}
	}
	policy := func(platforms string) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy", "name": "P", "platforms": platforms, "technologies": "mdm"}
	}
	compliance := func(action string) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "C",
			"scheduledActionsForRule": []any{map[string]any{"ruleName": "R", "scheduledActionConfigurations": []any{
				map[string]any{"actionType": "block"}, map[string]any{"actionType": action}}}}}
	}
	tests := []struct {
		name        string
		url         string
		good, bad   map[string]any
		okStatus    int
		literalType string
	}{
		{"Edm.Date in a run schedule", hcoll + "/" + hid + "/assign", runOnce("2016-12-31"), runOnce("2016-13-01"), 204, "Edm.Date"},
		{"Edm.Date on a property", coll("deviceConfiguration"), wufb("2016-12-31"), wufb("31/12/2016"), 201, "Edm.Date"},
		{"Edm.DateTimeOffset", coll("deviceManagementScript"), script("system", "2017-01-01T00:02:43.5775965-08:00"), script("system", "yesterday"), 201, "Edm.DateTimeOffset"},
		{"Edm.Guid", dcoll + "/" + did + "/assign", group(exGroup1, "none"), group("SG-Intune-Pilot", "none"), 200, "Edm.Guid"},
		{"enum", coll("deviceManagementScript"), script("user", "2017-01-01T00:00:00Z"), script("administrator", "2017-01-01T00:00:00Z"), 201, "microsoft.graph.runAsAccountType"},
		{"flags enum", coll("settingsCatalogPolicy"), policy("windows10,macOS"), policy("windows10,plan9"), 201, "microsoft.graph.deviceManagementConfigurationPlatforms"},
		{"nested enum without @odata.type", coll("deviceCompliancePolicy"), compliance("notification"), compliance("explode"), 201, "microsoft.graph.deviceComplianceActionType"},
		{"enum in an assignment target", dcoll + "/" + did + "/assign", group(exGroup1, "include"), group(exGroup1, "sometimes"), 200, "microsoft.graph.deviceAndAppManagementAssignmentFilterType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "POST", tt.url, tt.bad)
			mustStatus(t, r, 400)
			msg, _ := r.body["error"].(map[string]any)["message"].(string)
			if r.code() != "BadRequest" || !strings.HasPrefix(msg, "Cannot convert the literal '") || !strings.HasSuffix(msg, "to the expected type '"+tt.literalType+"'.") {
				t.Errorf("error %s %q", r.code(), msg)
			}
			mustStatus(t, e.do(t, "POST", tt.url, tt.good), tt.okStatus)
		})
	}
}

// TestExamplesThroughBatch sends a documented example inside a $batch: the
// same rules apply to inner requests.
func TestExamplesThroughBatch(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	exampleTenant(t, e.srv, "bx")
	ex := loadExamples(t)["deviceHealthScript"]
	r := e.do(t, "POST", e.graph("bx", "$batch"), map[string]any{"requests": []any{map[string]any{
		"id": "1", "method": "POST", "url": "/deviceManagement/deviceHealthScripts",
		"headers": map[string]any{"Content-Type": "application/json"}, "body": ex.Create,
	}}})
	mustStatus(t, r, 200)
	inner := anySlice(r.body["responses"])
	if len(inner) != 1 || inner[0].(map[string]any)["status"] != float64(201) {
		t.Fatalf("batch %s", r.raw)
	}
}
