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

// User is a person (or an automation identity) who can belong to workspaces.
type User struct{ ent.Schema }

// Mixin of the User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.User}, mixins.Time{}}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").Unique().NotEmpty().MaxLen(320),
		field.String("display_name").Default(""),
	}
}

// Edges of the User. None is exposed over GraphQL: a user's memberships span
// workspaces, and one workspace must never see another's.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("memberships", Membership.Type).Annotations(entgql.Skip()),
		edge.To("api_tokens", APIToken.Type).Annotations(entgql.Skip()),
		edge.To("notifications", Notification.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
