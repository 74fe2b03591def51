-- Drop index "identitymapping_workspace_id_so_b65ad4019eaeb761663c15f93dfddaf6" from table: "identity_mappings"
DROP INDEX `identitymapping_workspace_id_so_b65ad4019eaeb761663c15f93dfddaf6`;
-- Create index "identitymapping_source_object" to table: "identity_mappings"
CREATE UNIQUE INDEX `identitymapping_source_object` ON `identity_mappings` (`workspace_id`, `source_tenant_id`, `target_tenant_id`, `policy_type`, `source_id`);
