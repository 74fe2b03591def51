package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/restored/restored/ent/schema/mixins"
)

// IdentityMapping remembers which target object a source object was restored
// onto: written by execution for every object it creates or updates, read
// first by the next run between the same tenants, so renames and duplicate
// names no longer decide identity and a second run of the same restore plans
// no creates. Scoped to a workspace like everything else.
type IdentityMapping struct{ ent.Schema }

// Mixin of the IdentityMapping.
func (IdentityMapping) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.Time{}, mixins.Workspace{}}
}

// Fields of the IdentityMapping.
func (IdentityMapping) Fields() []ent.Field {
	return []ent.Field{
		field.String("source_tenant_id").NotEmpty(),
		field.String("target_tenant_id").NotEmpty(),
		// The catalog type key (intune.Type.Key).
		field.String("policy_type").NotEmpty(),
		field.String("source_id").NotEmpty(),
		field.String("target_id").NotEmpty(),
		// The restore run that last wrote the mapping.
		field.String("run_id").Default(""),
	}
}

// Indexes of the IdentityMapping.
func (IdentityMapping) Indexes() []ent.Index {
	return []ent.Index{
		// Named: ent shortens a name this long with a hash that has come out
		// differently from one migration generation to the next, so each
		// `make migration` wanted to rename the index again.
		index.Fields("workspace_id", "source_tenant_id", "target_tenant_id", "policy_type", "source_id").Unique().
			StorageKey("identitymapping_source_object"),
	}
}

// Annotations of the IdentityMapping.
func (IdentityMapping) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
