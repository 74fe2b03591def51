-- Create "api_tokens" table
CREATE TABLE `api_tokens` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `name` text NOT NULL, `role` text NOT NULL, `token_hash` text NOT NULL, `last_used_at` datetime NULL, `expires_at` datetime NULL, `revoked_at` datetime NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `api_tokens_users_api_tokens` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "api_tokens_token_hash_key" to table: "api_tokens"
CREATE UNIQUE INDEX `api_tokens_token_hash_key` ON `api_tokens` (`token_hash`);
-- Create index "apitoken_workspace_id" to table: "api_tokens"
CREATE INDEX `apitoken_workspace_id` ON `api_tokens` (`workspace_id`);
-- Create "audit_logs" table
CREATE TABLE `audit_logs` (`id` text NOT NULL, `workspace_id` text NOT NULL, `created_at` datetime NOT NULL, `actor_id` text NULL, `actor_label` text NOT NULL DEFAULT (''), `action` text NOT NULL, `object_type` text NOT NULL DEFAULT (''), `object_id` text NOT NULL DEFAULT (''), `environment_id` text NULL, `metadata` json NULL, PRIMARY KEY (`id`));
-- Create index "auditlog_workspace_id" to table: "audit_logs"
CREATE INDEX `auditlog_workspace_id` ON `audit_logs` (`workspace_id`);
-- Create index "auditlog_workspace_id_created_at" to table: "audit_logs"
CREATE INDEX `auditlog_workspace_id_created_at` ON `audit_logs` (`workspace_id`, `created_at`);
-- Create index "auditlog_object_id" to table: "audit_logs"
CREATE INDEX `auditlog_object_id` ON `audit_logs` (`object_id`);
-- Create "backup_items" table
CREATE TABLE `backup_items` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `policy_type` text NOT NULL, `platform` text NOT NULL DEFAULT (''), `source_graph_id` text NOT NULL, `display_name` text NOT NULL DEFAULT (''), `payload` json NOT NULL, `assignments` json NULL, `scope_tag_ids` json NULL, `foundation` bool NOT NULL DEFAULT (false), `source_last_modified` datetime NULL, `content_hash` text NOT NULL, `backup_set_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `backup_items_backup_sets_backup_set` FOREIGN KEY (`backup_set_id`) REFERENCES `backup_sets` (`id`) ON DELETE NO ACTION);
-- Create index "backupitem_workspace_id" to table: "backup_items"
CREATE INDEX `backupitem_workspace_id` ON `backup_items` (`workspace_id`);
-- Create index "backupitem_backup_set_id_policy_type_platform" to table: "backup_items"
CREATE INDEX `backupitem_backup_set_id_policy_type_platform` ON `backup_items` (`backup_set_id`, `policy_type`, `platform`);
-- Create index "backupitem_backup_set_id_display_name" to table: "backup_items"
CREATE INDEX `backupitem_backup_set_id_display_name` ON `backup_items` (`backup_set_id`, `display_name`);
-- Create "backup_sets" table
CREATE TABLE `backup_sets` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `name` text NOT NULL, `status` text NOT NULL DEFAULT ('CAPTURING'), `origin` text NOT NULL DEFAULT ('MANUAL'), `captured_at` datetime NULL, `item_count` integer NOT NULL DEFAULT (0), `counts_by_type` json NULL, `created_by` text NULL, `environment_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `backup_sets_environments_environment` FOREIGN KEY (`environment_id`) REFERENCES `environments` (`id`) ON DELETE NO ACTION);
-- Create index "backupset_workspace_id" to table: "backup_sets"
CREATE INDEX `backupset_workspace_id` ON `backup_sets` (`workspace_id`);
-- Create index "backupset_environment_id_created_at" to table: "backup_sets"
CREATE INDEX `backupset_environment_id_created_at` ON `backup_sets` (`environment_id`, `created_at`);
-- Create "environments" table
CREATE TABLE `environments` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `display_name` text NOT NULL, `azure_tenant_id` text NOT NULL, `kind` text NOT NULL, `graph_base_url` text NOT NULL, `client_id` text NOT NULL DEFAULT (''), `client_secret_encrypted` blob NULL, `credentials_set_at` datetime NULL, `write_enabled` bool NOT NULL DEFAULT (false), `granted_permissions` json NULL, `permissions_checked_at` datetime NULL, `archived_at` datetime NULL, `workspace_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `environments_workspaces_environments` FOREIGN KEY (`workspace_id`) REFERENCES `workspaces` (`id`) ON DELETE NO ACTION);
-- Create index "environment_workspace_id_display_name" to table: "environments"
CREATE UNIQUE INDEX `environment_workspace_id_display_name` ON `environments` (`workspace_id`, `display_name`);
-- Create "intune_policies" table
CREATE TABLE `intune_policies` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `policy_type` text NOT NULL, `platform` text NOT NULL DEFAULT (''), `graph_id` text NOT NULL, `odata_type` text NOT NULL DEFAULT (''), `display_name` text NOT NULL DEFAULT (''), `source_last_modified` datetime NULL, `synced_at` datetime NOT NULL, `missing_since` datetime NULL, `environment_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `intune_policies_environments_environment` FOREIGN KEY (`environment_id`) REFERENCES `environments` (`id`) ON DELETE NO ACTION);
-- Create index "intunepolicy_workspace_id" to table: "intune_policies"
CREATE INDEX `intunepolicy_workspace_id` ON `intune_policies` (`workspace_id`);
-- Create index "intunepolicy_environment_id_policy_type_graph_id" to table: "intune_policies"
CREATE UNIQUE INDEX `intunepolicy_environment_id_policy_type_graph_id` ON `intune_policies` (`environment_id`, `policy_type`, `graph_id`);
-- Create index "intunepolicy_environment_id_policy_type_platform" to table: "intune_policies"
CREATE INDEX `intunepolicy_environment_id_policy_type_platform` ON `intune_policies` (`environment_id`, `policy_type`, `platform`);
-- Create index "intunepolicy_environment_id_display_name" to table: "intune_policies"
CREATE INDEX `intunepolicy_environment_id_display_name` ON `intune_policies` (`environment_id`, `display_name`);
-- Create "memberships" table
CREATE TABLE `memberships` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `role` text NOT NULL, `user_id` text NOT NULL, `workspace_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `memberships_users_memberships` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION, CONSTRAINT `memberships_workspaces_memberships` FOREIGN KEY (`workspace_id`) REFERENCES `workspaces` (`id`) ON DELETE NO ACTION);
-- Create index "membership_workspace_id_user_id" to table: "memberships"
CREATE UNIQUE INDEX `membership_workspace_id_user_id` ON `memberships` (`workspace_id`, `user_id`);
-- Create "notifications" table
CREATE TABLE `notifications` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `kind` text NOT NULL, `title` text NOT NULL, `body` text NOT NULL DEFAULT (''), `subject_id` text NULL, `read_at` datetime NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `notifications_users_notifications` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "notification_workspace_id" to table: "notifications"
CREATE INDEX `notification_workspace_id` ON `notifications` (`workspace_id`);
-- Create index "notification_user_id_workspace_id_created_at" to table: "notifications"
CREATE INDEX `notification_user_id_workspace_id_created_at` ON `notifications` (`user_id`, `workspace_id`, `created_at`);
-- Create "operation_runs" table
CREATE TABLE `operation_runs` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `environment_id` text NULL, `type` text NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `outcome` text NOT NULL DEFAULT ('PENDING'), `dedupe_key` text NOT NULL DEFAULT (''), `active_key` text NULL, `subject_id` text NULL, `initiator_id` text NULL, `summary` json NULL, `context` json NULL, `error_code` text NULL, `error_message` text NULL, `attempts` integer NOT NULL DEFAULT (0), `started_at` datetime NULL, `finished_at` datetime NULL, PRIMARY KEY (`id`));
-- Create index "operationrun_workspace_id" to table: "operation_runs"
CREATE INDEX `operationrun_workspace_id` ON `operation_runs` (`workspace_id`);
-- Create index "operationrun_active_key" to table: "operation_runs"
CREATE UNIQUE INDEX `operationrun_active_key` ON `operation_runs` (`active_key`);
-- Create index "operationrun_status_updated_at" to table: "operation_runs"
CREATE INDEX `operationrun_status_updated_at` ON `operation_runs` (`status`, `updated_at`);
-- Create index "operationrun_subject_id" to table: "operation_runs"
CREATE INDEX `operationrun_subject_id` ON `operation_runs` (`subject_id`);
-- Create "policy_versions" table
CREATE TABLE `policy_versions` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `version` integer NOT NULL, `payload` json NOT NULL, `assignments` json NULL, `scope_tag_ids` json NULL, `content_hash` text NOT NULL, `source_last_modified` datetime NULL, `captured_at` datetime NOT NULL, `captured_by` text NULL, `policy_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `policy_versions_intune_policies_policy` FOREIGN KEY (`policy_id`) REFERENCES `intune_policies` (`id`) ON DELETE NO ACTION);
-- Create index "policyversion_workspace_id" to table: "policy_versions"
CREATE INDEX `policyversion_workspace_id` ON `policy_versions` (`workspace_id`);
-- Create index "policyversion_policy_id_version" to table: "policy_versions"
CREATE UNIQUE INDEX `policyversion_policy_id_version` ON `policy_versions` (`policy_id`, `version`);
-- Create "restore_runs" table
CREATE TABLE `restore_runs` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `initiator_id` text NULL, `status` text NOT NULL DEFAULT ('DRAFT'), `scope_mode` text NOT NULL DEFAULT ('ALL'), `selected_item_ids` json NULL, `group_mapping` json NULL, `scope_tag_mapping` json NULL, `create_missing` bool NOT NULL DEFAULT (false), `dry_run` bool NOT NULL DEFAULT (true), `environment_badge` text NOT NULL, `tenant_label` text NOT NULL, `scope_fingerprint` text NOT NULL DEFAULT (''), `check_summary` json NULL, `check_results` json NULL, `check_fingerprint` text NOT NULL DEFAULT (''), `checked_at` datetime NULL, `preview_summary` json NULL, `preview_fingerprint` text NOT NULL DEFAULT (''), `previewed_at` datetime NULL, `acknowledged` bool NOT NULL DEFAULT (false), `confirmed_by` text NULL, `confirmed_at` datetime NULL, `idempotency_key` text NULL, `active_execution_key` text NULL, `started_at` datetime NULL, `finished_at` datetime NULL, `counts` json NULL, `deleted_at` datetime NULL, `environment_id` text NOT NULL, `backup_set_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `restore_runs_environments_environment` FOREIGN KEY (`environment_id`) REFERENCES `environments` (`id`) ON DELETE NO ACTION, CONSTRAINT `restore_runs_backup_sets_backup_set` FOREIGN KEY (`backup_set_id`) REFERENCES `backup_sets` (`id`) ON DELETE NO ACTION);
-- Create index "restorerun_workspace_id" to table: "restore_runs"
CREATE INDEX `restorerun_workspace_id` ON `restore_runs` (`workspace_id`);
-- Create index "restorerun_environment_id_status" to table: "restore_runs"
CREATE INDEX `restorerun_environment_id_status` ON `restore_runs` (`environment_id`, `status`);
-- Create index "restorerun_active_execution_key" to table: "restore_runs"
CREATE UNIQUE INDEX `restorerun_active_execution_key` ON `restore_runs` (`active_execution_key`);
-- Create index "restorerun_workspace_id_idempotency_key" to table: "restore_runs"
CREATE UNIQUE INDEX `restorerun_workspace_id_idempotency_key` ON `restore_runs` (`workspace_id`, `idempotency_key`);
-- Create "restore_run_items" table
CREATE TABLE `restore_run_items` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workspace_id` text NOT NULL, `backup_item_id` text NOT NULL, `policy_type` text NOT NULL, `platform` text NOT NULL DEFAULT (''), `display_name` text NOT NULL DEFAULT (''), `planned_action` text NULL, `status` text NOT NULL DEFAULT ('PENDING'), `target_graph_id` text NULL, `attempts` integer NOT NULL DEFAULT (0), `error_code` text NULL, `error_message` text NULL, `check_severity` text NULL, `check_results` json NULL, `preview_diff` json NULL, `diff_truncated` bool NOT NULL DEFAULT (false), `verified` bool NOT NULL DEFAULT (false), `drift` json NULL, `run_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `restore_run_items_restore_runs_run` FOREIGN KEY (`run_id`) REFERENCES `restore_runs` (`id`) ON DELETE NO ACTION);
-- Create index "restorerunitem_workspace_id" to table: "restore_run_items"
CREATE INDEX `restorerunitem_workspace_id` ON `restore_run_items` (`workspace_id`);
-- Create index "restorerunitem_run_id_status" to table: "restore_run_items"
CREATE INDEX `restorerunitem_run_id_status` ON `restore_run_items` (`run_id`, `status`);
-- Create index "restorerunitem_run_id_policy_type_platform" to table: "restore_run_items"
CREATE INDEX `restorerunitem_run_id_policy_type_platform` ON `restore_run_items` (`run_id`, `policy_type`, `platform`);
-- Create index "restorerunitem_run_id_backup_item_id" to table: "restore_run_items"
CREATE UNIQUE INDEX `restorerunitem_run_id_backup_item_id` ON `restore_run_items` (`run_id`, `backup_item_id`);
-- Create "users" table
CREATE TABLE `users` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `email` text NOT NULL, `display_name` text NOT NULL DEFAULT (''), PRIMARY KEY (`id`));
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);
-- Create "workspaces" table
CREATE TABLE `workspaces` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `slug` text NOT NULL, `name` text NOT NULL, PRIMARY KEY (`id`));
-- Create index "workspaces_slug_key" to table: "workspaces"
CREATE UNIQUE INDEX `workspaces_slug_key` ON `workspaces` (`slug`);
