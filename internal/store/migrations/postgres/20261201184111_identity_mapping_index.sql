-- Drop index "identitymapping_workspace_id_s_2b9dfc0f72d1c388e65cbcf3620bb2ea" from table: "identity_mappings"
DROP INDEX "identitymapping_workspace_id_s_2b9dfc0f72d1c388e65cbcf3620bb2ea";
-- Create index "identitymapping_workspace_id_s_b65ad4019eaeb761663c15f93dfddaf6" to table: "identity_mappings"
CREATE UNIQUE INDEX "identitymapping_workspace_id_s_b65ad4019eaeb761663c15f93dfddaf6" ON "identity_mappings" ("workspace_id", "source_tenant_id", "target_tenant_id", "policy_type", "source_id");
