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

// RestoreRun is one pass of the restore wizard and, once confirmed, its execution.
type RestoreRun struct{ ent.Schema }

// Mixin of the RestoreRun.
func (RestoreRun) Mixin() []ent.Mixin {
	return []ent.Mixin{mixins.ID{Prefix: ids.RestoreRun}, mixins.Time{}, mixins.Workspace{}}
}

// Fields of the RestoreRun.
func (RestoreRun) Fields() []ent.Field {
	return []ent.Field{
		field.String("environment_id").Annotations(entgql.MapsTo("environmentId")).Immutable(),
		field.String("backup_set_id").Annotations(entgql.MapsTo("backupSetId")),
		field.String("initiator_id").Annotations(entgql.MapsTo("initiatorId"), entgql.Type("ID")).Optional().Nillable(),
		field.Enum("status").
			Values("DRAFT", "SCOPED", "CHECKED", "PREVIEWED", "QUEUED", "RUNNING",
				"COMPLETED", "PARTIAL", "FAILED", "CANCELLED").
			Default("DRAFT").Annotations(entgql.Type("RestoreRunStatus")),
		field.Enum("scope_mode").Values("ALL", "SELECTED").Default("ALL").
			Annotations(entgql.Type("RestoreScopeMode")),
		field.Strings("selected_item_ids").Annotations(entgql.MapsTo("selectedItemIds"), entgql.Type("[ID!]")).Optional(),
		field.JSON("group_mapping", map[string]string{}).Optional().Annotations(entgql.Skip()),
		field.JSON("scope_tag_mapping", map[string]string{}).Optional().Annotations(entgql.Skip()),
		// Source assignment filter id → target filter id.
		field.JSON("filter_mapping", map[string]string{}).Optional().Annotations(entgql.Skip()),
		// The admin's explicit target per backup item (backup item id → target
		// Graph id, or "new" to create): resolves TARGET_AMBIGUOUS and
		// overrides identity and name matching.
		field.JSON("item_targets", map[string]string{}).Optional().Annotations(entgql.Skip()),
		field.Bool("create_missing").Default(false),
		// The sequence of the run's last event (RestoreRunEvent); incremented
		// in the transaction that appends the event.
		field.Int("event_sequence").Default(0).Annotations(entgql.Skip()),
		field.Bool("dry_run").Default(true),
		// Frozen at step 1 for audit: what the user saw and must type to confirm.
		field.String("environment_badge").Immutable(),
		field.String("tenant_label").Immutable(),
		field.String("scope_fingerprint").Default(""),
		field.JSON("check_summary", &results.CheckSummary{}).Optional().Annotations(entgql.Skip()),
		field.JSON("check_results", []results.Check{}).Optional().Annotations(entgql.Skip()),
		field.String("check_fingerprint").Default(""),
		field.Time("checked_at").Optional().Nillable(),
		field.JSON("preview_summary", &results.PreviewSummary{}).Optional().Annotations(entgql.Skip()),
		field.String("preview_fingerprint").Default(""),
		field.Time("previewed_at").Optional().Nillable(),
		field.Bool("acknowledged").Default(false),
		field.String("confirmed_by").Optional().Nillable().Annotations(entgql.Type("ID")),
		field.Time("confirmed_at").Optional().Nillable(),
		// What the confirmation was given for (scope, checks and preview, see
		// confirmationFingerprint): a confirmation whose fingerprint is not
		// the run's current one confirms nothing.
		field.String("confirmed_fingerprint").Default("").Annotations(entgql.Skip()),
		// The caller's retry key: not shown, another member's key is none of
		// a reader's business and clients must not depend on it.
		field.String("idempotency_key").Optional().Nillable().Annotations(entgql.Skip()),
		// Set while QUEUED or RUNNING, cleared when terminal: a unique index on it
		// lets the database itself refuse a second active execution per target.
		field.String("active_execution_key").Optional().Nillable().Annotations(entgql.Skip()),
		// Set by cancelRestoreRun on a running execution: the executor stops
		// before its next item.
		field.Bool("cancel_requested").Default(false),
		// The execution lease: one executor per run at any moment. The holder
		// renews lease_expires_at (heartbeat); lease_token grows on every
		// acquisition and is checked before every Graph write (fencing), so a
		// handler that lost the lease stops.
		field.String("lease_owner").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("lease_expires_at").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("lease_token").Default(0).Annotations(entgql.Skip()),
		// The backup set of the target objects captured before execution
		// overwrote them (undoRestoreRun restores it).
		field.String("pre_restore_backup_set_id").Optional().Nillable().
			Annotations(entgql.MapsTo("preRestoreBackupSetId"), entgql.Type("ID")),
		// The run this one undoes, when made by undoRestoreRun.
		field.String("undo_of_run_id").Optional().Nillable().
			Annotations(entgql.MapsTo("undoOfRunId"), entgql.Type("ID")),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
		field.JSON("counts", &results.ItemCounts{}).Optional().Annotations(entgql.Skip()),
		field.Time("deleted_at").Optional().Nillable(),
	}
}

// Edges of the RestoreRun.
func (RestoreRun) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("environment", Environment.Type).Field("environment_id").Unique().Required().Immutable(),
		edge.To("backup_set", BackupSet.Type).Field("backup_set_id").Unique().Required(),
	}
}

// Indexes of the RestoreRun.
func (RestoreRun) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("environment_id", "status"),
		index.Fields("active_execution_key").Unique(),
		index.Fields("workspace_id", "idempotency_key").Unique(),
	}
}

// Annotations of the RestoreRun.
func (RestoreRun) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
