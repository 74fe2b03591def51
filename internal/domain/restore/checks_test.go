package restore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/intune"
)

// writeAll is every permission a restore needs.
var writeAll = []string{"DeviceManagementConfiguration.ReadWrite.All", "DeviceManagementServiceConfig.ReadWrite.All",
	"DeviceManagementRBAC.ReadWrite.All", "DeviceManagementApps.ReadWrite.All", "Group.Read.All"}

// checkTarget is a target tenant as the checks see it, already listed: a
// Windows 10 general device configuration "Wi-Fi" (id b-src, modified at
// modified; an enrollment configuration alike), scope tags "0" and "5",
// assignment filter "f1", notification template "n1" ("Warn"), the
// built-in remediation script "hs0" ("Restart stopped Office C2R svc"),
// and groups g1 (present) and g9 (absent). Prefilling the index means no
// Graph read happens: the checks judge exactly this.
func checkTarget(sameTenant bool, modified time.Time) *targetIndex {
	x := newTargetIndex(nil, sameTenant)
	obj := func(id, name string, lm *time.Time) targetObject {
		return targetObject{ID: id, DisplayName: name, LastModified: lm}
	}
	typed := func(o targetObject, odata string) targetObject { o.ODataType = odata; return o }
	index := func(objs ...targetObject) *typeIndex {
		ti := &typeIndex{byID: map[string]targetObject{}, byName: map[string][]targetObject{}}
		for _, o := range objs {
			ti.byID[o.ID] = o
			ti.byName[lower(o.DisplayName)] = append(ti.byName[lower(o.DisplayName)], o)
		}
		return ti
	}
	x.byType["deviceConfiguration"] = index(typed(obj("b-src", "Wi-Fi", &modified), "#microsoft.graph.windows10GeneralConfiguration"))
	x.byType["enrollmentConfiguration"] = index(typed(obj("b-src", "Wi-Fi", &modified), "#microsoft.graph.deviceEnrollmentLimitConfiguration"))
	x.byType["roleScopeTag"] = index(typed(obj("0", "Default", nil), "#microsoft.graph.roleScopeTag"), typed(obj("5", "Paris", nil), "#microsoft.graph.roleScopeTag"))
	x.byType["assignmentFilter"] = index(typed(obj("f1", "Corp devices", nil), "#microsoft.graph.deviceAndAppManagementAssignmentFilter"))
	x.byType["deviceCompliancePolicy"] = index(typed(obj("c-src", "Compliance", nil), "#microsoft.graph.windows10CompliancePolicy"))
	x.byType["notificationMessageTemplate"] = index(typed(obj("n1", "Warn", nil), "#microsoft.graph.notificationMessageTemplate"))
	hs := typed(obj("hs0", "Restart stopped Office C2R svc", nil), "#microsoft.graph.deviceHealthScript")
	hs.Builtin = true
	x.byType["deviceHealthScript"] = index(hs)
	g1 := "Group one"
	x.groups["g1"], x.groups["g9"] = &g1, nil
	return x
}

// TestCheckCodes: every check code, with the severity it is reported at.
// Item-level codes come from checkItem, run-level ones from targetResults.
func TestCheckCodes(t *testing.T) {
	captured := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	older, newer := captured.Add(-time.Hour), captured.Add(time.Hour)
	verified := captured
	// item is the backed-up "Wi-Fi" device configuration, assigned to g1
	// with filter f1 and tagged with scope tags 0 and 5.
	item := func() *ent.BackupItem {
		return &ent.BackupItem{
			ID: "item1", PolicyType: "deviceConfiguration", DisplayName: "Wi-Fi", SourceGraphID: "b-src",
			Payload:            map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "Wi-Fi"},
			SourceLastModified: &captured,
			Assignments: []map[string]any{{"target": map[string]any{
				"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g1",
				"deviceAndAppManagementAssignmentFilterId": "f1"}}},
			ScopeTagIds: []string{"0", "5"},
		}
	}
	type itemCase struct {
		sameTenant bool
		unreadable bool // the target could not be read at all
		mutateRun  func(*ent.RestoreRun)
		mutateItem func(*ent.BackupItem)
		mutateIdx  func(*targetIndex)
		// scoped: the foundations in scope (refs.scoped); claims: the
		// other backup items matched onto a target (runPlan.claims).
		scoped     map[string]string
		claims     map[string][]claim
		remembered map[string]map[string]string
	}
	tests := []struct {
		name string
		item *itemCase
		// run-level: the target environment and the error reading it
		env     *ent.Environment
		readErr error
		// want: a result with this code and severity (and whether it is
		// technical, for run-level results)
		code, severity string
		technical      bool
		wantMessage    string // part of the result's message, when set
	}{
		{name: "target missing, creating off", code: CheckTargetMissing, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateItem: func(b *ent.BackupItem) { b.SourceGraphID = "gone" }}},
		{name: "target missing, creating on", code: CheckTargetMissing, severity: SeverityWarning,
			item: &itemCase{sameTenant: true, mutateItem: func(b *ent.BackupItem) { b.SourceGraphID = "gone" },
				mutateRun: func(r *ent.RestoreRun) { r.CreateMissing = true }}},
		{name: "target newer than backup", code: CheckTargetNewer, severity: SeverityWarning,
			item: &itemCase{sameTenant: true, mutateIdx: func(x *targetIndex) {
				o := x.byType["deviceConfiguration"].byID["b-src"]
				o.LastModified = &newer
				x.byType["deviceConfiguration"].byID["b-src"] = o
			}}},
		{name: "target ambiguous across tenants", code: CheckTargetAmbiguous, severity: SeverityBlocking,
			item: &itemCase{mutateRun: func(r *ent.RestoreRun) { r.GroupMapping = map[string]string{"g1": "g1"} },
				mutateIdx: func(x *targetIndex) {
					ti := x.byType["deviceConfiguration"]
					ti.byName["wi-fi"] = append(ti.byName["wi-fi"], targetObject{ID: "other", DisplayName: "Wi-Fi",
						ODataType: "#microsoft.graph.windows10GeneralConfiguration"})
				}}},
		{name: "a name match of another @odata.type is no match", code: CheckTargetMissing, severity: SeverityBlocking,
			item: &itemCase{mutateRun: func(r *ent.RestoreRun) { r.GroupMapping = map[string]string{"g1": "g1"} },
				mutateItem: func(b *ent.BackupItem) { b.Payload["@odata.type"] = "#microsoft.graph.iosGeneralDeviceConfiguration" }}},
		{name: "several backup items onto one target", code: CheckTargetAmbiguous, severity: SeverityBlocking,
			item: &itemCase{mutateRun: func(r *ent.RestoreRun) { r.GroupMapping = map[string]string{"g1": "g1"} },
				claims: map[string][]claim{"deviceConfiguration/b-src": {{"item1", "Wi-Fi"}, {"item2", "WI-FI"}}}}},
		{name: "an explicit choice onto a target another item lands on", code: CheckTargetAmbiguous, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateRun: func(r *ent.RestoreRun) { r.ItemTargets = map[string]string{"item1": "b-src"} },
				claims: map[string][]claim{"deviceConfiguration/b-src": {{"item1", "Wi-Fi"}, {"item7", "Wi-Fi copy"}}}}},
		{name: "chosen target does not exist", code: CheckItemTargetInvalid, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateRun: func(r *ent.RestoreRun) { r.ItemTargets = map[string]string{"item1": "nope"} }}},
		{name: "chosen target of another @odata.type", code: CheckItemTargetInvalid, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateRun: func(r *ent.RestoreRun) { r.ItemTargets = map[string]string{"item1": "b-src"} },
				mutateItem: func(b *ent.BackupItem) { b.Payload["@odata.type"] = "#microsoft.graph.iosGeneralDeviceConfiguration" }}},
		{name: "built-in script maps to its counterpart", code: CheckBuiltin, severity: SeveritySafe,
			item: &itemCase{mutateItem: func(b *ent.BackupItem) {
				b.PolicyType, b.DisplayName, b.SourceGraphID = "deviceHealthScript", "Restart stopped Office C2R svc", "hs-src"
				b.Payload = map[string]any{"@odata.type": "#microsoft.graph.deviceHealthScript", "isGlobalScript": true}
			}}},
		{name: "the Default scope tag maps to the target's", code: CheckBuiltin, severity: SeveritySafe,
			item: &itemCase{mutateItem: func(b *ent.BackupItem) {
				b.PolicyType, b.DisplayName, b.SourceGraphID = "roleScopeTag", "Default", "0"
				b.Payload = map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "Default"}
			}}},
		{name: "a target matched by name that is built-in is never overwritten", code: CheckBuiltin, severity: SeverityWarning,
			item: &itemCase{mutateItem: func(b *ent.BackupItem) {
				b.PolicyType, b.DisplayName, b.SourceGraphID = "deviceHealthScript", "Restart stopped Office C2R svc", "hs-src"
				b.Payload = map[string]any{"@odata.type": "#microsoft.graph.deviceHealthScript"}
				b.ScopeTagIds, b.Assignments = nil, nil
			}}},
		{name: "a mapped foundation in scope is not restored", code: CheckMapped, severity: SeveritySafe,
			item: &itemCase{mutateRun: func(r *ent.RestoreRun) { r.ScopeTagMapping = map[string]string{"tag-src": "5"} },
				mutateItem: func(b *ent.BackupItem) {
					b.PolicyType, b.DisplayName, b.SourceGraphID = "roleScopeTag", "Paris", "tag-src"
					b.Payload = map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "Paris"}
				}}},
		{name: "filter mapped to a filter the target lacks", code: CheckFilterOrphaned, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateRun: func(r *ent.RestoreRun) { r.FilterMapping = map[string]string{"f1": "404"} }}},
		{name: "notification template missing", code: CheckTemplateMissing, severity: SeverityBlocking,
			item: &itemCase{mutateRun: func(r *ent.RestoreRun) { r.GroupMapping = map[string]string{"g1": "g1"} },
				mutateItem: func(b *ent.BackupItem) {
					b.ScopeTagIds = []string{"0"}
					b.Assignments = nil
					b.PolicyType = "deviceCompliancePolicy"
					b.Payload = complianceWith("src-other")
				}}},
		{name: "group unmapped across tenants", code: CheckGroupUnmapped, severity: SeverityBlocking,
			item: &itemCase{}},
		{name: "group orphaned", code: CheckGroupOrphaned, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateRun: func(r *ent.RestoreRun) { r.GroupMapping = map[string]string{"g1": "g9"} }}},
		{name: "scope tag missing", code: CheckScopeTagMissing, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateItem: func(b *ent.BackupItem) { b.ScopeTagIds = []string{"7"} }}},
		{name: "scope tag mapped to a tag the target lacks", code: CheckScopeTagOrphaned, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateRun: func(r *ent.RestoreRun) { r.ScopeTagMapping = map[string]string{"5": "404"} }}},
		{name: "assignment filter missing", code: CheckFilterMissing, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateIdx: func(x *targetIndex) { delete(x.byType["assignmentFilter"].byID, "f1") }}},
		{name: "preview only", code: CheckPreviewOnly, severity: SeverityWarning,
			item: &itemCase{sameTenant: true, mutateItem: func(b *ent.BackupItem) {
				b.PolicyType = "enrollmentConfiguration"
				b.Payload = map[string]any{"@odata.type": "#microsoft.graph.deviceEnrollmentLimitConfiguration"}
			}}},
		{name: "unsupported type", code: CheckInvalidPayload, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateItem: func(b *ent.BackupItem) { b.PolicyType = "nope" }}},
		{name: "payload of another type", code: CheckInvalidPayload, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateItem: func(b *ent.BackupItem) {
				b.Payload["@odata.type"] = "#microsoft.graph.deviceCompliancePolicy"
			}}},
		{name: "target not readable at all", code: CheckTargetUnreadable, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, unreadable: true}},
		{name: "target type not readable", code: CheckTargetUnreadable, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateIdx: func(x *targetIndex) {
				x.byType["deviceConfiguration"].err = errors.New("throttled")
			}}},
		{name: "mapped scope tags not readable", code: CheckTargetUnreadable, severity: SeverityBlocking,
			item: &itemCase{sameTenant: true, mutateRun: func(r *ent.RestoreRun) { r.ScopeTagMapping = map[string]string{"5": "6"} },
				mutateIdx: func(x *targetIndex) { x.byType["roleScopeTag"].err = errors.New("throttled") }}},
		{name: "everything in place", code: CheckOK, severity: SeveritySafe,
			item: &itemCase{sameTenant: true}},
		{name: "across tenants, every reference resolved", code: CheckOK, severity: SeveritySafe,
			item: &itemCase{mutateRun: func(r *ent.RestoreRun) {
				r.GroupMapping = map[string]string{"g1": "g1", "cc": "g1"}
				r.ScopeTagMapping = map[string]string{"5": "5"}
				r.FilterMapping = map[string]string{"f1": "f1"}
			}, mutateItem: func(b *ent.BackupItem) {
				b.PolicyType = "deviceCompliancePolicy"
				b.SourceGraphID, b.DisplayName = "c-src", "Compliance"
				b.Payload = complianceWith("src-n") // the template matches by name
			}}},
		{name: "across tenants, a renamed target found by the identity map", code: CheckOK, severity: SeveritySafe,
			wantMessage: `updates b-src "Wi-Fi", which earlier runs`,
			item: &itemCase{mutateRun: func(r *ent.RestoreRun) {
				r.GroupMapping = map[string]string{"g1": "g1"}
				r.FilterMapping = map[string]string{"f1": "f1"}
			}, mutateItem: func(b *ent.BackupItem) {
				b.DisplayName = "Wi-Fi (old name)"
				b.ScopeTagIds = []string{"0", "src-5"}
			}, mutateIdx: func(x *targetIndex) {
				x.identity = func(string) (map[string]string, error) { return map[string]string{"b-src": "b-src"}, nil }
			}, remembered: map[string]map[string]string{"roleScopeTag": {"src-5": "5"}}}},
		{name: "scope tag mapped to an existing tag", code: CheckOK, severity: SeveritySafe,
			item: &itemCase{sameTenant: true, mutateRun: func(r *ent.RestoreRun) { r.ScopeTagMapping = map[string]string{"5": "5"} }}},
		{name: "scope tag mapped to the Default tag", code: CheckOK, severity: SeveritySafe,
			item: &itemCase{sameTenant: true, mutateItem: func(b *ent.BackupItem) { b.ScopeTagIds = []string{"7"} },
				mutateRun: func(r *ent.RestoreRun) { r.ScopeTagMapping = map[string]string{"7": "0"} }}},
		{name: "older target, missing tag restored with the scope", code: CheckOK, severity: SeveritySafe,
			item: &itemCase{sameTenant: true, mutateItem: func(b *ent.BackupItem) { b.ScopeTagIds = []string{"7"} },
				scoped: map[string]string{"roleScopeTag/7": ""},
				mutateIdx: func(x *targetIndex) {
					o := x.byType["deviceConfiguration"].byID["b-src"]
					o.LastModified = &older
					x.byType["deviceConfiguration"].byID["b-src"] = o
				}}},

		{name: "target unreachable", code: CheckUnreachable, severity: SeverityBlocking, technical: true,
			env: &ent.Environment{WriteEnabled: true, GrantedPermissions: writeAll, PermissionsCheckedAt: &verified}, readErr: errors.New("401")},
		{name: "writes disabled", code: CheckWritesDisabled, severity: SeverityBlocking, technical: true,
			env: &ent.Environment{DisplayName: "Contoso", GrantedPermissions: writeAll, PermissionsCheckedAt: &verified}},
		{name: "write permission missing", code: CheckWritePermission, severity: SeverityBlocking, technical: true,
			env: &ent.Environment{WriteEnabled: true, GrantedPermissions: []string{"DeviceManagementConfiguration.Read.All"}, PermissionsCheckedAt: &verified}},
		{name: "read permission missing", code: CheckReadPermission, severity: SeverityWarning,
			env: &ent.Environment{WriteEnabled: true, GrantedPermissions: []string{"Group.Read.All"}, PermissionsCheckedAt: &verified}},
		{name: "permissions never verified", code: CheckPermissionUnknown, severity: SeverityWarning,
			env: &ent.Environment{WriteEnabled: true}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []result
			if c := tt.item; c != nil {
				run := &ent.RestoreRun{ID: "run1"}
				if c.mutateRun != nil {
					c.mutateRun(run)
				}
				b := item()
				if c.mutateItem != nil {
					c.mutateItem(b)
				}
				var index *targetIndex
				if !c.unreadable {
					index = checkTarget(c.sameTenant, captured)
					if c.mutateIdx != nil {
						c.mutateIdx(index)
					}
				}
				ctx := context.Background()
				var rf *refs
				if index != nil {
					rf, _ = newRefs(ctx, run, index, c.sameTenant, c.scoped, map[string]string{"notificationMessageTemplate/src-n": "Warn"}, c.remembered)
				}
				plan := &runPlan{claims: c.claims, scoped: c.scoped}
				got, _, _ = (&Service{}).checkItem(ctx, run, index, plan, rf, b)
			} else {
				got = targetResults(tt.env, tt.readErr)
			}
			found := false
			for _, r := range got {
				if r.Code == tt.code {
					found = true
					if string(r.Severity) != tt.severity || r.Technical != tt.technical || r.Message == "" {
						t.Errorf("%s: severity %s, technical %v, message %q; want %s, %v and a message",
							r.Code, r.Severity, r.Technical, r.Message, tt.severity, tt.technical)
					}
				}
			}
			if !found {
				t.Fatalf("no %s result in %+v", tt.code, got)
			}
			if tt.code == CheckOK && len(got) != 1 {
				t.Errorf("OK beside other results: %+v", got)
			}
			if tt.wantMessage != "" && !slices.ContainsFunc(got, func(r result) bool { return strings.Contains(r.Message, tt.wantMessage) }) {
				t.Errorf("no message with %q in %+v", tt.wantMessage, got)
			}
		})
		covered[tt.code] = true
	}
	all := []string{CheckTargetMissing, CheckTargetNewer, CheckTargetAmbiguous, CheckGroupUnmapped, CheckGroupOrphaned,
		CheckScopeTagMissing, CheckScopeTagOrphaned, CheckFilterMissing, CheckFilterOrphaned, CheckTemplateMissing,
		CheckItemTargetInvalid, CheckBuiltin, CheckMapped, CheckPreviewOnly, CheckInvalidPayload,
		CheckTargetUnreadable, CheckOK, CheckUnreachable, CheckWritesDisabled, CheckWritePermission, CheckReadPermission,
		CheckPermissionUnknown}
	for _, code := range all {
		if !covered[code] {
			t.Errorf("check code %s has no case", code)
		}
	}
}

// complianceWith is a Windows compliance policy whose block action notifies
// with template (a source id) and CCs group "cc".
func complianceWith(template string) map[string]any {
	return map[string]any{
		"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "Compliance",
		"scheduledActionsForRule": []any{map[string]any{"ruleName": "PasswordRequired",
			"scheduledActionConfigurations": []any{
				map[string]any{"actionType": "block", "gracePeriodHours": 0},
				map[string]any{"actionType": "notification", "gracePeriodHours": 24,
					"notificationTemplateId": template, "notificationMessageCCList": []any{"cc"}},
			}}},
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// The catalog types the cases rely on exist.
func TestCheckCodesCatalog(t *testing.T) {
	for _, key := range []string{"deviceConfiguration", "roleScopeTag", "assignmentFilter", "enrollmentConfiguration"} {
		if _, ok := intune.Lookup(key); !ok {
			t.Errorf("no catalog type %q", key)
		}
	}
}
