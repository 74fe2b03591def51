// Tests of the type catalog (catalog.go): the invariants every type must
// hold (unique keys and paths, restore order, update methods, reasons for
// preview-only types, lookups that round trip), which @odata.type values a
// type accepts, and what the per-type accessors derive from a payload:
// platform, preview-only reason, built-in objects, name property, $expand
// clause and scope tag ids.
package intune_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/restored/restored/internal/intune"
)

// mustLookup returns the catalog type with key, failing the test if there is
// none.
func mustLookup(tb testing.TB, key string) *intune.Type {
	tb.Helper()
	t, ok := intune.Lookup(key)
	if !ok {
		tb.Fatalf("intune.Lookup(%q): no such type", key)
	}
	return t
}

// TestCatalogInvariants checks the rules every type of the catalog must
// follow, so a type added later cannot quietly break them.
func TestCatalogInvariants(t *testing.T) {
	types := intune.Types()
	if len(types) == 0 {
		t.Fatal("intune.Types() is empty")
	}
	keys := map[string]bool{}
	paths := map[string]bool{}
	seenNonFoundation := ""
	for _, typ := range types {
		if typ.Key == "" || typ.Label == "" || typ.Path == "" {
			t.Errorf("type %+v: Key, Label and Path must all be set", typ)
		}
		if keys[typ.Key] {
			t.Errorf("duplicate key %q", typ.Key)
		}
		keys[typ.Key] = true
		if paths[typ.Path] {
			t.Errorf("duplicate path %q (type %s)", typ.Path, typ.Key)
		}
		paths[typ.Path] = true

		// Each type says how it is read: whole from its list, or one GET
		// per object and why (issue 18: the catalog says which and why).
		if typ.ListExpand == (typ.ReadEach != "") {
			t.Errorf("%s: ListExpand %v with ReadEach %q: exactly one must be set", typ.Key, typ.ListExpand, typ.ReadEach)
		}
		if typ.GetEach && typ.ListExpand {
			t.Errorf("%s: GetEach (the list omits content) contradicts ListExpand", typ.Key)
		}
		if !strings.HasPrefix(typ.ODataBase, "#microsoft.graph.") {
			t.Errorf("%s: ODataBase %q is not a #microsoft.graph. type", typ.Key, typ.ODataBase)
		}
		if !typ.AcceptsODataType(typ.ODataBase) {
			t.Errorf("%s: AcceptsODataType(its own ODataBase %q) = false", typ.Key, typ.ODataBase)
		}

		if typ.Foundation && seenNonFoundation != "" {
			t.Errorf("foundation %s comes after non-foundation %s: foundations must be restored first", typ.Key, seenNonFoundation)
		}
		if !typ.Foundation && seenNonFoundation == "" {
			seenNonFoundation = typ.Key
		}

		if typ.UpdateMethod != "PATCH" && typ.UpdateMethod != "PUT" {
			t.Errorf("%s: UpdateMethod = %q, want PATCH or PUT", typ.Key, typ.UpdateMethod)
		}

		if typ.Restorable() != (typ.PreviewOnly == "") {
			t.Errorf("%s: Restorable() = %v with PreviewOnly %q", typ.Key, typ.Restorable(), typ.PreviewOnly)
		}
		if !typ.Restorable() {
			if got := typ.PreviewOnlyReason(map[string]any{}); got == "" {
				t.Errorf("%s: preview-only type gives no reason", typ.Key)
			}
		}

		if !slices.Contains(typ.ReadOnly, "id") {
			t.Errorf("%s: ReadOnly %v lacks \"id\" (Graph sets it)", typ.Key, typ.ReadOnly)
		}
		if a := typ.Assignments; a.Supported {
			switch {
			case a.Write == intune.AssignPost && a.BodyKey == "":
				t.Errorf("%s: assignments written through assign without a BodyKey", typ.Key)
			case a.Write != intune.AssignPost && a.Write != intune.PostEach:
				t.Errorf("%s: assignments write mode %q, want %q or %q", typ.Key, a.Write, intune.AssignPost, intune.PostEach)
			}
		}
		for _, r := range typ.Expand {
			if r.Name == "" {
				t.Errorf("%s: relation without a name", typ.Key)
			}
			if r.OnCreate != intune.Inline && r.OnCreate != intune.PostEach {
				t.Errorf("%s: relation %s OnCreate = %q, want %q or %q", typ.Key, r.Name, r.OnCreate, intune.Inline, intune.PostEach)
			}
		}
	}
	if seenNonFoundation == "" {
		t.Error("the catalog has no non-foundation type")
	}
}

// TestLookupRoundTrip checks that Lookup and ForPath find every type of
// Types() (the same value, not a copy) and nothing else.
// TestReadOnlyFollowsTheGraphReference pins the split between properties
// Graph sets (stripped before diffing and writing) and properties the
// client sets (kept, so a restore writes them back), per the Graph beta
// reference of each type.
func TestReadOnlyFollowsTheGraphReference(t *testing.T) {
	tests := []struct {
		key            string
		server, client []string
	}{
		{"roleScopeTag", []string{"id", "isBuiltIn"}, []string{"displayName", "description"}},
		{"deviceConfiguration", []string{"id", "createdDateTime", "lastModifiedDateTime", "version", "supportsScopeTags"}, []string{"displayName", "roleScopeTagIds"}},
		{"settingsCatalogPolicy", []string{"settingCount", "isAssigned"}, []string{"creationSource", "priorityMetaData", "templateReference", "version", "supportsScopeTags"}},
		{"deviceCompliancePolicy", []string{"version"}, []string{"supportsScopeTags"}},
		{"groupPolicyConfiguration", []string{"id", "createdDateTime", "lastModifiedDateTime"}, []string{"policyConfigurationIngestionType", "version"}},
		{"deviceHealthScript", []string{"isGlobalScript", "highestAvailableVersion"}, []string{"version", "deviceHealthScriptType", "publisher"}},
		{"deviceManagementScript", []string{"id"}, []string{"version", "runAsAccount"}},
		{"enrollmentConfiguration", []string{"version", "priority"}, nil},
		{"appProtectionPolicy", []string{"version", "deployedAppCount", "isAssigned"}, nil},
	}
	for _, tt := range tests {
		typ := mustLookup(t, tt.key)
		for _, k := range tt.server {
			if !slices.Contains(typ.ReadOnly, k) {
				t.Errorf("%s: Graph sets %q but ReadOnly %v lacks it", tt.key, k, typ.ReadOnly)
			}
		}
		for _, k := range tt.client {
			if slices.Contains(typ.ReadOnly, k) {
				t.Errorf("%s: the client sets %q but ReadOnly %v strips it", tt.key, k, typ.ReadOnly)
			}
		}
	}
}

func TestLookupRoundTrip(t *testing.T) {
	for _, typ := range intune.Types() {
		t.Run(typ.Key, func(t *testing.T) {
			if got, ok := intune.Lookup(typ.Key); !ok || got != typ {
				t.Errorf("Lookup(%q) = %v, %v; want the catalog's type", typ.Key, got, ok)
			}
			if got, ok := intune.ForPath(typ.Path); !ok || got != typ {
				t.Errorf("ForPath(%q) = %v, %v; want the catalog's type", typ.Path, got, ok)
			}
		})
	}
	for _, key := range []string{"", "nope", "DeviceConfiguration", "deviceManagement/deviceConfigurations"} {
		if got, ok := intune.Lookup(key); ok {
			t.Errorf("Lookup(%q) = %s, want none", key, got.Key)
		}
	}
	for _, path := range []string{"", "deviceConfiguration", "deviceManagement/deviceConfigurations/", "/deviceManagement/deviceConfigurations"} {
		if got, ok := intune.ForPath(path); ok {
			t.Errorf("ForPath(%q) = %s, want none", path, got.Key)
		}
	}
}

// TestTypesIsACopy checks that a caller changing the slice Types returns
// cannot reorder or drop types for everyone else.
func TestTypesIsACopy(t *testing.T) {
	first := intune.Types()
	want := make([]string, len(first))
	for i, typ := range first {
		want[i] = typ.Key
	}
	first[0] = nil
	var got []string
	for _, typ := range intune.Types() {
		got = append(got, typ.Key)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Types() after a caller changed its copy (-want +got):\n%s", diff)
	}
}

// TestAcceptsODataType checks the families: a type accepts its base and its
// derived types, and refuses other families, missing and malformed types.
func TestAcceptsODataType(t *testing.T) {
	tests := []struct {
		key   string
		odata string
		want  bool
	}{
		{"deviceConfiguration", "#microsoft.graph.deviceConfiguration", true},
		{"deviceConfiguration", "#microsoft.graph.windows10GeneralConfiguration", true},
		{"deviceConfiguration", "#microsoft.graph.iosCustomConfiguration", true},
		{"deviceConfiguration", "#microsoft.graph.windows10CompliancePolicy", false},
		{"deviceConfiguration", "#microsoft.graph.deviceManagementConfigurationPolicy", false},
		{"deviceConfiguration", "#microsoft.graph.groupPolicyConfiguration", false},
		{"deviceConfiguration", "#microsoft.graph.deviceEnrollmentConfiguration", false},
		{"enrollmentConfiguration", "#microsoft.graph.deviceConfiguration", false},
		{"enrollmentConfiguration", "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration", true},
		{"deviceConfiguration", "", false},
		{"deviceConfiguration", "garbage", false},
		{"deviceConfiguration", "windows10GeneralConfiguration", false},
		{"deviceConfiguration", "microsoft.graph.windows10GeneralConfiguration", false},
		{"deviceConfiguration", "#microsoft.graph.", false},
		{"deviceConfiguration", "#microsoft.graph.Configuration", false},
		{"deviceConfiguration", "#microsoftXgraphXwindows10GeneralConfiguration", false},
		{"deviceConfiguration", "#microsoft.graph.windows10GeneralConfigurationX", false},
		{"deviceConfiguration", "#microsoft.graph.windows10GeneralConfiguration\n", false},
		{"deviceConfiguration", " #microsoft.graph.windows10GeneralConfiguration", false},
		{"deviceConfiguration", "#microsoft.graph.a.bConfiguration", false},
		{"deviceConfiguration", "#microsoft.graph.windows10GeneralConfiguration#microsoft.graph.x", false},
		{"deviceCompliancePolicy", "#microsoft.graph.deviceCompliancePolicy", true},
		{"deviceCompliancePolicy", "#microsoft.graph.windows10CompliancePolicy", true},
		{"deviceCompliancePolicy", "#microsoft.graph.iosCompliancePolicy", true},
		{"deviceCompliancePolicy", "#microsoft.graph.windows10GeneralConfiguration", false},
		{"settingsCatalogPolicy", "#microsoft.graph.deviceManagementConfigurationPolicy", true},
		{"settingsCatalogPolicy", "#microsoft.graph.deviceManagementConfigurationPolicyTemplate", false},
		{"settingsCatalogPolicy", "#microsoft.graph.windows10GeneralConfiguration", false},
		{"roleScopeTag", "#microsoft.graph.roleScopeTag", true},
		{"roleScopeTag", "#microsoft.graph.roleScopeTags", false},
		{"autopilotDeploymentProfile", "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", true},
		{"autopilotDeploymentProfile", "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile", true},
		{"appProtectionPolicy", "#microsoft.graph.iosManagedAppProtection", true},
		{"appProtectionPolicy", "#microsoft.graph.androidManagedAppProtection", true},
		{"appProtectionPolicy", "#microsoft.graph.iosCompliancePolicy", false},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.odata, func(t *testing.T) {
			if got := mustLookup(t, tt.key).AcceptsODataType(tt.odata); got != tt.want {
				t.Errorf("%s.AcceptsODataType(%q) = %v, want %v", tt.key, tt.odata, got, tt.want)
			}
		})
	}
}

// TestPlatform checks the three sources of a platform, in order: the type's
// fixed platform, its platform property, then the @odata.type prefix.
func TestPlatform(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		payload map[string]any
		want    string
	}{
		// Fixed: the payload does not matter.
		{"fixed windows", "groupPolicyConfiguration", map[string]any{"@odata.type": "#microsoft.graph.iosFoo"}, "windows"},
		{"fixed macOS", "deviceShellScript", map[string]any{}, "macOS"},
		{"fixed all", "roleScopeTag", map[string]any{"@odata.type": "#microsoft.graph.windows10Foo"}, "all"},
		{"fixed nil payload", "deviceManagementScript", nil, "windows"},

		// Settings catalog: the "platforms" property.
		{"catalog windows10", "settingsCatalogPolicy", map[string]any{"platforms": "windows10"}, "windows"},
		{"catalog macOS", "settingsCatalogPolicy", map[string]any{"platforms": "macOS"}, "macOS"},
		{"catalog iOS", "settingsCatalogPolicy", map[string]any{"platforms": "iOS"}, "iOS"},
		{"catalog android", "settingsCatalogPolicy", map[string]any{"platforms": "android"}, "android"},
		{"catalog aosp", "settingsCatalogPolicy", map[string]any{"platforms": "aosp"}, "android"},
		{"catalog linux", "settingsCatalogPolicy", map[string]any{"platforms": "linux"}, "linux"},
		{"catalog none", "settingsCatalogPolicy", map[string]any{"platforms": "none"}, "all"},
		{"catalog property wins over type", "settingsCatalogPolicy",
			map[string]any{"platforms": "macOS", "@odata.type": "#microsoft.graph.windows10Foo"}, "macOS"},
		{"catalog empty property falls back", "settingsCatalogPolicy",
			map[string]any{"platforms": "", "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy"}, "all"},
		{"catalog non-string property falls back", "settingsCatalogPolicy", map[string]any{"platforms": 4}, "all"},
		{"catalog missing property", "settingsCatalogPolicy", map[string]any{}, "all"},

		// Assignment filters: the "platform" property.
		{"filter windows10AndLater", "assignmentFilter", map[string]any{"platform": "windows10AndLater"}, "windows"},
		{"filter androidAOSP", "assignmentFilter", map[string]any{"platform": "androidAOSP"}, "android"},
		{"filter iOSMobileApplicationManagement", "assignmentFilter", map[string]any{"platform": "iOSMobileApplicationManagement"}, "iOS"},
		{"filter unknown", "assignmentFilter", map[string]any{"platform": "unknown"}, "all"},

		// Everything else: the @odata.type prefix.
		{"odata windows10", "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration"}, "windows"},
		{"odata windowsPhone", "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.windowsPhone81CustomConfiguration"}, "windows"},
		{"odata editionUpgrade", "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.editionUpgradeConfiguration"}, "windows"},
		{"odata sharedPC", "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.sharedPCConfiguration"}, "windows"},
		{"odata ios", "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.iosGeneralDeviceConfiguration"}, "iOS"},
		{"odata macOS", "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.macOSCustomConfiguration"}, "macOS"},
		{"odata android", "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.androidWorkProfileGeneralDeviceConfiguration"}, "android"},
		{"odata aosp", "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.aospDeviceOwnerDeviceConfiguration"}, "android"},
		{"odata base type", "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.deviceConfiguration"}, "all"},
		{"odata missing", "deviceConfiguration", map[string]any{}, "all"},
		{"odata not a string", "deviceConfiguration", map[string]any{"@odata.type": 42}, "all"},
		{"compliance windows10", "deviceCompliancePolicy", map[string]any{"@odata.type": "#microsoft.graph.windows10CompliancePolicy"}, "windows"},
		{"compliance macOS", "deviceCompliancePolicy", map[string]any{"@odata.type": "#microsoft.graph.macOSCompliancePolicy"}, "macOS"},
		{"compliance android", "deviceCompliancePolicy", map[string]any{"@odata.type": "#microsoft.graph.androidDeviceOwnerCompliancePolicy"}, "android"},
		{"app protection ios", "appProtectionPolicy", map[string]any{"@odata.type": "#microsoft.graph.iosManagedAppProtection"}, "iOS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLookup(t, tt.key).Platform(tt.payload); got != tt.want {
				t.Errorf("%s.Platform(%v) = %q, want %q", tt.key, tt.payload, got, tt.want)
			}
		})
	}
}

// TestPreviewOnlyReason checks both kinds of preview-only: a whole type, and
// one deviceConfiguration object (an OMA-URI profile with an encrypted
// value).
func TestPreviewOnlyReason(t *testing.T) {
	oma := func(settings ...any) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.windows10CustomConfiguration", "omaSettings": settings}
	}
	tests := []struct {
		name    string
		key     string
		payload map[string]any
		// want is a substring of the reason; "" means no reason.
		want string
	}{
		{"enrollment type", "enrollmentConfiguration", map[string]any{}, "enrollment configurations"},
		{"app protection type", "appProtectionPolicy", map[string]any{"@odata.type": "#microsoft.graph.iosManagedAppProtection"}, "app protection"},
		{"OMA-URI encrypted", "deviceConfiguration",
			oma(map[string]any{"omaUri": "./a", "isEncrypted": false}, map[string]any{"omaUri": "./b", "isEncrypted": true}), "encrypted"},
		{"OMA-URI not encrypted", "deviceConfiguration",
			oma(map[string]any{"omaUri": "./a", "isEncrypted": false}, map[string]any{"omaUri": "./b"}), ""},
		{"OMA-URI no settings", "deviceConfiguration", oma(), ""},
		{"OMA-URI settings not a list", "deviceConfiguration", map[string]any{"omaSettings": "x"}, ""},
		{"OMA-URI setting not an object", "deviceConfiguration", oma("isEncrypted"), ""},
		{"plain device configuration", "deviceConfiguration", map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration"}, ""},
		{"settings catalog", "settingsCatalogPolicy", map[string]any{"omaSettings": []any{map[string]any{"isEncrypted": true}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustLookup(t, tt.key).PreviewOnlyReason(tt.payload)
			switch {
			case tt.want == "" && got != "":
				t.Errorf("PreviewOnlyReason = %q, want none", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("PreviewOnlyReason = %q, want a reason mentioning %q", got, tt.want)
			}
		})
	}
}

// TestCertificateLinksOf checks which relationships to certificate profiles
// a payload's @odata.type has (written with or without the leading "#"),
// and that every type listed is one its catalog type accepts, so a typo in
// the list cannot silently never match.
func TestCertificateLinksOf(t *testing.T) {
	dc := mustLookup(t, "deviceConfiguration")
	tests := []struct {
		name, key, odata string
		want             []string
	}{
		{"Windows enterprise Wi-Fi", "deviceConfiguration", "#microsoft.graph.windowsWifiEnterpriseEAPConfiguration",
			[]string{"rootCertificatesForServerValidation", "identityCertificateForClientAuthentication"}},
		{"without #", "deviceConfiguration", "microsoft.graph.androidWorkProfileEnterpriseWiFiConfiguration",
			[]string{"rootCertificateForServerValidation", "identityCertificateForClientAuthentication"}},
		{"IKEv2 VPN (inherited from iOS VPN)", "deviceConfiguration", "#microsoft.graph.iosikEv2VpnConfiguration", []string{"identityCertificate"}},
		{"iOS email (S/MIME too)", "deviceConfiguration", "#microsoft.graph.iosEasEmailProfileConfiguration",
			[]string{"identityCertificate", "smimeSigningCertificate", "smimeEncryptionCertificate"}},
		{"Windows 10 email has none", "deviceConfiguration", "#microsoft.graph.windows10EasEmailProfileConfiguration", nil},
		{"Wi-Fi import has none", "deviceConfiguration", "#microsoft.graph.windows81WifiImportConfiguration", nil},
		{"general configuration", "deviceConfiguration", "#microsoft.graph.windows10GeneralConfiguration", nil},
		{"no type", "deviceConfiguration", "", nil},
		{"other catalog type", "settingsCatalogPolicy", "#microsoft.graph.windowsWifiEnterpriseEAPConfiguration", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustLookup(t, tt.key).CertificateLinksOf(map[string]any{"@odata.type": tt.odata})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CertificateLinksOf (-want +got):\n%s", diff)
			}
		})
	}
	for _, typ := range intune.Types() {
		for odata, links := range typ.CertificateLinks {
			if !typ.AcceptsODataType("#microsoft.graph."+odata) || len(links) == 0 {
				t.Errorf("%s: certificate links of %s (%v): not a type it accepts, or none", typ.Key, odata, links)
			}
		}
	}
	if len(dc.CertificateLinks) == 0 {
		t.Error("deviceConfiguration lists no certificate links")
	}
}

// TestIsBuiltin checks which objects count as present in every tenant.
func TestIsBuiltin(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		payload map[string]any
		want    bool
	}{
		{"default scope tag", "roleScopeTag", map[string]any{"id": "0", "displayName": "Default"}, true},
		{"built-in scope tag", "roleScopeTag", map[string]any{"id": "7", "isBuiltIn": true}, true},
		{"custom scope tag", "roleScopeTag", map[string]any{"id": "1", "isBuiltIn": false}, false},
		{"global health script", "deviceHealthScript", map[string]any{"id": "x", "isGlobalScript": true}, true},
		{"own health script", "deviceHealthScript", map[string]any{"id": "x", "isGlobalScript": false}, false},
		{"health script without flag", "deviceHealthScript", map[string]any{"id": "x"}, false},
		{"type without built-ins", "deviceConfiguration", map[string]any{"id": "0", "isBuiltIn": true, "isGlobalScript": true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLookup(t, tt.key).IsBuiltin(tt.payload); got != tt.want {
				t.Errorf("%s.IsBuiltin(%v) = %v, want %v", tt.key, tt.payload, got, tt.want)
			}
		})
	}
}

// TestName checks the name property: "name" for settings catalog policies,
// "displayName" for every other type.
func TestName(t *testing.T) {
	for _, typ := range intune.Types() {
		want := "displayName"
		if typ.Key == "settingsCatalogPolicy" {
			want = "name"
		}
		if got := typ.Name(); got != want {
			t.Errorf("%s.Name() = %q, want %q", typ.Key, got, want)
		}
	}
}

// TestExpandQuery checks the $expand clause of types with and without
// relations, including relations with their own nested $expand.
func TestExpandQuery(t *testing.T) {
	tests := []struct {
		key  string
		want string
	}{
		{"deviceConfiguration", ""},
		{"roleScopeTag", ""},
		{"settingsCatalogPolicy", "settings"},
		{"notificationMessageTemplate", "localizedNotificationMessages"},
		{"deviceCompliancePolicy", "scheduledActionsForRule($expand=scheduledActionConfigurations)"},
		{"groupPolicyConfiguration", "definitionValues($expand=definition,presentationValues($expand=presentation))"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := mustLookup(t, tt.key).ExpandQuery(); got != tt.want {
				t.Errorf("ExpandQuery() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestScopeTagIDs checks that scope tag ids are read from the type's own
// property, in Graph's order, skipping anything that is not a string.
func TestScopeTagIDs(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		payload map[string]any
		want    []string
	}{
		{"roleScopeTagIds", "deviceConfiguration", map[string]any{"roleScopeTagIds": []any{"5", "0", "3"}}, []string{"5", "0", "3"}},
		{"non-strings skipped", "deviceConfiguration", map[string]any{"roleScopeTagIds": []any{"1", 2, nil, "3"}}, []string{"1", "3"}},
		{"missing", "deviceConfiguration", map[string]any{}, nil},
		{"not a list", "deviceConfiguration", map[string]any{"roleScopeTagIds": "0"}, nil},
		{"other property ignored", "deviceConfiguration", map[string]any{"roleScopeTags": []any{"1"}}, nil},
		{"filter roleScopeTags", "assignmentFilter", map[string]any{"roleScopeTags": []any{"0", "9"}}, []string{"0", "9"}},
		{"type without scope tags", "roleScopeTag", map[string]any{"roleScopeTagIds": []any{"1"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustLookup(t, tt.key).ScopeTagIDs(tt.payload)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ScopeTagIDs(%v) (-want +got):\n%s", tt.payload, diff)
			}
		})
	}
}
