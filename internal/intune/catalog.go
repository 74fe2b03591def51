// Package intune knows Intune's objects as Microsoft Graph exposes them: the
// catalog of supported object types (where they live, which @odata.type
// values they accept, how their assignments and scope tags are read and
// written, what is read-only), and the normalizer that turns a Graph payload
// into the stable form that is stored, hashed and diffed. It holds no HTTP:
// the Graph client (package msgraph) and the simulated Graph (package
// graphsim) both read this catalog.
package intune

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Type describes one supported Intune object type.
type Type struct {
	// Key is the stable name stored in rows and used in the API.
	Key   string
	Label string
	// Path is the collection path below the Graph version root, e.g.
	// "deviceManagement/deviceConfigurations". Intune is mostly beta-only.
	Path string
	// ODataBase is the base @odata.type of the collection.
	ODataBase string
	// ODataTypes matches every @odata.type accepted on restore: the base and
	// the derived types (any #microsoft.graph.*Configuration for device
	// configurations). Graph refuses others, and so do we.
	ODataTypes *regexp.Regexp
	// FixedPlatform is the platform of every object of the type, when it has
	// one; otherwise the platform comes from PlatformProperty or the
	// @odata.type prefix (see Platform).
	FixedPlatform    string
	PlatformProperty string
	// Foundation types are the objects other policies refer to (scope tags,
	// assignment filters, notification templates): listed and restored first.
	Foundation bool
	// PreviewOnly, when set, says why no object of the type is ever written:
	// it can be previewed and diffed, never executed.
	PreviewOnly string
	// PreviewOnlyItem, when set, says why one object is preview-only even
	// though its type is restorable ("" when it is restorable).
	PreviewOnlyItem func(payload map[string]any) string
	// GetEach: the list omits content that only a GET by id returns (script
	// bodies), so capture reads every object individually.
	GetEach bool
	// Expand lists the relations read with the object ($expand) and stored
	// inside its payload, e.g. "settings" of a settings catalog policy.
	Expand []Relation
	// ListExpand: a page of the type's list read with the same $expand as a
	// GET by id (ListQuery) returns every object whole, so capture and
	// preview read the collection page by page instead of each object. Set
	// only where the established tools read the list that way (see the
	// comment on each type); elsewhere each object is read by id, and
	// ReadEach says why.
	ListExpand bool
	// ReadEach, on every type without ListExpand, says why its objects are
	// read one GET by id each: what the list leaves out. Shown to clients
	// with the type (policyTypes), since it is what a capture or a preview
	// of the type costs in requests.
	ReadEach string
	// Assignments says how assignments are read and written.
	Assignments Assignments
	// NameProperty holds the object's name: "displayName" for most types,
	// "name" for settings catalog policies.
	NameProperty string
	// ScopeTagsProperty is the property holding scope tag ids ("" when the
	// type has none).
	ScopeTagsProperty string
	// UpdateMethod is PATCH for most types; PUT where Graph replaces the
	// object with its sub-resources (settings catalog).
	UpdateMethod string
	// ReadOnly lists top-level properties Graph sets itself: stripped before
	// diffing and before writing (Graph refuses writes of them).
	ReadOnly []string
	// Builtin reports objects that exist in every tenant and are never
	// written (the Default scope tag, Microsoft's own scripts).
	Builtin func(payload map[string]any) bool
	// CertificateLinks maps an @odata.type (without "#microsoft.graph.")
	// to its relationships to certificate profiles, which restore does not
	// carry: they are navigation properties, not in the body Graph returns,
	// never captured, and certificate profiles are not a catalog type. See
	// CertificateLinksOf.
	CertificateLinks map[string][]string
}

// Relation is a related collection stored inside a payload.
type Relation struct {
	// Name is the property and sub-collection name, e.g. "settings".
	Name string
	// Expand is the $expand clause that reads it (Name when empty).
	Expand string
	// OnCreate says how the relation is written when the object is created:
	// Inline (part of the POST body) or Post (POSTed one by one to
	// {object}/{Name} after the object exists).
	OnCreate WriteMode
	// ReadOnly lists properties of each related item that Graph sets.
	ReadOnly []string
	// Nested are collections inside each item on which Graph sets
	// properties too (ids of scheduled action configurations, of group
	// policy presentation values): written with the item, their ReadOnly
	// properties are stripped like the item's.
	Nested []Relation
}

// WriteMode says how a relation or assignments are written.
type WriteMode string

// The write modes.
const (
	Inline     WriteMode = "inline"      // part of the object's body
	PostEach   WriteMode = "post-each"   // POST {object}/{relation} per item
	AssignPost WriteMode = "assign"      // POST {object}/assign {BodyKey: [...]}
	NotWritten WriteMode = "not-written" // never written
)

// Assignments says how a type's assignments are read and written.
type Assignments struct {
	// Supported is false for types without assignments.
	Supported bool
	// Write is AssignPost (replace all through the assign action) or
	// PostEach (POST {object}/assignments per assignment).
	Write WriteMode
	// BodyKey is the property of the assign action's body.
	BodyKey string
}

// commonReadOnly are read-only on every Intune object of the catalog: the
// Graph beta reference documents id as the generated key and
// createdDateTime/lastModifiedDateTime as set by the service on every type.
// version and supportsScopeTags are not common: each type's list says where
// Graph sets them (a deviceHealthScript's version is the client's own
// String).
var commonReadOnly = []string{"id", "createdDateTime", "lastModifiedDateTime"}

func readOnly(extra ...string) []string { return append(slices.Clone(commonReadOnly), extra...) }

func family(base string, suffix string) *regexp.Regexp {
	return regexp.MustCompile(`^#microsoft\.graph\.(` + regexp.QuoteMeta(base) + `|[A-Za-z0-9]+` + regexp.QuoteMeta(suffix) + `)$`)
}

func exactly(types ...string) *regexp.Regexp {
	q := make([]string, len(types))
	for i, t := range types {
		q[i] = regexp.QuoteMeta(t)
	}
	return regexp.MustCompile(`^#microsoft\.graph\.(` + strings.Join(q, "|") + `)$`)
}

var assignAction = func(key string) Assignments { return Assignments{Supported: true, Write: AssignPost, BodyKey: key} }

// catalog is every supported type, foundations first (restore order).
var catalog = []*Type{
	{
		Key: "roleScopeTag", Label: "Scope tag", Path: "deviceManagement/roleScopeTags",
		ODataBase: "#microsoft.graph.roleScopeTag", ODataTypes: exactly("roleScopeTag"),
		FixedPlatform: "all", Foundation: true, UpdateMethod: "PATCH",
		// The list is whole (IntuneCD, IntuneManagement list it) and the
		// type has no relation we read.
		ListExpand: true,
		// roleScopeTag (beta reference): isBuiltIn "This property is read-only".
		ReadOnly: readOnly("isBuiltIn"),
		Builtin:  func(p map[string]any) bool { return p["isBuiltIn"] == true || p["id"] == "0" },
	},
	{
		Key: "assignmentFilter", Label: "Assignment filter", Path: "deviceManagement/assignmentFilters",
		ODataBase:  "#microsoft.graph.deviceAndAppManagementAssignmentFilter",
		ODataTypes: exactly("deviceAndAppManagementAssignmentFilter"),
		Foundation: true, PlatformProperty: "platform", ScopeTagsProperty: "roleScopeTags", UpdateMethod: "PATCH",
		// The list is whole and the type has no relation or assignments.
		ListExpand: true,
		// deviceAndAppManagementAssignmentFilter (beta reference): only the
		// key and the two timestamps ("automatically populated") are
		// service-set.
		ReadOnly: readOnly(),
	},
	{
		Key: "notificationMessageTemplate", Label: "Notification message template", Path: "deviceManagement/notificationMessageTemplates",
		ODataBase: "#microsoft.graph.notificationMessageTemplate", ODataTypes: exactly("notificationMessageTemplate"),
		FixedPlatform: "all", Foundation: true, ScopeTagsProperty: "roleScopeTagIds", UpdateMethod: "PATCH",
		Expand: []Relation{{Name: "localizedNotificationMessages", OnCreate: PostEach, ReadOnly: []string{"id", "lastModifiedDateTime"}}},
		// IntuneCD lists with $expand=localizedNotificationMessages.
		ListExpand: true,
		// notificationMessageTemplate (beta reference): only the key and
		// lastModifiedDateTime are service-set; it has no createdDateTime or
		// version.
		ReadOnly: readOnly(),
	},
	{
		Key: "deviceConfiguration", Label: "Device configuration", Path: "deviceManagement/deviceConfigurations",
		ODataBase:   "#microsoft.graph.deviceConfiguration",
		ODataTypes:  family("deviceConfiguration", "Configuration"),
		Assignments: assignAction("assignments"), ScopeTagsProperty: "roleScopeTagIds", UpdateMethod: "PATCH",
		// The list is whole (IntuneCD, IntuneBackupAndRestore back up from
		// it); assignments come with $expand=assignments on the list.
		ListExpand: true,
		// deviceConfiguration (beta reference): supportsScopeTags "This
		// property is read-only". version ("Version of the device
		// configuration", Int32, not marked read-only) is Intune's revision
		// counter: it starts at 1 and goes up on every update whatever a body
		// says (IntuneBackupAndRestore and IntuneManagement strip it).
		ReadOnly: readOnly("version", "supportsScopeTags", "deviceManagementApplicabilityRuleOsEdition@odata.type"),
		// Enterprise Wi-Fi, wired 802.1X, VPN and email profiles reach their
		// trusted root, identity and S/MIME certificate profiles through these
		// relationships, as the Graph beta reference lists them on each
		// type's page ("Relationships"; intune-deviceconfig-<type>). Only
		// types whose page names such a relationship are here: a Wi-Fi import
		// (windows81WifiImportConfiguration) and a Windows 8.1 VPN
		// (windows81VpnConfiguration) have none. derivedCredentialSettings
		// (iOS, Android Enterprise) is a tenant setting, not a certificate
		// profile, and is left out.
		CertificateLinks: map[string][]string{
			"windowsWifiEnterpriseEAPConfiguration":         {"rootCertificatesForServerValidation", "identityCertificateForClientAuthentication"},
			"iosEnterpriseWiFiConfiguration":                {"rootCertificatesForServerValidation", "identityCertificateForClientAuthentication"},
			"macOSEnterpriseWiFiConfiguration":              {"rootCertificateForServerValidation", "rootCertificatesForServerValidation", "identityCertificateForClientAuthentication"},
			"androidEnterpriseWiFiConfiguration":            {"rootCertificateForServerValidation", "identityCertificateForClientAuthentication"},
			"androidForWorkEnterpriseWiFiConfiguration":     {"rootCertificateForServerValidation", "identityCertificateForClientAuthentication"},
			"androidWorkProfileEnterpriseWiFiConfiguration": {"rootCertificateForServerValidation", "identityCertificateForClientAuthentication"},
			"androidDeviceOwnerEnterpriseWiFiConfiguration": {"rootCertificateForServerValidation", "rootCertificatesForServerValidation", "identityCertificateForClientAuthentication"},
			"aospDeviceOwnerEnterpriseWiFiConfiguration":    {"rootCertificateForServerValidation", "identityCertificateForClientAuthentication"},
			"windowsWiredNetworkConfiguration": {"rootCertificatesForServerValidation", "identityCertificateForClientAuthentication",
				"secondaryIdentityCertificateForClientAuthentication", "rootCertificateForClientValidation", "secondaryRootCertificateForClientValidation"},
			"macOSWiredNetworkConfiguration":     {"rootCertificateForServerValidation", "rootCertificatesForServerValidation", "identityCertificateForClientAuthentication"},
			"windows10VpnConfiguration":          {"identityCertificate"},
			"windowsPhone81VpnConfiguration":     {"identityCertificate"},
			"iosVpnConfiguration":                {"identityCertificate"},
			"iosikEv2VpnConfiguration":           {"identityCertificate"},
			"macOSVpnConfiguration":              {"identityCertificate"},
			"androidVpnConfiguration":            {"identityCertificate"},
			"androidForWorkVpnConfiguration":     {"identityCertificate"},
			"androidWorkProfileVpnConfiguration": {"identityCertificate"},
			"androidDeviceOwnerVpnConfiguration": {"identityCertificate"},
			// Exchange ActiveSync email profiles: identity and S/MIME
			// certificates. A Windows 10 email profile has none.
			"iosEasEmailProfileConfiguration":            {"identityCertificate", "smimeSigningCertificate", "smimeEncryptionCertificate"},
			"androidEasEmailProfileConfiguration":        {"identityCertificate", "smimeSigningCertificate"},
			"androidForWorkGmailEasConfiguration":        {"identityCertificate"},
			"androidForWorkNineWorkEasConfiguration":     {"identityCertificate"},
			"androidWorkProfileGmailEasConfiguration":    {"identityCertificate"},
			"androidWorkProfileNineWorkEasConfiguration": {"identityCertificate"},
		},
		// Custom OMA-URI profiles hold secret values Graph returns encrypted:
		// written back they would be garbage, so such profiles are preview-only.
		PreviewOnlyItem: func(p map[string]any) string {
			settings, _ := p["omaSettings"].([]any)
			for _, s := range settings {
				if m, ok := s.(map[string]any); ok && m["isEncrypted"] == true {
					return "custom OMA-URI profile with encrypted secret values, which Graph never returns in clear"
				}
			}
			return ""
		},
	},
	{
		Key: "settingsCatalogPolicy", Label: "Settings catalog policy", Path: "deviceManagement/configurationPolicies",
		ODataBase: "#microsoft.graph.deviceManagementConfigurationPolicy", ODataTypes: exactly("deviceManagementConfigurationPolicy"),
		PlatformProperty: "platforms", Assignments: assignAction("assignments"), ScopeTagsProperty: "roleScopeTagIds",
		UpdateMethod: "PUT", NameProperty: "name",
		Expand:   []Relation{{Name: "settings", OnCreate: Inline, ReadOnly: []string{"id"}}},
		ReadEach: "the list omits each policy's settings (it carries only settingCount); IntuneCD and IntuneBackupAndRestore read {id}/settings and IntuneManagement a GET with $expand=settings, per policy",
		// deviceManagementConfigurationPolicy (beta reference): isAssigned
		// "This property is read-only"; settingCount is the count of the
		// settings relation. creationSource ("Policy creation source") and
		// priorityMetaData ("the priority ... selected by the admin during
		// enrollment") are documented without read-only: the client sets
		// them, and a restore must carry them.
		ReadOnly: readOnly("settingCount", "isAssigned"),
	},
	{
		Key: "deviceCompliancePolicy", Label: "Compliance policy", Path: "deviceManagement/deviceCompliancePolicies",
		ODataBase: "#microsoft.graph.deviceCompliancePolicy", ODataTypes: family("deviceCompliancePolicy", "CompliancePolicy"),
		Assignments: assignAction("assignments"), ScopeTagsProperty: "roleScopeTagIds", UpdateMethod: "PATCH",
		// Graph requires the scheduled actions (at least "block") in the
		// create body; afterwards they change only through an action.
		Expand: []Relation{{
			Name: "scheduledActionsForRule", Expand: "scheduledActionsForRule($expand=scheduledActionConfigurations)",
			OnCreate: Inline, ReadOnly: []string{"id"},
			// deviceComplianceActionItem (beta reference): id is the
			// service's key of each configuration.
			Nested: []Relation{{Name: "scheduledActionConfigurations", ReadOnly: []string{"id"}}},
		}},
		// IntuneCD and IntuneManagement list with
		// $expand=scheduledActionsForRule($expand=scheduledActionConfigurations).
		ListExpand: true,
		// deviceCompliancePolicy (beta reference): version (Int32) is Intune's
		// revision counter, as on device configurations.
		ReadOnly: readOnly("version"),
	},
	{
		Key: "groupPolicyConfiguration", Label: "Administrative template", Path: "deviceManagement/groupPolicyConfigurations",
		ODataBase: "#microsoft.graph.groupPolicyConfiguration", ODataTypes: exactly("groupPolicyConfiguration"),
		FixedPlatform: "windows", Assignments: assignAction("assignments"), ScopeTagsProperty: "roleScopeTagIds",
		UpdateMethod: "PATCH",
		Expand: []Relation{{
			// A presentation value's presentation (the option it sets) is a
			// navigation property: Graph returns it only when expanded, and
			// the value is written and diffed by it.
			Name: "definitionValues", Expand: "definitionValues($expand=definition,presentationValues($expand=presentation))",
			OnCreate: PostEach, ReadOnly: []string{"id", "createdDateTime", "lastModifiedDateTime"},
			// groupPolicyPresentationValue (beta reference): id and both
			// timestamps are the service's.
			Nested: []Relation{{Name: "presentationValues", ReadOnly: []string{"id", "createdDateTime", "lastModifiedDateTime"}}},
		}},
		ReadEach: "the list omits the definition values and their presentations, which Graph returns only expanded under one policy ({id}?$expand=definitionValues($expand=definition,presentationValues($expand=presentation))); IntuneCD and IntuneBackupAndRestore read them per policy",
		// groupPolicyConfiguration (beta reference): policyConfigurationIngestionType
		// ("Type of definitions configured for this policy": unknown, custom,
		// builtIn, mixed) is documented without read-only and is writable
		// through the SDKs: the client sets it, a restore carries it.
		ReadOnly: readOnly(),
	},
	{
		Key: "deviceManagementScript", Label: "PowerShell script", Path: "deviceManagement/deviceManagementScripts",
		ODataBase: "#microsoft.graph.deviceManagementScript", ODataTypes: exactly("deviceManagementScript"),
		FixedPlatform: "windows", GetEach: true,
		ReadEach: "the list omits scriptContent, which Graph returns only on a GET by id (IntuneCD, IntuneBackupAndRestore and IntuneManagement read each script so)", Assignments: assignAction("deviceManagementScriptAssignments"),
		// deviceManagementScript (beta reference): no version; only the key
		// and timestamps are service-set.
		ScopeTagsProperty: "roleScopeTagIds", UpdateMethod: "PATCH", ReadOnly: readOnly(),
	},
	{
		Key: "deviceShellScript", Label: "Shell script", Path: "deviceManagement/deviceShellScripts",
		ODataBase: "#microsoft.graph.deviceShellScript", ODataTypes: exactly("deviceShellScript"),
		FixedPlatform: "macOS", GetEach: true,
		ReadEach: "the list omits scriptContent, which Graph returns only on a GET by id (IntuneCD and IntuneManagement read each script so)", Assignments: assignAction("deviceManagementScriptAssignments"),
		// deviceShellScript (beta reference): no version; only the key and
		// timestamps are service-set.
		ScopeTagsProperty: "roleScopeTagIds", UpdateMethod: "PATCH", ReadOnly: readOnly(),
	},
	{
		Key: "deviceHealthScript", Label: "Remediation script", Path: "deviceManagement/deviceHealthScripts",
		ODataBase: "#microsoft.graph.deviceHealthScript", ODataTypes: exactly("deviceHealthScript"),
		FixedPlatform: "windows", GetEach: true,
		ReadEach: "the list omits detectionScriptContent and remediationScriptContent, which Graph returns only on a GET by id (IntuneCD, IntuneBackupAndRestore and IntuneManagement read each script so)", Assignments: assignAction("deviceHealthScriptAssignments"),
		ScopeTagsProperty: "roleScopeTagIds", UpdateMethod: "PATCH",
		// deviceHealthScript (beta reference): version is a client-set String
		// ("Version of the device health script") and deviceHealthScriptType
		// an enum the client chooses (deviceHealthScript, managedInstallerScript):
		// both are kept. isGlobalScript ("Microsoft Proprietary Script";
		// proprietary scripts are read-only) and highestAvailableVersion (of a
		// Microsoft script) are the service's.
		ReadOnly: readOnly("isGlobalScript", "highestAvailableVersion"),
		Builtin:  func(p map[string]any) bool { return p["isGlobalScript"] == true },
	},
	{
		Key: "autopilotDeploymentProfile", Label: "Autopilot deployment profile", Path: "deviceManagement/windowsAutopilotDeploymentProfiles",
		ODataBase:     "#microsoft.graph.windowsAutopilotDeploymentProfile",
		ODataTypes:    family("windowsAutopilotDeploymentProfile", "WindowsAutopilotDeploymentProfile"),
		FixedPlatform: "windows", Assignments: Assignments{Supported: true, Write: PostEach},
		ReadEach: "assignments are read with $expand=assignments on a GET by id, as IntuneManagement reads every type; no established tool lists profiles with it expanded (IntuneCD and IntuneBackupAndRestore read assignments per profile)",
		// windowsAutopilotDeploymentProfile (beta reference): only the key
		// and timestamps are service-set.
		ScopeTagsProperty: "roleScopeTagIds", UpdateMethod: "PATCH", ReadOnly: readOnly(),
	},
	{
		Key: "enrollmentConfiguration", Label: "Enrollment configuration", Path: "deviceManagement/deviceEnrollmentConfigurations",
		ODataBase:     "#microsoft.graph.deviceEnrollmentConfiguration",
		ODataTypes:    family("deviceEnrollmentConfiguration", "Configuration"),
		FixedPlatform: "all", Assignments: assignAction("enrollmentConfigurationAssignments"),
		ReadEach: "assignments are read with $expand=assignments on a GET by id, as IntuneManagement reads every type; no established tool lists configurations with it expanded (IntuneCD reads assignments per configuration)",
		// deviceEnrollmentConfiguration (beta reference): version (Int32) is
		// Intune's revision counter; priority is documented as a plain Int32
		// but only the setPriority action changes it (IntuneCD and
		// IntuneManagement strip it): a create ignores it and goes last.
		ScopeTagsProperty: "roleScopeTagIds", UpdateMethod: "PATCH", ReadOnly: readOnly("version", "priority"),
		PreviewOnly: "enrollment configurations are ordered tenant-wide (priorities and the default configuration); restoring one would reorder others",
	},
	{
		Key: "appProtectionPolicy", Label: "App protection policy", Path: "deviceAppManagement/managedAppPolicies",
		ODataBase:   "#microsoft.graph.managedAppPolicy",
		ODataTypes:  family("managedAppPolicy", "ManagedAppProtection"),
		ReadEach:    "the list mixes platforms and app configurations (and refuses $filter); the protected apps come only from a GET on the platform's collection with $expand=apps (IntuneBackupAndRestore and IntuneManagement read each policy so)",
		Assignments: assignAction("assignments"), ScopeTagsProperty: "roleScopeTagIds", UpdateMethod: "PATCH",
		// managedAppPolicy / targetedManagedAppProtection (beta reference):
		// version ("Version of the entity", String) is Intune's revision
		// counter (IntuneBackupAndRestore strips it); deployedAppCount ("Count
		// of apps to which the current policy is deployed") and isAssigned
		// ("Indicates if the policy is deployed to any inclusion groups") are
		// computed from the apps and assignments.
		ReadOnly:    readOnly("version", "deployedAppCount", "isAssigned"),
		PreviewOnly: "app protection policies target apps by tenant-specific ids; restore them from the Intune portal after review",
	},
}

var byKey = func() map[string]*Type {
	m := make(map[string]*Type, len(catalog))
	for _, t := range catalog {
		m[t.Key] = t
	}
	return m
}()

// Types returns every supported type, foundations first.
func Types() []*Type { return slices.Clone(catalog) }

// Lookup returns the type with key.
func Lookup(key string) (*Type, bool) {
	t, ok := byKey[key]
	return t, ok
}

// ForPath returns the type whose collection is path.
func ForPath(path string) (*Type, bool) {
	for _, t := range catalog {
		if t.Path == path {
			return t, true
		}
	}
	return nil, false
}

// Name returns the property holding an object's name.
func (t *Type) Name() string {
	if t.NameProperty != "" {
		return t.NameProperty
	}
	return "displayName"
}

// Restorable reports whether objects of t can ever be written.
func (t *Type) Restorable() bool { return t.PreviewOnly == "" }

// PreviewOnlyReason returns why payload can never be executed, or "".
func (t *Type) PreviewOnlyReason(payload map[string]any) string {
	if t.PreviewOnly != "" {
		return t.PreviewOnly
	}
	if t.PreviewOnlyItem != nil {
		return t.PreviewOnlyItem(payload)
	}
	return ""
}

// AcceptsODataType reports whether odataType belongs to t's family. The
// families are patterns (any *Configuration for device configurations), so
// another catalog type's own base type is excluded explicitly: a group
// policy configuration is not a device configuration.
func (t *Type) AcceptsODataType(odataType string) bool {
	if !t.ODataTypes.MatchString(odataType) {
		return false
	}
	for _, o := range catalog {
		if o != t && o.ODataBase == odataType {
			return false
		}
	}
	return true
}

// CertificateLinksOf returns the relationships to certificate profiles that
// payload's @odata.type has and restore does not carry (nil for none): a
// created object has none of them, an updated one keeps the target's.
func (t *Type) CertificateLinksOf(payload map[string]any) []string {
	odata, _ := payload["@odata.type"].(string)
	return slices.Clone(t.CertificateLinks[strings.TrimPrefix(CanonicalODataType(odata), "#microsoft.graph.")])
}

// IsBuiltin reports whether payload is a built-in object of every tenant.
func (t *Type) IsBuiltin(payload map[string]any) bool { return t.Builtin != nil && t.Builtin(payload) }

// Platform returns the platform of payload: windows, macOS, iOS, android,
// linux or all.
func (t *Type) Platform(payload map[string]any) string {
	if t.FixedPlatform != "" {
		return t.FixedPlatform
	}
	if t.PlatformProperty != "" {
		if s, ok := payload[t.PlatformProperty].(string); ok && s != "" {
			return platformName(s)
		}
	}
	odata, _ := payload["@odata.type"].(string)
	return platformName(strings.TrimPrefix(odata, "#microsoft.graph."))
}

// platformName maps the platform words Graph uses in types and properties
// to the platforms the API filters by.
func platformName(s string) string {
	l := strings.ToLower(s)
	switch {
	case strings.HasPrefix(l, "windows"), strings.HasPrefix(l, "editionupgrade"), strings.HasPrefix(l, "sharedpc"):
		return "windows"
	case strings.HasPrefix(l, "macos"):
		return "macOS"
	case strings.HasPrefix(l, "ios"), strings.HasPrefix(l, "ipados"):
		return "iOS"
	case strings.HasPrefix(l, "android"), strings.HasPrefix(l, "aosp"):
		return "android"
	case strings.HasPrefix(l, "linux"):
		return "linux"
	}
	return "all"
}

// ExpandQuery is the $expand value that reads t's relations ("" for none).
func (t *Type) ExpandQuery() string {
	parts := make([]string, 0, len(t.Expand))
	for _, r := range t.Expand {
		if r.Expand != "" {
			parts = append(parts, r.Expand)
		} else {
			parts = append(parts, r.Name)
		}
	}
	return strings.Join(parts, ",")
}

// ScopeTagIDs returns the scope tag ids of payload.
func (t *Type) ScopeTagIDs(payload map[string]any) []string {
	if t.ScopeTagsProperty == "" {
		return nil
	}
	raw, _ := payload[t.ScopeTagsProperty].([]any)
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Reader reads from Microsoft Graph: implemented by the Graph client over
// real Graph and the simulated one alike.
type Reader interface {
	Get(ctx context.Context, path string, query url.Values) (map[string]any, error)
	List(ctx context.Context, path string, query url.Values, each func(item map[string]any) error) error
}

// Captured is one object read from Graph, normalized.
type Captured struct {
	Type         *Type
	GraphID      string
	DisplayName  string
	ODataType    string
	Platform     string
	Payload      map[string]any
	Assignments  []map[string]any
	ScopeTagIDs  []string
	LastModified *time.Time
	ContentHash  string
	// Builtin: the object exists in every tenant and is never written.
	Builtin bool
}

// readQuery is the query that reads an object whole: its relations and its
// assignments expanded.
func (t *Type) readQuery() url.Values {
	q := url.Values{}
	expand := t.ExpandQuery()
	if t.Assignments.Supported {
		if expand != "" {
			expand += ","
		}
		expand += "assignments"
	}
	if expand != "" {
		q.Set("$expand", expand)
	}
	return q
}

// Capture reads one object with its relations and assignments and returns it
// normalized.
func Capture(ctx context.Context, g Reader, t *Type, graphID string) (*Captured, error) {
	raw, err := g.Get(ctx, t.Path+"/"+url.PathEscape(graphID), t.readQuery())
	if err != nil {
		return nil, err
	}
	return FromGraph(t, raw), nil
}

// CaptureList reads a ListExpand type's whole collection page by page, each
// object with its relations and assignments, and calls each with it
// normalized: one request per page instead of one per object.
func CaptureList(ctx context.Context, g Reader, t *Type, each func(*Captured) error) error {
	if !t.ListExpand {
		return fmt.Errorf("intune: %s objects are read one by one, not from the list", t.Key)
	}
	return g.List(ctx, t.Path, t.readQuery(), func(raw map[string]any) error {
		return each(FromGraph(t, raw))
	})
}

// FromGraph normalizes an object as Graph returned it.
func FromGraph(t *Type, raw map[string]any) *Captured {
	c := &Captured{Type: t, Payload: t.Normalize(raw), ScopeTagIDs: t.ScopeTagIDs(raw), Platform: t.Platform(raw),
		Assignments: []map[string]any{}}
	c.GraphID, _ = raw["id"].(string)
	c.Builtin = t.IsBuiltin(raw)
	c.DisplayName, _ = raw[t.Name()].(string)
	c.ODataType, _ = raw["@odata.type"].(string)
	if rawAssignments, ok := raw["assignments"].([]any); ok {
		c.Assignments = NormalizeAssignments(rawAssignments)
	}
	if s, ok := raw["lastModifiedDateTime"].(string); ok {
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			c.LastModified = &ts
		}
	}
	c.ContentHash = ContentHash(c.Payload, c.Assignments, c.ScopeTagIDs)
	return c
}
