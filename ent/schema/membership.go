package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/restored/restored/ent/schema/mixins"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/platform/ids"
)

// Membership gives a user a role in a workspace; the role decides capabilities.
type Membership struct{ ent.Schema }

// Mixin of the Membership.
func (Membership) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.Membership}, mixins.Time{}}
}

// Fields of the Membership.
func (Membership) Fields() []ent.Field {
	return []ent.Field{
		field.String("workspace_id").Annotations(entgql.MapsTo("workspaceId")).Immutable(),
		field.String("user_id").Annotations(entgql.MapsTo("userId")).Immutable(),
		field.Enum("role").GoType(access.Role("")).
			Annotations(entgql.Type("Role")),
	}
}

// Edges of the Membership.
func (Membership) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("workspace", Workspace.Type).Ref("memberships").Field("workspace_id").Unique().Required().Immutable(),
		edge.From("user", User.Type).Ref("memberships").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Membership.
func (Membership) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id", "user_id").Unique()}
}

// Annotations of the Membership.
func (Membership) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
