package restore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/platform/ptr"
)

// scopeFingerprint identifies everything checks and preview depend on: the
// backup set, the scope mode and selection, the mappings, the item targets
// and createMissing.
// Checks and preview store the fingerprint they were computed for; when it
// no longer equals the run's, they are stale.
func scopeFingerprint(run *ent.RestoreRun) string {
	ids := slices.Clone(run.SelectedItemIds)
	slices.Sort(ids)
	// Empty and nil are the same scope: DefineScope computes the fingerprint
	// from its input (itemIds: [] is a valid ALL scope) but stores an empty
	// list or mapping as NULL, which loads as nil.
	groups, tags := run.GroupMapping, run.ScopeTagMapping
	if len(ids) == 0 {
		ids = nil
	}
	if len(groups) == 0 {
		groups = nil
	}
	if len(tags) == 0 {
		tags = nil
	}
	fp := map[string]any{ // encoding/json sorts map keys
		"backupSet":     run.BackupSetID,
		"mode":          run.ScopeMode,
		"items":         ids,
		"groups":        groups,
		"scopeTags":     tags,
		"createMissing": run.CreateMissing,
		"environment":   run.EnvironmentID,
	}
	// Added only when set, so that the fingerprints of runs scoped before
	// filter mappings and item targets existed stay what they were.
	if len(run.FilterMapping) > 0 {
		fp["filters"] = run.FilterMapping
	}
	if len(run.ItemTargets) > 0 {
		fp["itemTargets"] = run.ItemTargets
	}
	b, _ := json.Marshal(fp)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// confirmationFingerprint identifies what a confirmation is given for: the
// scope (as it is now), the checks and preview of that scope, down to when
// they ran, and who confirmed. Confirm stores it; Readiness honours a
// confirmation only while it still equals the run's, so re-scoping,
// re-checking, a new preview or another confirmer voids it.
func confirmationFingerprint(run *ent.RestoreRun) string {
	micros := func(t *time.Time) int64 {
		if t == nil {
			return 0
		}
		// Microseconds: what PostgreSQL keeps of a timestamp.
		return t.UnixMicro()
	}
	b, _ := json.Marshal([]any{
		scopeFingerprint(run),
		run.CheckFingerprint, micros(run.CheckedAt),
		run.PreviewFingerprint, micros(run.PreviewedAt),
		ptr.Deref(run.ConfirmedBy),
	})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
