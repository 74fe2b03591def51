package apitest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/msgraph/graphsim"
)

// itemView is a restore run item as the cross-tenant tests read it.
type itemView struct {
	DisplayName, PolicyType string
	BackupItemID            string
	PlannedAction           *string
	PreviewAction           *string
	TargetGraphID           *string
	CheckResults            []struct{ Code, Severity, Message string }
	PreviewDiff             *struct {
		Settings []struct {
			Path, Op      string
			Before, After any
		}
		Assignments struct {
			Added, Removed []map[string]any
			Changed        []struct {
				Path          string
				Before, After any
			}
		}
		ScopeTags struct{ Added, Removed []string }
		Note      string
	}
}

// items reads every item of a run, keyed by backup item id.
func (e *env) items(runID string) map[string]itemView {
	e.t.Helper()
	r := e.post(e.owner, `query($id: ID!) { restoreRun(id: $id) { items(first: 500) { edges { node {
		displayName policyType backupItemId plannedAction previewAction targetGraphId checkResults { code severity message }
		previewDiff { settings { path op before after } assignments { added removed changed { path before after } } scopeTags { added removed } note } } } } } }`,
		map[string]any{"id": runID})
	var d struct {
		RestoreRun struct {
			Items struct{ Edges []struct{ Node itemView } }
		}
	}
	r.decode(e.t, &d)
	out := map[string]itemView{}
	for _, ed := range d.RestoreRun.Items.Edges {
		out[ed.Node.BackupItemID] = ed.Node
	}
	return out
}

func (v itemView) has(code string) (string, bool) {
	for _, c := range v.CheckResults {
		if c.Code == code {
			return c.Message, true
		}
	}
	return "", false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// backupItemBySource returns the backup item of a set with a source id.
func (e *env) backupItemBySource(bsID, sourceID string) string {
	e.t.Helper()
	for _, b := range e.app.DB.Client.BackupItem.Query().AllX(context.Background()) {
		if b.BackupSetID == bsID && b.SourceGraphID == sourceID {
			return b.ID
		}
	}
	e.t.Fatalf("no backup item of %s in set %s", sourceID, bsID)
	return ""
}

func mustPut(t testing.TB, tenant *graphsim.Tenant, typeKey string, obj map[string]any) map[string]any {
	t.Helper()
	o, err := tenant.Put(typeKey, obj)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// customProfile is a Windows custom OMA-URI profile (no secrets).
func customProfile(id, name string) map[string]any {
	return map[string]any{"id": id, "@odata.type": "#microsoft.graph.windows10CustomConfiguration", "displayName": name,
		"omaSettings": []any{map[string]any{"@odata.type": "#microsoft.graph.omaSettingInteger", "displayName": "Allow Telemetry",
			"omaUri": "./Device/Vendor/MSFT/Policy/Config/System/AllowTelemetry", "value": float64(1)}}}
}

// TestCrossTenantIdentityByType: one Windows custom profile in the target
// is named like five backup profiles of four types. Only the backup items
// of its @odata.type may match it: the others are created, never planned
// as an update that would change its type. Two Windows custom profiles of
// the backup landing on the one target object block both; two target
// objects of the name block too; an explicit choice per item resolves it,
// and a choice of a missing object or of another type blocks.
func TestCrossTenantIdentityByType(t *testing.T) {
	e := start(t)
	s := e.startSim()
	source, srcEnv := e.tenantEnv(s, "tpl", graphsim.GenOptions{Seed: 1})
	target, dstEnv := e.tenantEnv(s, "customer", graphsim.GenOptions{Seed: 2})
	mustPut(t, source, "deviceConfiguration", customProfile("src-w1", "Baseline"))
	mustPut(t, source, "deviceConfiguration", customProfile("src-w2", "BASELINE"))
	mustPut(t, source, "deviceConfiguration", map[string]any{"id": "src-ios", "@odata.type": "#microsoft.graph.iosGeneralDeviceConfiguration",
		"displayName": "Baseline", "passcodeRequired": true})
	mustPut(t, source, "deviceConfiguration", map[string]any{"id": "src-mac", "@odata.type": "#microsoft.graph.macOSGeneralDeviceConfiguration",
		"displayName": "baseline", "passwordRequired": true})
	mustPut(t, source, "settingsCatalogPolicy", map[string]any{"id": "src-sc", "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
		"name": "Baseline", "platforms": "windows10", "technologies": "mdm", "settings": []any{}})
	mustPut(t, target, "deviceConfiguration", customProfile("t-w", "Baseline"))

	bs := e.backupOf(srcEnv.ID, "template")
	w1, w2 := e.backupItemBySource(bs, "src-w1"), e.backupItemBySource(bs, "src-w2")
	ios, mac, sc := e.backupItemBySource(bs, "src-ios"), e.backupItemBySource(bs, "src-mac"), e.backupItemBySource(bs, "src-sc")
	scoped := []string{w1, w2, ios, mac, sc}
	w := &wizard{e: e, t: t, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": dstEnv.ID, "backupSetId": bs})
	scope := func(targets ...map[string]any) (*response, runView) {
		return w.call("", "defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": scoped,
			"createMissing": true, "itemTargets": targets})
	}
	if r, _ := scope(); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	v := w.checked()
	items := e.items(w.id)
	// Other types never match the Windows profile: created.
	for _, id := range []string{ios, mac, sc} {
		if it := items[id]; deref(it.PlannedAction) != "CREATE" || it.TargetGraphID != nil {
			t.Errorf("%s %s: planned %s onto %s, want CREATE", it.PolicyType, it.DisplayName, deref(it.PlannedAction), deref(it.TargetGraphID))
		}
	}
	// Both Windows profiles land on t-w: both blocked, each naming the other.
	for id, other := range map[string]string{w1: w2, w2: w1} {
		it := items[id]
		msg, ok := it.has("TARGET_AMBIGUOUS")
		if !ok || !strings.Contains(msg, "t-w") || !strings.Contains(msg, other) || deref(it.PlannedAction) != "SKIP" {
			t.Errorf("%s: planned %s, results %+v; want TARGET_AMBIGUOUS naming t-w and %s", it.DisplayName, deref(it.PlannedAction), it.CheckResults, other)
		}
	}
	if v.CheckSummary.Blocking != 2 || !slices.Contains(v.open(), "NO_BLOCKING_CHECKS") {
		t.Fatalf("summary %+v, open gates %v", v.CheckSummary, v.open())
	}

	// A second Windows profile of that name in the target: one item, two
	// candidates; the message names both.
	mustPut(t, target, "deviceConfiguration", customProfile("t-w2", "baseline"))
	scope() // back to SCOPED, so that waiting for CHECKED waits for these checks
	w.checked()
	items = e.items(w.id)
	if msg, ok := items[w1].has("TARGET_AMBIGUOUS"); !ok || !strings.Contains(msg, "t-w ") || !strings.Contains(msg, "t-w2") {
		t.Errorf("two candidates: %+v", items[w1].CheckResults)
	}

	// The admin chooses: w1 onto t-w2, w2 created new.
	if _, v = scope(map[string]any{"backupItemId": w1, "targetId": "t-w2"}, map[string]any{"backupItemId": w2, "createNew": true}); v.Status != "SCOPED" {
		t.Fatalf("scope with item targets: %+v", v)
	}
	v = w.checked()
	items = e.items(w.id)
	if it := items[w1]; deref(it.PlannedAction) != "UPDATE" || deref(it.TargetGraphID) != "t-w2" {
		t.Errorf("w1 chosen onto t-w2: planned %s onto %s (%+v)", deref(it.PlannedAction), deref(it.TargetGraphID), it.CheckResults)
	}
	if it := items[w2]; deref(it.PlannedAction) != "CREATE" {
		t.Errorf("w2 chosen new: planned %s (%+v)", deref(it.PlannedAction), it.CheckResults)
	}
	if v.CheckSummary.Blocking != 0 {
		t.Fatalf("after choosing targets: %+v, %+v", v.CheckSummary, items)
	}
	var run struct {
		RestoreRun struct {
			ItemTargets []struct {
				BackupItemID string
				TargetID     *string
				CreateNew    bool
			}
		}
	}
	e.post(e.owner, `query($id: ID!) { restoreRun(id: $id) { itemTargets { backupItemId targetId createNew } } }`, map[string]any{"id": w.id}).decode(t, &run)
	if got := run.RestoreRun.ItemTargets; len(got) != 2 || got[0].CreateNew == got[1].CreateNew {
		t.Errorf("stored item targets %+v", got)
	}

	// A choice of an object of another type, or of none, blocks.
	iosTarget := mustPut(t, target, "deviceConfiguration", map[string]any{"id": "t-ios", "@odata.type": "#microsoft.graph.iosGeneralDeviceConfiguration", "displayName": "Phones"})
	scope(map[string]any{"backupItemId": w1, "targetId": iosTarget["id"]}, map[string]any{"backupItemId": w2, "targetId": "no-such-object"})
	v = w.checked()
	items = e.items(w.id)
	for _, id := range []string{w1, w2} {
		if _, ok := items[id].has("ITEM_TARGET_INVALID"); !ok || deref(items[id].PlannedAction) != "SKIP" {
			t.Errorf("%s: invalid choice: %+v", items[id].DisplayName, items[id].CheckResults)
		}
	}

	// Malformed item targets are refused at once.
	for name, tc := range map[string]map[string]any{
		"both":           {"backupItemId": w1, "targetId": "t-w", "createNew": true},
		"neither":        {"backupItemId": w1},
		"not in the set": {"backupItemId": "bit_nope", "targetId": "t-w"},
	} {
		if r, _ := scope(tc); r.code() != "BAD_USER_INPUT" {
			t.Errorf("%s: %s", name, r.Raw)
		}
	}
}

// TestCrossTenantReferencesRemapped: a compliance policy and a device
// configuration from a template tenant refer to groups, scope tags (the
// built-in Default, one mapped, one matched by name in scope, one created
// in scope), assignment filters (one mapped, one created in scope), a
// notification template (found by name) and a CC'd group. The mapping
// suggestions name each with its source name and the target's namesake;
// the checks pass; the preview shows only target ids (with names) or
// "new: <name>" for what the run creates, never a source id; the mapped
// tag in scope is not restored; the compliance policy, renamed in the
// target, is found through the identity map. A second run after the first
// one's objects exist plans no creation, and an item already as in the
// backup is NO_CHANGE in both its plan and its preview.
func TestCrossTenantReferencesRemapped(t *testing.T) {
	e := start(t)
	s := e.startSim()
	source, srcEnv := e.tenantEnv(s, "tpl", graphsim.GenOptions{Seed: 1})
	target, dstEnv := e.tenantEnv(s, "customer", graphsim.GenOptions{Seed: 2})
	ctx := context.Background()

	source.AddGroup("src-g-sales", "Sales")
	source.AddGroup("src-g-kiosk", "Kiosk users")
	tag := func(id, name string) map[string]any {
		return map[string]any{"id": id, "@odata.type": "#microsoft.graph.roleScopeTag", "displayName": name, "description": name + " team"}
	}
	mustPut(t, source, "roleScopeTag", tag("src-tag-paris", "Paris"))
	mustPut(t, source, "roleScopeTag", tag("src-tag-lyon", "Lyon"))
	mustPut(t, source, "roleScopeTag", tag("src-tag-nice", "Nice"))
	filter := func(id, name string) map[string]any {
		return map[string]any{"id": id, "@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter", "displayName": name,
			"platform": "windows10AndLater", "rule": `(device.deviceOwnership -eq "Corporate")`, "assignmentFilterManagementType": "devices"}
	}
	mustPut(t, source, "assignmentFilter", filter("src-flt-corp", "Corp"))
	mustPut(t, source, "assignmentFilter", filter("src-flt-kiosk", "Kiosk"))
	template := func(id string) map[string]any {
		return map[string]any{"id": id, "@odata.type": "#microsoft.graph.notificationMessageTemplate", "displayName": "Warn users",
			"defaultLocale": "en-US", "brandingOptions": "includeCompanyLogo", "localizedNotificationMessages": []any{}}
	}
	mustPut(t, source, "notificationMessageTemplate", template("src-ntf-warn"))
	compliance := func(id, name, templateID string, cc []any, tags []any, assignments []any) map[string]any {
		return map[string]any{"id": id, "@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": name,
			"passwordRequired": true, "roleScopeTagIds": tags, "assignments": assignments,
			"scheduledActionsForRule": []any{map[string]any{"ruleName": "PasswordRequired", "scheduledActionConfigurations": []any{
				map[string]any{"actionType": "block", "gracePeriodHours": float64(0), "notificationTemplateId": "", "notificationMessageCCList": []any{}},
				map[string]any{"actionType": "notification", "gracePeriodHours": float64(24), "notificationTemplateId": templateID, "notificationMessageCCList": cc},
			}}}}
	}
	assign := func(group, filter, mode string) map[string]any {
		t := map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}
		if filter != "" {
			t["deviceAndAppManagementAssignmentFilterId"], t["deviceAndAppManagementAssignmentFilterType"] = filter, mode
		}
		return map[string]any{"target": t}
	}
	mustPut(t, source, "deviceCompliancePolicy", compliance("src-comp", "Compliance W10", "src-ntf-warn", []any{"src-g-kiosk"},
		[]any{"0", "src-tag-paris", "src-tag-lyon", "src-tag-nice"}, []any{assign("src-g-sales", "src-flt-corp", "include")}))
	wifi := func(id string, tags []any, assignments []any) map[string]any {
		return map[string]any{"id": id, "@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "Wi-Fi corp",
			"passwordRequired": true, "roleScopeTagIds": tags, "assignments": assignments}
	}
	mustPut(t, source, "deviceConfiguration", wifi("src-wifi", []any{"0", "src-tag-paris"}, []any{assign("src-g-kiosk", "src-flt-kiosk", "exclude")}))

	// A script of the template named like one of Microsoft's built-in
	// remediations of the customer: never written over it.
	script := func(id string, global bool) map[string]any {
		return map[string]any{"id": id, "@odata.type": "#microsoft.graph.deviceHealthScript", "displayName": "Restart Office Click-to-Run service",
			"publisher": "Contoso", "detectionScriptContent": "ZXhpdCAw", "remediationScriptContent": "ZXhpdCAw", "isGlobalScript": global,
			"runAsAccount": "system", "enforceSignatureCheck": false, "runAs32Bit": false}
	}
	mustPut(t, source, "deviceHealthScript", script("src-script", false))
	mustPut(t, target, "deviceHealthScript", script("t-script-builtin", true))
	target.AddGroup("t-g-sales", "Sales")
	target.AddGroup("t-g-kiosk", "KIOSK USERS")
	mustPut(t, target, "roleScopeTag", tag("t-tag-paris", "Paris-T"))
	mustPut(t, target, "roleScopeTag", tag("t-tag-lyon", "Lyon"))
	mustPut(t, target, "assignmentFilter", filter("t-flt-corp", "Corp devices"))
	mustPut(t, target, "notificationMessageTemplate", template("t-ntf-warn"))
	// The compliance policy a former run restored, renamed since; its
	// notification action has no template yet and CCs nobody.
	mustPut(t, target, "deviceCompliancePolicy", compliance("t-comp", "Compliance W10 (renamed)", "", []any{}, []any{"0"}, []any{}))

	bs := e.backupOf(srcEnv.ID, "template")
	item := func(src string) string { return e.backupItemBySource(bs, src) }
	comp, wf := item("src-comp"), item("src-wifi")
	tagParis, tagLyon, tagNice, fltKiosk := item("src-tag-paris"), item("src-tag-lyon"), item("src-tag-nice"), item("src-flt-kiosk")
	scr := item("src-script")
	scoped := []string{comp, wf, tagParis, tagLyon, tagNice, fltKiosk, scr}

	// What an earlier execution between the two tenants remembered.
	remember := func(typeKey, src, dst string) {
		e.app.DB.Client.IdentityMapping.Create().SetWorkspaceID(e.wsID).SetSourceTenantID("tpl").SetTargetTenantID("customer").
			SetPolicyType(typeKey).SetSourceID(src).SetTargetID(dst).SetRunID("run_earlier").ExecX(ctx)
	}
	remember("deviceCompliancePolicy", "src-comp", "t-comp")

	w := &wizard{e: e, t: t, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": dstEnv.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": scoped, "createMissing": true})

	// The mapping step: what the scoped items refer to, by name.
	type suggestion struct {
		Kind, SourceID             string
		SourceName, MappedTargetID *string
		InScope                    bool
		Suggested                  *struct{ ID, Name string }
	}
	var sg struct{ RestoreMappingSuggestions []suggestion }
	e.post(e.auditor, `query($id: ID!) { restoreMappingSuggestions(runId: $id) { kind sourceId sourceName mappedTargetId inScope suggested { id name } } }`,
		map[string]any{"id": w.id}).decode(t, &sg)
	str := func(s string) *string { return &s }
	obj := func(id, name string) *struct{ ID, Name string } { return &struct{ ID, Name string }{id, name} }
	want := []suggestion{
		{Kind: "GROUP", SourceID: "src-g-kiosk", SourceName: str("Kiosk users"), Suggested: obj("t-g-kiosk", "KIOSK USERS")},
		{Kind: "GROUP", SourceID: "src-g-sales", SourceName: str("Sales"), Suggested: obj("t-g-sales", "Sales")},
		{Kind: "SCOPE_TAG", SourceID: "src-tag-lyon", SourceName: str("Lyon"), InScope: true, Suggested: obj("t-tag-lyon", "Lyon")},
		{Kind: "SCOPE_TAG", SourceID: "src-tag-nice", SourceName: str("Nice"), InScope: true},
		{Kind: "SCOPE_TAG", SourceID: "src-tag-paris", SourceName: str("Paris"), InScope: true},
		{Kind: "ASSIGNMENT_FILTER", SourceID: "src-flt-corp", SourceName: str("Corp")},
		{Kind: "ASSIGNMENT_FILTER", SourceID: "src-flt-kiosk", SourceName: str("Kiosk"), InScope: true},
	}
	if diff := cmp.Diff(want, sg.RestoreMappingSuggestions); diff != "" {
		t.Errorf("mapping suggestions (-want +got):\n%s", diff)
	}
	// Searching the target for what to map to.
	search := func(kind, q string) []struct{ ID, Name string } {
		var d struct{ RestoreTargetSearch []struct{ ID, Name string } }
		e.post(e.operator, `query($id: ID!, $kind: MappingKind!, $q: String) { restoreTargetSearch(runId: $id, kind: $kind, search: $q) { id name } }`,
			map[string]any{"id": w.id, "kind": kind, "q": q}).decode(t, &d)
		return d.RestoreTargetSearch
	}
	if got := search("GROUP", "kio"); len(got) != 1 || got[0].ID != "t-g-kiosk" {
		t.Errorf("groups starting with kio: %+v", got)
	}
	if got := search("SCOPE_TAG", "pa"); len(got) != 1 || got[0].ID != "t-tag-paris" {
		t.Errorf("scope tags starting with pa: %+v", got)
	}
	if got := search("ASSIGNMENT_FILTER", ""); !slices.ContainsFunc(got, func(o struct{ ID, Name string }) bool { return o.ID == "t-flt-corp" }) {
		t.Errorf("filters: %+v", got)
	}
	if got := search("GROUP", "o'brien"); len(got) != 0 { // a quote is escaped, not an injection
		t.Errorf("groups starting with o'brien: %+v", got)
	}
	if r := e.post(e.operator, `query($id: ID!) { restoreTargetSearch(runId: $id, kind: GROUP, first: 101) { id } }`,
		map[string]any{"id": w.id}); r.code() != "BAD_USER_INPUT" {
		t.Errorf("first: 101: %s", r.Raw)
	}
	// Another workspace cannot read the run's mappings.
	if r := e.post(e.otherOwner, `query($id: ID!) { restoreMappingSuggestions(runId: $id) { sourceId } }`, map[string]any{"id": w.id}); r.code() != "FORBIDDEN" && r.code() != "NOT_FOUND" {
		t.Errorf("another workspace: %s", r.Raw)
	}

	// Map what the suggestions say, and Paris (in scope) onto Paris-T.
	mapping := func(pairs ...string) []map[string]any {
		var out []map[string]any
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, map[string]any{"sourceId": pairs[i], "targetId": pairs[i+1]})
		}
		return out
	}
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": scoped, "createMissing": true,
		"groupMapping":    mapping("src-g-sales", "t-g-sales", "src-g-kiosk", "t-g-kiosk"),
		"scopeTagMapping": mapping("src-tag-paris", "t-tag-paris"),
		"filterMapping":   mapping("src-flt-corp", "t-flt-corp")})
	v := w.checked()
	items := e.items(w.id)
	if v.CheckSummary.Blocking != 0 {
		t.Fatalf("checks %+v: %+v", v.CheckSummary, items)
	}
	planned := map[string]string{}
	for id, it := range items {
		planned[id] = deref(it.PlannedAction) + " " + deref(it.TargetGraphID)
	}
	wantPlan := map[string]string{
		comp:     "UPDATE t-comp",     // the identity map, despite the rename
		wf:       "CREATE ",           // nothing of the name in the target
		tagParis: "SKIP t-tag-paris",  // mapped: the target's own, not created
		tagLyon:  "UPDATE t-tag-lyon", // in scope, matched by name
		tagNice:  "CREATE ",           // in scope, created
		fltKiosk: "CREATE ",           // in scope, created
		scr:      "SKIP ",             // its namesake in the target is built-in
	}
	if diff := cmp.Diff(wantPlan, planned); diff != "" {
		t.Fatalf("plan (-want +got):\n%s", diff)
	}
	if _, ok := items[scr].has("BUILT_IN"); !ok {
		t.Errorf("script named like a built-in: %+v", items[scr].CheckResults)
	}
	if _, ok := items[tagParis].has("MAPPED"); !ok {
		t.Errorf("mapped tag: %+v", items[tagParis].CheckResults)
	}

	w.previewed()
	items = e.items(w.id)
	raw, _ := json.Marshal(items)
	for _, src := range []string{"src-g-", "src-tag-", "src-flt-", "src-ntf-"} {
		if strings.Contains(string(raw), src) {
			t.Errorf("the preview shows a source id (%s*): %s", src, raw)
		}
	}
	c := items[comp].PreviewDiff
	if c == nil || deref(items[comp].PreviewAction) != "UPDATE" {
		t.Fatalf("compliance preview: %+v", items[comp])
	}
	byPath := map[string][2]any{}
	for _, ch := range c.Settings {
		byPath[ch.Path] = [2]any{ch.Before, ch.After}
	}
	action := "scheduledActionsForRule[PasswordRequired].scheduledActionConfigurations[notification]."
	wantSettings := map[string][2]any{
		"displayName":                           {"Compliance W10 (renamed)", "Compliance W10"},
		action + "notificationTemplateId":       {"", "t-ntf-warn (Warn users)"},
		action + "notificationMessageCCList[0]": {nil, "t-g-kiosk"},
	}
	if diff := cmp.Diff(wantSettings, byPath); diff != "" {
		t.Errorf("compliance settings diff (-want +got):\n%s", diff)
	}
	slices.Sort(c.ScopeTags.Added)
	if diff := cmp.Diff([]string{"new: Nice", "t-tag-lyon (Lyon)", "t-tag-paris (Paris-T)"}, c.ScopeTags.Added); diff != "" {
		t.Errorf("compliance scope tags added (-want +got):\n%s", diff)
	}
	wantAssigned := []map[string]any{{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "t-g-sales",
		"deviceAndAppManagementAssignmentFilterId": "t-flt-corp", "deviceAndAppManagementAssignmentFilterType": "include"}}}
	if diff := cmp.Diff(wantAssigned, c.Assignments.Added); diff != "" {
		t.Errorf("compliance assignments added (-want +got):\n%s", diff)
	}
	wfd := items[wf].PreviewDiff
	wantWifi := []map[string]any{{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "t-g-kiosk",
		"deviceAndAppManagementAssignmentFilterId": "new: Kiosk", "deviceAndAppManagementAssignmentFilterType": "exclude"}}}
	if wfd == nil || deref(items[wf].PreviewAction) != "CREATE" || cmp.Diff(wantWifi, wfd.Assignments.Added) != "" {
		t.Errorf("wi-fi preview %s: %+v", deref(items[wf].PreviewAction), wfd)
	}
	// The built-in Default tag is the target's own "0".
	if slices.Sort(wfd.ScopeTags.Added); cmp.Diff([]string{"0 (Default)", "t-tag-paris (Paris-T)"}, wfd.ScopeTags.Added) != "" {
		t.Errorf("wi-fi scope tags %v", wfd.ScopeTags.Added)
	}
	if n := items[scr]; n.PreviewAction != nil {
		t.Errorf("the script named like a built-in is previewed as %s", deref(n.PreviewAction))
	}
	if n := items[tagParis]; n.PreviewAction != nil || n.PreviewDiff == nil || !strings.Contains(n.PreviewDiff.Note, "t-tag-paris (Paris-T)") {
		t.Errorf("mapped tag preview %s: %+v", deref(n.PreviewAction), n.PreviewDiff)
	}

	// The first run executed (as the executor would: objects written with
	// the previewed content, identities remembered).
	mustPut(t, target, "roleScopeTag", tag("t-tag-nice", "Nice"))
	mustPut(t, target, "assignmentFilter", filter("t-flt-kiosk", "Kiosk"))
	mustPut(t, target, "deviceConfiguration", wifi("t-wifi", []any{"0", "t-tag-paris"}, []any{assign("t-g-kiosk", "t-flt-kiosk", "exclude")}))
	remember("roleScopeTag", "src-tag-nice", "t-tag-nice")
	remember("roleScopeTag", "src-tag-lyon", "t-tag-lyon")
	remember("assignmentFilter", "src-flt-kiosk", "t-flt-kiosk")
	remember("deviceConfiguration", "src-wifi", "t-wifi")

	w2 := &wizard{e: e, t: t, token: e.operator}
	w2.must("createRestoreRun", map[string]any{"environmentId": dstEnv.ID, "backupSetId": bs})
	w2.must("defineRestoreScope", map[string]any{"runId": w2.id, "mode": "SELECTED", "itemIds": scoped, "createMissing": true,
		"groupMapping":    mapping("src-g-sales", "t-g-sales", "src-g-kiosk", "t-g-kiosk"),
		"scopeTagMapping": mapping("src-tag-paris", "t-tag-paris"),
		"filterMapping":   mapping("src-flt-corp", "t-flt-corp")})
	if v := w2.checked(); v.CheckSummary.Blocking != 0 {
		t.Fatalf("second run checks %+v", v.CheckSummary)
	}
	p := w2.previewed()
	if p.PreviewSummary.PoliciesCreated != 0 {
		t.Errorf("second run creates %d: %+v", p.PreviewSummary.PoliciesCreated, p.PreviewSummary)
	}
	items = e.items(w2.id)
	for _, it := range items {
		if deref(it.PlannedAction) == "CREATE" {
			t.Errorf("second run plans to create %s", it.DisplayName)
		}
	}
	if it := items[wf]; deref(it.PlannedAction) != "NO_CHANGE" || deref(it.PreviewAction) != "NO_CHANGE" || deref(it.TargetGraphID) != "t-wifi" {
		t.Errorf("wi-fi as in the backup: planned %s, preview %s onto %s: %+v", deref(it.PlannedAction), deref(it.PreviewAction), deref(it.TargetGraphID), it.PreviewDiff)
	}
}

// TestCrossTenantConfigMgrCollectionBlocks: a profile assigned to a
// Configuration Manager collection. Restored into its own tenant the
// collection id is kept; into another tenant the item is blocked by a check
// naming the collection (collection ids are the source site's), while a
// profile without one in the same run is not.
func TestCrossTenantConfigMgrCollectionBlocks(t *testing.T) {
	e := start(t)
	s := e.startSim()
	source, srcEnv := e.tenantEnv(s, "tpl", graphsim.GenOptions{Seed: 1})
	_, dstEnv := e.tenantEnv(s, "customer", graphsim.GenOptions{Seed: 2})
	collection := map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.configurationManagerCollectionAssignmentTarget", "collectionId": "SMS00001"}}
	mustPut(t, source, "deviceConfiguration", map[string]any{"id": "src-cm", "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
		"displayName": "Co-managed devices", "passwordRequired": true, "assignments": []any{collection}})
	mustPut(t, source, "deviceConfiguration", map[string]any{"id": "src-plain", "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
		"displayName": "Unassigned", "passwordRequired": true})
	bs := e.backupOf(srcEnv.ID, "template")
	cm, plain := e.backupItemBySource(bs, "src-cm"), e.backupItemBySource(bs, "src-plain")

	run := func(envID string) (runView, map[string]itemView) {
		w := &wizard{e: e, t: t, token: e.operator}
		w.must("createRestoreRun", map[string]any{"environmentId": envID, "backupSetId": bs})
		w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": []string{cm, plain}, "createMissing": true})
		return w.checked(), e.items(w.id)
	}
	v, items := run(dstEnv.ID)
	msg, ok := items[cm].has("COLLECTION_OF_ANOTHER_TENANT")
	if !ok || !strings.Contains(msg, "SMS00001") || v.CheckSummary.Blocking != 1 || !slices.Contains(v.open(), "NO_BLOCKING_CHECKS") {
		t.Errorf("cross tenant: summary %+v, open %v, collection item %+v", v.CheckSummary, v.open(), items[cm].CheckResults)
	}
	if _, ok := items[plain].has("COLLECTION_OF_ANOTHER_TENANT"); ok {
		t.Errorf("the profile without a collection is blocked: %+v", items[plain].CheckResults)
	}
	v, items = run(srcEnv.ID)
	if _, ok := items[cm].has("COLLECTION_OF_ANOTHER_TENANT"); ok || v.CheckSummary.Blocking != 0 {
		t.Errorf("same tenant: summary %+v, collection item %+v", v.CheckSummary, items[cm].CheckResults)
	}
}

// TestCrossTenantCustomADMXDefinitions: administrative templates using
// definitions of an ADMX file imported into the template tenant (ids of
// that tenant) and a built-in definition (the same id everywhere). Into a
// customer that imported the same file, the imported definition and its
// option are the customer's own ids in the preview and in what execution
// writes, the built-in one keeps its id; a setting whose definition the
// customer lacks blocks its item with a check naming the setting. Restored
// into its own tenant nothing is remapped or blocked.
func TestCrossTenantCustomADMXDefinitions(t *testing.T) {
	e := start(t)
	s := e.startSim()
	source, srcEnv := e.tenantEnv(s, "tpl", graphsim.GenOptions{Seed: 1})
	target, dstEnv := e.tenantEnv(s, "customer", graphsim.GenOptions{Seed: 2})
	const builtin = "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4a04" // "Prevent access to the command prompt"
	banner := func(id, presID string) map[string]any {
		return map[string]any{"id": id, "displayName": "Show logon banner", "classType": "machine", "categoryPath": `\Contoso\Desktop`,
			"presentations": []any{map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationTextBox", "id": presID, "label": "Banner text"}}}
	}
	usb := map[string]any{"id": "src-def-usb", "displayName": "Block USB storage", "classType": "machine", "categoryPath": `\Contoso\Devices`}
	source.AddCustomADMXCategory(map[string]any{"id": "src-cat", "displayName": "Contoso"}, banner("src-def-banner", "src-pres-banner"), usb)
	// The customer imported the same ADMX file: other ids, no USB setting.
	target.AddCustomADMXCategory(map[string]any{"id": "t-cat", "displayName": "Contoso"}, banner("t-def-banner", "t-pres-banner"))

	custom := func(def map[string]any, pvs ...any) map[string]any {
		d := map[string]any{"id": def["id"], "displayName": def["displayName"], "classType": def["classType"], "categoryPath": def["categoryPath"],
			"policyType": "admxIngested"}
		return map[string]any{"enabled": true, "configurationType": "policy", "definition": d, "presentationValues": append([]any{}, pvs...)}
	}
	mustPut(t, source, "groupPolicyConfiguration", map[string]any{"id": "src-admx-banner", "@odata.type": "#microsoft.graph.groupPolicyConfiguration",
		"displayName": "Contoso desktop", "definitionValues": []any{
			map[string]any{"enabled": true, "configurationType": "policy", "presentationValues": []any{},
				"definition": map[string]any{"id": builtin, "displayName": "Prevent access to the command prompt", "classType": "user", "categoryPath": `\System`, "policyType": "admxBacked"}},
			custom(banner("src-def-banner", ""), map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationValueText", "value": "Authorized use only",
				"presentation": map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationTextBox", "id": "src-pres-banner", "label": "Banner text"}}),
		}})
	mustPut(t, source, "groupPolicyConfiguration", map[string]any{"id": "src-admx-usb", "@odata.type": "#microsoft.graph.groupPolicyConfiguration",
		"displayName": "Contoso devices", "definitionValues": []any{custom(usb)}})
	bs := e.backupOf(srcEnv.ID, "template")
	bannerItem, usbItem := e.backupItemBySource(bs, "src-admx-banner"), e.backupItemBySource(bs, "src-admx-usb")

	w := &wizard{e: e, t: t, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": dstEnv.ID, "backupSetId": bs})
	scope := func(ids ...string) {
		w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": ids, "createMissing": true})
	}
	scope(bannerItem, usbItem)
	v := w.checked()
	items := e.items(w.id)
	msg, ok := items[usbItem].has("ADMX_DEFINITION_MISSING")
	if !ok || !strings.Contains(msg, `"Block USB storage" (\Contoso\Devices, machine)`) || v.CheckSummary.Blocking != 1 || !slices.Contains(v.open(), "NO_BLOCKING_CHECKS") {
		t.Errorf("missing definition: summary %+v, item %+v", v.CheckSummary, items[usbItem].CheckResults)
	}
	if _, ok := items[bannerItem].has("ADMX_DEFINITION_MISSING"); ok || deref(items[bannerItem].PlannedAction) != "CREATE" {
		t.Errorf("banner item: planned %s, %+v", deref(items[bannerItem].PlannedAction), items[bannerItem].CheckResults)
	}

	// Without the USB item: the preview shows the customer's definition and
	// option ids, and the built-in definition's own.
	scope(bannerItem)
	if v := w.checked(); v.CheckSummary.Blocking != 0 {
		t.Fatalf("checks without the USB item: %+v", v.CheckSummary)
	}
	w.previewed()
	it := e.items(w.id)[bannerItem]
	if deref(it.PreviewAction) != "CREATE" || it.PreviewDiff == nil {
		t.Fatalf("banner preview %s: %+v", deref(it.PreviewAction), it.PreviewDiff)
	}
	var paths []string
	for _, c := range it.PreviewDiff.Settings {
		paths = append(paths, c.Path)
	}
	raw, _ := json.Marshal(it.PreviewDiff)
	if !slices.Contains(paths, "definitionValues[t-def-banner]") || !slices.Contains(paths, "definitionValues["+builtin+"]") ||
		!strings.Contains(string(raw), "t-pres-banner") || strings.Contains(string(raw), "src-def-") || strings.Contains(string(raw), "src-pres-") {
		t.Errorf("preview paths %v: %s", paths, raw)
	}

	// Executed: the customer's new policy binds its own definition and option.
	envName := dstEnv.DisplayName
	w.must("confirmRestoreRun", map[string]any{"runId": w.id, "dryRun": false, "acknowledged": true, "tenantConfirmation": envName})
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	if v := w.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("execution %s: %v", v.Status, e.items(w.id)[bannerItem])
	}
	created := e.items(w.id)[bannerItem].TargetGraphID
	obj, ok := target.Object("groupPolicyConfiguration", deref(created))
	if !ok {
		t.Fatalf("no created policy %s", deref(created))
	}
	type bound struct{ Definition, Presentation string }
	var got []bound
	for _, v := range obj["definitionValues"].([]any) {
		vm := v.(map[string]any)
		b := bound{Definition: vm["definition"].(map[string]any)["id"].(string)}
		for _, pv := range vm["presentationValues"].([]any) {
			b.Presentation = pv.(map[string]any)["presentation"].(map[string]any)["id"].(string)
		}
		got = append(got, b)
	}
	slices.SortFunc(got, func(a, b bound) int { return strings.Compare(a.Definition, b.Definition) })
	if diff := cmp.Diff([]bound{{Definition: builtin}, {Definition: "t-def-banner", Presentation: "t-pres-banner"}}, got); diff != "" {
		t.Errorf("written definition values (-want +got):\n%s", diff)
	}

	// In its own tenant the ids are the tenant's: nothing remapped or blocked.
	w2 := &wizard{e: e, t: t, token: e.operator}
	w2.must("createRestoreRun", map[string]any{"environmentId": srcEnv.ID, "backupSetId": bs})
	w2.must("defineRestoreScope", map[string]any{"runId": w2.id, "mode": "SELECTED", "itemIds": []string{bannerItem, usbItem}})
	if v := w2.checked(); v.CheckSummary.Blocking != 0 {
		t.Errorf("same tenant: %+v", v.CheckSummary)
	}
}
