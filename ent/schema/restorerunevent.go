package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/restored/restored/ent/schema/mixins"
	"github.com/restored/restored/internal/domain/results"
)

// RestoreRunEvent is one entry of a run's event log: what a live client of
// the run is told, numbered per run, so a client that reconnects with the
// last sequence it saw gets exactly what it missed (restoreRunEvents).
// Append-only; exposed through the restore domain's RunEvent, not as a node.
type RestoreRunEvent struct{ ent.Schema }

// Mixin of the RestoreRunEvent.
func (RestoreRunEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.Workspace{}}
}

// Fields of the RestoreRunEvent.
func (RestoreRunEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("run_id").Immutable(),
		field.Int("sequence").Immutable(),
		field.String("kind").NotEmpty().Immutable(),
		field.String("action").Default("").Immutable(),
		field.String("status").NotEmpty().Immutable(),
		field.String("item_id").Default("").Immutable(),
		field.JSON("counts", &results.ItemCounts{}).Optional().Immutable(),
		field.Time("at").Immutable(),
	}
}

// Indexes of the RestoreRunEvent.
func (RestoreRunEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("run_id", "sequence").Unique()}
}

// Annotations of the RestoreRunEvent.
func (RestoreRunEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
