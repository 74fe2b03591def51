package intune

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Normalize returns the stable form of a Graph object of type t: what a
// backup stores, hashes and diffs. Read-only properties (top level, in each
// related item and in the item's nested collections) and OData annotations
// other than @odata.type are dropped; assignments are not part of it (see
// NormalizeAssignments). Every @odata.type is written with its leading "#"
// (Graph accepts both spellings and answers with "#"), and an OData binding
// ("definition@odata.bind": ".../groupPolicyDefinitions('id')") becomes the
// reference Graph reads back ("definition": {"id": "id"}), so a write body
// and the object read back normalize the same. The input is not modified.
func (t *Type) Normalize(payload map[string]any) map[string]any {
	out := make(map[string]any, len(payload))
	for k, v := range payload {
		if t.isReadOnly(k) || isAnnotation(k) || k == "assignments" {
			continue
		}
		out[k] = canonicalProp(k, v)
	}
	resolveBindings(out, payload)
	for _, r := range t.Expand {
		items, ok := payload[r.Name].([]any)
		if !ok {
			continue
		}
		out[r.Name] = normalizeItems(r, items)
	}
	if t.ScopeTagsProperty != "" {
		if tags := t.ScopeTagIDs(payload); len(tags) > 0 {
			slices.Sort(tags)
			out[t.ScopeTagsProperty] = toAny(tags)
		}
	}
	return out
}

// normalizeItems cleans the items of a relation (or of a nested collection
// inside an item): Graph's own properties and annotations dropped.
func normalizeItems(r Relation, items []any) []any {
	clean := make([]any, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		c := make(map[string]any, len(m))
		for k, v := range m {
			if slices.Contains(r.ReadOnly, k) || isAnnotation(k) {
				continue
			}
			c[k] = canonicalProp(k, v)
		}
		resolveBindings(c, m)
		for _, n := range r.Nested {
			if sub, ok := m[n.Name].([]any); ok {
				c[n.Name] = normalizeItems(n, sub)
			}
		}
		clean = append(clean, c)
	}
	return clean
}

// CanonicalODataType returns an @odata.type value with its leading "#":
// Graph accepts "microsoft.graph.x" and "#microsoft.graph.x" alike in a
// body and always answers with the "#".
func CanonicalODataType(s string) string {
	if s == "" || strings.HasPrefix(s, "#") {
		return s
	}
	return "#" + s
}

// canonicalProp is canonicalValue for the value of property k.
func canonicalProp(k string, v any) any {
	if s, ok := v.(string); ok && k == "@odata.type" {
		return CanonicalODataType(s)
	}
	return canonicalValue(v)
}

// canonicalValue returns a copy of a JSON value with every @odata.type
// canonical and every binding resolved, at any depth.
func canonicalValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			if _, ok := bindingName(k, e); ok {
				continue
			}
			m[k] = canonicalProp(k, e)
		}
		resolveBindings(m, x)
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = canonicalValue(e)
		}
		return s
	}
	return v
}

// resolveBindings adds to out the reference each "x@odata.bind" of src
// stands for, unless out already has x.
func resolveBindings(out, src map[string]any) {
	for k, v := range src {
		name, ok := bindingName(k, v)
		if !ok {
			continue
		}
		if _, has := out[name]; !has {
			out[name] = map[string]any{"id": BoundID(v.(string))}
		}
	}
}

func bindingName(k string, v any) (string, bool) {
	name, ok := strings.CutSuffix(k, "@odata.bind")
	if !ok || name == "" {
		return "", false
	}
	_, isString := v.(string)
	return name, isString
}

// BoundID extracts the key of an OData binding: ".../set('key')" or
// ".../set/key".
func BoundID(u string) string {
	if i := strings.LastIndex(u, "('"); i >= 0 && strings.HasSuffix(u, "')") {
		return u[i+2 : len(u)-2]
	}
	if i := strings.LastIndex(u, "/"); i >= 0 {
		return u[i+1:]
	}
	return u
}

func (t *Type) isReadOnly(k string) bool {
	return slices.Contains(t.ReadOnly, k) || strings.HasSuffix(k, "@odata.navigationLink")
}

// isAnnotation reports OData control information other than @odata.type
// (which says what the object is and must be written back).
func isAnnotation(k string) bool {
	return k != "@odata.type" && (strings.Contains(k, "@odata.") || strings.HasPrefix(k, "@"))
}

// NormalizeAssignments returns assignments in a stable form: only their
// targets (Graph-set ids and sources dropped), ordered by target.
func NormalizeAssignments(raw []any) []map[string]any {
	out := make([]map[string]any, 0, len(raw))
	for _, a := range raw {
		m, ok := a.(map[string]any)
		if !ok {
			continue
		}
		c := map[string]any{}
		for k, v := range m {
			switch k {
			case "id", "source", "sourceId":
				continue
			}
			if isAnnotation(k) {
				continue
			}
			c[k] = canonicalValue(v)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return strings.Compare(canonical(a), canonical(b)) })
	return out
}

// AssignmentGroupIDs returns the group ids assignments target.
func AssignmentGroupIDs(assignments []map[string]any) []string {
	var ids []string
	for _, a := range assignments {
		if t, ok := a["target"].(map[string]any); ok {
			if g, ok := t["groupId"].(string); ok && g != "" && !slices.Contains(ids, g) {
				ids = append(ids, g)
			}
		}
	}
	return ids
}

// AssignmentCollectionIDs returns the Configuration Manager collection ids
// assignments target (configurationManagerCollectionAssignmentTarget).
func AssignmentCollectionIDs(assignments []map[string]any) []string {
	var ids []string
	for _, a := range assignments {
		if t, ok := a["target"].(map[string]any); ok {
			if c, ok := t["collectionId"].(string); ok && c != "" && !slices.Contains(ids, c) {
				ids = append(ids, c)
			}
		}
	}
	return ids
}

// AssignmentFilterIDs returns the assignment filter ids assignments use.
func AssignmentFilterIDs(assignments []map[string]any) []string {
	var ids []string
	for _, a := range assignments {
		if t, ok := a["target"].(map[string]any); ok {
			if f, ok := t["deviceAndAppManagementAssignmentFilterId"].(string); ok && f != "" && f != "00000000-0000-0000-0000-000000000000" && !slices.Contains(ids, f) {
				ids = append(ids, f)
			}
		}
	}
	return ids
}

// ContentHash fingerprints a normalized object with its assignments and
// scope tags: equal hashes mean nothing a restore would write differs.
func ContentHash(payload map[string]any, assignments []map[string]any, scopeTagIDs []string) string {
	tags := slices.Clone(scopeTagIDs)
	slices.Sort(tags)
	sum := sha256.Sum256([]byte(canonical(map[string]any{"p": payload, "a": assignments, "t": tags})))
	return hex.EncodeToString(sum[:])
}

// canonical is a deterministic JSON encoding (encoding/json sorts map keys).
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
