-- Modify "backup_items" table
ALTER TABLE "backup_items" ADD COLUMN "absent" boolean NOT NULL DEFAULT false;
