-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_backup_sets" table
CREATE TABLE `new_backup_sets` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `name` text NOT NULL, `status` text NOT NULL DEFAULT ('CAPTURING'), `origin` text NOT NULL DEFAULT ('MANUAL'), `captured_at` datetime NULL, `item_count` integer NOT NULL DEFAULT (0), `items_version` integer NOT NULL DEFAULT (0), `counts_by_type` json NULL, `created_by` text NULL, `environment_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `backup_sets_environments_environment` FOREIGN KEY (`environment_id`) REFERENCES `environments` (`id`) ON DELETE NO ACTION);
-- Copy rows from old table "backup_sets" to new temporary table "new_backup_sets"
INSERT INTO `new_backup_sets` (`id`, `created_at`, `updated_at`, `workspace_id`, `name`, `status`, `origin`, `captured_at`, `item_count`, `counts_by_type`, `created_by`, `environment_id`) SELECT `id`, `created_at`, `updated_at`, `workspace_id`, `name`, `status`, `origin`, `captured_at`, `item_count`, `counts_by_type`, `created_by`, `environment_id` FROM `backup_sets`;
-- Drop "backup_sets" table after copying rows
DROP TABLE `backup_sets`;
-- Rename temporary table "new_backup_sets" to "backup_sets"
ALTER TABLE `new_backup_sets` RENAME TO `backup_sets`;
-- Create index "backupset_workspace_id" to table: "backup_sets"
CREATE INDEX `backupset_workspace_id` ON `backup_sets` (`workspace_id`);
-- Create index "backupset_environment_id_created_at" to table: "backup_sets"
CREATE INDEX `backupset_environment_id_created_at` ON `backup_sets` (`environment_id`, `created_at`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
