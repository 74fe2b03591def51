package restore

import (
	"context"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/intune"
)

// refs rewrites what a backup item refers to (scope tags, assignment
// filters, groups, notification templates, ...) into the target tenant's
// ids, through the run's mappings, the identity map and the foundations the
// run itself creates. Preview diffs and the executor writes both go
// through it, so the executor sends exactly what the preview showed.
//
// TODO(#15): only the group and scope tag mappings are applied so far.
type refs struct {
	run *ent.RestoreRun
	// created holds the foundations this run created at execution:
	// typeKey+"/"+source id → new target id.
	created map[string]string
}

// refsFor loads what rewriting a run's references needs.
func (s *Service) refsFor(ctx context.Context, run *ent.RestoreRun) (*refs, error) {
	return &refs{run: run, created: map[string]string{}}, nil
}

// setCreated records a foundation the executor created, so every later item
// refers to its new id.
func (r *refs) setCreated(typeKey, sourceID, targetID string) {
	r.created[typeKey+"/"+sourceID] = targetID
}

// desired is what a restore of b writes, every reference a target id.
func (r *refs) desired(t *intune.Type, b *ent.BackupItem) desired {
	return desiredState(t, r.run, b)
}
