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

// PolicyVersion is a captured snapshot of one policy.
type PolicyVersion struct{ ent.Schema }

// Mixin of the PolicyVersion.
func (PolicyVersion) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.PolicyVersion}, mixins.Time{}, mixins.Workspace{}}
}

// Fields of the PolicyVersion.
func (PolicyVersion) Fields() []ent.Field {
	return []ent.Field{
		field.String("policy_id").Annotations(entgql.MapsTo("policyId")).Immutable(),
		field.Int("version").Positive().Immutable(),
		field.JSON("payload", map[string]any{}).Annotations(entgql.Type("Map")),
		field.JSON("assignments", []map[string]any{}).Optional().Annotations(entgql.Skip()),
		field.Strings("scope_tag_ids").Annotations(entgql.MapsTo("scopeTagIds"), entgql.Type("[ID!]")).Optional(),
		field.String("content_hash"),
		field.Time("source_last_modified").Optional().Nillable(),
		field.Time("captured_at"),
		field.String("captured_by").Optional().Nillable().Annotations(entgql.Type("ID")),
	}
}

// Edges of the PolicyVersion.
func (PolicyVersion) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("policy", IntunePolicy.Type).Field("policy_id").Unique().Required().Immutable(),
	}
}

// Indexes of the PolicyVersion.
func (PolicyVersion) Indexes() []ent.Index {
	return []ent.Index{index.Fields("policy_id", "version").Unique()}
}

// Annotations of the PolicyVersion.
func (PolicyVersion) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
