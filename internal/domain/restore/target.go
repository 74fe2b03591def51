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
}

// targetIndex is a read-only, per-job view of the target tenant: each type is
// listed once (ids, names, timestamps), so checking 10,000 items costs one
// listing per type, not one request per item. Memory is bounded by the
// target tenant's size, not the backup's.
type targetIndex struct {
	g          intune.Reader
	sameTenant bool
	byType     map[string]*typeIndex
	groups     map[string]bool // group id → exists
}

type typeIndex struct {
	byID   map[string]targetObject
	byName map[string][]targetObject
	err    error
}

func newTargetIndex(g intune.Reader, sameTenant bool) *targetIndex {
	return &targetIndex{g: g, sameTenant: sameTenant, byType: map[string]*typeIndex{}, groups: map[string]bool{}}
}

// of lists type t once.
func (x *targetIndex) of(ctx context.Context, t *intune.Type) *typeIndex {
	if ti, ok := x.byType[t.Key]; ok {
		return ti
	}
	ti := &typeIndex{byID: map[string]targetObject{}, byName: map[string][]targetObject{}}
	q := url.Values{"$select": {"id," + t.Name() + ",lastModifiedDateTime"}}
	ti.err = x.g.List(ctx, t.Path, q, func(raw map[string]any) error {
		o := targetObject{}
		o.ID, _ = raw["id"].(string)
		o.DisplayName, _ = raw[t.Name()].(string)
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

// match finds the target object a backup item restores onto: by original id
// in the same tenant; by type and display name across tenants (one match =
// update, none = create, several = ambiguous).
func (x *targetIndex) match(ctx context.Context, t *intune.Type, item *ent.BackupItem) (found []targetObject, err error) {
	ti := x.of(ctx, t)
	if ti.err != nil {
		return nil, ti.err
	}
	if x.sameTenant {
		if o, ok := ti.byID[item.SourceGraphID]; ok {
			return []targetObject{o}, nil
		}
		return nil, nil
	}
	return ti.byName[strings.ToLower(item.DisplayName)], nil
}

// groupExists reports whether a group exists in the target (cached).
func (x *targetIndex) groupExists(ctx context.Context, id string) (bool, error) {
	if ok, seen := x.groups[id]; seen {
		return ok, nil
	}
	_, err := x.g.Get(ctx, "groups/"+url.PathEscape(id), url.Values{"$select": {"id"}})
	if err != nil && !isNotFound(err) {
		return false, err
	}
	x.groups[id] = err == nil
	return err == nil, nil
}

// isNotFound reports a Graph 404 without importing the client.
func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	if errors.As(err, &nf) {
		return nf.NotFound()
	}
	return false
}
