package schema

import (
	"context"
	"errors"
	"fmt"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/restored/restored/ent/schema/mixins"
	"github.com/restored/restored/internal/domain/operations/opwrite"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/platform/ids"
)

// OperationRun is the record of one job: the single truth of its status and outcome.
type OperationRun struct{ ent.Schema }

// Mixin of the OperationRun.
func (OperationRun) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.OperationRun}, mixins.Time{}, mixins.Workspace{}}
}

// Fields of the OperationRun.
func (OperationRun) Fields() []ent.Field {
	return []ent.Field{
		field.String("environment_id").Annotations(entgql.MapsTo("environmentId"), entgql.Type("ID")).Optional().Nillable(),
		field.String("type").NotEmpty(),
		field.Enum("status").Values("QUEUED", "RUNNING", "COMPLETED").Default("QUEUED").
			Annotations(entgql.Type("OperationStatus")),
		field.Enum("outcome").
			Values("PENDING", "SUCCEEDED", "PARTIALLY_SUCCEEDED", "BLOCKED", "FAILED", "CANCELLED").
			Default("PENDING").Annotations(entgql.Type("OperationOutcome")),
		// Internal (it carries ids and fingerprints): clients must not depend on it.
		field.String("dedupe_key").Default("").Annotations(entgql.Skip()),
		// Equal to dedupe_key while queued or running and cleared when completed:
		// its unique index makes "one identical job at a time" a database rule.
		field.String("active_key").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("subject_id").Annotations(entgql.MapsTo("subjectId"), entgql.Type("ID")).Optional().Nillable(),
		field.String("initiator_id").Annotations(entgql.MapsTo("initiatorId"), entgql.Type("ID")).Optional().Nillable(),
		field.JSON("summary", results.OperationSummary{}).Optional().Annotations(entgql.Skip()),
		field.JSON("context", results.OperationContext{}).Optional().Annotations(entgql.Skip()),
		field.String("error_code").Optional().Nillable(),
		field.String("error_message").Optional().Nillable(),
		field.Int("attempts").Default(0),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
	}
}

// Indexes of the OperationRun.
func (OperationRun) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("active_key").Unique(),
		index.Fields("status", "updated_at"),
		index.Fields("subject_id"),
	}
}

// Annotations of the OperationRun.
func (OperationRun) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// ErrStatusWrite is the error of a status or outcome write outside package
// operations.
var ErrStatusWrite = errors.New("operation run status and outcome are written only by the operations service")

// Hooks of the OperationRun: status and outcome change only through package
// operations (opwrite.Allow); a new run starts QUEUED and PENDING.
func (OperationRun) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if opwrite.Allowed(ctx) {
					return next.Mutate(ctx, m)
				}
				for _, f := range []struct{ name, initial string }{{"status", "QUEUED"}, {"outcome", "PENDING"}} {
					v, set := m.Field(f.name)
					if m.Op().Is(ent.OpCreate) {
						// Defaults are applied before hooks run.
						if set && fmt.Sprint(v) != f.initial {
							return nil, ErrStatusWrite
						}
						continue
					}
					if set {
						return nil, ErrStatusWrite
					}
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}
