package restore

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/restored/restored/internal/domain/results"
)

// Change is one difference between the target's current state and what the
// restore would write, at a JSON path (stored in a results.Diff).
type Change = results.Change

// Diff limits: a preview must stay readable and its row small, whatever the
// policy. Beyond them the diff is truncated and says so.
const (
	maxChanges    = 100
	maxValueBytes = 2048
)

// The diff works on normalized payloads (intune.Normalize) and names every
// difference by a path, so that a preview shows which setting changes rather
// than "settings changed" with two unreadable blobs.
//
// Path format:
//   - Object properties are joined with ".": "templateReference.templateId".
//   - An element of a keyed array is written prop[key], the key being the
//     element's identity (keyedArrays): one change to one setting is one
//     entry naming that setting, whatever the array's order or length.
//     settings[device_vendor_msft_policy_config_defender_allowarchivescanning].choiceSettingValue.value
//     settings[a].choiceSettingValue.children[b].simpleSettingValue.value
//     omaSettings[./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera].value
//     scheduledActionsForRule[PasswordRequired].scheduledActionConfigurations[block].gracePeriodHours
//     definitionValues[<definition id>].presentationValues[<presentation id>].value
//     assignments[groupAssignmentTarget:<group id>].target.deviceAndAppManagementAssignmentFilterId
//     A settings catalog setting's settingInstance level is left out of the
//     path (settings[id].choiceSettingValue, not settings[id].settingInstance.choiceSettingValue).
//     Keys are written verbatim. When a key occurs more than once on a side
//     (two notification actions), identical elements are paired first and
//     the others, in order, are prop[key#1], prop[key#2], ...
//   - An element of an unkeyed array is prop[i]. Arrays of the same length
//     are compared element by element (i in both); otherwise as a multiset,
//     an added element at its index in the new array, a removed one at its
//     index in the old.
//   - The root is "".
//
// Keyed arrays are compared regardless of order (Graph does not keep the
// order of settings, OMA settings, actions, definition values or
// assignments); unkeyed arrays of equal length are compared in order.

// diffValues appends the changes from before to after under path.
func diffValues(path string, before, after any, out *[]Change) {
	diffAt(path, lastProperty(path), before, after, out)
}

// diffAt is diffValues for a value that is property name of its parent
// (name chooses the key of an array's elements).
func diffAt(path, name string, before, after any, out *[]Change) {
	switch b := before.(type) {
	case map[string]any:
		if a, ok := after.(map[string]any); ok {
			diffMaps(path, b, a, out)
			return
		}
	case []any:
		if a, ok := after.([]any); ok {
			diffArrays(path, name, b, a, out)
			return
		}
	}
	if canonicalJSON(before) != canonicalJSON(after) {
		*out = append(*out, Change{Path: path, Op: "changed", Before: before, After: after})
	}
}

func diffMaps(path string, bm, am map[string]any, out *[]Change) {
	keys := make([]string, 0, len(bm)+len(am))
	for k := range bm {
		keys = append(keys, k)
	}
	for k := range am {
		if _, ok := bm[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := joinPath(path, k)
		bv, inB := bm[k]
		av, inA := am[k]
		switch {
		case !inB:
			// A keyed array added whole is listed element by element:
			// a created policy shows its settings one by one.
			if arr, ok := av.([]any); ok && len(arr) > 0 && keyedArray(k, arr) {
				diffArrays(p, k, nil, arr, out)
				continue
			}
			*out = append(*out, Change{Path: p, Op: "added", After: av})
		case !inA:
			if arr, ok := bv.([]any); ok && len(arr) > 0 && keyedArray(k, arr) {
				diffArrays(p, k, arr, nil, out)
				continue
			}
			*out = append(*out, Change{Path: p, Op: "removed", Before: bv})
		default:
			diffAt(p, k, bv, av, out)
		}
	}
}

// arrayKey says how the elements of an array property are identified.
type arrayKey struct {
	// key is an element's identity; ok is false when it has none (then the
	// whole array is compared as unkeyed).
	key func(elem map[string]any) (string, bool)
	// view, when set, is the part of a keyed element that is compared.
	view func(elem map[string]any) map[string]any
}

// keyedArrays are the array properties whose elements have an identity,
// by property name (at any depth).
var keyedArrays = map[string]arrayKey{
	// Settings catalog (and every settingInstance-based policy): a setting
	// is its definition; its children likewise, recursively.
	"settings": {key: stringAt("settingInstance", "settingDefinitionId"), view: settingView},
	"children": {key: stringAt("settingDefinitionId")},
	// Custom OMA-URI profiles.
	"omaSettings": {key: stringAt("omaUri")},
	// Compliance: the rule (usually one, PasswordRequired) and its actions.
	"scheduledActionsForRule":       {key: stringAt("ruleName")},
	"scheduledActionConfigurations": {key: stringAt("actionType")},
	// Administrative templates: a value is its definition, a presentation
	// value its presentation. Only their ids are compared: the definition's
	// text (category, class, display name) is the tenant's catalog, read
	// with $expand and never written (a value binds its definition by id).
	"definitionValues":   {key: stringAt("definition", "id"), view: refView("definition")},
	"presentationValues": {key: stringAt("presentation", "id"), view: refView("presentation")},
	"assignments":        {key: assignmentKey},
}

// stringAt returns the non-empty string at a path of properties.
func stringAt(props ...string) func(map[string]any) (string, bool) {
	return func(m map[string]any) (string, bool) {
		var v any = m
		for _, p := range props {
			mm, ok := v.(map[string]any)
			if !ok {
				return "", false
			}
			v = mm[p]
		}
		s, ok := v.(string)
		return s, ok && s != ""
	}
}

// refView reduces the reference in prop to its id.
func refView(prop string) func(map[string]any) map[string]any {
	return func(elem map[string]any) map[string]any {
		ref, ok := elem[prop].(map[string]any)
		if !ok {
			return elem
		}
		out := maps.Clone(elem)
		out[prop] = map[string]any{"id": ref["id"]}
		return out
	}
}

// settingView lifts a setting's settingInstance to the setting's level, so
// paths read settings[id].choiceSettingValue.value. The setting's own
// properties (its @odata.type) stay unless the instance has the same one.
func settingView(elem map[string]any) map[string]any {
	inst, _ := elem["settingInstance"].(map[string]any)
	out := make(map[string]any, len(elem)+len(inst))
	for k, v := range elem {
		if k != "settingInstance" {
			out[k] = v
		}
	}
	for k, v := range inst {
		out[k] = v
	}
	return out
}

// assignmentKey identifies an assignment by its target: the target's type
// (without "#microsoft.graph.") and the group or collection it names, e.g.
// "groupAssignmentTarget:<group id>", "allDevicesAssignmentTarget". Intent,
// filter and settings are then compared as properties.
func assignmentKey(a map[string]any) (string, bool) {
	target, ok := a["target"].(map[string]any)
	if !ok {
		return "", false
	}
	typ, _ := target["@odata.type"].(string)
	typ = strings.TrimPrefix(strings.TrimPrefix(typ, "#"), "microsoft.graph.")
	if typ == "" {
		return "", false
	}
	for _, k := range []string{"groupId", "collectionId"} {
		if id, ok := target[k].(string); ok && id != "" {
			return typ + ":" + id, true
		}
	}
	return typ, true
}

// keyedArray reports whether every element of arr has the identity the
// property name gives its elements.
func keyedArray(name string, arr ...[]any) bool {
	rule, ok := keyedArrays[name]
	if !ok {
		return false
	}
	for _, a := range arr {
		for _, e := range a {
			m, ok := e.(map[string]any)
			if !ok {
				return false
			}
			if _, ok := rule.key(m); !ok {
				return false
			}
		}
	}
	return true
}

func diffArrays(path, name string, before, after []any, out *[]Change) {
	if keyedArray(name, before, after) {
		rule := keyedArrays[name]
		for _, m := range matchByKey(before, after, func(e any) string { k, _ := rule.key(e.(map[string]any)); return k }) {
			p := path + "[" + m.label + "]"
			switch {
			case !m.hasBefore:
				*out = append(*out, Change{Path: p, Op: "added", After: m.after})
			case !m.hasAfter:
				*out = append(*out, Change{Path: p, Op: "removed", Before: m.before})
			case rule.view != nil:
				diffMaps(p, rule.view(m.before.(map[string]any)), rule.view(m.after.(map[string]any)), out)
			default:
				diffAt(p, "", m.before, m.after, out)
			}
		}
		return
	}
	if len(before) == len(after) {
		for i := range before {
			diffAt(fmt.Sprintf("%s[%d]", path, i), "", before[i], after[i], out)
		}
		return
	}
	// Different lengths: a multiset difference, so that one element added
	// to a list is one entry (and a list that differs has at least one).
	free := map[string][]int{} // indexes in after of each element, not yet matched
	for j, k := range keysOf(after) {
		free[k] = append(free[k], j)
	}
	matched := make([]bool, len(after))
	for i, k := range keysOf(before) {
		if js := free[k]; len(js) > 0 {
			matched[js[0]], free[k] = true, js[1:]
			continue
		}
		*out = append(*out, Change{Path: fmt.Sprintf("%s[%d]", path, i), Op: "removed", Before: before[i]})
	}
	for j, m := range matched {
		if !m {
			*out = append(*out, Change{Path: fmt.Sprintf("%s[%d]", path, j), Op: "added", After: after[j]})
		}
	}
}

func keysOf(arr []any) []string {
	out := make([]string, len(arr))
	for i, v := range arr {
		out[i] = canonicalJSON(v)
	}
	return out
}

// keyedMatch is one identity of a keyed array: the element before, after,
// or both.
type keyedMatch struct {
	label               string
	before, after       any
	hasBefore, hasAfter bool
}

// matchByKey pairs the elements of two keyed arrays by key, in key order.
// A key held once on each side pairs those two. A key held more than once
// pairs identical elements first (they differ in nothing), then the rest
// in order, labelled key#1, key#2, ... (identical pairs are left out).
func matchByKey(before, after []any, key func(any) string) []keyedMatch {
	type group struct{ before, after []any }
	groups := map[string]*group{}
	var keys []string
	get := func(k string) *group {
		g, ok := groups[k]
		if !ok {
			g = &group{}
			groups[k] = g
			keys = append(keys, k)
		}
		return g
	}
	for _, e := range before {
		g := get(key(e))
		g.before = append(g.before, e)
	}
	for _, e := range after {
		g := get(key(e))
		g.after = append(g.after, e)
	}
	sort.Strings(keys)
	var out []keyedMatch
	for _, k := range keys {
		g := groups[k]
		if len(g.before) <= 1 && len(g.after) <= 1 {
			m := keyedMatch{label: k}
			if len(g.before) == 1 {
				m.before, m.hasBefore = g.before[0], true
			}
			if len(g.after) == 1 {
				m.after, m.hasAfter = g.after[0], true
			}
			out = append(out, m)
			continue
		}
		bk, ak := keysOf(g.before), keysOf(g.after)
		bUsed, aUsed := make([]bool, len(bk)), make([]bool, len(ak))
		for i := range bk {
			for j := range ak {
				if !aUsed[j] && bk[i] == ak[j] {
					bUsed[i], aUsed[j] = true, true
					break
				}
			}
		}
		var bRest, aRest []int
		for i, u := range bUsed {
			if !u {
				bRest = append(bRest, i)
			}
		}
		for j, u := range aUsed {
			if !u {
				aRest = append(aRest, j)
			}
		}
		for n := 0; n < max(len(bRest), len(aRest)); n++ {
			m := keyedMatch{label: fmt.Sprintf("%s#%d", k, n+1)}
			if n < len(bRest) {
				m.before, m.hasBefore = g.before[bRest[n]], true
			}
			if n < len(aRest) {
				m.after, m.hasAfter = g.after[aRest[n]], true
			}
			out = append(out, m)
		}
	}
	return out
}

// diffAssignments compares assignments by target (assignmentKey): an
// assignment only on one side is added or removed whole; one on both whose
// intent, filter or settings differ gives changes under assignments[key].
func diffAssignments(have, want []map[string]any) (added, removed []map[string]any, changed []Change) {
	b, a := toAnySlice(have), toAnySlice(want)
	key := func(e any) string {
		if k, ok := assignmentKey(e.(map[string]any)); ok {
			return k
		}
		// A target without a type (never from Graph): its whole JSON.
		return canonicalJSON(e.(map[string]any)["target"])
	}
	for _, m := range matchByKey(b, a, key) {
		switch {
		case !m.hasBefore:
			added = append(added, m.after.(map[string]any))
		case !m.hasAfter:
			removed = append(removed, m.before.(map[string]any))
		default:
			diffAt("assignments["+m.label+"]", "", m.before, m.after, &changed)
		}
	}
	return added, removed, changed
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// lastProperty is the property name path ends with ("" when it ends with
// an array element or is the root).
func lastProperty(path string) string {
	if strings.HasSuffix(path, "]") {
		return ""
	}
	depth := 0
	for i := len(path) - 1; i >= 0; i-- {
		switch path[i] {
		case ']':
			depth++
		case '[':
			depth--
		case '.':
			if depth == 0 {
				return path[i+1:]
			}
		}
	}
	return path
}

// limitChanges applies the diff limits; truncated reports whether anything
// was cut.
func limitChanges(changes []Change) ([]Change, bool) {
	truncated := false
	if len(changes) > maxChanges {
		changes, truncated = changes[:maxChanges], true
	}
	for i := range changes {
		if v, cut := limitValue(changes[i].Before); cut {
			changes[i].Before, truncated = v, true
		}
		if v, cut := limitValue(changes[i].After); cut {
			changes[i].After, truncated = v, true
		}
	}
	return changes, truncated
}

func limitValue(v any) (any, bool) {
	if v == nil {
		return nil, false
	}
	s := canonicalJSON(v)
	if len(s) <= maxValueBytes {
		return v, false
	}
	return fmt.Sprintf("(%d bytes, not shown)", len(s)), true
}

// setDiff returns what is in want but not in have (added) and the reverse
// (removed), comparing elements by their canonical JSON.
func setDiff[T any](have, want []T) (added, removed []T) {
	key := func(v T) string { return canonicalJSON(v) }
	hk := make([]string, len(have))
	for i, v := range have {
		hk[i] = key(v)
	}
	wk := make([]string, len(want))
	for i, v := range want {
		wk[i] = key(v)
	}
	for i, v := range want {
		if !slices.Contains(hk, wk[i]) {
			added = append(added, v)
		}
	}
	for i, v := range have {
		if !slices.Contains(wk, hk[i]) {
			removed = append(removed, v)
		}
	}
	return added, removed
}

func canonicalJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
