-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_backup_items" table
CREATE TABLE `new_backup_items` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `policy_type` text NOT NULL, `platform` text NOT NULL DEFAULT (''), `source_graph_id` text NOT NULL, `display_name` text NOT NULL DEFAULT (''), `payload` json NOT NULL, `assignments` json NULL, `scope_tag_ids` json NULL, `foundation` bool NOT NULL DEFAULT (false), `source_last_modified` datetime NULL, `content_hash` text NOT NULL, `absent` bool NOT NULL DEFAULT (false), `backup_set_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `backup_items_backup_sets_backup_set` FOREIGN KEY (`backup_set_id`) REFERENCES `backup_sets` (`id`) ON DELETE NO ACTION);
-- Copy rows from old table "backup_items" to new temporary table "new_backup_items"
INSERT INTO `new_backup_items` (`id`, `created_at`, `updated_at`, `workspace_id`, `policy_type`, `platform`, `source_graph_id`, `display_name`, `payload`, `assignments`, `scope_tag_ids`, `foundation`, `source_last_modified`, `content_hash`, `backup_set_id`) SELECT `id`, `created_at`, `updated_at`, `workspace_id`, `policy_type`, `platform`, `source_graph_id`, `display_name`, `payload`, `assignments`, `scope_tag_ids`, `foundation`, `source_last_modified`, `content_hash`, `backup_set_id` FROM `backup_items`;
-- Drop "backup_items" table after copying rows
DROP TABLE `backup_items`;
-- Rename temporary table "new_backup_items" to "backup_items"
ALTER TABLE `new_backup_items` RENAME TO `backup_items`;
-- Create index "backupitem_workspace_id" to table: "backup_items"
CREATE INDEX `backupitem_workspace_id` ON `backup_items` (`workspace_id`);
-- Create index "backupitem_backup_set_id_policy_type_platform" to table: "backup_items"
CREATE INDEX `backupitem_backup_set_id_policy_type_platform` ON `backup_items` (`backup_set_id`, `policy_type`, `platform`);
-- Create index "backupitem_backup_set_id_display_name" to table: "backup_items"
CREATE INDEX `backupitem_backup_set_id_display_name` ON `backup_items` (`backup_set_id`, `display_name`);
-- Create index "backupitem_backup_set_id_policy_type_source_graph_id" to table: "backup_items"
CREATE UNIQUE INDEX `backupitem_backup_set_id_policy_type_source_graph_id` ON `backup_items` (`backup_set_id`, `policy_type`, `source_graph_id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
