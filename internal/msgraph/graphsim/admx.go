package graphsim

import (
	"net/http"
	"strings"
)

// Administrative template definitions. Microsoft's built-in definitions
// have the same ids in every tenant, and graphsim accepts any definition id
// in a binding. Definitions from ADMX files a tenant imported
// (groupPolicyUploadedDefinitionFiles) get ids of that tenant only: a
// restore into another tenant finds their counterparts through the
// groupPolicyCategories of ingestionSource "custom" and their definitions,
// which is what graphsim serves (read-only, like Graph's categories).

// AddCustomADMXCategory adds (or replaces) a category of an imported ADMX
// file: category holds id and displayName; each definition id, displayName,
// classType ("machine" or "user"), categoryPath and optionally presentations
// (each id, label, @odata.type). The category is marked ingestionSource
// "custom" and its definitions policyType "admxIngested", as Graph marks
// what an uploaded ADMX file brings.
func (t *Tenant) AddCustomADMXCategory(category map[string]any, definitions ...map[string]any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	props := deepCopy(category).(map[string]any)
	props["@odata.type"] = "#microsoft.graph.groupPolicyCategory"
	props["ingestionSource"] = "custom"
	if _, ok := props["isRoot"]; !ok {
		props["isRoot"] = false
	}
	defs := make([]any, 0, len(definitions))
	for _, d := range definitions {
		d = deepCopy(d).(map[string]any)
		d["@odata.type"] = "#microsoft.graph.groupPolicyDefinition"
		d["policyType"] = "admxIngested"
		if _, ok := d["presentations"]; !ok {
			d["presentations"] = []any{}
		}
		canonicalTypes(d)
		defs = append(defs, d)
	}
	o := &object{props: props, rels: map[string][]any{"definitions": defs}}
	id, _ := props["id"].(string)
	if old, ok := t.admx.byID[id]; ok {
		old.props, old.rels = o.props, o.rels
		return
	}
	t.insert(t.admx, o)
}

// serveGroupPolicyCategories serves GET deviceManagement/groupPolicyCategories
// ($filter, $select, $expand=definitions) and .../groupPolicyCategories/{id}.
// A definition is returned with its presentations, as with
// $expand=definitions($expand=presentations).
func (t *Tenant) serveGroupPolicyCategories(c *call, rest []string) reply {
	if c.method != http.MethodGet {
		return methodNotAllowed(c.method).reply()
	}
	q, err := parseQuery(c.query, []string{"definitions"})
	if err != nil {
		return err.reply()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	render := func(o *object) map[string]any {
		m := deepCopy(o.props).(map[string]any)
		applySelect(m, q.selects)
		if q.expand["definitions"] {
			m["definitions"] = deepCopy(o.rels["definitions"])
		}
		return m
	}
	switch len(rest) {
	case 0:
		return reply{status: http.StatusOK, body: page(c, t.admx.list, q, t.s.pageSize, render)}
	case 1:
		o, ok := t.admx.byID[rest[0]]
		if !ok {
			return notFound("No groupPolicyCategory with id '" + rest[0] + "'.").reply()
		}
		m := render(o)
		m["@odata.context"] = c.root + "/$metadata#deviceManagement/groupPolicyCategories/$entity"
		return reply{status: http.StatusOK, body: m}
	}
	return segmentNotFound(strings.Join(rest[1:], "/")).reply()
}
