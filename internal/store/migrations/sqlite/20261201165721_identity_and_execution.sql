-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Add column "executed_action" to table: "restore_run_items"
ALTER TABLE `restore_run_items` ADD COLUMN `executed_action` text NULL;
-- Add column "write_started_at" to table: "restore_run_items"
ALTER TABLE `restore_run_items` ADD COLUMN `write_started_at` datetime NULL;
-- Add column "finished_at" to table: "restore_run_items"
ALTER TABLE `restore_run_items` ADD COLUMN `finished_at` datetime NULL;
-- Create "new_restore_runs" table
CREATE TABLE `new_restore_runs` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `initiator_id` text NULL, `status` text NOT NULL DEFAULT ('DRAFT'), `scope_mode` text NOT NULL DEFAULT ('ALL'), `selected_item_ids` json NULL, `group_mapping` json NULL, `scope_tag_mapping` json NULL, `filter_mapping` json NULL, `item_targets` json NULL, `create_missing` bool NOT NULL DEFAULT (false), `event_sequence` integer NOT NULL DEFAULT (0), `dry_run` bool NOT NULL DEFAULT (true), `environment_badge` text NOT NULL, `tenant_label` text NOT NULL, `scope_fingerprint` text NOT NULL DEFAULT (''), `check_summary` json NULL, `check_results` json NULL, `check_fingerprint` text NOT NULL DEFAULT (''), `checked_at` datetime NULL, `preview_summary` json NULL, `preview_fingerprint` text NOT NULL DEFAULT (''), `previewed_at` datetime NULL, `acknowledged` bool NOT NULL DEFAULT (false), `confirmed_by` text NULL, `confirmed_at` datetime NULL, `confirmed_fingerprint` text NOT NULL DEFAULT (''), `idempotency_key` text NULL, `active_execution_key` text NULL, `cancel_requested` bool NOT NULL DEFAULT (false), `lease_owner` text NULL, `lease_expires_at` datetime NULL, `lease_token` integer NOT NULL DEFAULT (0), `pre_restore_backup_set_id` text NULL, `undo_of_run_id` text NULL, `started_at` datetime NULL, `finished_at` datetime NULL, `counts` json NULL, `deleted_at` datetime NULL, `environment_id` text NOT NULL, `backup_set_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `restore_runs_environments_environment` FOREIGN KEY (`environment_id`) REFERENCES `environments` (`id`) ON DELETE NO ACTION, CONSTRAINT `restore_runs_backup_sets_backup_set` FOREIGN KEY (`backup_set_id`) REFERENCES `backup_sets` (`id`) ON DELETE NO ACTION);
-- Copy rows from old table "restore_runs" to new temporary table "new_restore_runs"
INSERT INTO `new_restore_runs` (`id`, `created_at`, `updated_at`, `workspace_id`, `initiator_id`, `status`, `scope_mode`, `selected_item_ids`, `group_mapping`, `scope_tag_mapping`, `create_missing`, `event_sequence`, `dry_run`, `environment_badge`, `tenant_label`, `scope_fingerprint`, `check_summary`, `check_results`, `check_fingerprint`, `checked_at`, `preview_summary`, `preview_fingerprint`, `previewed_at`, `acknowledged`, `confirmed_by`, `confirmed_at`, `confirmed_fingerprint`, `idempotency_key`, `active_execution_key`, `cancel_requested`, `started_at`, `finished_at`, `counts`, `deleted_at`, `environment_id`, `backup_set_id`) SELECT `id`, `created_at`, `updated_at`, `workspace_id`, `initiator_id`, `status`, `scope_mode`, `selected_item_ids`, `group_mapping`, `scope_tag_mapping`, `create_missing`, `event_sequence`, `dry_run`, `environment_badge`, `tenant_label`, `scope_fingerprint`, `check_summary`, `check_results`, `check_fingerprint`, `checked_at`, `preview_summary`, `preview_fingerprint`, `previewed_at`, `acknowledged`, `confirmed_by`, `confirmed_at`, `confirmed_fingerprint`, `idempotency_key`, `active_execution_key`, `cancel_requested`, `started_at`, `finished_at`, `counts`, `deleted_at`, `environment_id`, `backup_set_id` FROM `restore_runs`;
-- Drop "restore_runs" table after copying rows
DROP TABLE `restore_runs`;
-- Rename temporary table "new_restore_runs" to "restore_runs"
ALTER TABLE `new_restore_runs` RENAME TO `restore_runs`;
-- Create index "restorerun_workspace_id" to table: "restore_runs"
CREATE INDEX `restorerun_workspace_id` ON `restore_runs` (`workspace_id`);
-- Create index "restorerun_environment_id_status" to table: "restore_runs"
CREATE INDEX `restorerun_environment_id_status` ON `restore_runs` (`environment_id`, `status`);
-- Create index "restorerun_active_execution_key" to table: "restore_runs"
CREATE UNIQUE INDEX `restorerun_active_execution_key` ON `restore_runs` (`active_execution_key`);
-- Create index "restorerun_workspace_id_idempotency_key" to table: "restore_runs"
CREATE UNIQUE INDEX `restorerun_workspace_id_idempotency_key` ON `restore_runs` (`workspace_id`, `idempotency_key`);
-- Create "identity_mappings" table
CREATE TABLE `identity_mappings` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `source_tenant_id` text NOT NULL, `target_tenant_id` text NOT NULL, `policy_type` text NOT NULL, `source_id` text NOT NULL, `target_id` text NOT NULL, `run_id` text NOT NULL DEFAULT (''));
-- Create index "identitymapping_workspace_id" to table: "identity_mappings"
CREATE INDEX `identitymapping_workspace_id` ON `identity_mappings` (`workspace_id`);
-- Create index "identitymapping_workspace_id_so_b65ad4019eaeb761663c15f93dfddaf6" to table: "identity_mappings"
CREATE UNIQUE INDEX `identitymapping_workspace_id_so_b65ad4019eaeb761663c15f93dfddaf6` ON `identity_mappings` (`workspace_id`, `source_tenant_id`, `target_tenant_id`, `policy_type`, `source_id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
