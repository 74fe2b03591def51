-- Modify "restore_run_items" table
ALTER TABLE "restore_run_items" ADD COLUMN "preview_action" character varying NULL;
-- Modify "restore_runs" table
ALTER TABLE "restore_runs" ADD COLUMN "cancel_requested" boolean NOT NULL DEFAULT false;
