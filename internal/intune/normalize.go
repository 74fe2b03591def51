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
// backup stores, hashes and diffs. Read-only properties (top level and in
// each related item) and OData annotations other than @odata.type are
// dropped; assignments are not part of it (see NormalizeAssignments). The
// input is not modified.
func (t *Type) Normalize(payload map[string]any) map[string]any {
	out := make(map[string]any, len(payload))
	for k, v := range payload {
		if t.isReadOnly(k) || isAnnotation(k) || k == "assignments" {
			continue
		}
		out[k] = v
	}
	for _, r := range t.Expand {
		items, ok := payload[r.Name].([]any)
		if !ok {
			continue
		}
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
				c[k] = v
			}
			clean = append(clean, c)
		}
		out[r.Name] = clean
	}
	if t.ScopeTagsProperty != "" {
		if tags := t.ScopeTagIDs(payload); len(tags) > 0 {
			slices.Sort(tags)
			out[t.ScopeTagsProperty] = toAny(tags)
		}
	}
	return out
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
			c[k] = v
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
