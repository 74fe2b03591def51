-- Modify "backup_sets" table
ALTER TABLE "backup_sets" ADD COLUMN "items_version" bigint NOT NULL DEFAULT 0;
