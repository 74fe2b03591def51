// Package graphsim simulates the parts of Microsoft Graph that restored
// talks to, for many tenants at once: the Intune collections of the catalog
// (package intune), groups, JSON batching, the Entra ID token endpoint and
// Graph's failure modes (throttling, 503s, latency, injected write errors).
//
// It exists so that capture, preview and restore can run end to end (in
// tests and in `restored serve --dev`) against something that behaves like
// Graph, including the parts that hurt in production: paging, read-only
// properties, @odata.type families, per-tenant throttling with Retry-After,
// and script content that only a GET by id returns. It is generic over the
// catalog: a type added to intune.Types() is served without changes here
// (fields.go only adds what Graph sets on its own for known types).
//
// # URLs
//
// One server serves every tenant:
//
//	/t/{tenant}/beta/...                              Graph: every catalog type, groups, $batch
//	/t/{tenant}/v1.0/...                              Graph v1.0: groups and $batch only (Intune is beta)
//	/{tenant}/oauth2/v2.0/token                       client-credentials token endpoint
//	/{tenant}/v2.0/.well-known/openid-configuration   OpenID metadata (read by azidentity/MSAL)
//
// An environment's Graph base URL is BaseURL(serverURL, tenant); its
// authority host is serverURL + "/" (with DisableInstanceDiscovery, over
// TLS: see NewTLS and ListenTLS). Tenants exist once Server.Tenant created
// them; requests never create one.
//
// # Graph behaviour
//
// For each catalog type's collection:
//
//   - GET pages at Options.PageSize (100) or $top (at most 999) with an
//     absolute @odata.nextLink carrying an opaque $skiptoken; pages stay
//     stable while objects are created or deleted. $filter supports eq, ne,
//     gt, ge, lt, le, in, startswith, endswith, contains, and, or, not
//     (string comparisons ignore case; a quote inside a string is doubled;
//     on groups an "in" takes at most 15 values, as Entra ID); $select
//     always keeps id and @odata.type; $expand takes the type's relations
//     and "assignments" (nested options such as "($expand=...)" are
//     accepted and the items are returned whole); $count=true adds
//     @odata.count. Lists of GetEach types omit script content.
//   - POST requires an @odata.type of the type's family and the name
//     property ("name" for settings catalog policies, "displayName"
//     otherwise), refuses "assignments", post-each relations and scope tag
//     ids the tenant lacks, and answers 201 with the object (without
//     relations). Properties Graph sets itself (the catalog's read-only
//     list: ids, timestamps, version counters, computed fields such as
//     settingCount or isAssigned) are accepted and ignored, as Graph does
//     with Microsoft's own documented create bodies; client-set properties
//     (a remediation script's version, creationSource, priorityMetaData,
//     policyConfigurationIngestionType, deviceHealthScriptType) are stored.
//     Inline relations are stored with new item ids, and so are their
//     nested collections (scheduled action configurations, presentation
//     values). Objects without scope tags get Default ("0").
//   - Every @odata.type in a body may be written with or without its
//     leading "#" (Microsoft's examples send nested values without it); it
//     is stored and returned with it. Literals of the primitive types the
//     Graph reference declares (Edm.Date, Edm.DateTimeOffset, Edm.Guid,
//     enums and flags enums; see primitives.go) are checked: a wrong one is
//     Graph's 400 BadRequest "Cannot convert the literal".
//   - PATCH merges top-level properties (204); relations cannot be patched.
//     PUT, only for types whose UpdateMethod is PUT, replaces the object and
//     its inline relations. Both bump version and lastModifiedDateTime where
//     the type has them, and refuse an id naming another object. DELETE
//     answers 204. Built-in objects refuse PATCH and DELETE.
//   - {id}/assign (AssignPost types; also {id}/microsoft.graph.assign)
//     replaces every assignment and answers 200 {"value": [...]}, or 204 No
//     Content for the types whose documented assign returns None (scripts,
//     remediations, enrollment configurations, app protection policies);
//     {id}/assignments supports GET and POST (201), {id}/assignments/{aid}
//     GET and DELETE. Assignments must use a known target type
//     (group, exclusionGroup, allDevices, allLicensedUsers,
//     configurationManagerCollection with its collectionId), target a group
//     the tenant has (AddGroup) and a filter it has.
//   - {id}/{relation} lists a relation; every relation also takes POST of
//     one item (201: configurationPolicies/{id}/settings,
//     deviceCompliancePolicies/{id}/scheduledActionsForRule, ...), and PATCH
//     and DELETE on {id}/{relation}/{itemId} (204). "x@odata.bind"
//     references become {"x": {"id": ...}}.
//   - deviceManagement/groupPolicyCategories (GET only, $filter, $select,
//     $expand=definitions) holds the categories of ADMX files a tenant
//     imported (Tenant.AddCustomADMXCategory; ingestionSource "custom"),
//     whose definitions (policyType "admxIngested") and presentations have
//     ids of that tenant only; built-in definition ids are accepted in any
//     binding, as they are the same in every tenant.
//   - Actions (204 No Content): deviceCompliancePolicies/{id}/scheduleActionsForRules
//     replaces the scheduled actions; groupPolicyConfigurations/{id}/updateDefinitionValues
//     adds, updates and deletes definition values all or nothing.
//
// Errors are Graph's JSON ({"error": {"code", "message", "innerError"}});
// every response has request-id and client-request-id headers. Each tenant
// throttles like Intune (see Faults) and logs its writes (Tenant.Writes).
package graphsim
