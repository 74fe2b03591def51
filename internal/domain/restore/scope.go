package restore

import (
	"context"
	"sort"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/intune"
)

// ScopeFilter narrows the items listed for scoping.
type ScopeFilter struct {
	Search      string
	PolicyTypes []string
	Platforms   []string
}

// ScopeGroup counts a backup set's items of one type and platform.
type ScopeGroup struct {
	PolicyType, Label, Platform string
	Count                       int
	Foundation, PreviewOnly     bool
}

// ScopeItems returns the query over a run's backup set items for scoping
// (step 2), filtered; the caller paginates it, so a page never loads the
// whole set (the filters use the set's indexes).
func (s *Service) ScopeItems(run *ent.RestoreRun, f ScopeFilter) *ent.BackupItemQuery {
	q := s.Client.BackupItem.Query().Where(backupitem.BackupSetID(run.BackupSetID))
	if f.Search != "" {
		q = q.Where(backupitem.DisplayNameContainsFold(f.Search))
	}
	if len(f.PolicyTypes) > 0 {
		q = q.Where(backupitem.PolicyTypeIn(f.PolicyTypes...))
	}
	if len(f.Platforms) > 0 {
		q = q.Where(backupitem.PlatformIn(f.Platforms...))
	}
	return q
}

// ScopeGroups counts a run's whole backup set by type and platform with one
// aggregate query, foundations first (they restore first).
func (s *Service) ScopeGroups(ctx context.Context, run *ent.RestoreRun) ([]ScopeGroup, error) {
	var rows []struct {
		PolicyType string `json:"policy_type"`
		Platform   string `json:"platform"`
		Count      int    `json:"count"`
	}
	err := s.Client.BackupItem.Query().Where(backupitem.BackupSetID(run.BackupSetID)).
		GroupBy(backupitem.FieldPolicyType, backupitem.FieldPlatform).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	groups := make([]ScopeGroup, 0, len(rows))
	for _, r := range rows {
		g := ScopeGroup{PolicyType: r.PolicyType, Platform: r.Platform, Count: r.Count, Label: r.PolicyType}
		if t, ok := intune.Lookup(r.PolicyType); ok {
			g.Label, g.Foundation, g.PreviewOnly = t.Label, t.Foundation, !t.Restorable()
		}
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].Foundation != groups[j].Foundation {
			return groups[i].Foundation // foundations first, as they restore first
		}
		if groups[i].Label != groups[j].Label {
			return groups[i].Label < groups[j].Label
		}
		return groups[i].Platform < groups[j].Platform
	})
	return groups, nil
}

// Counts returns a run's item counts by status, plus the total.
func (s *Service) Counts(ctx context.Context, runID string) (*results.ItemCounts, error) {
	return countsWith(ctx, s.Client, runID)
}
