-- Modify "restore_runs" table
ALTER TABLE "restore_runs" ADD COLUMN "confirmed_fingerprint" character varying NOT NULL DEFAULT '';
