package restore

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/backupitem"
	"github.com/restored/restored/ent/backupset"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/store"
)

// CreateRun starts a wizard (step 1): a DRAFT run restoring backupSetID into
// environmentID. The environment's badge and the tenant label a user must
// type to confirm are frozen now, for audit.
func (s *Service) CreateRun(ctx context.Context, environmentID, backupSetID string) (*ent.RestoreRun, error) {
	var run *ent.RestoreRun
	var entry *recorded
	err := store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		env, err := tx.Environment.Get(ctx, environmentID)
		if ent.IsNotFound(err) {
			return apperr.New(apperr.NotFound, "no environment %q", environmentID)
		}
		if err != nil {
			return err
		}
		v, err := requireIn(ctx, env.WorkspaceID, access.RestorePrepare)
		if err != nil {
			return err
		}
		if env.ArchivedAt != nil {
			return apperr.New(apperr.InvalidTransition, "environment %q is archived: no new restore runs", env.DisplayName)
		}
		bs, err := readyBackupSet(ctx, tx, env.WorkspaceID, backupSetID)
		if err != nil {
			return err
		}
		run, err = tx.RestoreRun.Create().
			SetWorkspaceID(env.WorkspaceID).
			SetEnvironmentID(env.ID).
			SetBackupSetID(bs.ID).
			SetInitiatorID(v.User.ID).
			SetEnvironmentBadge(string(env.Kind)).
			SetTenantLabel(env.DisplayName).
			Save(ctx)
		if err != nil {
			return err
		}
		entry, err = s.record(ctx, tx, run, "restore_run.create", map[string]any{"backupSetId": bs.ID, "environmentBadge": run.EnvironmentBadge})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.announce(ctx, entry)
	return run, nil
}

// readyBackupSet loads a READY backup set of the workspace through client.
func readyBackupSet(ctx context.Context, client *ent.Client, workspaceID, id string) (*ent.BackupSet, error) {
	bs, err := client.BackupSet.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.Invalid("backupSetId", "no backup set %q", id)
	}
	if err != nil {
		return nil, err
	}
	if bs.WorkspaceID != workspaceID {
		return nil, apperr.New(apperr.Forbidden, "this backup set belongs to another workspace")
	}
	if bs.Status != backupset.StatusREADY {
		return nil, apperr.Invalid("backupSetId", "backup set %q is %s, not READY", bs.Name, bs.Status)
	}
	return bs, nil
}

// SelectBackupSet changes a run's backup set (step 1 again). Everything
// downstream is reset: scope, mappings, checks, preview and confirmation.
func (s *Service) SelectBackupSet(ctx context.Context, runID, backupSetID string) (*ent.RestoreRun, error) {
	return s.step(ctx, runID, access.RestorePrepare, func(tx *ent.Client, run *ent.RestoreRun, _ *auth.Viewer) (string, map[string]any, error) {
		if !isEditable(run.Status) {
			return "", nil, notEditable(run)
		}
		bs, err := readyBackupSet(ctx, tx, run.WorkspaceID, backupSetID)
		if err != nil {
			return "", nil, err
		}
		// The guarded update first: a step that lost the race touches nothing.
		err = update(ctx, tx, run, func(u *ent.RestoreRunUpdate) {
			resetDownstream(u.SetBackupSetID(bs.ID).
				SetScopeMode(restorerun.ScopeModeALL).ClearSelectedItemIds().ClearGroupMapping().ClearScopeTagMapping().ClearFilterMapping().ClearItemTargets().
				SetCreateMissing(false).SetScopeFingerprint("").SetStatus(restorerun.StatusDRAFT))
		})
		if err != nil {
			return "", nil, err
		}
		if _, err := tx.RestoreRunItem.Delete().Where(restorerunitem.RunID(run.ID)).Exec(ctx); err != nil {
			return "", nil, err
		}
		return "restore_run.select_backup_set", map[string]any{"backupSetId": bs.ID}, nil
	})
}

// resetDownstream clears checks, preview and confirmation.
func resetDownstream(u *ent.RestoreRunUpdate) *ent.RestoreRunUpdate {
	return resetConfirmation(u.ClearCheckSummary().ClearCheckResults().SetCheckFingerprint("").ClearCheckedAt().
		ClearPreviewSummary().SetPreviewFingerprint("").ClearPreviewedAt())
}

// ScopeInput is step 2.
type ScopeInput struct {
	Mode            restorerun.ScopeMode
	ItemIDs         []string
	GroupMapping    map[string]string
	ScopeTagMapping map[string]string
	FilterMapping   map[string]string
	// ItemTargets are the admin's explicit targets per backup item: they
	// resolve TARGET_AMBIGUOUS and override identity and name matching.
	// Whether a target exists (with the item's type) is a safety check.
	ItemTargets   []ItemTarget
	CreateMissing bool
}

// ItemTarget is the target object a backup item restores onto: TargetID,
// or a new object (CreateNew).
type ItemTarget struct {
	BackupItemID string
	TargetID     string
	CreateNew    bool
}

// itemTargetsMap validates item targets (one per item, a target id or
// create new) and returns them as stored: backup item id → target id or
// "new".
func itemTargetsMap(in []ItemTarget) (map[string]string, error) {
	if len(in) > maxScopeItems {
		return nil, apperr.Invalid("itemTargets", "at most %d item targets", maxScopeItems)
	}
	out := make(map[string]string, len(in))
	for _, it := range in {
		id, target := strings.TrimSpace(it.BackupItemID), strings.TrimSpace(it.TargetID)
		switch {
		case id == "":
			return nil, apperr.Invalid("itemTargets", "every item target needs a backupItemId")
		case it.CreateNew && target != "":
			return nil, apperr.Invalid("itemTargets", "item %q: give a targetId or createNew, not both", id)
		case !it.CreateNew && (target == "" || len(target) > 200):
			return nil, apperr.Invalid("itemTargets", "item %q: give a targetId or createNew", id)
		}
		if _, dup := out[id]; dup {
			return nil, apperr.Invalid("itemTargets", "item %q has more than one target", id)
		}
		if it.CreateNew {
			target = ItemTargetNew
		}
		out[id] = target
	}
	return out, nil
}

// maxScopeItems bounds a SELECTED scope's id list in one request.
const maxScopeItems = 20000

// DefineScope sets a run's scope (step 2): ALL items of the backup set or
// the SELECTED ones (an empty selection is an error, never "all"), with the
// group and scope tag mappings. Any change invalidates checks and preview.
func (s *Service) DefineScope(ctx context.Context, runID string, in ScopeInput) (*ent.RestoreRun, error) {
	ids := slices.Clone(in.ItemIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	switch in.Mode {
	case restorerun.ScopeModeALL:
		if len(ids) > 0 {
			return nil, apperr.Invalid("itemIds", "itemIds are only for mode SELECTED")
		}
	case restorerun.ScopeModeSELECTED:
		if len(ids) == 0 {
			return nil, apperr.Invalid("itemIds", "a SELECTED scope needs at least one item: an empty selection never means all")
		}
		if len(ids) > maxScopeItems {
			return nil, apperr.Invalid("itemIds", "at most %d items can be selected", maxScopeItems)
		}
	default:
		return nil, apperr.Invalid("mode", "mode must be ALL or SELECTED")
	}
	if err := validMapping("groupMapping", in.GroupMapping); err != nil {
		return nil, err
	}
	if err := validMapping("scopeTagMapping", in.ScopeTagMapping); err != nil {
		return nil, err
	}
	if err := validMapping("filterMapping", in.FilterMapping); err != nil {
		return nil, err
	}
	targets, err := itemTargetsMap(in.ItemTargets)
	if err != nil {
		return nil, err
	}
	targetItems := slices.Sorted(maps.Keys(targets))
	return s.step(ctx, runID, access.RestorePrepare, func(tx *ent.Client, run *ent.RestoreRun, _ *auth.Viewer) (string, map[string]any, error) {
		if !isEditable(run.Status) {
			return "", nil, notEditable(run)
		}
		if in.Mode == restorerun.ScopeModeSELECTED {
			n := 0
			for chunk := range slices.Chunk(ids, 1000) {
				c, err := tx.BackupItem.Query().Where(backupitem.BackupSetID(run.BackupSetID), backupitem.IDIn(chunk...)).Count(ctx)
				if err != nil {
					return "", nil, err
				}
				n += c
			}
			if n != len(ids) {
				return "", nil, apperr.Invalid("itemIds", "%d of the selected items are not in the run's backup set", len(ids)-n)
			}
		}
		n := 0
		for chunk := range slices.Chunk(targetItems, 1000) {
			c, err := tx.BackupItem.Query().Where(backupitem.BackupSetID(run.BackupSetID), backupitem.IDIn(chunk...)).Count(ctx)
			if err != nil {
				return "", nil, err
			}
			n += c
		}
		if n != len(targetItems) {
			return "", nil, apperr.Invalid("itemTargets", "%d of the items given a target are not in the run's backup set", len(targetItems)-n)
		}
		next := *run
		next.ScopeMode, next.SelectedItemIds, next.CreateMissing = in.Mode, ids, in.CreateMissing
		next.GroupMapping, next.ScopeTagMapping = in.GroupMapping, in.ScopeTagMapping
		next.FilterMapping, next.ItemTargets = in.FilterMapping, targets
		fp := scopeFingerprint(&next)
		// The guarded update first: a step that lost the race touches nothing.
		err := update(ctx, tx, run, func(u *ent.RestoreRunUpdate) {
			u.SetScopeMode(in.Mode).SetCreateMissing(in.CreateMissing).
				SetScopeFingerprint(fp).SetStatus(restorerun.StatusSCOPED)
			if len(ids) > 0 {
				u.SetSelectedItemIds(ids)
			} else {
				u.ClearSelectedItemIds()
			}
			if len(in.GroupMapping) > 0 {
				u.SetGroupMapping(in.GroupMapping)
			} else {
				u.ClearGroupMapping()
			}
			if len(in.ScopeTagMapping) > 0 {
				u.SetScopeTagMapping(in.ScopeTagMapping)
			} else {
				u.ClearScopeTagMapping()
			}
			if len(in.FilterMapping) > 0 {
				u.SetFilterMapping(in.FilterMapping)
			} else {
				u.ClearFilterMapping()
			}
			if len(targets) > 0 {
				u.SetItemTargets(targets)
			} else {
				u.ClearItemTargets()
			}
			resetDownstream(u)
		})
		if err != nil {
			return "", nil, err
		}
		if _, err := tx.RestoreRunItem.Delete().Where(restorerunitem.RunID(run.ID)).Exec(ctx); err != nil {
			return "", nil, err
		}
		if err := s.materialize(ctx, tx, run, in.Mode, ids); err != nil {
			return "", nil, err
		}
		return "restore_run.define_scope", map[string]any{
			"mode": string(in.Mode), "selected": len(ids), "mappedGroups": len(in.GroupMapping),
			"mappedScopeTags": len(in.ScopeTagMapping), "mappedFilters": len(in.FilterMapping),
			"itemTargets": len(targets), "createMissing": in.CreateMissing}, nil
	})
}

// materialize creates one RestoreRunItem per scoped backup item, in
// batches, streaming the backup set rather than loading it whole.
func (s *Service) materialize(ctx context.Context, tx *ent.Client, run *ent.RestoreRun, mode restorerun.ScopeMode, ids []string) error {
	after := ""
	for {
		q := tx.BackupItem.Query().Where(backupitem.BackupSetID(run.BackupSetID))
		if mode == restorerun.ScopeModeSELECTED {
			// ids is sorted: page through it with the same cursor.
			i, _ := slices.BinarySearch(ids, after)
			if after != "" && i < len(ids) && ids[i] == after {
				i++
			}
			if i >= len(ids) {
				return nil
			}
			q = q.Where(backupitem.IDIn(ids[i:min(i+500, len(ids))]...))
		} else if after != "" {
			q = q.Where(backupitem.IDGT(after))
		}
		items, err := q.Order(ent.Asc(backupitem.FieldID)).Limit(500).
			Select(backupitem.FieldID, backupitem.FieldPolicyType, backupitem.FieldPlatform, backupitem.FieldDisplayName).All(ctx)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		builders := make([]*ent.RestoreRunItemCreate, len(items))
		for i, b := range items {
			builders[i] = tx.RestoreRunItem.Create().SetWorkspaceID(run.WorkspaceID).SetRunID(run.ID).
				SetBackupItemID(b.ID).SetPolicyType(b.PolicyType).SetPlatform(b.Platform).SetDisplayName(b.DisplayName)
		}
		if err := tx.RestoreRunItem.CreateBulk(builders...).Exec(ctx); err != nil {
			return err
		}
		after = items[len(items)-1].ID
	}
}

func validMapping(field string, m map[string]string) error {
	if len(m) > 5000 {
		return apperr.Invalid(field, "at most 5000 mappings")
	}
	for k, v := range m {
		if strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" || len(k) > 200 || len(v) > 200 {
			return apperr.Invalid(field, "every mapping needs a source id and a target id")
		}
	}
	return nil
}

// refreshStatus derives an editable run's status from which results are
// current: SCOPED, CHECKED (checks current) or PREVIEWED (both current).
func refreshStatus(ctx context.Context, client *ent.Client, runID string) error {
	run, err := client.RestoreRun.Get(ctx, runID)
	if err != nil || !isEditable(run.Status) || run.ScopeFingerprint == "" {
		return err
	}
	st := restorerun.StatusSCOPED
	if run.CheckFingerprint == run.ScopeFingerprint {
		st = restorerun.StatusCHECKED
		if run.PreviewFingerprint == run.ScopeFingerprint {
			st = restorerun.StatusPREVIEWED
		}
	}
	if st == run.Status {
		return nil
	}
	return client.RestoreRun.Update().Where(restorerun.ID(run.ID), restorerun.StatusIn(editable...)).SetStatus(st).Exec(ctx)
}

// ConfirmInput is step 5's confirmation.
type ConfirmInput struct {
	DryRun             bool
	Acknowledged       bool
	TenantConfirmation string
}

// Confirm records step 5. Turning dry run off needs the acknowledgement and
// the exact frozen tenant label, and is refused while any gate before
// confirmation is open (GATE_BLOCKED names them), the target's state read
// now, not when the checks ran. The confirmation is the confirmer's own and
// holds only for the scope, checks and preview it was given for
// (confirmationFingerprint): any change to them voids it.
func (s *Service) Confirm(ctx context.Context, runID string, in ConfirmInput) (*ent.RestoreRun, error) {
	return s.step(ctx, runID, access.RestorePrepare, func(tx *ent.Client, run *ent.RestoreRun, v *auth.Viewer) (string, map[string]any, error) {
		if !isEditable(run.Status) {
			return "", nil, notEditable(run)
		}
		if in.DryRun {
			// Back to a dry run is always allowed: it only closes gates.
			if err := update(ctx, tx, run, func(u *ent.RestoreRunUpdate) { resetConfirmation(u) }); err != nil {
				return "", nil, err
			}
			return "restore_run.confirm", map[string]any{"dryRun": true}, nil
		}
		now := s.Clock.Now()
		r := s.Readiness(run, v, now)
		if open := r.Open(confirmationGates...); len(open) > 0 {
			return "", nil, &apperr.Error{Code: apperr.GateBlocked, Gates: open,
				Message: "the run cannot be confirmed yet: " + firstOpenMessage(r, open)}
		}
		if !in.Acknowledged {
			return "", nil, apperr.Invalid("acknowledged", "acknowledge that you reviewed the impact")
		}
		if in.TenantConfirmation != run.TenantLabel {
			return "", nil, apperr.Invalid("tenantConfirmation", "the tenant confirmation does not match: type %q exactly", run.TenantLabel)
		}
		confirmed := *run
		confirmed.ConfirmedBy = &v.User.ID
		err := update(ctx, tx, run, func(u *ent.RestoreRunUpdate) {
			u.SetDryRun(false).SetAcknowledged(true).SetConfirmedAt(now).SetConfirmedBy(v.User.ID).
				SetConfirmedFingerprint(confirmationFingerprint(&confirmed))
		})
		if err != nil {
			return "", nil, err
		}
		return "restore_run.confirm", map[string]any{"dryRun": false, "acknowledged": true}, nil
	})
}

// resetConfirmation puts a run back to a dry run without confirmation.
func resetConfirmation(u *ent.RestoreRunUpdate) *ent.RestoreRunUpdate {
	return u.SetDryRun(true).SetAcknowledged(false).ClearConfirmedAt().ClearConfirmedBy().SetConfirmedFingerprint("")
}

func firstOpenMessage(r Readiness, open []string) string {
	for _, g := range r.Gates {
		if g.Code == open[0] {
			return g.Message
		}
	}
	return strings.Join(open, ", ")
}

// ReadinessOf returns the readiness of a run for the viewer of ctx.
// The target's live state is part of it: the run's environment is loaded
// if the caller did not.
func (s *Service) ReadinessOf(ctx context.Context, run *ent.RestoreRun) Readiness {
	if run.Edges.Environment == nil {
		if env, err := s.Client.Environment.Get(ctx, run.EnvironmentID); err == nil {
			withEnv := *run
			withEnv.Edges.Environment = env
			run = &withEnv
		} else {
			// Without it the target gate cannot be judged: say so rather
			// than call it open.
			s.Log.Error("readiness: load environment", "run", run.ID, "err", err)
			r := s.Readiness(run, viewerOf(ctx), s.Clock.Now())
			return unknownTarget(r)
		}
	}
	return s.Readiness(run, viewerOf(ctx), s.Clock.Now())
}
