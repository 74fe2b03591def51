package graphsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/restored/restored/internal/intune"
)

// contentProperties are what Graph leaves out of GetEach lists (script
// bodies): only a GET by id returns them.
var contentProperties = []string{"scriptContent", "detectionScriptContent", "remediationScriptContent"}

// serveType serves one catalog collection; rest is the path after the
// collection: [], [id], [id, sub] or [id, sub, subID].
func (t *Tenant) serveType(c *call, typ *intune.Type, rest []string) reply {
	switch len(rest) {
	case 0:
		switch c.method {
		case http.MethodGet:
			return t.list(c, typ)
		case http.MethodPost:
			return t.create(c, typ)
		}
	case 1:
		switch c.method {
		case http.MethodGet:
			return t.get(c, typ, rest[0])
		case http.MethodPatch:
			return t.update(c, typ, rest[0], false)
		case http.MethodPut:
			if typ.UpdateMethod != http.MethodPut {
				break
			}
			return t.update(c, typ, rest[0], true)
		case http.MethodDelete:
			return t.delete(typ, rest[0])
		}
	case 2, 3:
		sub := rest[1]
		if a, ok := actions[typ.Key][actionName(sub)]; ok && len(rest) == 2 {
			if c.method != http.MethodPost {
				break
			}
			return a(t, c, typ, rest[0])
		}
		switch {
		case actionName(sub) == "assign" && len(rest) == 2 && typ.Assignments.Write == intune.AssignPost:
			if c.method != http.MethodPost {
				break
			}
			return t.assign(c, typ, rest[0])
		case sub == "assignments" && typ.Assignments.Supported:
			return t.serveAssignments(c, typ, rest[0], rest[2:])
		default:
			for _, r := range typ.Expand {
				if r.Name == sub {
					return t.serveRelation(c, typ, r, rest[0], rest[2:])
				}
			}
			return segmentNotFound(sub).reply()
		}
	default:
		return segmentNotFound(rest[3]).reply()
	}
	return methodNotAllowed(c.method).reply()
}

// expandable lists what $expand accepts on typ.
func expandable(typ *intune.Type) []string {
	var names []string
	for _, r := range typ.Expand {
		names = append(names, r.Name)
	}
	if typ.Assignments.Supported {
		names = append(names, "assignments")
	}
	return names
}

// render returns an object as a GET returns it: selected properties, the
// expanded relations and assignments, and (in a list of a GetEach type)
// without script content.
func render(typ *intune.Type, o *object, q query, inList bool) map[string]any {
	m := deepCopy(o.props).(map[string]any)
	if inList && typ.GetEach {
		for _, k := range contentProperties {
			delete(m, k)
		}
	}
	applySelect(m, q.selects)
	for _, r := range typ.Expand {
		if q.expand[r.Name] {
			m[r.Name] = deepCopy(nonNil(o.rels[r.Name]))
		}
	}
	if q.expand["assignments"] {
		m["assignments"] = deepCopy(nonNil(o.assignments))
	}
	return m
}

func (t *Tenant) list(c *call, typ *intune.Type) reply {
	q, err := parseQuery(c.query, expandable(typ))
	if err != nil {
		return err.reply()
	}
	// Lists are expanded only where the catalog says Graph returns them whole
	// so: the simulator refuses what the product must not rely on.
	if len(q.expand) > 0 && !typ.ListExpand {
		return badRequest("$expand is not supported on the list of " + typ.Path + "; read each object by id.").reply()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	body := page(c, t.stores[typ.Key].list, q, t.s.pageSize, func(o *object) map[string]any {
		return render(typ, o, q, true)
	})
	return reply{status: http.StatusOK, body: body}
}

func (t *Tenant) get(c *call, typ *intune.Type, id string) reply {
	q, err := parseQuery(c.query, expandable(typ))
	if err != nil {
		return err.reply()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(typ, id)
	if err != nil {
		return err.reply()
	}
	m := render(typ, o, q, false)
	m["@odata.context"] = c.root + "/$metadata#" + typ.Path + "/$entity"
	return reply{status: http.StatusOK, body: m}
}

// find returns a stored object or Graph's 404; the caller holds t.mu.
func (t *Tenant) find(typ *intune.Type, id string) (*object, *apiErr) {
	o, ok := t.stores[typ.Key].byID[id]
	if !ok {
		return nil, notFound("No " + typ.Label + " with id '" + id + "' exists in this tenant.")
	}
	return o, nil
}

// checkBody applies Graph's rules to a create (POST), update (PATCH) or
// replace (PUT) body and returns the properties to store and the inline
// relations. stored is the existing object for PATCH and PUT. The caller
// holds t.mu (scope tags are checked against the tenant).
//
// Properties Graph sets itself (the type's read-only list: id, timestamps,
// version counters, computed fields) are accepted and ignored, as Graph
// does: Microsoft's own documented create bodies carry them. Only an id
// that names another object is refused on an update.
func (t *Tenant) checkBody(typ *intune.Type, body map[string]any, stored *object, method string) (map[string]any, map[string][]any, *apiErr) {
	odata, hasType := body["@odata.type"]
	switch {
	case stored == nil && !hasType:
		return nil, nil, invalid("The @odata.type property is required to create a " + typ.Label + ".")
	case stored == nil:
		if s, _ := odata.(string); !typ.AcceptsODataType(s) {
			return nil, nil, invalid("@odata.type '" + str(odata) + "' is not a " + typ.ODataBase + ".")
		}
	case hasType && odata != stored.props["@odata.type"]:
		return nil, nil, invalid("@odata.type cannot change from '" + str(stored.props["@odata.type"]) + "' to '" + str(odata) + "'.")
	}
	if id, ok := body["id"]; ok && stored != nil && id != stored.props["id"] {
		return nil, nil, invalid("The key property 'id' cannot be changed from '" + str(stored.props["id"]) + "' to '" + str(id) + "'.")
	}
	if err := checkPrimitives(body, ""); err != nil {
		return nil, nil, err
	}
	props := map[string]any{}
	rels := map[string][]any{}
	for k, v := range body {
		switch {
		case slices.Contains(typ.ReadOnly, k):
			// Set by Graph: accepted and ignored.
			continue
		case k == "assignments":
			return nil, nil, badRequest("Assignments cannot be written inline; use the assignments endpoints of the object.")
		case strings.HasPrefix(k, "@") && k != "@odata.type":
			// Instance annotations (@odata.context, @odata.etag) carry no data.
			continue
		}
		if r, ok := relation(typ, k); ok {
			if r.OnCreate != intune.Inline || method == http.MethodPatch {
				return nil, nil, badRequest("The relation '" + k + "' cannot be written in this request; use " + typ.Path + "/{id}/" + k + ".")
			}
			items, err := relationItems(body, k)
			if err != nil {
				return nil, nil, invalid(err.Error())
			}
			rels[k] = items
			continue
		}
		props[k] = v
	}
	if stored == nil || method == http.MethodPut {
		name := nameProperty(typ)
		if s, _ := body[name].(string); strings.TrimSpace(s) == "" {
			return nil, nil, invalid("The property '" + name + "' is required.")
		}
		if v := traitsOf(typ).validateCreate; v != nil && stored == nil {
			if err := v(body); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := t.checkScopeTags(typ, props); err != nil {
		return nil, nil, err
	}
	return props, rels, nil
}

func relation(typ *intune.Type, name string) (intune.Relation, bool) {
	for _, r := range typ.Expand {
		if r.Name == name {
			return r, true
		}
	}
	return intune.Relation{}, false
}

// checkScopeTags refuses scope tag ids the tenant does not have, as Intune
// does; the caller holds t.mu.
func (t *Tenant) checkScopeTags(typ *intune.Type, props map[string]any) *apiErr {
	if typ.ScopeTagsProperty == "" {
		return nil
	}
	raw, ok := props[typ.ScopeTagsProperty]
	if !ok || raw == nil {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		return invalid(typ.ScopeTagsProperty + " must be an array of scope tag ids.")
	}
	for _, v := range list {
		id, ok := v.(string)
		if !ok {
			return invalid(typ.ScopeTagsProperty + " must be an array of scope tag ids.")
		}
		if _, ok := t.stores["roleScopeTag"].byID[id]; !ok {
			return invalid("Scope tag '" + id + "' does not exist in this tenant.")
		}
	}
	return nil
}

func (t *Tenant) create(c *call, typ *intune.Type) reply {
	body, err := decodeObject(c.body)
	if err != nil {
		return err.reply()
	}
	now := t.s.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	props, rels, err := t.checkBody(typ, body, nil, http.MethodPost)
	if err != nil {
		return err.reply()
	}
	o := &object{props: props, rels: map[string][]any{}}
	for name, items := range rels {
		r, _ := relation(typ, name)
		o.rels[name] = stampAll(items, r, now)
	}
	st := t.stores[typ.Key]
	props["id"] = t.newID(st)
	t.fillServerFields(typ, o, now)
	t.insert(st, o)
	m := render(typ, o, query{}, false)
	m["@odata.context"] = c.root + "/$metadata#" + typ.Path + "/$entity"
	return reply{status: http.StatusCreated, body: m}
}

func stampAll(items []any, r intune.Relation, now time.Time) []any {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = stampItem(it.(map[string]any), r, now, true)
	}
	return out
}

// update serves PATCH (merge top-level properties) and PUT (replace the
// object and its inline relations, keeping id and server-set fields).
func (t *Tenant) update(c *call, typ *intune.Type, id string, replace bool) reply {
	body, err := decodeObject(c.body)
	if err != nil {
		return err.reply()
	}
	now := t.s.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(typ, id)
	if err != nil {
		return err.reply()
	}
	if typ.IsBuiltin(o.props) {
		return badRequest("Built-in objects cannot be modified.").reply()
	}
	props, rels, err := t.checkBody(typ, body, o, c.method)
	if err != nil {
		return err.reply()
	}
	// Properties only a create sets are refused in an update, the way the
	// tools that write Intune found Graph does.
	for _, k := range typ.NotUpdatable() {
		if _, ok := body[k]; ok {
			return badRequest("Property '" + k + "' cannot be updated.").reply()
		}
	}
	next := make(map[string]any, len(o.props)+len(props))
	if replace {
		// Keep what the server owns; the body replaces everything else.
		for _, k := range typ.ReadOnly {
			if v, ok := o.props[k]; ok {
				next[k] = v
			}
		}
		next["@odata.type"] = o.props["@odata.type"]
	} else {
		for k, v := range o.props {
			next[k] = v
		}
	}
	for k, v := range props {
		next[k] = v
	}
	if tags, _ := next[typ.ScopeTagsProperty].([]any); typ.ScopeTagsProperty != "" && len(tags) == 0 {
		next[typ.ScopeTagsProperty] = []any{"0"}
	}
	newRels := o.rels
	if replace {
		newRels = map[string][]any{}
		for _, r := range typ.Expand {
			if r.OnCreate == intune.Inline {
				newRels[r.Name] = stampAll(rels[r.Name], r, now)
			} else {
				newRels[r.Name] = o.rels[r.Name]
			}
		}
	}
	o.props, o.rels = next, newRels
	touch(typ, o, now)
	return reply{status: http.StatusNoContent}
}

func (t *Tenant) delete(typ *intune.Type, id string) reply {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(typ, id)
	if err != nil {
		return err.reply()
	}
	if typ.IsBuiltin(o.props) {
		return badRequest("Built-in objects cannot be deleted.").reply()
	}
	t.remove(t.stores[typ.Key], id)
	return reply{status: http.StatusNoContent}
}

// ---- assignments ----

// assign replaces every assignment of an object (POST {object}/assign).
func (t *Tenant) assign(c *call, typ *intune.Type, id string) reply {
	body, err := decodeObject(c.body)
	if err != nil {
		return err.reply()
	}
	key := typ.Assignments.BodyKey
	raw, ok := body[key]
	if !ok {
		return badRequest("The assign action requires the parameter '" + key + "'.").reply()
	}
	items, ok := raw.([]any)
	if !ok {
		return badRequest("The parameter '" + key + "' must be an array.").reply()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(typ, id)
	if err != nil {
		return err.reply()
	}
	out := make([]any, len(items))
	for i, it := range items {
		a, err := t.checkAssignment(it)
		if err != nil {
			return err.reply()
		}
		out[i] = stampAssignment(typ, id, a, true)
	}
	o.assignments = out
	rederive(typ, o)
	if traitsOf(typ).assignNoContent {
		return reply{status: http.StatusNoContent}
	}
	return reply{status: http.StatusOK, body: map[string]any{
		"@odata.context": c.root + "/$metadata#Collection(microsoft.graph." + strings.TrimPrefix(typ.ODataBase, "#microsoft.graph.") + "Assignment)",
		"value":          deepCopy(out),
	}}
}

// serveAssignments serves {object}/assignments and {object}/assignments/{id}.
func (t *Tenant) serveAssignments(c *call, typ *intune.Type, id string, rest []string) reply {
	var body map[string]any
	if c.method == http.MethodPost && len(rest) == 0 {
		var err *apiErr
		if body, err = decodeObject(c.body); err != nil {
			return err.reply()
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(typ, id)
	if err != nil {
		return err.reply()
	}
	ctx := c.root + "/$metadata#" + typ.Path + "('" + id + "')/assignments"
	if len(rest) == 0 {
		switch c.method {
		case http.MethodGet:
			return reply{status: http.StatusOK, body: listBody{Context: ctx, Value: deepCopy(nonNil(o.assignments)).([]any)}}
		case http.MethodPost:
			a, err := t.checkAssignment(body)
			if err != nil {
				return err.reply()
			}
			a = stampAssignment(typ, id, a, true)
			o.assignments = append(slices.Clip(o.assignments), a)
			rederive(typ, o)
			m := deepCopy(a).(map[string]any)
			m["@odata.context"] = ctx + "/$entity"
			return reply{status: http.StatusCreated, body: m}
		}
		return methodNotAllowed(c.method).reply()
	}
	i := slices.IndexFunc(o.assignments, func(a any) bool { return a.(map[string]any)["id"] == rest[0] })
	if i < 0 {
		return notFound("No assignment with id '" + rest[0] + "'.").reply()
	}
	switch c.method {
	case http.MethodGet:
		m := deepCopy(o.assignments[i]).(map[string]any)
		m["@odata.context"] = ctx + "/$entity"
		return reply{status: http.StatusOK, body: m}
	case http.MethodDelete:
		o.assignments = slices.Delete(slices.Clone(o.assignments), i, i+1)
		rederive(typ, o)
		return reply{status: http.StatusNoContent}
	}
	return methodNotAllowed(c.method).reply()
}

// assignmentTargets lists the assignment target types Intune accepts on
// the catalog's types (deviceAndAppManagementAssignmentTarget's derived
// types in the Graph beta reference), stored with their leading "#"
// whichever spelling the body used.
var assignmentTargets = []string{
	"#microsoft.graph.groupAssignmentTarget",
	"#microsoft.graph.exclusionGroupAssignmentTarget",
	"#microsoft.graph.allDevicesAssignmentTarget",
	"#microsoft.graph.allLicensedUsersAssignmentTarget",
	"#microsoft.graph.configurationManagerCollectionAssignmentTarget",
}

// checkAssignment validates one assignment the way Intune does: a known
// target type, literals of their declared types, a group that exists in the
// tenant for group targets, a collection id for Configuration Manager
// collections, an assignment filter that exists when one is set. The caller
// holds t.mu.
func (t *Tenant) checkAssignment(v any) (map[string]any, *apiErr) {
	a, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("An assignment must be an object.")
	}
	target, ok := a["target"].(map[string]any)
	if !ok {
		return nil, invalid("An assignment requires a target.")
	}
	kind, _ := target["@odata.type"].(string)
	kind = intune.CanonicalODataType(kind)
	if !slices.Contains(assignmentTargets, kind) {
		return nil, invalid("Unsupported assignment target type '" + kind + "'.")
	}
	target["@odata.type"] = kind
	if err := checkPrimitives(a, ""); err != nil {
		return nil, err
	}
	switch kind {
	case "#microsoft.graph.groupAssignmentTarget", "#microsoft.graph.exclusionGroupAssignmentTarget":
		g, _ := target["groupId"].(string)
		if _, ok := t.groups.byID[g]; !ok {
			return nil, invalid("The group '" + g + "' of an assignment does not exist in this tenant.")
		}
	case "#microsoft.graph.configurationManagerCollectionAssignmentTarget":
		if c, _ := target["collectionId"].(string); strings.TrimSpace(c) == "" {
			return nil, invalid("A Configuration Manager collection target requires a collectionId.")
		}
	}
	if f, _ := target["deviceAndAppManagementAssignmentFilterId"].(string); f != "" && f != zeroGUID {
		if _, ok := t.stores["assignmentFilter"].byID[f]; !ok {
			return nil, invalid("The assignment filter '" + f + "' does not exist in this tenant.")
		}
	}
	return a, nil
}

const zeroGUID = "00000000-0000-0000-0000-000000000000"

// ---- relations ----

// serveRelation serves {object}/{relation} and {object}/{relation}/{id}.
// Every relation of the catalog can be listed, and its items created (201),
// updated (204) and deleted (204) one by one, as the Graph beta reference
// documents for settings, scheduledActionsForRule, definitionValues and
// localizedNotificationMessages. Inline relations are also written with the
// object. Properties Graph sets on an item (its id, timestamps, and those of
// nested collections) are ignored in the body and stamped by the server.
func (t *Tenant) serveRelation(c *call, typ *intune.Type, r intune.Relation, id string, rest []string) reply {
	var body map[string]any
	if c.method == http.MethodPost || c.method == http.MethodPatch {
		var err *apiErr
		if body, err = decodeObject(c.body); err != nil {
			return err.reply()
		}
		if err := checkPrimitives(body, propertyTypes[r.Name]); err != nil {
			return err.reply()
		}
	}
	now := t.s.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(typ, id)
	if err != nil {
		return err.reply()
	}
	ctx := c.root + "/$metadata#" + typ.Path + "('" + id + "')/" + r.Name
	items := o.rels[r.Name]
	if len(rest) == 0 {
		switch c.method {
		case http.MethodGet:
			return reply{status: http.StatusOK, body: listBody{Context: ctx, Value: deepCopy(nonNil(items)).([]any)}}
		case http.MethodPost:
			it := stampItem(body, r, now, true)
			o.rels[r.Name] = append(slices.Clip(items), it)
			touch(typ, o, now)
			m := deepCopy(it).(map[string]any)
			m["@odata.context"] = ctx + "/$entity"
			return reply{status: http.StatusCreated, body: m}
		}
		return methodNotAllowed(c.method).reply()
	}
	i := slices.IndexFunc(items, func(x any) bool { return x.(map[string]any)["id"] == rest[0] })
	if i < 0 {
		return notFound("No " + r.Name + " item with id '" + rest[0] + "'.").reply()
	}
	switch c.method {
	case http.MethodGet:
		m := deepCopy(items[i]).(map[string]any)
		m["@odata.context"] = ctx + "/$entity"
		return reply{status: http.StatusOK, body: m}
	case http.MethodPatch:
		next := slices.Clone(items)
		next[i] = patchItem(items[i].(map[string]any), body, r, now)
		o.rels[r.Name] = next
		touch(typ, o, now)
		return reply{status: http.StatusNoContent}
	case http.MethodDelete:
		o.rels[r.Name] = slices.Delete(slices.Clone(items), i, i+1)
		touch(typ, o, now)
		return reply{status: http.StatusNoContent}
	}
	return methodNotAllowed(c.method).reply()
}

// patchItem merges body into a related item: Graph's own properties in the
// body are ignored, lastModifiedDateTime is stamped where the item has one,
// and new nested items get ids.
func patchItem(item, body map[string]any, r intune.Relation, now time.Time) map[string]any {
	it := deepCopy(item).(map[string]any)
	for k, v := range body {
		if slices.Contains(r.ReadOnly, k) {
			continue
		}
		it[k] = v
	}
	resolveBinds(it)
	if slices.Contains(r.ReadOnly, "lastModifiedDateTime") {
		it["lastModifiedDateTime"] = timestamp(now)
	}
	return stampItem(it, r, now, false)
}

// str renders a JSON value for an error message.
func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
