package intune

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
)

// Writer reads and writes Microsoft Graph: what restore execution holds
// (checks and preview get only a Reader). Writes are raw JSON bodies.
type Writer interface {
	Reader
	// Post creates an object or calls an action; it returns the response
	// object, nil for 204 No Content.
	Post(ctx context.Context, path string, body any) (map[string]any, error)
	Patch(ctx context.Context, path string, body any) error
	Put(ctx context.Context, path string, body any) error
	Delete(ctx context.Context, path string) error
}

// graphRoot prefixes OData bindings. Graph resolves a binding by the key
// in it; the host does not matter to it (nor to graphsim), so the public
// cloud's beta root is written whatever tenant is restored.
const graphRoot = "https://graph.microsoft.com/beta/"

// bindings are the references inside relation items that Graph writes only
// as OData bindings ("definition@odata.bind": ".../groupPolicyDefinitions('id')")
// but returns as navigation properties ("definition": {"id": ...}), which
// is how backups hold them: relation name → property → the binding URL of
// the referenced key (parent is the item holding the relation, for nested
// references).
var bindings = map[string]map[string]func(key string, parent map[string]any) string{
	"definitionValues": {
		"definition": func(key string, _ map[string]any) string {
			return graphRoot + "deviceManagement/groupPolicyDefinitions('" + key + "')"
		},
	},
	"presentationValues": {
		"presentation": func(key string, parent map[string]any) string {
			def, _ := parent["definition"].(map[string]any)
			defID, _ := def["id"].(string)
			return graphRoot + "deviceManagement/groupPolicyDefinitions('" + defID + "')/presentations('" + key + "')"
		},
	},
}

// CreateBody is the POST body creating an object from its normalized
// payload: no Graph-set property, no assignments, inline relations with
// their items cleaned (references as bindings), post-each relations left
// out (WriteRelations posts them once the object exists).
func (t *Type) CreateBody(payload map[string]any) map[string]any {
	return t.body(payload, func(r Relation) bool { return r.OnCreate == Inline })
}

// UpdateBody is the body of t's UpdateMethod: a PATCH carries no relation
// (Graph refuses them; WriteRelations writes them), a PUT replaces the
// object with its inline relations.
func (t *Type) UpdateBody(payload map[string]any) map[string]any {
	put := t.UpdateMethod == http.MethodPut
	body := t.body(payload, func(r Relation) bool { return put && r.OnCreate == Inline })
	for _, k := range t.NotUpdatable() {
		delete(body, k)
	}
	return body
}

// notUpdatable are properties set on create that Graph refuses (or must not
// be sent) in an update. A restore that would change one shows as drift on
// read-back.
var notUpdatable = map[string][]string{
	// An assignment filter's platform (IntuneCD and IntuneManagement leave
	// it out of their PATCH).
	"assignmentFilter": {"platform"},
	// An Autopilot profile's managementServiceAppId (IntuneManagement leaves
	// it out of its PATCH).
	"autopilotDeploymentProfile": {"managementServiceAppId"},
	// Update rings (windowsUpdateForBusinessConfiguration, a device
	// configuration): the pause start dates belong to the pause and resume
	// actions, and the "will be rolled back" flags trigger a rollback on
	// devices when sent; IntuneManagement drops all four from its PATCH.
	"deviceConfiguration": {"qualityUpdatesPauseStartDate", "featureUpdatesPauseStartDate",
		"qualityUpdatesWillBeRolledBack", "featureUpdatesWillBeRolledBack"},
}

// NotUpdatable lists t's properties that a create sets and an update must
// not carry.
func (t *Type) NotUpdatable() []string { return notUpdatable[t.Key] }

func (t *Type) body(payload map[string]any, keep func(Relation) bool) map[string]any {
	out := make(map[string]any, len(payload))
	for k, v := range payload {
		if t.isReadOnly(k) || isAnnotation(k) || k == "assignments" {
			continue
		}
		out[k] = v
	}
	for _, r := range t.Expand {
		delete(out, r.Name)
		if items, ok := payload[r.Name].([]any); ok && keep(r) {
			out[r.Name] = cleanItems(r, items)
		}
	}
	return out
}

// Intended is what reading an object back should give after a restore
// wrote payload: the payload with every relation, normalized the way a
// capture normalizes (so bindings compare as the references Graph returns).
func (t *Type) Intended(payload map[string]any) map[string]any {
	full := t.body(payload, func(Relation) bool { return true })
	return t.Normalize(full)
}

// cleanItems returns relation items as they are written: Graph's own
// properties and annotations dropped, references turned into bindings,
// nested collections cleaned the same way.
func cleanItems(r Relation, items []any) []any {
	out := make([]any, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		out = append(out, cleanItem(r, m, nil))
	}
	return out
}

func cleanItem(r Relation, item, parent map[string]any) map[string]any {
	c := make(map[string]any, len(item))
	for k, v := range item {
		if slices.Contains(r.ReadOnly, k) || isAnnotation(k) {
			continue
		}
		c[k] = v
	}
	for prop, bind := range bindings[r.Name] {
		ref, ok := c[prop].(map[string]any)
		if !ok {
			continue
		}
		if key, _ := ref["id"].(string); key != "" {
			delete(c, prop)
			c[prop+"@odata.bind"] = bind(key, parent)
		}
	}
	for _, n := range r.Nested {
		sub, ok := item[n.Name].([]any)
		if !ok {
			continue
		}
		cleaned := make([]any, 0, len(sub))
		for _, e := range sub {
			if em, ok := e.(map[string]any); ok {
				cleaned = append(cleaned, cleanItem(n, em, item))
			}
		}
		c[n.Name] = cleaned
	}
	return c
}

// objectPath is the path of one object of t.
func (t *Type) objectPath(id string) string { return t.Path + "/" + url.PathEscape(id) }

// Create creates an object from its normalized payload, then its post-each
// relations; it returns the new object's id. When the relations fail the
// object exists: the id is returned with the error so the caller records it
// (a retry updates it instead of creating another).
func Create(ctx context.Context, w Writer, t *Type, payload map[string]any) (string, error) {
	created, err := w.Post(ctx, t.Path, t.CreateBody(payload))
	if err != nil {
		return "", err
	}
	id, _ := created["id"].(string)
	if id == "" {
		return "", errNoID
	}
	for _, r := range t.Expand {
		if r.OnCreate != PostEach {
			continue
		}
		items, _ := payload[r.Name].([]any)
		for _, it := range cleanItems(r, items) {
			if _, err := w.Post(ctx, t.objectPath(id)+"/"+r.Name, it); err != nil {
				return id, err
			}
		}
	}
	return id, nil
}

// Delete deletes object id of type t (its relations and assignments go
// with it). A 404 is returned as Graph gave it: the caller decides whether
// "already gone" is done.
func Delete(ctx context.Context, w Writer, t *Type, id string) error {
	return w.Delete(ctx, t.objectPath(id))
}

// Update writes payload over object id with t's UpdateMethod, then brings
// the relations a PATCH cannot carry to the payload's, the way Graph
// accepts them: scheduled actions through scheduleActionsForRules,
// definition values through updateDefinitionValues (all or nothing),
// localized messages one by one (matched by locale).
func Update(ctx context.Context, w Writer, t *Type, id string, payload map[string]any) error {
	body := t.UpdateBody(payload)
	var err error
	if t.UpdateMethod == http.MethodPut {
		err = w.Put(ctx, t.objectPath(id), body)
	} else {
		err = w.Patch(ctx, t.objectPath(id), body)
	}
	if err != nil || t.UpdateMethod == http.MethodPut {
		return err
	}
	for _, r := range t.Expand {
		items, ok := payload[r.Name].([]any)
		if !ok {
			continue
		}
		if err := updateRelation(ctx, w, t, id, r, cleanItems(r, items)); err != nil {
			return err
		}
	}
	return nil
}

func updateRelation(ctx context.Context, w Writer, t *Type, id string, r Relation, items []any) error {
	base := t.objectPath(id)
	switch r.Name {
	case "scheduledActionsForRule":
		_, err := w.Post(ctx, base+"/scheduleActionsForRules", map[string]any{"deviceComplianceScheduledActionForRules": items})
		return err
	case "definitionValues":
		current, err := listIDs(ctx, w, base+"/"+r.Name, nil)
		if err != nil {
			return err
		}
		ids := make([]any, 0, len(current))
		for _, c := range current {
			ids = append(ids, c["id"])
		}
		_, err = w.Post(ctx, base+"/updateDefinitionValues", map[string]any{"added": items, "updated": []any{}, "deletedIds": ids})
		return err
	case "localizedNotificationMessages":
		current, err := listIDs(ctx, w, base+"/"+r.Name, nil)
		if err != nil {
			return err
		}
		byLocale := map[string]string{}
		for _, c := range current {
			loc, _ := c["locale"].(string)
			byLocale[loc], _ = c["id"].(string)
		}
		for _, it := range items {
			m := it.(map[string]any)
			loc, _ := m["locale"].(string)
			if mid, ok := byLocale[loc]; ok {
				patch := maps.Clone(m)
				// Neither is updatable (IntuneCD sends neither).
				delete(patch, "locale")
				delete(patch, "isDefault")
				if err := w.Patch(ctx, base+"/"+r.Name+"/"+url.PathEscape(mid), patch); err != nil {
					return err
				}
				delete(byLocale, loc)
				continue
			}
			if _, err := w.Post(ctx, base+"/"+r.Name, m); err != nil {
				return err
			}
		}
		for _, mid := range byLocale {
			if err := w.Delete(ctx, base+"/"+r.Name+"/"+url.PathEscape(mid)); err != nil {
				return err
			}
		}
		return nil
	}
	// A relation without a documented update path is left as it is; the
	// read-back shows the difference as drift.
	return nil
}

// listIDs lists a collection's items (every property; small collections).
func listIDs(ctx context.Context, r Reader, path string, q url.Values) ([]map[string]any, error) {
	var out []map[string]any
	err := r.List(ctx, path, q, func(item map[string]any) error {
		out = append(out, item)
		return nil
	})
	return out, err
}

// WriteAssignments makes object id's assignments the given ones (each a
// normalized assignment: target and settings, no ids): through the assign
// action, which replaces them all, or, for types assigned one by one,
// by deleting those not wanted and posting those missing.
func WriteAssignments(ctx context.Context, w Writer, t *Type, id string, assignments []map[string]any) error {
	if !t.Assignments.Supported {
		return nil
	}
	base := t.objectPath(id)
	list := make([]any, len(assignments))
	for i, a := range assignments {
		list[i] = a
	}
	if t.Assignments.Write == AssignPost {
		_, err := w.Post(ctx, base+"/assign", map[string]any{t.Assignments.BodyKey: list})
		return err
	}
	current, err := listIDs(ctx, w, base+"/assignments", nil)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, a := range assignments {
		want[canonical(a)] = true
	}
	for _, c := range current {
		n := NormalizeAssignments([]any{c})
		key := ""
		if len(n) == 1 {
			key = canonical(n[0])
		}
		if want[key] {
			delete(want, key)
			continue
		}
		cid, _ := c["id"].(string)
		if err := w.Delete(ctx, base+"/assignments/"+url.PathEscape(cid)); err != nil {
			return err
		}
	}
	for _, a := range assignments {
		if !want[canonical(a)] {
			continue
		}
		if _, err := w.Post(ctx, base+"/assignments", a); err != nil {
			return err
		}
	}
	return nil
}

type writeError string

func (e writeError) Error() string    { return string(e) }
func (e writeError) SafeCode() string { return "no_id_returned" }

var errNoID = writeError("intune: Graph created an object but returned no id")
