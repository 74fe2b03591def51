package graph

import (
	"context"
	"sort"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/graph/model"
	"github.com/restored/restored/internal/domain/restore"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/ptr"
)

// mappingIn turns mapping inputs into a map (later entries win).
func mappingIn(in []*model.MappingInput) map[string]string {
	if len(in) == 0 {
		return nil
	}
	m := make(map[string]string, len(in))
	for _, e := range in {
		m[e.SourceID] = e.TargetID
	}
	return m
}

// mappingOut lists a mapping in a stable order.
func mappingOut(m map[string]string) []*model.Mapping {
	out := make([]*model.Mapping, 0, len(m))
	for k, v := range m {
		out = append(out, &model.Mapping{SourceID: k, TargetID: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SourceID < out[j].SourceID })
	return out
}

// itemTargetsIn turns item target inputs into the domain's.
func itemTargetsIn(in []*model.ItemTargetInput) []restore.ItemTarget {
	out := make([]restore.ItemTarget, len(in))
	for i, e := range in {
		out[i] = restore.ItemTarget{BackupItemID: e.BackupItemID, TargetID: ptr.Deref(e.TargetID), CreateNew: ptr.Deref(e.CreateNew)}
	}
	return out
}

// itemTargetsOut lists a run's item targets by backup item id.
func itemTargetsOut(m map[string]string) []*model.ItemTarget {
	out := make([]*model.ItemTarget, 0, len(m))
	for item, target := range m {
		t := &model.ItemTarget{BackupItemID: item}
		if target == restore.ItemTargetNew {
			t.CreateNew = true
		} else {
			t.TargetID = &target
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BackupItemID < out[j].BackupItemID })
	return out
}

func suggestionsOut(in []restore.MappingSuggestion) []*model.MappingSuggestion {
	out := make([]*model.MappingSuggestion, len(in))
	for i, s := range in {
		out[i] = &model.MappingSuggestion{Kind: model.MappingKind(s.Kind), SourceID: s.SourceID, SourceName: s.SourceName,
			MappedTargetID: s.MappedTargetID, InScope: s.InScope}
		if s.Suggested != nil {
			out[i].Suggested = &model.TargetObject{ID: s.Suggested.ID, Name: s.Suggested.Name}
		}
	}
	return out
}

func targetsOut(in []restore.TargetObject) []*model.TargetObject {
	out := make([]*model.TargetObject, len(in))
	for i, t := range in {
		out[i] = &model.TargetObject{ID: t.ID, Name: t.Name}
	}
	return out
}

func readiness(r restore.Readiness) *model.RestoreReadiness {
	out := &model.RestoreReadiness{CanProceedToConfirmation: r.CanProceedToConfirmation, CanExecute: r.CanExecute, Guidance: r.Guidance}
	for _, g := range r.Gates {
		out.Gates = append(out.Gates, &model.RestoreGate{Code: g.Code, Satisfied: g.Satisfied, Message: g.Message})
	}
	return out
}

// latestOperation returns the newest operation run of a type for a subject.
func (r *Resolver) latestOperation(ctx context.Context, subjectID, typ string) (*ent.OperationRun, error) {
	op, err := r.Client.OperationRun.Query().
		Where(operationrun.SubjectID(subjectID), operationrun.Type(typ)).
		Order(ent.Desc(operationrun.FieldCreatedAt), ent.Desc(operationrun.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return op, err
}

// restoreRunFor loads a run the viewer may read.
func (r *Resolver) restoreRunFor(ctx context.Context, id string) (*ent.RestoreRun, error) {
	n, err := r.node(ctx, id)
	if err != nil {
		return nil, err
	}
	run, ok := n.(*ent.RestoreRun)
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no restore run %q", id)
	}
	return run, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
