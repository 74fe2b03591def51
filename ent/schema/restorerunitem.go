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

// RestoreRunItem is one scoped backup item of a run: its check results, its
// preview diff, its execution outcome and the evidence that it was verified.
type RestoreRunItem struct{ ent.Schema }

// Mixin of the RestoreRunItem.
func (RestoreRunItem) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.RestoreRunItem}, mixins.Time{}, mixins.Workspace{}}
}

// Fields of the RestoreRunItem.
func (RestoreRunItem) Fields() []ent.Field {
	return []ent.Field{
		field.String("run_id").Annotations(entgql.MapsTo("runId")).Immutable(),
		field.String("backup_item_id").Annotations(entgql.MapsTo("backupItemId"), entgql.Type("ID")).Immutable(),
		field.String("policy_type").Immutable(),
		field.String("platform").Default("").Immutable(),
		field.String("display_name").Default("").Immutable(),
		// The action execution takes: checks plan CREATE, UPDATE or SKIP;
		// the preview turns an UPDATE whose target already equals the backup
		// into NO_CHANGE, which execution never writes. DELETE is planned
		// only by an undo, for an object the undone run created.
		field.Enum("planned_action").Values("CREATE", "UPDATE", "NO_CHANGE", "SKIP", "DELETE").Optional().Nillable().
			Annotations(entgql.Type("RestoreAction")),
		field.Enum("status").Values("PENDING", "APPLYING", "SUCCEEDED", "FAILED", "SKIPPED").
			Default("PENDING").Annotations(entgql.Type("RestoreItemStatus")),
		field.String("target_graph_id").Annotations(entgql.MapsTo("targetGraphId"), entgql.Type("ID")).Optional().Nillable(),
		field.Int("attempts").Default(0),
		field.String("error_code").Optional().Nillable(),
		field.String("error_message").Optional().Nillable(),
		field.Enum("check_severity").Values("BLOCKING", "WARNING", "SAFE").Optional().Nillable().
			Annotations(entgql.Type("CheckSeverity")),
		field.JSON("check_results", []results.Check{}).Optional().Annotations(entgql.Skip()),
		field.Enum("preview_action").Values("CREATE", "UPDATE", "NO_CHANGE", "PREVIEW_ONLY", "DELETE").Optional().Nillable().
			Annotations(entgql.Type("PreviewAction")),
		field.JSON("preview_diff", &results.Diff{}).Optional().Annotations(entgql.Skip()),
		field.Bool("diff_truncated").Default(false),
		// What execution did (CREATED, UPDATED, UNCHANGED, SKIPPED, DELETED):
		// the planned action is the intent, this is the fact.
		field.Enum("executed_action").Values("CREATED", "UPDATED", "UNCHANGED", "SKIPPED", "DELETED").Optional().Nillable().
			Annotations(entgql.Type("ExecutedAction")),
		// Set just before the item's first Graph write and kept: an item with
		// it set and no outcome may have been written by a crashed attempt,
		// so the executor looks it up in the target before writing again.
		field.Time("write_started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
		field.Bool("verified").Default(false),
		field.JSON("drift", &results.Diff{}).Optional().Annotations(entgql.Skip()),
	}
}

// Edges of the RestoreRunItem.
func (RestoreRunItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("run", RestoreRun.Type).Field("run_id").Unique().Required().Immutable(),
	}
}

// Indexes of the RestoreRunItem.
func (RestoreRunItem) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("run_id", "status"),
		index.Fields("run_id", "policy_type", "platform"),
		index.Fields("run_id", "backup_item_id").Unique(),
	}
}

// Annotations of the RestoreRunItem.
func (RestoreRunItem) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
