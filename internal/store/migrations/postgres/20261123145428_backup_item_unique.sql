-- Create index "backupitem_backup_set_id_policy_type_source_graph_id" to table: "backup_items"
CREATE UNIQUE INDEX "backupitem_backup_set_id_policy_type_source_graph_id" ON "backup_items" ("backup_set_id", "policy_type", "source_graph_id");
