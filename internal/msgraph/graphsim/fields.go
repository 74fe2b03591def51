package graphsim

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/restored/restored/internal/intune"
)

// typeTraits is what Graph does on its own for objects of one type: which
// timestamps and version it keeps, which property names the object, which
// read-only fields it fills. The catalog says which properties are
// read-only; this says what their values are. Types missing here (added to
// the catalog later) get the common behaviour.
type typeTraits struct {
	noCreated, noModified bool
	version               string // "int", "string" or "" (the type has no version)
	name                  string // property naming the object; "displayName" when empty
	// defaults are read-only fields set on create (when absent).
	defaults map[string]any
	// derived recomputes read-only fields from the object on every write.
	derived func(o *object)
	// validateCreate checks what Graph requires in a create or replace body.
	validateCreate func(body map[string]any) *apiErr
	// assignNoContent: the assign action answers 204 No Content (the Graph
	// beta reference's "assign action | None" for scripts, remediations,
	// enrollment configurations and app protection policies) instead of
	// 200 with the assignments.
	assignNoContent bool
}

var traits = map[string]typeTraits{
	// Scope tags carry no timestamps in Graph.
	"roleScopeTag":                {noCreated: true, noModified: true, defaults: map[string]any{"isBuiltIn": false}},
	"notificationMessageTemplate": {noCreated: true},
	"deviceConfiguration":         {version: "int", defaults: map[string]any{"supportsScopeTags": true}},
	"settingsCatalogPolicy": {
		name: "name",
		derived: func(o *object) {
			o.props["settingCount"] = float64(len(o.rels["settings"]))
			o.props["isAssigned"] = len(o.assignments) > 0
		},
	},
	"deviceCompliancePolicy": {
		version: "int",
		// Graph refuses a compliance policy without its scheduled actions,
		// and the actions must include "block".
		validateCreate: func(body map[string]any) *apiErr {
			rules, _ := body["scheduledActionsForRule"].([]any)
			for _, r := range rules {
				rm, _ := r.(map[string]any)
				cfgs, _ := rm["scheduledActionConfigurations"].([]any)
				for _, c := range cfgs {
					if cm, _ := c.(map[string]any); cm["actionType"] == "block" {
						return nil
					}
				}
			}
			return invalid("scheduledActionsForRule must contain a rule with a 'block' scheduled action configuration.")
		},
	},
	"groupPolicyConfiguration": {defaults: map[string]any{"policyConfigurationIngestionType": "unknown"}},
	"deviceManagementScript":   {assignNoContent: true},
	"deviceShellScript":        {assignNoContent: true},
	"deviceHealthScript": {
		assignNoContent: true,
		// isGlobalScript and highestAvailableVersion are Microsoft's (a
		// customer's script is never global); deviceHealthScriptType is the
		// client's, "deviceHealthScript" when it sends none.
		defaults: map[string]any{
			"isGlobalScript": false, "highestAvailableVersion": nil, "deviceHealthScriptType": "deviceHealthScript",
		},
	},
	"enrollmentConfiguration": {version: "int", assignNoContent: true},
	"appProtectionPolicy": {
		version:         "string",
		assignNoContent: true,
		defaults:        map[string]any{"deployedAppCount": float64(0)},
		derived:         func(o *object) { o.props["isAssigned"] = len(o.assignments) > 0 },
	},
}

func traitsOf(typ *intune.Type) typeTraits { return traits[typ.Key] }

// nameProperty is the property that names objects of typ (what a restore
// matches on across tenants).
func nameProperty(typ *intune.Type) string {
	if n := traitsOf(typ).name; n != "" {
		return n
	}
	return "displayName"
}

// fillServerFields sets what Graph sets when an object is created, keeping
// values already present (a seeded object's, through Put; checkBody dropped
// them from a POST body). Defaults of client-set properties (deviceHealthScriptType,
// policyConfigurationIngestionType) are filled only when the body had none.
// The caller holds t.mu.
func (t *Tenant) fillServerFields(typ *intune.Type, o *object, now time.Time) {
	tr := traitsOf(typ)
	setAbsent := func(k string, v any) {
		if _, ok := o.props[k]; !ok {
			o.props[k] = v
		}
	}
	if !tr.noCreated {
		setAbsent("createdDateTime", timestamp(now))
	}
	if !tr.noModified {
		setAbsent("lastModifiedDateTime", timestamp(now))
	}
	switch tr.version {
	case "int":
		setAbsent("version", float64(1))
	case "string":
		setAbsent("version", "1")
	}
	for k, v := range tr.defaults {
		setAbsent(k, v)
	}
	if typ.Key == "enrollmentConfiguration" {
		// Intune orders enrollment configurations by priority; a new one
		// goes last.
		setAbsent("priority", float64(t.maxPriority(typ)+1))
	}
	if typ.ScopeTagsProperty != "" {
		// Graph puts an object without scope tags under Default.
		if tags, _ := o.props[typ.ScopeTagsProperty].([]any); len(tags) == 0 {
			o.props[typ.ScopeTagsProperty] = []any{"0"}
		}
	}
	if tr.derived != nil {
		tr.derived(o)
	}
}

// touch records an update: new lastModifiedDateTime, version bumped,
// derived fields recomputed. The caller holds t.mu.
func touch(typ *intune.Type, o *object, now time.Time) {
	tr := traitsOf(typ)
	if !tr.noModified {
		o.props["lastModifiedDateTime"] = timestamp(now)
	}
	switch tr.version {
	case "int":
		v, _ := o.props["version"].(float64)
		o.props["version"] = v + 1
	case "string":
		s, _ := o.props["version"].(string)
		n, _ := strconv.Atoi(s)
		o.props["version"] = strconv.Itoa(n + 1)
	}
	if tr.derived != nil {
		tr.derived(o)
	}
}

// rederive recomputes derived fields after an assignment change, which
// Graph does not count as a modification of the object.
func rederive(typ *intune.Type, o *object) {
	if d := traitsOf(typ).derived; d != nil {
		d(o)
	}
}

func (t *Tenant) maxPriority(typ *intune.Type) int {
	max := 0
	for _, o := range t.stores[typ.Key].list {
		if p, ok := o.props["priority"].(float64); ok && int(p) > max {
			max = int(p)
		}
	}
	return max
}

// stampItem returns a copy of a related item with what Graph sets: an id
// and the timestamps its relation lists as read-only, and the same on the
// items of its nested collections (scheduled action configurations,
// presentation values). fresh (an HTTP write) ignores what the client sent
// for those properties, as Graph does, and stamps now; otherwise (Put, or an
// item being patched) only absent fields are filled.
func stampItem(item map[string]any, r intune.Relation, now time.Time, fresh bool) map[string]any {
	m := make(map[string]any, len(item)+1)
	for k, v := range item {
		if fresh && slices.Contains(r.ReadOnly, k) {
			continue
		}
		m[k] = v
	}
	if _, ok := m["id"]; !ok && slices.Contains(r.ReadOnly, "id") {
		m["id"] = newGUID()
	}
	for _, k := range []string{"createdDateTime", "lastModifiedDateTime"} {
		if !slices.Contains(r.ReadOnly, k) {
			continue
		}
		if _, ok := m[k]; !ok {
			m[k] = timestamp(now)
		}
	}
	if fresh {
		resolveBinds(m)
	}
	for _, n := range r.Nested {
		sub, ok := m[n.Name].([]any)
		if !ok {
			continue
		}
		out := make([]any, len(sub))
		for i, e := range sub {
			if em, ok := e.(map[string]any); ok {
				out[i] = stampItem(em, n, now, fresh)
			} else {
				out[i] = e
			}
		}
		m[n.Name] = out
	}
	return m
}

// stampAssignment returns a copy of an assignment with its id and, for the
// policy-style assignments Graph reports a source for, source and sourceId.
func stampAssignment(typ *intune.Type, objectID string, a map[string]any, fresh bool) map[string]any {
	m := make(map[string]any, len(a)+3)
	for k, v := range a {
		m[k] = v
	}
	if _, ok := m["id"]; fresh || !ok {
		m["id"] = newGUID()
	}
	if typ.Assignments.Write == intune.AssignPost && typ.Assignments.BodyKey == "assignments" {
		if _, ok := m["source"]; fresh || !ok {
			m["source"] = "direct"
		}
		if _, ok := m["sourceId"]; fresh || !ok {
			m["sourceId"] = objectID
		}
	}
	return m
}

// resolveBinds turns OData bindings ("definition@odata.bind": ".../groupPolicyDefinitions('id')")
// into the navigation property Graph returns on read ("definition": {"id": "id"}), at any depth.
func resolveBinds(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if name, ok := strings.CutSuffix(k, "@odata.bind"); ok && name != "" {
				if s, ok := e.(string); ok {
					delete(x, k)
					x[name] = map[string]any{"id": intune.BoundID(s)}
					continue
				}
			}
			resolveBinds(e)
		}
	case []any:
		for _, e := range x {
			resolveBinds(e)
		}
	}
}
