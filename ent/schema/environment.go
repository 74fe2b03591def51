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

// Environment is one managed Intune tenant of a workspace.
type Environment struct{ ent.Schema }

// Mixin of the Environment.
func (Environment) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.Environment}, mixins.Time{}}
}

// Fields of the Environment. The client secret is stored encrypted and never
// leaves the server: it is not part of the GraphQL type.
func (Environment) Fields() []ent.Field {
	return []ent.Field{
		field.String("workspace_id").Annotations(entgql.MapsTo("workspaceId")).Immutable(),
		field.String("display_name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("DISPLAY_NAME")),
		field.String("azure_tenant_id").Annotations(entgql.MapsTo("azureTenantId")).NotEmpty().MaxLen(253),
		field.Enum("kind").Values("PROD", "TEST").
			Annotations(entgql.Type("EnvironmentKind")),
		field.String("graph_base_url").Annotations(entgql.MapsTo("graphBaseUrl")).NotEmpty(),
		field.String("client_id").Annotations(entgql.MapsTo("clientId")).Default("").Annotations(entgql.Skip()),
		field.Bytes("client_secret_encrypted").Optional().Sensitive().
			Annotations(entgql.Skip()),
		field.Time("credentials_set_at").Optional().Nillable(),
		field.Bool("write_enabled").Default(false),
		field.Strings("granted_permissions").Optional(),
		field.Time("permissions_checked_at").Optional().Nillable(),
		field.Time("archived_at").Optional().Nillable(),
	}
}

// Edges of the Environment.
func (Environment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("workspace", Workspace.Type).Ref("environments").Field("workspace_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Environment.
func (Environment) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id", "display_name").Unique()}
}

// Annotations of the Environment.
func (Environment) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
