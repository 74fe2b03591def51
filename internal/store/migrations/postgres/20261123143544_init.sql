-- Create "users" table
CREATE TABLE "users" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "email" character varying NOT NULL, "display_name" character varying NOT NULL DEFAULT '', PRIMARY KEY ("id"));
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX "users_email_key" ON "users" ("email");
-- Create "audit_logs" table
CREATE TABLE "audit_logs" ("id" character varying NOT NULL, "workspace_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "actor_id" character varying NULL, "actor_label" character varying NOT NULL DEFAULT '', "action" character varying NOT NULL, "object_type" character varying NOT NULL DEFAULT '', "object_id" character varying NOT NULL DEFAULT '', "environment_id" character varying NULL, "metadata" jsonb NULL, PRIMARY KEY ("id"));
-- Create index "auditlog_object_id" to table: "audit_logs"
CREATE INDEX "auditlog_object_id" ON "audit_logs" ("object_id");
-- Create index "auditlog_workspace_id" to table: "audit_logs"
CREATE INDEX "auditlog_workspace_id" ON "audit_logs" ("workspace_id");
-- Create index "auditlog_workspace_id_created_at" to table: "audit_logs"
CREATE INDEX "auditlog_workspace_id_created_at" ON "audit_logs" ("workspace_id", "created_at");
-- Create "operation_runs" table
CREATE TABLE "operation_runs" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "workspace_id" character varying NOT NULL, "environment_id" character varying NULL, "type" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'QUEUED', "outcome" character varying NOT NULL DEFAULT 'PENDING', "dedupe_key" character varying NOT NULL DEFAULT '', "active_key" character varying NULL, "subject_id" character varying NULL, "initiator_id" character varying NULL, "summary" jsonb NULL, "context" jsonb NULL, "error_code" character varying NULL, "error_message" character varying NULL, "attempts" bigint NOT NULL DEFAULT 0, "started_at" timestamptz NULL, "finished_at" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "operationrun_active_key" to table: "operation_runs"
CREATE UNIQUE INDEX "operationrun_active_key" ON "operation_runs" ("active_key");
-- Create index "operationrun_status_updated_at" to table: "operation_runs"
CREATE INDEX "operationrun_status_updated_at" ON "operation_runs" ("status", "updated_at");
-- Create index "operationrun_subject_id" to table: "operation_runs"
CREATE INDEX "operationrun_subject_id" ON "operation_runs" ("subject_id");
-- Create index "operationrun_workspace_id" to table: "operation_runs"
CREATE INDEX "operationrun_workspace_id" ON "operation_runs" ("workspace_id");
-- Create "api_tokens" table
CREATE TABLE "api_tokens" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "workspace_id" character varying NOT NULL, "name" character varying NOT NULL, "role" character varying NOT NULL, "token_hash" character varying NOT NULL, "last_used_at" timestamptz NULL, "expires_at" timestamptz NULL, "revoked_at" timestamptz NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "api_tokens_users_api_tokens" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "api_tokens_token_hash_key" to table: "api_tokens"
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens" ("token_hash");
-- Create index "apitoken_workspace_id" to table: "api_tokens"
CREATE INDEX "apitoken_workspace_id" ON "api_tokens" ("workspace_id");
-- Create "workspaces" table
CREATE TABLE "workspaces" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "slug" character varying NOT NULL, "name" character varying NOT NULL, PRIMARY KEY ("id"));
-- Create index "workspaces_slug_key" to table: "workspaces"
CREATE UNIQUE INDEX "workspaces_slug_key" ON "workspaces" ("slug");
-- Create "environments" table
CREATE TABLE "environments" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "display_name" character varying NOT NULL, "azure_tenant_id" character varying NOT NULL, "kind" character varying NOT NULL, "graph_base_url" character varying NOT NULL, "client_id" character varying NOT NULL DEFAULT '', "client_secret_encrypted" bytea NULL, "credentials_set_at" timestamptz NULL, "write_enabled" boolean NOT NULL DEFAULT false, "granted_permissions" jsonb NULL, "permissions_checked_at" timestamptz NULL, "archived_at" timestamptz NULL, "workspace_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "environments_workspaces_environments" FOREIGN KEY ("workspace_id") REFERENCES "workspaces" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "environment_workspace_id_display_name" to table: "environments"
CREATE UNIQUE INDEX "environment_workspace_id_display_name" ON "environments" ("workspace_id", "display_name");
-- Create "backup_sets" table
CREATE TABLE "backup_sets" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "workspace_id" character varying NOT NULL, "name" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'CAPTURING', "origin" character varying NOT NULL DEFAULT 'MANUAL', "captured_at" timestamptz NULL, "item_count" bigint NOT NULL DEFAULT 0, "counts_by_type" jsonb NULL, "created_by" character varying NULL, "environment_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "backup_sets_environments_environment" FOREIGN KEY ("environment_id") REFERENCES "environments" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "backupset_environment_id_created_at" to table: "backup_sets"
CREATE INDEX "backupset_environment_id_created_at" ON "backup_sets" ("environment_id", "created_at");
-- Create index "backupset_workspace_id" to table: "backup_sets"
CREATE INDEX "backupset_workspace_id" ON "backup_sets" ("workspace_id");
-- Create "backup_items" table
CREATE TABLE "backup_items" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "workspace_id" character varying NOT NULL, "policy_type" character varying NOT NULL, "platform" character varying NOT NULL DEFAULT '', "source_graph_id" character varying NOT NULL, "display_name" character varying NOT NULL DEFAULT '', "payload" jsonb NOT NULL, "assignments" jsonb NULL, "scope_tag_ids" jsonb NULL, "foundation" boolean NOT NULL DEFAULT false, "source_last_modified" timestamptz NULL, "content_hash" character varying NOT NULL, "backup_set_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "backup_items_backup_sets_backup_set" FOREIGN KEY ("backup_set_id") REFERENCES "backup_sets" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "backupitem_backup_set_id_display_name" to table: "backup_items"
CREATE INDEX "backupitem_backup_set_id_display_name" ON "backup_items" ("backup_set_id", "display_name");
-- Create index "backupitem_backup_set_id_policy_type_platform" to table: "backup_items"
CREATE INDEX "backupitem_backup_set_id_policy_type_platform" ON "backup_items" ("backup_set_id", "policy_type", "platform");
-- Create index "backupitem_workspace_id" to table: "backup_items"
CREATE INDEX "backupitem_workspace_id" ON "backup_items" ("workspace_id");
-- Create "intune_policies" table
CREATE TABLE "intune_policies" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "workspace_id" character varying NOT NULL, "policy_type" character varying NOT NULL, "platform" character varying NOT NULL DEFAULT '', "graph_id" character varying NOT NULL, "odata_type" character varying NOT NULL DEFAULT '', "display_name" character varying NOT NULL DEFAULT '', "source_last_modified" timestamptz NULL, "synced_at" timestamptz NOT NULL, "missing_since" timestamptz NULL, "environment_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "intune_policies_environments_environment" FOREIGN KEY ("environment_id") REFERENCES "environments" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "intunepolicy_environment_id_display_name" to table: "intune_policies"
CREATE INDEX "intunepolicy_environment_id_display_name" ON "intune_policies" ("environment_id", "display_name");
-- Create index "intunepolicy_environment_id_policy_type_graph_id" to table: "intune_policies"
CREATE UNIQUE INDEX "intunepolicy_environment_id_policy_type_graph_id" ON "intune_policies" ("environment_id", "policy_type", "graph_id");
-- Create index "intunepolicy_environment_id_policy_type_platform" to table: "intune_policies"
CREATE INDEX "intunepolicy_environment_id_policy_type_platform" ON "intune_policies" ("environment_id", "policy_type", "platform");
-- Create index "intunepolicy_workspace_id" to table: "intune_policies"
CREATE INDEX "intunepolicy_workspace_id" ON "intune_policies" ("workspace_id");
-- Create "memberships" table
CREATE TABLE "memberships" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "role" character varying NOT NULL, "user_id" character varying NOT NULL, "workspace_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "memberships_users_memberships" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "memberships_workspaces_memberships" FOREIGN KEY ("workspace_id") REFERENCES "workspaces" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "membership_workspace_id_user_id" to table: "memberships"
CREATE UNIQUE INDEX "membership_workspace_id_user_id" ON "memberships" ("workspace_id", "user_id");
-- Create "notifications" table
CREATE TABLE "notifications" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "workspace_id" character varying NOT NULL, "kind" character varying NOT NULL, "title" character varying NOT NULL, "body" character varying NOT NULL DEFAULT '', "subject_id" character varying NULL, "read_at" timestamptz NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "notifications_users_notifications" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "notification_user_id_workspace_id_created_at" to table: "notifications"
CREATE INDEX "notification_user_id_workspace_id_created_at" ON "notifications" ("user_id", "workspace_id", "created_at");
-- Create index "notification_workspace_id" to table: "notifications"
CREATE INDEX "notification_workspace_id" ON "notifications" ("workspace_id");
-- Create "policy_versions" table
CREATE TABLE "policy_versions" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "workspace_id" character varying NOT NULL, "version" bigint NOT NULL, "payload" jsonb NOT NULL, "assignments" jsonb NULL, "scope_tag_ids" jsonb NULL, "content_hash" character varying NOT NULL, "source_last_modified" timestamptz NULL, "captured_at" timestamptz NOT NULL, "captured_by" character varying NULL, "policy_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "policy_versions_intune_policies_policy" FOREIGN KEY ("policy_id") REFERENCES "intune_policies" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "policyversion_policy_id_version" to table: "policy_versions"
CREATE UNIQUE INDEX "policyversion_policy_id_version" ON "policy_versions" ("policy_id", "version");
-- Create index "policyversion_workspace_id" to table: "policy_versions"
CREATE INDEX "policyversion_workspace_id" ON "policy_versions" ("workspace_id");
-- Create "restore_runs" table
CREATE TABLE "restore_runs" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "workspace_id" character varying NOT NULL, "initiator_id" character varying NULL, "status" character varying NOT NULL DEFAULT 'DRAFT', "scope_mode" character varying NOT NULL DEFAULT 'ALL', "selected_item_ids" jsonb NULL, "group_mapping" jsonb NULL, "scope_tag_mapping" jsonb NULL, "create_missing" boolean NOT NULL DEFAULT false, "dry_run" boolean NOT NULL DEFAULT true, "environment_badge" character varying NOT NULL, "tenant_label" character varying NOT NULL, "scope_fingerprint" character varying NOT NULL DEFAULT '', "check_summary" jsonb NULL, "check_results" jsonb NULL, "check_fingerprint" character varying NOT NULL DEFAULT '', "checked_at" timestamptz NULL, "preview_summary" jsonb NULL, "preview_fingerprint" character varying NOT NULL DEFAULT '', "previewed_at" timestamptz NULL, "acknowledged" boolean NOT NULL DEFAULT false, "confirmed_by" character varying NULL, "confirmed_at" timestamptz NULL, "idempotency_key" character varying NULL, "active_execution_key" character varying NULL, "started_at" timestamptz NULL, "finished_at" timestamptz NULL, "counts" jsonb NULL, "deleted_at" timestamptz NULL, "environment_id" character varying NOT NULL, "backup_set_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "restore_runs_backup_sets_backup_set" FOREIGN KEY ("backup_set_id") REFERENCES "backup_sets" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "restore_runs_environments_environment" FOREIGN KEY ("environment_id") REFERENCES "environments" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "restorerun_active_execution_key" to table: "restore_runs"
CREATE UNIQUE INDEX "restorerun_active_execution_key" ON "restore_runs" ("active_execution_key");
-- Create index "restorerun_environment_id_status" to table: "restore_runs"
CREATE INDEX "restorerun_environment_id_status" ON "restore_runs" ("environment_id", "status");
-- Create index "restorerun_workspace_id" to table: "restore_runs"
CREATE INDEX "restorerun_workspace_id" ON "restore_runs" ("workspace_id");
-- Create index "restorerun_workspace_id_idempotency_key" to table: "restore_runs"
CREATE UNIQUE INDEX "restorerun_workspace_id_idempotency_key" ON "restore_runs" ("workspace_id", "idempotency_key");
-- Create "restore_run_items" table
CREATE TABLE "restore_run_items" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "workspace_id" character varying NOT NULL, "backup_item_id" character varying NOT NULL, "policy_type" character varying NOT NULL, "platform" character varying NOT NULL DEFAULT '', "display_name" character varying NOT NULL DEFAULT '', "planned_action" character varying NULL, "status" character varying NOT NULL DEFAULT 'PENDING', "target_graph_id" character varying NULL, "attempts" bigint NOT NULL DEFAULT 0, "error_code" character varying NULL, "error_message" character varying NULL, "check_severity" character varying NULL, "check_results" jsonb NULL, "preview_diff" jsonb NULL, "diff_truncated" boolean NOT NULL DEFAULT false, "verified" boolean NOT NULL DEFAULT false, "drift" jsonb NULL, "run_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "restore_run_items_restore_runs_run" FOREIGN KEY ("run_id") REFERENCES "restore_runs" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "restorerunitem_run_id_backup_item_id" to table: "restore_run_items"
CREATE UNIQUE INDEX "restorerunitem_run_id_backup_item_id" ON "restore_run_items" ("run_id", "backup_item_id");
-- Create index "restorerunitem_run_id_policy_type_platform" to table: "restore_run_items"
CREATE INDEX "restorerunitem_run_id_policy_type_platform" ON "restore_run_items" ("run_id", "policy_type", "platform");
-- Create index "restorerunitem_run_id_status" to table: "restore_run_items"
CREATE INDEX "restorerunitem_run_id_status" ON "restore_run_items" ("run_id", "status");
-- Create index "restorerunitem_workspace_id" to table: "restore_run_items"
CREATE INDEX "restorerunitem_workspace_id" ON "restore_run_items" ("workspace_id");
