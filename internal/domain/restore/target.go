package restore

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/intune"
)

// targetObject is what checks and preview know of an object in the target.
type targetObject struct {
	ID           string
	DisplayName  string
	LastModified *time.Time
	// ODataType is canonical ("#microsoft.graph.x"); the collection's base
	// type when Graph left it out (it does for non-derived objects).
	ODataType string
	// Builtin objects exist in every tenant and are never written.
	Builtin bool
}

// targetIndex is a read-only, per-job view of the target tenant: each type is
// listed once (ids, names, timestamps), so checking 10,000 items costs one
// listing per type, not one request per item. Memory is bounded by the
// target tenant's size, not the backup's.
type targetIndex struct {
	g          intune.Reader
	sameTenant bool
	byType     map[string]*typeIndex
	groups     map[string]*string // group id → its name, nil when it does not exist
	// identity returns what earlier runs between the same tenants restored
	// each source object of a type onto (nil: no identity map).
	identity func(typeKey string) (map[string]string, error)
	idmaps   map[string]map[string]string
}

type typeIndex struct {
	byID   map[string]targetObject
	byName map[string][]targetObject
	err    error
}

func newTargetIndex(g intune.Reader, sameTenant bool) *targetIndex {
	return &targetIndex{g: g, sameTenant: sameTenant, byType: map[string]*typeIndex{}, groups: map[string]*string{},
		idmaps: map[string]map[string]string{}}
}

// of lists type t once.
func (x *targetIndex) of(ctx context.Context, t *intune.Type) *typeIndex {
	if ti, ok := x.byType[t.Key]; ok {
		return ti
	}
	ti := &typeIndex{byID: map[string]targetObject{}, byName: map[string][]targetObject{}}
	q := url.Values{"$select": {"id," + t.Name() + ",lastModifiedDateTime"}}
	if t.Builtin != nil {
		// Whether an object is built-in is in properties of its own
		// (isBuiltIn, isGlobalScript): these lists are short, read them whole.
		q = url.Values{}
	}
	ti.err = x.g.List(ctx, t.Path, q, func(raw map[string]any) error {
		o := targetObject{Builtin: t.IsBuiltin(raw)}
		o.ID, _ = raw["id"].(string)
		o.DisplayName, _ = raw[t.Name()].(string)
		o.ODataType = odataTypeOf(t, raw)
		if s, ok := raw["lastModifiedDateTime"].(string); ok {
			if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
				o.LastModified = &ts
			}
		}
		ti.byID[o.ID] = o
		key := strings.ToLower(o.DisplayName)
		ti.byName[key] = append(ti.byName[key], o)
		return nil
	})
	x.byType[t.Key] = ti
	return ti
}

// odataTypeOf is the canonical @odata.type of a payload of type t: Graph
// omits it where the object is of the collection's own type.
func odataTypeOf(t *intune.Type, payload map[string]any) string {
	s, _ := payload["@odata.type"].(string)
	if s == "" {
		return t.ODataBase
	}
	return intune.CanonicalODataType(s)
}

// How a backup item was matched to a target object.
const (
	matchedByChoice   = "choice"   // the admin's itemTargets
	matchedByIdentity = "identity" // an earlier run between the same tenants
	matchedByID       = "id"       // same tenant, original id
	matchedByName     = "name"     // display name, case-insensitive
)

// match is the target object(s) a backup item restores onto.
type match struct {
	found []targetObject
	// by says how found was chosen (matchedBy*); "" when nothing matched.
	by string
	// createNew is the admin's explicit choice to create a new object.
	createNew bool
	// invalid is set when the admin's choice names no object of the item's
	// type in the target: why.
	invalid string
}

// match finds the target object a backup item restores onto, only among
// objects of its catalog type with its @odata.type (Graph refuses a PATCH
// that changes it): first the admin's explicit choice (itemTargets), then
// the identity map of earlier runs between the same tenants, then the
// original id in the same tenant, then the display name (case-insensitive).
// One match = update, none = create, several = ambiguous.
func (x *targetIndex) match(ctx context.Context, run *ent.RestoreRun, t *intune.Type, b *ent.BackupItem) (match, error) {
	ti := x.of(ctx, t)
	if ti.err != nil {
		return match{}, ti.err
	}
	odata := odataTypeOf(t, b.Payload)
	if choice, ok := run.ItemTargets[b.ID]; ok {
		if choice == ItemTargetNew {
			return match{createNew: true, by: matchedByChoice}, nil
		}
		o, ok := ti.byID[choice]
		switch {
		case !ok:
			return match{invalid: "The chosen target " + choice + " is not a " + t.Label + " of the target tenant."}, nil
		case o.ODataType != odata:
			return match{invalid: "The chosen target " + choice + " is a " + o.ODataType + ", not a " + odata + ": Graph cannot change an object's type."}, nil
		}
		return match{found: []targetObject{o}, by: matchedByChoice}, nil
	}
	if x.identity != nil {
		m, ok := x.idmaps[t.Key]
		if !ok {
			var err error
			if m, err = x.identity(t.Key); err != nil {
				return match{}, err
			}
			x.idmaps[t.Key] = m
		}
		// A remembered object deleted since (or replaced by one of another
		// type) no longer counts: match as if never restored.
		if id, ok := m[b.SourceGraphID]; ok {
			if o, ok := ti.byID[id]; ok && o.ODataType == odata {
				return match{found: []targetObject{o}, by: matchedByIdentity}, nil
			}
		}
	}
	if x.sameTenant {
		if o, ok := ti.byID[b.SourceGraphID]; ok && o.ODataType == odata {
			return match{found: []targetObject{o}, by: matchedByID}, nil
		}
		return match{}, nil
	}
	var found []targetObject
	for _, o := range ti.byName[strings.ToLower(b.DisplayName)] {
		if o.ODataType == odata {
			found = append(found, o)
		}
	}
	if len(found) == 0 {
		return match{}, nil
	}
	return match{found: found, by: matchedByName}, nil
}

// groupName returns the name of a group of the target and whether it
// exists (cached).
func (x *targetIndex) groupName(ctx context.Context, id string) (string, bool, error) {
	if name, seen := x.groups[id]; seen {
		if name == nil {
			return "", false, nil
		}
		return *name, true, nil
	}
	raw, err := x.g.Get(ctx, "groups/"+url.PathEscape(id), url.Values{"$select": {"id,displayName"}})
	if err != nil && !isNotFound(err) {
		return "", false, err
	}
	if err != nil {
		x.groups[id] = nil
		return "", false, nil
	}
	name, _ := raw["displayName"].(string)
	x.groups[id] = &name
	return name, true, nil
}

// groupExists reports whether a group exists in the target (cached).
func (x *targetIndex) groupExists(ctx context.Context, id string) (bool, error) {
	_, ok, err := x.groupName(ctx, id)
	return ok, err
}

// isNotFound reports a Graph 404 without importing the client.
func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	if errors.As(err, &nf) {
		return nf.NotFound()
	}
	return false
}
