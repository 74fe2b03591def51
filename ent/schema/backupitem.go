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

// BackupItem is one captured object inside a backup set: its payload,
// assignments and scope tags as Graph returned them, normalized.
type BackupItem struct{ ent.Schema }

// Mixin of the BackupItem.
func (BackupItem) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.BackupItem}, mixins.Time{}, mixins.Workspace{}}
}

// Fields of the BackupItem.
func (BackupItem) Fields() []ent.Field {
	return []ent.Field{
		field.String("backup_set_id").Annotations(entgql.MapsTo("backupSetId")).Immutable(),
		field.String("policy_type").NotEmpty().Immutable(),
		field.String("platform").Default("").Immutable(),
		field.String("source_graph_id").Annotations(entgql.MapsTo("sourceGraphId"), entgql.Type("ID")).Immutable(),
		field.String("display_name").Default("").Immutable().
			Annotations(entgql.OrderField("DISPLAY_NAME")),
		field.JSON("payload", map[string]any{}).Immutable().Annotations(entgql.Type("Map")),
		field.JSON("assignments", []map[string]any{}).Optional().Immutable().Annotations(entgql.Skip()),
		field.Strings("scope_tag_ids").Annotations(entgql.MapsTo("scopeTagIds"), entgql.Type("[ID!]")).Optional().Immutable(),
		field.Bool("foundation").Default(false).Immutable(),
		field.Time("source_last_modified").Optional().Nillable().Immutable(),
		field.String("content_hash").Immutable(),
		// Absent: the object did not exist when the set was captured. A
		// run's pre-restore set records so each object the run created (its
		// id, name, and content as verified then), so that restoring the
		// set, the run's undo, deletes it: nothing else ever deletes.
		field.Bool("absent").Default(false).Immutable(),
	}
}

// Edges of the BackupItem.
func (BackupItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("backup_set", BackupSet.Type).Field("backup_set_id").Unique().Required().Immutable(),
	}
}

// Indexes of the BackupItem: scope listing filters by type and platform and
// searches by name inside one set, so each is an index prefixed by the set.
func (BackupItem) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("backup_set_id", "policy_type", "platform"),
		index.Fields("backup_set_id", "display_name"),
		// One item per object per set: a capture job that is retried after
		// a crash skips what it already stored instead of duplicating it.
		index.Fields("backup_set_id", "policy_type", "source_graph_id").Unique(),
	}
}

// Annotations of the BackupItem.
func (BackupItem) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
