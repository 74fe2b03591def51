package restore

import (
	"context"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/intunepolicy"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/intune"
)

// listPage is the page size of Intune's lists: reading a list of n objects
// costs n/listPage requests.
const listPage = 100

// listThreshold is how many target objects of one type make the preview read
// the type's list when the inventory does not say how long the list is.
const listThreshold = 20

// worthListing reports whether reading a list of total objects (0: unknown)
// costs fewer requests than reading wanted objects one by one; Microsoft's
// limits count requests, not bytes.
func worthListing(wanted, total int) bool {
	if total == 0 {
		return wanted >= listThreshold
	}
	return (total+listPage-1)/listPage < wanted
}

// targetReader reads the target objects a preview diffs against. For types
// whose list returns objects whole (intune.Type.ListExpand) and of which the
// run updates many objects, it reads the list once, page by page, and keeps
// only the objects the run needs; every other object is read by id.
type targetReader struct {
	g      intune.Reader
	listed map[string]map[string]*intune.Captured // type key → graph id → object
}

// newTargetReader reads the lists worth reading for run's items. A list that
// fails leaves its type to the per-object reads, which report per item.
func (s *Service) newTargetReader(ctx context.Context, g intune.Reader, run *ent.RestoreRun) (*targetReader, error) {
	runID := run.ID
	r := &targetReader{g: g, listed: map[string]map[string]*intune.Captured{}}
	rows, err := s.Client.RestoreRunItem.Query().
		Where(restorerunitem.RunID(runID), restorerunitem.TargetGraphIDNotNil()).
		Select(restorerunitem.FieldPolicyType, restorerunitem.FieldTargetGraphID).All(ctx)
	if err != nil {
		return nil, err
	}
	wanted := map[string]map[string]bool{}
	for _, it := range rows {
		if wanted[it.PolicyType] == nil {
			wanted[it.PolicyType] = map[string]bool{}
		}
		wanted[it.PolicyType][*it.TargetGraphID] = true
	}
	for key, ids := range wanted {
		t, ok := intune.Lookup(key)
		if !ok || !t.ListExpand {
			continue
		}
		// The target's inventory says how long the list is.
		total, err := s.Client.IntunePolicy.Query().Where(intunepolicy.EnvironmentID(run.EnvironmentID),
			intunepolicy.PolicyType(key), intunepolicy.MissingSinceIsNil()).Count(ctx)
		if err != nil {
			return nil, err
		}
		if !worthListing(len(ids), total) {
			continue
		}
		got := map[string]*intune.Captured{}
		err = intune.CaptureList(ctx, g, t, func(c *intune.Captured) error {
			if ids[c.GraphID] {
				got[c.GraphID] = c
			}
			return nil
		})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil {
			r.listed[key] = got
		}
	}
	return r, nil
}

// read returns the target object graphID of type t.
func (r *targetReader) read(ctx context.Context, t *intune.Type, graphID string) (*intune.Captured, error) {
	if c, ok := r.listed[t.Key][graphID]; ok {
		return c, nil
	}
	// Not in a list read (not listed, or gone since): a GET says which.
	return intune.Capture(ctx, r.g, t, graphID)
}
