package restore

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/intune"
)

// Reference kinds: the catalog's foundation types a payload refers to, plus
// Entra ID groups (not an Intune type).
const (
	refGroup    = "group"
	refScopeTag = "roleScopeTag"
	refFilter   = "assignmentFilter"
	refTemplate = "notificationMessageTemplate"
)

// noFilter is the id Graph writes for "no assignment filter".
const noFilter = "00000000-0000-0000-0000-000000000000"

// newRefPrefix marks the id of a foundation the run creates, before it
// exists: the preview shows "new: <name>", the executor substitutes the
// created object's id (setCreated) before writing any item referring to it.
const newRefPrefix = "new: "

// How a reference was resolved.
const (
	viaBuiltin  = "builtin"  // the Default scope tag "0": the same in every tenant
	viaMapping  = "mapping"  // the run's group, scope tag or filter mapping
	viaScope    = "scope"    // a foundation the run itself restores
	viaSame     = "same"     // same tenant: the id itself
	viaIdentity = "identity" // what an earlier run between the tenants restored it onto
	viaName     = "name"     // the one target object with the source's name
)

// refs rewrites what a backup item refers to (scope tags, assignment
// filters, groups, notification templates) into the target tenant's ids,
// through the run's mappings, the foundations the run restores itself (as
// checks matched them, or created at execution), the identity map and, for
// notification templates, which have no mapping input, the name. Preview
// diffs and the executor's writes both go through it, so the executor sends
// exactly what the preview showed.
//
// A reference resolves, in order: the built-in Default tag "0" to "0"; an
// explicit mapping; a foundation in the scope (matched: its target id;
// created: the new id, or "new: <name>" until execution created it); the
// identity map (if the remembered object still exists); in the same tenant
// the id itself; across tenants, for templates, the one target template of
// the same name. What does not resolve keeps its source id, and
// the checks block it.
type refs struct {
	run        *ent.RestoreRun
	sameTenant bool
	// created holds the foundations this run created at execution:
	// typeKey+"/"+source id → new target id. Items executing concurrently
	// read it while foundations of their tier are recorded: createdMu.
	createdMu sync.RWMutex
	created   map[string]string
	// scoped holds the foundations the run restores: typeKey/source id →
	// the target id they update, or "" when the run creates them.
	scoped map[string]string
	// sourceNames are the names of the backup set's foundations
	// (typeKey/source id → name).
	sourceNames map[string]string
	// remembered is the identity map of the foundation types (typeKey/source
	// id → target id), kept only for objects still in the target.
	remembered map[string]string
	// targetNames are the names of the target's foundations (typeKey/id →
	// name); targetByName the ids by lower-case name (typeKey/name → ids).
	targetNames  map[string]string
	targetByName map[string][]string
	// index reads group names for labels (nil: no labels for groups).
	index *targetIndex
	// admx holds the target's administrative template definitions from
	// imported ADMX files by admxKey, read only across tenants for runs
	// with administrative templates (nil otherwise).
	admx map[string][]admxDefinition
}

// refTypes are the foundation types a payload refers to.
var refTypes = []string{refScopeTag, refFilter, refTemplate}

// refsFor loads what rewriting a run's references needs: the run's
// foundation items as checks planned them, the backup set's foundation
// names, the identity map and the target's foundations (one list per type).
func (s *Service) refsFor(ctx context.Context, run *ent.RestoreRun) (*refs, error) {
	env := run.Edges.Environment
	if env == nil {
		e, err := s.Client.Environment.Get(ctx, run.EnvironmentID)
		if err != nil {
			return nil, err
		}
		env = e
	}
	tt, err := runTenants(ctx, s.Client, run)
	if err != nil {
		return nil, err
	}
	g, err := s.Tenants.Reader(ctx, env)
	if err != nil {
		return nil, err
	}
	index := newTargetIndex(g, tt.source == tt.target)
	items, err := s.Client.RestoreRunItem.Query().
		Where(restorerunitem.RunID(run.ID), restorerunitem.PolicyTypeIn(refTypes...)).All(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.BackupItemID
	}
	sources := map[string]string{}
	for chunk := range slices.Chunk(ids, 500) {
		bs, err := s.Client.BackupItem.Query().Where(backupitem.IDIn(chunk...)).
			Select(backupitem.FieldID, backupitem.FieldSourceGraphID).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			sources[b.ID] = b.SourceGraphID
		}
	}
	scoped := map[string]string{}
	for _, it := range items {
		src, ok := sources[it.BackupItemID]
		if !ok || it.PlannedAction == nil {
			continue
		}
		k := it.PolicyType + "/" + src
		switch {
		case *it.PlannedAction == restorerunitem.PlannedActionDELETE:
			continue // deleted by an undo: nothing refers to it (see the checks)
		case it.TargetGraphID != nil:
			scoped[k] = *it.TargetGraphID
		case *it.PlannedAction == restorerunitem.PlannedActionCREATE:
			scoped[k] = ""
		}
		// Anything else (blocked, preview-only) is never restored: what
		// refers to it stays unresolved, as the checks said.
	}
	return s.buildRefs(ctx, run, index, tt, scoped)
}

// buildRefs completes refs from the foundations in scope (see refs.scoped):
// the backup set's foundation names and the identity map from the
// database, the target's foundations through index.
func (s *Service) buildRefs(ctx context.Context, run *ent.RestoreRun, index *targetIndex, tt tenants, scoped map[string]string) (*refs, error) {
	fs, err := s.Client.BackupItem.Query().
		Where(backupitem.BackupSetID(run.BackupSetID), backupitem.PolicyTypeIn(refTypes...)).
		Select(backupitem.FieldPolicyType, backupitem.FieldSourceGraphID, backupitem.FieldDisplayName).All(ctx)
	if err != nil {
		return nil, err
	}
	sourceNames := map[string]string{}
	for _, f := range fs {
		sourceNames[f.PolicyType+"/"+f.SourceGraphID] = f.DisplayName
	}
	remembered := map[string]map[string]string{}
	for _, key := range refTypes {
		if remembered[key], err = identities(ctx, s.Client, run.WorkspaceID, tt, key); err != nil {
			return nil, err
		}
	}
	r, err := newRefs(ctx, run, index, tt.source == tt.target, scoped, sourceNames, remembered)
	if err != nil || r.sameTenant {
		return r, err
	}
	admx, err := s.Client.RestoreRunItem.Query().
		Where(restorerunitem.RunID(run.ID), restorerunitem.PolicyType(admxType)).Exist(ctx)
	if err != nil || !admx {
		return r, err
	}
	if r.admx, err = customDefinitions(ctx, index.g); err != nil {
		return nil, err
	}
	return r, nil
}

// newRefs builds refs from what buildRefs loads; remembered is the identity
// map by type (source id → target id). It lists the target's foundations
// through index (nil: no target names, nothing remembered counts).
func newRefs(ctx context.Context, run *ent.RestoreRun, index *targetIndex, sameTenant bool,
	scoped, sourceNames map[string]string, remembered map[string]map[string]string) (*refs, error) {
	r := &refs{run: run, sameTenant: sameTenant, created: map[string]string{}, scoped: scoped,
		sourceNames: sourceNames, remembered: map[string]string{},
		targetNames: map[string]string{}, targetByName: map[string][]string{}, index: index}
	if index == nil {
		return r, nil
	}
	for _, key := range refTypes {
		t, _ := intune.Lookup(key)
		ti := index.of(ctx, t)
		if ti.err != nil {
			return nil, ti.err
		}
		for id, o := range ti.byID {
			r.targetNames[key+"/"+id] = o.DisplayName
			n := key + "/" + strings.ToLower(o.DisplayName)
			r.targetByName[n] = append(r.targetByName[n], id)
		}
		// A remembered object deleted since no longer counts.
		for src, tgt := range remembered[key] {
			if _, exists := ti.byID[tgt]; exists {
				r.remembered[key+"/"+src] = tgt
			}
		}
	}
	return r, nil
}

// setCreated records a foundation the executor created, so every later item
// refers to its new id.
func (r *refs) setCreated(typeKey, sourceID, targetID string) {
	r.createdMu.Lock()
	defer r.createdMu.Unlock()
	r.created[typeKey+"/"+sourceID] = targetID
}

// createdID is the id the run created the foundation k onto, if it did.
func (r *refs) createdID(k string) (string, bool) {
	r.createdMu.RLock()
	defer r.createdMu.RUnlock()
	id, ok := r.created[k]
	return id, ok
}

// mapping is the run's explicit mapping of a reference kind.
func (r *refs) mapping(kind string) map[string]string { return runMapping(r.run, kind) }

// runMapping is a run's explicit mapping of a reference kind (nil for
// kinds without one).
func runMapping(run *ent.RestoreRun, kind string) map[string]string {
	switch kind {
	case refGroup:
		return run.GroupMapping
	case refScopeTag:
		return run.ScopeTagMapping
	case refFilter:
		return run.FilterMapping
	}
	return nil
}

// resolve returns the target id of source id src of a reference kind and
// how it was found ("" when it was not: then src itself).
func (r *refs) resolve(kind, src string) (string, string) {
	if kind == refScopeTag && src == "0" {
		return "0", viaBuiltin
	}
	if m, ok := r.mapping(kind)[src]; ok {
		return m, viaMapping
	}
	k := kind + "/" + src
	if tgt, ok := r.scoped[k]; ok {
		if tgt != "" {
			return tgt, viaScope
		}
		if id, ok := r.createdID(k); ok {
			return id, viaScope
		}
		name := r.sourceNames[k]
		if name == "" {
			name = src
		}
		return newRefPrefix + name, viaScope
	}
	if tgt, ok := r.remembered[k]; ok {
		return tgt, viaIdentity
	}
	if r.sameTenant {
		return src, viaSame
	}
	if kind == refGroup {
		return src, ""
	}
	if kind == refTemplate {
		if name, ok := r.sourceNames[k]; ok {
			if ids := r.targetByName[kind+"/"+strings.ToLower(name)]; len(ids) == 1 {
				return ids[0], viaName
			}
		}
	}
	return src, ""
}

// to is resolve without the how.
func (r *refs) to(kind, src string) string {
	tgt, _ := r.resolve(kind, src)
	return tgt
}

// label shows a target id with its name when known: "id (Name)".
func (r *refs) label(ctx context.Context, kind, id string) string {
	if strings.HasPrefix(id, newRefPrefix) || id == "" {
		return id
	}
	if kind == refScopeTag && id == "0" {
		return "0 (Default)"
	}
	name, ok := r.targetNames[kind+"/"+id]
	if !ok && kind == refGroup && r.index != nil {
		if n, exists, err := r.index.groupName(ctx, id); err == nil && exists {
			name, ok = n, true
		}
	}
	if !ok || name == "" {
		return id
	}
	return id + " (" + name + ")"
}

// desired is what a restore of b writes: the backup's payload, assignments
// and scope tags with every reference rewritten to a target id.
type desired struct {
	payload     map[string]any
	assignments []map[string]any
	scopeTags   []string
}

// desired is what a restore of b writes, every reference a target id.
func (r *refs) desired(t *intune.Type, b *ent.BackupItem) desired {
	d := desired{payload: cloneJSON(b.Payload).(map[string]any), scopeTags: []string{}, assignments: []map[string]any{}}
	for _, tag := range b.ScopeTagIds {
		d.scopeTags = append(d.scopeTags, r.to(refScopeTag, tag))
	}
	if t.ScopeTagsProperty != "" {
		if _, ok := d.payload[t.ScopeTagsProperty]; ok {
			d.payload[t.ScopeTagsProperty] = toAnyStrings(d.scopeTags)
		}
	}
	r.rewritePayload(d.payload)
	for _, a := range b.Assignments {
		a = cloneJSON(a).(map[string]any)
		if target, ok := a["target"].(map[string]any); ok {
			if g, ok := target["groupId"].(string); ok && g != "" {
				target["groupId"] = r.to(refGroup, g)
			}
			if f, ok := target["deviceAndAppManagementAssignmentFilterId"].(string); ok && f != "" && f != noFilter {
				target["deviceAndAppManagementAssignmentFilterId"] = r.to(refFilter, f)
			}
		}
		d.assignments = append(d.assignments, a)
	}
	d.assignments = intune.NormalizeAssignments(toAnySlice(d.assignments))
	return d
}

// payloadRefs calls fn for every reference inside a payload (not its
// assignments or scope tags): the notification template and the CC'd
// groups of each compliance scheduled action.
func payloadRefs(payload map[string]any, fn func(kind string, get func() string, set func(string))) {
	rules, _ := payload["scheduledActionsForRule"].([]any)
	for _, rule := range rules {
		rm, _ := rule.(map[string]any)
		actions, _ := rm["scheduledActionConfigurations"].([]any)
		for _, a := range actions {
			am, ok := a.(map[string]any)
			if !ok {
				continue
			}
			if id, ok := am["notificationTemplateId"].(string); ok && id != "" && id != noFilter {
				fn(refTemplate, func() string { return id }, func(v string) { am["notificationTemplateId"] = v })
			}
			if cc, ok := am["notificationMessageCCList"].([]any); ok {
				for i, g := range cc {
					if id, ok := g.(string); ok && id != "" {
						fn(refGroup, func() string { return id }, func(v string) { cc[i] = v })
					}
				}
			}
		}
	}
}

// rewritePayload rewrites the references inside a payload in place.
func (r *refs) rewritePayload(payload map[string]any) {
	payloadRefs(payload, func(kind string, get func() string, set func(string)) { set(r.to(kind, get())) })
	for _, m := range r.customADMX(payload) {
		if m.problem != "" {
			continue // the checks block it
		}
		m.definition["id"] = m.targetID
		for i, p := range m.presentations {
			p["id"] = m.targetPresentations[i]
		}
	}
}

// admxType is the catalog type of administrative templates.
const admxType = "groupPolicyConfiguration"

// admxDefinition is an administrative template definition of the target
// from an imported ADMX file.
type admxDefinition struct {
	id string
	// presentations are its options' ids by lower-case label.
	presentations map[string][]string
}

// isCustomDefinition reports a definition from an ADMX file the tenant
// imported (groupPolicyUploadedDefinitionFiles): its id, and its
// presentations' ids, are the tenant's own. Built-in definitions
// (policyType admxBacked) have the same ids in every tenant.
func isCustomDefinition(def map[string]any) bool {
	return def["policyType"] == "admxIngested" ||
		intune.CanonicalODataType(stringOf(def["@odata.type"])) == "#microsoft.graph.groupPolicyUploadedDefinition"
}

// admxKey identifies an imported definition across tenants as the ADMX file
// does: its class, category path and name (IntuneCD matches the same way).
func admxKey(def map[string]any) string {
	return strings.ToLower(stringOf(def["classType"]) + "|" + stringOf(def["categoryPath"]) + "|" + stringOf(def["displayName"]))
}

// customDefinitions lists the target's imported definitions with their
// presentations: one request, the categories whose ingestionSource is
// custom with their definitions (the full definition list is Microsoft's
// thousands of built-in ones).
func customDefinitions(ctx context.Context, g intune.Reader) (map[string][]admxDefinition, error) {
	out := map[string][]admxDefinition{}
	q := url.Values{"$filter": {"ingestionSource eq 'custom'"}, "$expand": {"definitions($expand=presentations)"}}
	err := g.List(ctx, "deviceManagement/groupPolicyCategories", q, func(cat map[string]any) error {
		defs, _ := cat["definitions"].([]any)
		for _, d := range defs {
			dm, ok := d.(map[string]any)
			if !ok || stringOf(dm["id"]) == "" {
				continue
			}
			def := admxDefinition{id: stringOf(dm["id"]), presentations: map[string][]string{}}
			ps, _ := dm["presentations"].([]any)
			for _, p := range ps {
				if pm, ok := p.(map[string]any); ok {
					l := strings.ToLower(stringOf(pm["label"]))
					def.presentations[l] = append(def.presentations[l], stringOf(pm["id"]))
				}
			}
			k := admxKey(dm)
			out[k] = append(out[k], def)
		}
		return nil
	})
	return out, err
}

// admxMatch is one definition value of a payload whose definition came
// from an imported ADMX file, and its counterpart in the target.
type admxMatch struct {
	// definition is the value's definition, presentations the presentation
	// of each of its presentation values (inside the payload).
	definition    map[string]any
	presentations []map[string]any
	// targetID and targetPresentations are the target's ids; problem says
	// why there are none ("" when resolved).
	targetID            string
	targetPresentations []string
	problem             string
}

// customADMX finds the target's counterpart of every imported definition
// a payload's definition values use, across tenants (nil in the same
// tenant, where the ids are the tenant's own): the one definition of the
// same class, category path and name, and in it the option of each
// presentation value's label.
func (r *refs) customADMX(payload map[string]any) []admxMatch {
	if r.sameTenant || r.admx == nil {
		return nil
	}
	var out []admxMatch
	values, _ := payload["definitionValues"].([]any)
	for _, v := range values {
		vm, _ := v.(map[string]any)
		def, ok := vm["definition"].(map[string]any)
		if !ok || !isCustomDefinition(def) {
			continue
		}
		m := admxMatch{definition: def}
		setting := fmt.Sprintf("%q (%s, %s)", stringOf(def["displayName"]), stringOf(def["categoryPath"]), stringOf(def["classType"]))
		found := r.admx[admxKey(def)]
		if len(found) != 1 {
			m.problem = fmt.Sprintf("The setting %s comes from an ADMX file imported into the backup's tenant, and %d definitions of the target match it: import the same ADMX file into the target (one definition of that class, category and name), or leave the item out.", setting, len(found))
			out = append(out, m)
			continue
		}
		m.targetID = found[0].id
		pvs, _ := vm["presentationValues"].([]any)
		for _, pv := range pvs {
			pvm, _ := pv.(map[string]any)
			pres, ok := pvm["presentation"].(map[string]any)
			if !ok {
				// Captured without its option (Graph returns it only when
				// expanded): nothing says which of the target's it is.
				m.problem = fmt.Sprintf("The setting %s comes from an imported ADMX file, and the backup does not say which option each of its values sets: capture a new backup of the source and restore from it.", setting)
				break
			}
			label := stringOf(pres["label"])
			ids := found[0].presentations[strings.ToLower(label)]
			if len(ids) != 1 || label == "" {
				m.problem = fmt.Sprintf("The setting %s comes from an imported ADMX file: the target's definition %s has no single option labelled %q to hold its value: import the same ADMX file into the target, or leave the item out.", setting, m.targetID, label)
				break
			}
			m.presentations = append(m.presentations, pres)
			m.targetPresentations = append(m.targetPresentations, ids[0])
		}
		out = append(out, m)
	}
	return out
}

// payloadRefIDs lists the references inside a payload by kind.
func payloadRefIDs(payload map[string]any) map[string][]string {
	out := map[string][]string{}
	payloadRefs(payload, func(kind string, get func() string, _ func(string)) {
		out[kind] = appendUnique(out[kind], get())
	})
	return out
}

// refKindOfPath says which reference a diff path's value is, for labels.
func refKindOfPath(path string) string {
	switch lastProperty(path) {
	case "notificationTemplateId":
		return refTemplate
	case "deviceAndAppManagementAssignmentFilterId":
		return refFilter
	case "groupId":
		return refGroup
	}
	return ""
}

func appendUnique(s []string, v string) []string {
	for _, e := range s {
		if e == v {
			return s
		}
	}
	return append(s, v)
}

// cloneJSON deep-copies a JSON value (maps and slices).
func cloneJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = cloneJSON(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = cloneJSON(e)
		}
		return s
	case nil:
		return nil
	}
	return v
}

func toAnyStrings(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
