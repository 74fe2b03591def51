package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/restored/restored/ent/schema/mixins"
	"github.com/restored/restored/internal/platform/ids"
)

// IntunePolicy is an inventory row: one Intune object seen in an environment.
type IntunePolicy struct{ ent.Schema }

// Mixin of the IntunePolicy.
func (IntunePolicy) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.Policy}, mixins.Time{}, mixins.Workspace{}}
}

// Fields of the IntunePolicy.
func (IntunePolicy) Fields() []ent.Field {
	return []ent.Field{
		field.String("environment_id").Annotations(entgql.MapsTo("environmentId")).Immutable(),
		field.String("policy_type").NotEmpty(),
		field.String("platform").Default(""),
		field.String("graph_id").Annotations(entgql.MapsTo("graphId"), entgql.Type("ID")).NotEmpty(),
		field.String("odata_type").Default(""),
		field.String("display_name").Default("").
			Annotations(entgql.OrderField("DISPLAY_NAME")),
		field.Time("source_last_modified").Optional().Nillable(),
		field.Time("synced_at"),
		field.Time("missing_since").Optional().Nillable(),
	}
}

// Edges of the IntunePolicy.
func (IntunePolicy) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("environment", Environment.Type).Field("environment_id").Unique().Required().Immutable(),
	}
}

// Indexes of the IntunePolicy.
func (IntunePolicy) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("environment_id", "policy_type", "graph_id").Unique(),
		index.Fields("environment_id", "policy_type", "platform"),
		index.Fields("environment_id", "display_name"),
	}
}

// Annotations of the IntunePolicy.
func (IntunePolicy) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
