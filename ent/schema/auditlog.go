package schema

import (
	"context"
	"errors"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/restored/restored/ent/schema/mixins"
	"github.com/restored/restored/internal/platform/ids"
)

// AuditLog is an append-only record of who did what to which object.
type AuditLog struct{ ent.Schema }

// Mixin of the AuditLog.
func (AuditLog) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.AuditLog}, mixins.Workspace{}}
}

// Fields of the AuditLog.
func (AuditLog) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Immutable().Default(time.Now).
			Annotations(entgql.OrderField("CREATED_AT")),
		field.String("actor_id").Annotations(entgql.MapsTo("actorId"), entgql.Type("ID")).Optional().Nillable().Immutable(),
		field.String("actor_label").Default("").Immutable(),
		field.String("action").NotEmpty().Immutable(),
		field.String("object_type").Default("").Immutable(),
		field.String("object_id").Annotations(entgql.MapsTo("objectId"), entgql.Type("ID")).Default("").Immutable(),
		field.String("environment_id").Annotations(entgql.MapsTo("environmentId"), entgql.Type("ID")).Optional().Nillable().Immutable(),
		field.JSON("metadata", map[string]any{}).Optional().Immutable().Annotations(entgql.Type("Map")),
	}
}

// Indexes of the AuditLog.
func (AuditLog) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("workspace_id", "created_at"),
		index.Fields("object_id"),
	}
}

// Hooks of the AuditLog: the log is append-only, so anything but a create fails.
func (AuditLog) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if !m.Op().Is(ent.OpCreate) {
					return nil, errors.New("audit log is append-only")
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}

// Annotations of the AuditLog.
func (AuditLog) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
