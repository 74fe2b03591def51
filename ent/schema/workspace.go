package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/restored/restored/ent/schema/mixins"
	"github.com/restored/restored/internal/platform/ids"
)

// Workspace is an MSP's tenant of restored: users, environments and every run
// belong to exactly one workspace.
type Workspace struct{ ent.Schema }

// Mixin of the Workspace.
func (Workspace) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.Workspace}, mixins.Time{}}
}

// Fields of the Workspace.
func (Workspace) Fields() []ent.Field {
	return []ent.Field{
		field.String("slug").Unique().NotEmpty().MaxLen(64).Immutable(),
		field.String("name").NotEmpty().MaxLen(200),
	}
}

// Edges of the Workspace.
func (Workspace) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("memberships", Membership.Type).Annotations(entgql.Skip()),
		edge.To("environments", Environment.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the Workspace.
func (Workspace) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
