package graphsim

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/restored/restored/internal/intune"
)

// Graph deserializes a write body against its model before anything else:
// a value that is not of the property's declared primitive type (Edm.Date,
// Edm.DateTimeOffset, Edm.Guid) or not a member of its enum fails the whole
// request with 400 BadRequest and "Cannot convert the literal '…' to the
// expected type '…'." graphsim checks the properties of the catalog's types
// whose declared types the Graph beta reference gives below; everything else
// is stored as sent.

// primitive is a declared property type with a literal check.
type primitive struct {
	name string // Edm.Date, Edm.DateTimeOffset, Edm.Guid or microsoft.graph.<enum>
	ok   func(s string) bool
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var (
	edmDate = primitive{"Edm.Date", func(s string) bool {
		_, err := time.Parse("2006-01-02", s)
		return err == nil
	}}
	edmDateTimeOffset = primitive{"Edm.DateTimeOffset", func(s string) bool {
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	}}
	edmGuid = primitive{"Edm.Guid", guidRE.MatchString}
)

// enum is a single-valued enum type (members matched exactly, as Graph
// does).
func enum(name string, members ...string) primitive {
	return primitive{"microsoft.graph." + name, func(s string) bool { return slices.Contains(members, s) }}
}

// flags is a flags enum: a comma-separated list of members.
func flags(name string, members ...string) primitive {
	return primitive{"microsoft.graph." + name, func(s string) bool {
		for _, m := range strings.Split(s, ",") {
			if !slices.Contains(members, strings.TrimSpace(m)) {
				return false
			}
		}
		return true
	}}
}

var (
	runAsAccountType = enum("runAsAccountType", "system", "user")
	filterType       = enum("deviceAndAppManagementAssignmentFilterType", "none", "include", "exclude")
)

// declaredTypes maps a complex or entity type (the @odata.type without
// "#microsoft.graph.", or the declared type of a property that carries no
// @odata.type) to its primitive-typed properties, from the Graph beta
// reference page of each type.
var declaredTypes = map[string]map[string]primitive{
	// deviceAndAppManagementAssignmentTarget and every derived target.
	// groupId is declared String, but it is an Entra object id, which is
	// always a GUID: checking it as Edm.Guid refuses nothing Graph accepts.
	"deviceAndAppManagementAssignmentTarget": {
		"deviceAndAppManagementAssignmentFilterType": filterType,
	},
	"groupAssignmentTarget":          {"groupId": edmGuid, "deviceAndAppManagementAssignmentFilterType": filterType},
	"exclusionGroupAssignmentTarget": {"groupId": edmGuid, "deviceAndAppManagementAssignmentFilterType": filterType},
	"deviceAndAppManagementAssignmentFilter": {
		"platform": enum("devicePlatformType", "android", "androidForWork", "iOS", "macOS", "windowsPhone81",
			"windows81AndLater", "windows10AndLater", "androidWorkProfile", "unknown", "androidAOSP",
			"androidMobileApplicationManagement", "iOSMobileApplicationManagement", "unknownFutureValue",
			"windowsMobileApplicationManagement"),
		"assignmentFilterManagementType": enum("assignmentFilterManagementType", "devices", "apps", "unknownFutureValue"),
	},
	"notificationMessageTemplate": {
		"brandingOptions": flags("notificationTemplateBrandingOptions", "none", "includeCompanyLogo", "includeCompanyName",
			"includeContactInformation", "includeCompanyPortalLink", "includeDeviceDetails", "unknownFutureValue"),
	},
	"deviceManagementConfigurationPolicy": {
		"platforms": flags("deviceManagementConfigurationPlatforms", "none", "android", "iOS", "macOS", "windows10X",
			"windows10", "linux", "unknownFutureValue", "androidEnterprise", "aosp"),
		"technologies": flags("deviceManagementConfigurationTechnologies", "none", "mdm", "windows10XManagement",
			"configManager", "intuneManagementExtension", "thirdParty", "documentGateway", "appleRemoteManagement",
			"microsoftSense", "exchangeOnline", "mobileApplicationManagement", "linuxMdm", "enrollment",
			"endpointPrivilegeManagement", "unknownFutureValue", "windowsOsRecovery", "android", "extensibility"),
	},
	"deviceComplianceActionItem": {
		"actionType": enum("deviceComplianceActionType", "noAction", "notification", "block", "retire", "wipe",
			"removeResourceAccessProfiles", "pushNotification", "remoteLock"),
	},
	"groupPolicyConfiguration": {
		"policyConfigurationIngestionType": enum("groupPolicyConfigurationIngestionType", "unknown", "custom", "builtIn", "mixed", "unknownFutureValue"),
	},
	"deviceManagementScript": {"runAsAccount": runAsAccountType},
	"deviceShellScript":      {"runAsAccount": runAsAccountType},
	"deviceHealthScript": {
		"runAsAccount":           runAsAccountType,
		"deviceHealthScriptType": enum("deviceHealthScriptType", "deviceHealthScript", "managedInstallerScript"),
	},
	"deviceHealthScriptRunOnceSchedule": {"date": edmDate},
	"windowsUpdateForBusinessConfiguration": {
		"qualityUpdatesPauseStartDate": edmDate,
		"featureUpdatesPauseStartDate": edmDate,
	},
}

// propertyTypes gives the declared type of nested properties that Graph's
// examples send without @odata.type.
var propertyTypes = map[string]string{
	"scheduledActionsForRule":                 "deviceComplianceScheduledActionForRule",
	"deviceComplianceScheduledActionForRules": "deviceComplianceScheduledActionForRule",
	"scheduledActionConfigurations":           "deviceComplianceActionItem",
	"target":                                  "deviceAndAppManagementAssignmentTarget",
}

// checkPrimitives validates v (a decoded body or part of one) whose declared
// type is declared ("" when unknown); every property ending in "DateTime"
// is an Edm.DateTimeOffset on Intune's types.
func checkPrimitives(v any, declared string) *apiErr {
	switch x := v.(type) {
	case map[string]any:
		typ := declared
		if s, ok := x["@odata.type"].(string); ok {
			typ = strings.TrimPrefix(intune.CanonicalODataType(s), "#microsoft.graph.")
		}
		rules := declaredTypes[typ]
		if rules == nil && strings.HasSuffix(typ, "AssignmentTarget") {
			rules = declaredTypes["deviceAndAppManagementAssignmentTarget"]
		}
		for k, e := range x {
			p, ok := rules[k]
			if !ok && strings.HasSuffix(k, "DateTime") && !strings.Contains(k, "@") {
				p, ok = edmDateTimeOffset, true
			}
			if s, isString := e.(string); ok && isString && !p.ok(s) {
				return badRequest("Cannot convert the literal '" + s + "' to the expected type '" + p.name + "'.")
			}
			if err := checkPrimitives(e, propertyTypes[k]); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := checkPrimitives(e, declared); err != nil {
				return err
			}
		}
	}
	return nil
}

// canonicalTypes writes every @odata.type of a decoded body with its
// leading "#", in place: Graph accepts "microsoft.graph.x" (as its own
// examples send nested values) and "#microsoft.graph.x" alike, and answers
// with the "#".
func canonicalTypes(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "@odata.type" {
				x[k] = intune.CanonicalODataType(s)
				continue
			}
			canonicalTypes(e)
		}
	case []any:
		for _, e := range x {
			canonicalTypes(e)
		}
	}
}
