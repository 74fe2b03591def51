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
//     gt, ge, lt, le, startswith, endswith, contains, and, or, not (string
//     comparisons ignore case; a quote inside a string is doubled); $select
//     always keeps id and @odata.type; $expand takes the type's relations
//     and "assignments" (nested options such as "($expand=...)" are
//     accepted and the items are returned whole); $count=true adds
//     @odata.count. Lists of GetEach types omit script content.
//   - POST requires an @odata.type of the type's family and the name
//     property ("name" for settings catalog policies, "displayName"
//     otherwise), refuses read-only properties, "assignments", post-each
//     relations and scope tag ids the tenant lacks, and answers 201 with the
//     object (without relations). Inline relations are stored with new item
//     ids. Objects without scope tags get Default ("0").
//   - PATCH merges top-level properties (204); relations cannot be patched.
//     PUT, only for types whose UpdateMethod is PUT, replaces the object and
//     its inline relations. Both bump version and lastModifiedDateTime where
//     the type has them. Built-in objects refuse PATCH and DELETE.
//   - {id}/assign (AssignPost types) replaces every assignment and answers
//     200 {"value": [...]}; {id}/assignments supports GET and POST (201),
//     {id}/assignments/{aid} GET and DELETE. Assignments must target a
//     group the tenant has (AddGroup) and a filter it has.
//   - {id}/{relation} lists a relation; post-each relations also take POST,
//     and PATCH and DELETE on {id}/{relation}/{itemId}. "x@odata.bind"
//     references become {"x": {"id": ...}}.
//
// Errors are Graph's JSON ({"error": {"code", "message", "innerError"}});
// every response has request-id and client-request-id headers. Each tenant
// throttles like Intune (see Faults) and logs its writes (Tenant.Writes).
package graphsim
