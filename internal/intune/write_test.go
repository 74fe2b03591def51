package intune

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

type m = map[string]any

func mustType(t *testing.T, key string) *Type {
	t.Helper()
	typ, ok := Lookup(key)
	if !ok {
		t.Fatalf("no type %s", key)
	}
	return typ
}

// TestWriteBodies: what a restore sends per catalog type, from a backup's
// normalized payload: Graph-set properties and assignments never; inline
// relations in a create and in a PUT, cleaned of the ids Graph sets;
// post-each relations and every relation of a PATCH left out (written
// apart); references inside administrative template values as OData
// bindings.
func TestWriteBodies(t *testing.T) {
	admx := m{
		"@odata.type": "#microsoft.graph.groupPolicyConfiguration", "displayName": "ADMX", "id": "x",
		"definitionValues": []any{m{"id": "dv1", "enabled": true,
			"definition":         m{"id": "def1", "displayName": "Turn off Autoplay"},
			"presentationValues": []any{m{"id": "pv1", "value": "x", "presentation": m{"id": "p1", "label": "On"}}}}},
	}
	catalogPolicy := m{
		"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy", "name": "Baseline", "settingCount": 1.0,
		"settings": []any{m{"id": "0", "settingInstance": m{"settingDefinitionId": "a"}}},
	}
	compliance := m{
		"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "C", "version": 3.0,
		"scheduledActionsForRule": []any{m{"ruleName": "r", "scheduledActionConfigurations": []any{m{"id": "c1", "actionType": "block"}}}},
	}
	tests := []struct {
		name, typ    string
		payload      m
		create, upd  m
		intendedRels m // relation → its intended (normalized) items
	}{
		{
			name: "administrative template: values posted after create, bindings", typ: "groupPolicyConfiguration", payload: admx,
			create: m{"@odata.type": "#microsoft.graph.groupPolicyConfiguration", "displayName": "ADMX"},
			upd:    m{"@odata.type": "#microsoft.graph.groupPolicyConfiguration", "displayName": "ADMX"},
			intendedRels: m{"definitionValues": []any{m{"enabled": true, "definition": m{"id": "def1"},
				"presentationValues": []any{m{"value": "x", "presentation": m{"id": "p1"}}}}}},
		},
		{
			name: "settings catalog: inline on create, replaced by PUT", typ: "settingsCatalogPolicy", payload: catalogPolicy,
			create: m{"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy", "name": "Baseline",
				"settings": []any{m{"settingInstance": m{"settingDefinitionId": "a"}}}},
			upd: m{"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy", "name": "Baseline",
				"settings": []any{m{"settingInstance": m{"settingDefinitionId": "a"}}}},
		},
		{
			name: "assignment filter: platform only on create", typ: "assignmentFilter",
			payload: m{"@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter", "displayName": "F", "platform": "windows10AndLater", "rule": "x"},
			create:  m{"@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter", "displayName": "F", "platform": "windows10AndLater", "rule": "x"},
			upd:     m{"@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter", "displayName": "F", "rule": "x"},
		},
		{
			name: "update ring: pause dates and rollback flags only on create", typ: "deviceConfiguration",
			payload: m{"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration", "displayName": "Ring",
				"qualityUpdatesPauseStartDate": "2026-11-01", "featureUpdatesPauseStartDate": "2026-11-02",
				"qualityUpdatesWillBeRolledBack": false, "featureUpdatesWillBeRolledBack": false, "qualityUpdatesDeferralPeriodInDays": 7},
			create: m{"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration", "displayName": "Ring",
				"qualityUpdatesPauseStartDate": "2026-11-01", "featureUpdatesPauseStartDate": "2026-11-02",
				"qualityUpdatesWillBeRolledBack": false, "featureUpdatesWillBeRolledBack": false, "qualityUpdatesDeferralPeriodInDays": 7},
			upd: m{"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration", "displayName": "Ring", "qualityUpdatesDeferralPeriodInDays": 7},
		},
		{
			name: "Autopilot profile: managementServiceAppId only on create", typ: "autopilotDeploymentProfile",
			payload: m{"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "displayName": "AP", "managementServiceAppId": "app", "language": "os-default"},
			create:  m{"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "displayName": "AP", "managementServiceAppId": "app", "language": "os-default"},
			upd:     m{"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "displayName": "AP", "language": "os-default"},
		},
		{
			name: "compliance: actions inline on create, never in a PATCH", typ: "deviceCompliancePolicy", payload: compliance,
			create: m{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "C",
				"scheduledActionsForRule": []any{m{"ruleName": "r", "scheduledActionConfigurations": []any{m{"actionType": "block"}}}}},
			upd: m{"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "C"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := mustType(t, tt.typ)
			if diff := cmp.Diff(tt.create, typ.CreateBody(tt.payload)); diff != "" {
				t.Errorf("create body (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.upd, typ.UpdateBody(tt.payload)); diff != "" {
				t.Errorf("update body (-want +got):\n%s", diff)
			}
			intended := typ.Intended(tt.payload)
			for rel, want := range tt.intendedRels {
				if diff := cmp.Diff(want, intended[rel]); diff != "" {
					t.Errorf("intended %s (-want +got):\n%s", rel, diff)
				}
			}
		})
	}
	// The bindings themselves: Graph's URL form, nested ones naming their
	// definition.
	r := mustType(t, "groupPolicyConfiguration").Expand[0]
	got := cleanItems(r, admx["definitionValues"].([]any))
	want := []any{m{"enabled": true,
		"definition@odata.bind": "https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions('def1')",
		"presentationValues": []any{m{"value": "x",
			"presentation@odata.bind": "https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions('def1')/presentations('p1')"}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("definition values as written (-want +got):\n%s", diff)
	}
	// The payload is not modified.
	if _, ok := admx["definitionValues"].([]any)[0].(m)["definition"]; !ok {
		t.Error("cleaning modified the payload")
	}
}
