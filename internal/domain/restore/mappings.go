package restore

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/platform/apperr"
)

// MappingKind is what a mapping maps.
type MappingKind string

// The mapping kinds.
const (
	MappingGroup    MappingKind = "GROUP"
	MappingScopeTag MappingKind = "SCOPE_TAG"
	MappingFilter   MappingKind = "ASSIGNMENT_FILTER"
)

// refKind is the reference kind of a mapping kind.
func (k MappingKind) refKind() (string, bool) {
	switch k {
	case MappingGroup:
		return refGroup, true
	case MappingScopeTag:
		return refScopeTag, true
	case MappingFilter:
		return refFilter, true
	}
	return "", false
}

// TargetObject is an object of the target tenant a reference can be mapped to.
type TargetObject struct {
	ID, Name string
}

// MappingSuggestion is one group, scope tag or filter the scoped items refer
// to: its source name when known, the run's current mapping, whether the run
// restores it itself, and the target object of the same name.
type MappingSuggestion struct {
	Kind           MappingKind
	SourceID       string
	SourceName     *string
	MappedTargetID *string
	Suggested      *TargetObject
	InScope        bool
}

// MappingSuggestions lists every group, scope tag (other than the built-in
// Default) and assignment filter the run's scoped items refer to, with a
// suggested target by exact, case-insensitive name (only when exactly one
// target object has it). Tag and filter names come from the backup set's
// own foundations; group names from the source environment when it can be
// read. Codes: NOT_FOUND, FORBIDDEN, INVALID_TRANSITION (the target
// tenant cannot be read).
func (s *Service) MappingSuggestions(ctx context.Context, runID string) (_ []MappingSuggestion, err error) {
	defer apperr.Wrap(&err, "restore.MappingSuggestions(%s)", runID)
	run, _, err := s.load(ctx, runID, access.RunsView)
	if err != nil {
		return nil, err
	}
	used := map[string][]string{}
	err = s.eachItem(ctx, run.ID, func(_ *ent.RestoreRunItem, b *ent.BackupItem) error {
		for _, g := range intune.AssignmentGroupIDs(b.Assignments) {
			used[refGroup] = appendUnique(used[refGroup], g)
		}
		for _, g := range payloadRefIDs(b.Payload)[refGroup] {
			used[refGroup] = appendUnique(used[refGroup], g)
		}
		for _, t := range b.ScopeTagIds {
			if t != "0" {
				used[refScopeTag] = appendUnique(used[refScopeTag], t)
			}
		}
		for _, f := range intune.AssignmentFilterIDs(b.Assignments) {
			used[refFilter] = appendUnique(used[refFilter], f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(used) == 0 {
		return []MappingSuggestion{}, nil
	}
	g, err := s.Tenants.Reader(ctx, run.Edges.Environment)
	if err != nil {
		return nil, unreadableTarget(err)
	}
	index := newTargetIndex(g, false)
	sourceNames, inScope, err := s.foundationNames(ctx, run)
	if err != nil {
		return nil, err
	}
	// Group names: from the source tenant, when the app can read it; the
	// target's groups of those names. Both are read in chunks (groupsWhere),
	// never one request per group.
	groupNames := map[string]string{}
	if len(used[refGroup]) > 0 {
		if bs, err := s.Client.BackupSet.Query().Where(backupset.ID(run.BackupSetID)).WithEnvironment().Only(ctx); err == nil && bs.Edges.Environment != nil {
			if source, err := s.Tenants.Reader(ctx, bs.Edges.Environment); err == nil {
				// An unreadable source only costs the suggestions their names.
				err := groupsWhere(ctx, source, "id", used[refGroup], func(o TargetObject) { groupNames[o.ID] = o.Name })
				if err != nil && ctx.Err() != nil {
					return nil, ctx.Err()
				}
			}
		}
	}
	targetGroups := map[string][]TargetObject{} // lower-case name → groups
	if len(groupNames) > 0 {
		var names []string
		for _, n := range groupNames {
			if n != "" {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		names = slices.Compact(names)
		err := groupsWhere(ctx, g, "displayName", names, func(o TargetObject) {
			k := strings.ToLower(o.Name)
			targetGroups[k] = append(targetGroups[k], o)
		})
		if err != nil {
			return nil, unreadableTarget(err)
		}
	}
	var out []MappingSuggestion
	for _, kind := range []MappingKind{MappingGroup, MappingScopeTag, MappingFilter} {
		rk, _ := kind.refKind()
		mapping := runMapping(run, rk)
		for _, id := range used[rk] {
			sg := MappingSuggestion{Kind: kind, SourceID: id, InScope: inScope[rk+"/"+id]}
			if m, ok := mapping[id]; ok {
				sg.MappedTargetID = &m
			}
			name, known := sourceNames[rk+"/"+id]
			if kind == MappingGroup {
				name, known = groupNames[id]
			}
			if known && name != "" {
				sg.SourceName = &name
				var found []TargetObject
				if kind == MappingGroup {
					found = targetGroups[strings.ToLower(name)]
				} else if found, err = targetsNamed(ctx, index, rk, name); err != nil {
					return nil, unreadableTarget(err)
				}
				if len(found) == 1 {
					sg.Suggested = &found[0]
				}
			}
			out = append(out, sg)
		}
	}
	order := map[MappingKind]int{MappingGroup: 0, MappingScopeTag: 1, MappingFilter: 2}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return order[out[i].Kind] < order[out[j].Kind]
		}
		a, b := derefOr(out[i].SourceName, out[i].SourceID), derefOr(out[j].SourceName, out[j].SourceID)
		if !strings.EqualFold(a, b) {
			return strings.ToLower(a) < strings.ToLower(b)
		}
		return out[i].SourceID < out[j].SourceID
	})
	return out, nil
}

// maxSearch bounds TargetSearch's page.
const maxSearch = 100

// TargetSearch lists objects of one kind in the run's target tenant whose
// name starts with search (case-insensitive; all when empty), at most first
// (default 25, at most 100), by name. Codes: NOT_FOUND, FORBIDDEN,
// BAD_USER_INPUT, INVALID_TRANSITION (the target tenant cannot be read).
func (s *Service) TargetSearch(ctx context.Context, runID string, kind MappingKind, search string, first int) (_ []TargetObject, err error) {
	defer apperr.Wrap(&err, "restore.TargetSearch(%s)", runID)
	switch {
	case first == 0:
		first = 25
	case first < 0 || first > maxSearch:
		return nil, apperr.Invalid("first", "first must be between 1 and %d", maxSearch)
	}
	if len(search) > 256 {
		return nil, apperr.Invalid("search", "search is at most 256 characters")
	}
	if _, ok := kind.refKind(); !ok {
		return nil, apperr.Invalid("kind", "unknown kind %q", kind)
	}
	run, _, err := s.load(ctx, runID, access.RunsView)
	if err != nil {
		return nil, err
	}
	g, err := s.Tenants.Reader(ctx, run.Edges.Environment)
	if err != nil {
		return nil, unreadableTarget(err)
	}
	var out []TargetObject
	if kind == MappingGroup {
		q := url.Values{"$select": {"id,displayName"}, "$top": {strconv.Itoa(first)}}
		if search != "" {
			q.Set("$filter", "startswith(displayName,"+odataString(search)+")")
		}
		err := g.List(ctx, "groups", q, func(raw map[string]any) error {
			out = append(out, TargetObject{ID: stringOf(raw["id"]), Name: stringOf(raw["displayName"])})
			if len(out) >= first {
				return errEnough
			}
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return nil, unreadableTarget(err)
		}
	} else {
		rk, _ := kind.refKind()
		t, _ := intune.Lookup(rk)
		ti := newTargetIndex(g, false).of(ctx, t)
		if ti.err != nil {
			return nil, unreadableTarget(ti.err)
		}
		prefix := strings.ToLower(search)
		for _, o := range ti.byID {
			if strings.HasPrefix(strings.ToLower(o.DisplayName), prefix) {
				out = append(out, TargetObject{ID: o.ID, Name: o.DisplayName})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].Name), strings.ToLower(out[j].Name)
		if a != b {
			return a < b
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > first {
		out = out[:first]
	}
	return orEmpty(out), nil
}

// unreadableTarget is the error of a query that needs the target tenant
// when it cannot be read: the run's state (its target) refuses the call.
// The message holds only the safe code of the cause.
func unreadableTarget(err error) error {
	if _, ok := apperr.As(err); ok || errors.Is(err, context.Canceled) {
		return err
	}
	return &apperr.Error{Code: apperr.InvalidTransition,
		Message: "the target tenant could not be read (" + apperr.SafeCode(err) + "): check its credentials and permissions"}
}

// errEnough stops a listing that has what it needs.
var errEnough = errors.New("enough")

// targetsNamed returns the target's scope tags or filters (reference kind
// rk) with exactly name (case-insensitive).
func targetsNamed(ctx context.Context, index *targetIndex, rk, name string) ([]TargetObject, error) {
	t, _ := intune.Lookup(rk)
	ti := index.of(ctx, t)
	if ti.err != nil {
		return nil, ti.err
	}
	var out []TargetObject
	for _, o := range ti.byName[strings.ToLower(name)] {
		out = append(out, TargetObject{ID: o.ID, Name: o.DisplayName})
	}
	return out, nil
}

// maxInValues is the most values Entra ID takes in one "in" of a directory
// query (each counts as an "or" clause; the 16th is refused).
const maxInValues = 15

// groupsWhere lists the groups of a tenant whose property prop ("id",
// "displayName") equals one of values, in ceil(len(values)/15) requests of
// "prop in (...)" rather than one per value. Names compare ignoring case
// on Entra ID's side and again here.
func groupsWhere(ctx context.Context, g intune.Reader, prop string, values []string, fn func(TargetObject)) error {
	for chunk := range slices.Chunk(values, maxInValues) {
		want := map[string]bool{}
		quoted := make([]string, len(chunk))
		for i, v := range chunk {
			quoted[i] = odataString(v)
			want[strings.ToLower(v)] = true
		}
		q := url.Values{"$select": {"id,displayName"}, "$filter": {prop + " in (" + strings.Join(quoted, ",") + ")"}}
		err := g.List(ctx, "groups", q, func(raw map[string]any) error {
			o := TargetObject{ID: stringOf(raw["id"]), Name: stringOf(raw["displayName"])}
			if got := stringOf(raw[prop]); want[strings.ToLower(got)] {
				fn(o)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// odataString is s as an OData string literal: quoted, a quote doubled.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// foundationNames returns the names of the backup set's scope tags and
// filters (kind/source id → name) and which of them the run's scope holds.
func (s *Service) foundationNames(ctx context.Context, run *ent.RestoreRun) (names map[string]string, inScope map[string]bool, err error) {
	names, inScope = map[string]string{}, map[string]bool{}
	fs, err := s.Client.BackupItem.Query().
		Where(backupitem.BackupSetID(run.BackupSetID), backupitem.PolicyTypeIn(refScopeTag, refFilter)).
		Select(backupitem.FieldID, backupitem.FieldPolicyType, backupitem.FieldSourceGraphID, backupitem.FieldDisplayName).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	byItem := map[string]string{}
	for _, f := range fs {
		names[f.PolicyType+"/"+f.SourceGraphID] = f.DisplayName
		byItem[f.ID] = f.PolicyType + "/" + f.SourceGraphID
	}
	items, err := s.Client.RestoreRunItem.Query().
		Where(restorerunitem.RunID(run.ID), restorerunitem.PolicyTypeIn(refScopeTag, refFilter)).
		Select(restorerunitem.FieldBackupItemID).Strings(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, id := range items {
		if k, ok := byItem[id]; ok {
			inScope[k] = true
		}
	}
	return names, inScope, nil
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
