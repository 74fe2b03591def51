package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/restored/restored/ent/schema/mixins"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/platform/ids"
)

// BackupSet is a named capture of many policies of one environment.
type BackupSet struct{ ent.Schema }

// Mixin of the BackupSet.
func (BackupSet) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.BackupSet}, mixins.Time{}, mixins.Workspace{}}
}

// Fields of the BackupSet.
func (BackupSet) Fields() []ent.Field {
	return []ent.Field{
		field.String("environment_id").Annotations(entgql.MapsTo("environmentId")).Immutable(),
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("status").Values("CAPTURING", "READY", "FAILED").Default("CAPTURING").
			Annotations(entgql.Type("BackupSetStatus")),
		// PRE_RESTORE sets are written by a restore before it overwrites anything,
		// so every restore can itself be undone.
		field.Enum("origin").Values("MANUAL", "PRE_RESTORE", "POLICY_VERSION").Default("MANUAL").
			Annotations(entgql.Type("BackupSetOrigin")),
		field.Time("captured_at").Optional().Nillable(),
		field.Int("item_count").Default(0),
		// items_version goes up by one with every item added to the set
		// (items are never changed or deleted: store's append-only hook adds
		// the one in the item's transaction). A page of items read at a
		// version is that page until the version moves, which is what lets
		// the server keep pages in memory (server/pagecache.go).
		field.Int64("items_version").Default(0).Annotations(entgql.Skip()),
		field.JSON("counts_by_type", results.TypeCounts{}).Optional().Annotations(entgql.Skip()),
		field.String("created_by").Optional().Nillable().Annotations(entgql.Type("ID")),
	}
}

// Edges of the BackupSet.
func (BackupSet) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("environment", Environment.Type).Field("environment_id").Unique().Required().Immutable(),
	}
}

// Indexes of the BackupSet.
func (BackupSet) Indexes() []ent.Index {
	return []ent.Index{index.Fields("environment_id", "created_at")}
}

// Annotations of the BackupSet.
func (BackupSet) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
