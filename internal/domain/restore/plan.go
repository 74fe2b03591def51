package restore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/intune"
)

// ItemTargetNew is the itemTargets value that means "create a new object".
const ItemTargetNew = "new"

// runPlan is the run-wide view the checks need before judging any item:
// which target object each item matched, so that several backup items
// landing on one target object block all of them, and where the
// foundations in scope go, so that the references to them resolve.
type runPlan struct {
	// claims: typeKey/target id → the backup items matched onto it.
	claims map[string][]claim
	// scoped: typeKey/source id of a foundation in scope → its target id, or
	// "" when the run creates it (refs.scoped).
	scoped map[string]string
	// deleting: typeKey/id of the foundations an undo may delete (its
	// absent items): nothing restored may refer to them.
	deleting map[string]bool
}

type claim struct{ id, name string }

// planRun matches every item of the run once (index caches the target's
// lists, so the second match in checkItem costs nothing).
func (s *Service) planRun(ctx context.Context, run *ent.RestoreRun, index *targetIndex) (*runPlan, error) {
	p := &runPlan{claims: map[string][]claim{}, scoped: map[string]string{}, deleting: map[string]bool{}}
	err := s.eachItem(ctx, run.ID, func(_ *ent.RestoreRunItem, b *ent.BackupItem) error {
		t, ok := intune.Lookup(b.PolicyType)
		if ok && b.Absent {
			// Never restored: matched by id in checkAbsent, and an undo's
			// delete (the rule decides which are).
			if run.UndoOfRunID != nil && isRefType(t.Key) {
				p.deleting[t.Key+"/"+b.SourceGraphID] = true
			}
			return nil
		}
		if !ok || !t.AcceptsODataType(odataTypeOf(t, b.Payload)) {
			return nil
		}
		k := t.Key + "/" + b.SourceGraphID
		if isBuiltinItem(t, b) {
			if id, ok := builtinCounterpart(ctx, index, t, b); ok {
				p.scoped[k] = id
			}
			return nil
		}
		if _, mapped := runMapping(run, t.Key)[b.SourceGraphID]; mapped {
			return nil // the mapping decides, see checkItem
		}
		var m match
		if index != nil {
			var err error
			if m, err = index.match(ctx, run, t, b); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				m = match{}
			}
		}
		if len(m.found) == 1 {
			tk := t.Key + "/" + m.found[0].ID
			p.claims[tk] = append(p.claims[tk], claim{b.ID, b.DisplayName})
		}
		if isRefType(t.Key) && t.PreviewOnlyReason(b.Payload) == "" {
			switch {
			case len(m.found) == 1:
				p.scoped[k] = m.found[0].ID
			case m.invalid == "":
				// Created (or blocked, which the item's own checks say):
				// references to it count as in scope either way.
				p.scoped[k] = ""
			}
		}
		return nil
	})
	return p, err
}

// claimedBy returns the other backup items matched onto the same target.
func (p *runPlan) claimedBy(typeKey, targetID, backupItemID string) []claim {
	cs := p.claims[typeKey+"/"+targetID]
	if len(cs) < 2 {
		return nil
	}
	var out []claim
	for _, c := range cs {
		if c.id != backupItemID {
			out = append(out, c)
		}
	}
	return out
}

// builtinCounterpart finds the target's own object a built-in backup object
// stands for: the Default scope tag is "0" everywhere; a built-in script is
// the target's built-in of the same name and type.
func builtinCounterpart(ctx context.Context, index *targetIndex, t *intune.Type, b *ent.BackupItem) (string, bool) {
	if t.Key == refScopeTag && b.SourceGraphID == "0" {
		return "0", true
	}
	if index == nil {
		return "", false
	}
	ti := index.of(ctx, t)
	if ti.err != nil {
		return "", false
	}
	odata := odataTypeOf(t, b.Payload)
	var found []string
	for _, o := range ti.byName[strings.ToLower(b.DisplayName)] {
		if o.Builtin && o.ODataType == odata {
			found = append(found, o.ID)
		}
	}
	if len(found) != 1 {
		return "", false
	}
	return found[0], true
}

// isBuiltinItem reports a backed-up built-in object. Capture leaves them
// out, and the normalizer drops the properties that say so (isBuiltIn,
// isGlobalScript are Graph's), so the Default scope tag is also known by
// its id; a payload that still says so counts too.
func isBuiltinItem(t *intune.Type, b *ent.BackupItem) bool {
	return t.IsBuiltin(b.Payload) || (t.Key == refScopeTag && b.SourceGraphID == "0")
}

func isRefType(key string) bool {
	for _, k := range refTypes {
		if k == key {
			return true
		}
	}
	return false
}

// namesOf lists claims as `"A" (id), "B" (id)`, in name order.
func namesOf(cs []claim) string {
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name || cs[i].name == cs[j].name && cs[i].id < cs[j].id })
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%q (%s)", c.name, c.id)
	}
	return strings.Join(parts, ", ")
}

// objectsOf lists target objects as `id "Name"`.
func objectsOf(os []targetObject) string {
	parts := make([]string, len(os))
	for i, o := range os {
		parts[i] = fmt.Sprintf("%s %q", o.ID, o.DisplayName)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
