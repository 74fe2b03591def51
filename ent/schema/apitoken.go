package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/restored/restored/ent/schema/mixins"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/platform/ids"
)

// APIToken is a bearer token acting as a user in one workspace with one role.
// Only a hash is stored: the secret is shown once, at creation.
type APIToken struct{ ent.Schema }

// Mixin of the APIToken.
func (APIToken) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.APIToken}, mixins.Time{}, mixins.Workspace{}}
}

// Fields of the APIToken.
func (APIToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").Annotations(entgql.MapsTo("userId")).Immutable(),
		field.String("name").NotEmpty().MaxLen(200),
		field.Enum("role").GoType(access.Role("")).
			Annotations(entgql.Type("Role")),
		field.String("token_hash").Unique().Sensitive().Immutable().
			Annotations(entgql.Skip()),
		field.Time("last_used_at").Optional().Nillable(),
		field.Time("expires_at").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Edges of the APIToken.
func (APIToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("api_tokens").Field("user_id").Unique().Required().Immutable(),
	}
}

// Annotations of the APIToken.
func (APIToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
