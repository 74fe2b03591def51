package graphsim

import (
	"net/http"
	"slices"

	"github.com/restored/restored/internal/intune"
)

// actions are the bound actions of the catalog's types beyond assign, as
// the Graph beta reference documents them: type key → action name →
// handler. Each answers 204 No Content.
var actions = map[string]map[string]func(t *Tenant, c *call, typ *intune.Type, id string) reply{
	// POST deviceCompliancePolicies/{id}/scheduleActionsForRules
	// {"deviceComplianceScheduledActionForRules": [...]} replaces the
	// policy's scheduled actions (how IntuneCD and IntuneManagement update
	// them: they cannot be PATCHed).
	"deviceCompliancePolicy": {"scheduleActionsForRules": (*Tenant).scheduleActionsForRules},
	// POST groupPolicyConfigurations/{id}/updateDefinitionValues
	// {"added": [...], "updated": [...], "deletedIds": [...]} edits the
	// definition values in one call.
	"groupPolicyConfiguration": {"updateDefinitionValues": (*Tenant).updateDefinitionValues},
}

// actionName strips the optional namespace of a bound action segment:
// Graph routes "assign" and "microsoft.graph.assign" alike.
func actionName(seg string) string {
	if len(seg) > len("microsoft.graph.") && seg[:len("microsoft.graph.")] == "microsoft.graph." {
		return seg[len("microsoft.graph."):]
	}
	return seg
}

// arrayParam returns body[key] as a list of objects; absent is empty.
func arrayParam(body map[string]any, key string, required bool) ([]any, *apiErr) {
	raw, ok := body[key]
	if !ok || raw == nil {
		if required {
			return nil, badRequest("The action requires the parameter '" + key + "'.")
		}
		return nil, nil
	}
	items, ok := raw.([]any)
	if !ok {
		return nil, badRequest("The parameter '" + key + "' must be an array.")
	}
	for _, it := range items {
		if _, ok := it.(map[string]any); !ok {
			return nil, badRequest("The parameter '" + key + "' must be an array of objects.")
		}
	}
	return items, nil
}

func (t *Tenant) scheduleActionsForRules(c *call, typ *intune.Type, id string) reply {
	body, err := decodeObject(c.body)
	if err != nil {
		return err.reply()
	}
	items, err := arrayParam(body, "deviceComplianceScheduledActionForRules", true)
	if err != nil {
		return err.reply()
	}
	if err := checkPrimitives(body, ""); err != nil {
		return err.reply()
	}
	r, _ := relation(typ, "scheduledActionsForRule")
	now := t.s.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(typ, id)
	if err != nil {
		return err.reply()
	}
	o.rels[r.Name] = stampAll(items, r, now)
	touch(typ, o, now)
	return reply{status: http.StatusNoContent}
}

func (t *Tenant) updateDefinitionValues(c *call, typ *intune.Type, id string) reply {
	body, err := decodeObject(c.body)
	if err != nil {
		return err.reply()
	}
	added, err := arrayParam(body, "added", false)
	if err != nil {
		return err.reply()
	}
	updated, err := arrayParam(body, "updated", false)
	if err != nil {
		return err.reply()
	}
	var deleted []string
	if raw, ok := body["deletedIds"]; ok && raw != nil {
		list, ok := raw.([]any)
		if !ok {
			return badRequest("The parameter 'deletedIds' must be an array of strings.").reply()
		}
		for _, v := range list {
			s, ok := v.(string)
			if !ok {
				return badRequest("The parameter 'deletedIds' must be an array of strings.").reply()
			}
			deleted = append(deleted, s)
		}
	}
	if err := checkPrimitives(body, ""); err != nil {
		return err.reply()
	}
	r, _ := relation(typ, "definitionValues")
	now := t.s.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(typ, id)
	if err != nil {
		return err.reply()
	}
	items := slices.Clone(o.rels[r.Name])
	index := func(itemID any) int {
		return slices.IndexFunc(items, func(x any) bool { return x.(map[string]any)["id"] == itemID })
	}
	// Check everything before changing anything: the action is all or
	// nothing.
	for _, u := range updated {
		if index(u.(map[string]any)["id"]) < 0 {
			return notFound("No definitionValues item with id '" + str(u.(map[string]any)["id"]) + "'.").reply()
		}
	}
	for _, d := range deleted {
		if index(d) < 0 {
			return notFound("No definitionValues item with id '" + d + "'.").reply()
		}
	}
	for _, u := range updated {
		um := u.(map[string]any)
		i := index(um["id"])
		items[i] = patchItem(items[i].(map[string]any), um, r, now)
	}
	items = slices.DeleteFunc(items, func(x any) bool { return slices.Contains(deleted, str(x.(map[string]any)["id"])) })
	for _, a := range added {
		items = append(items, stampItem(a.(map[string]any), r, now, true))
	}
	o.rels[r.Name] = items
	touch(typ, o, now)
	return reply{status: http.StatusNoContent}
}
