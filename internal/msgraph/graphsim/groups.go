package graphsim

import "net/http"

// maxOrClauses is the most "or" clauses (values of an "in") Entra ID takes
// in a directory query's $filter.
const maxOrClauses = 15

// serveGroups serves the read side of Entra ID groups (GET /groups with
// $filter/$select/$top, GET /groups/{id}) on both versions: what a restore
// needs to resolve and map assignment targets. Groups are created with
// Tenant.AddGroup; the simulator does not model group writes.
func (t *Tenant) serveGroups(c *call, rest []string) reply {
	if c.method != http.MethodGet {
		return methodNotAllowed(c.method).reply()
	}
	q, err := parseQuery(c.query, nil)
	if err != nil {
		return err.reply()
	}
	// Entra ID counts each value of an "in" as an "or" clause and takes at
	// most 15 (its error names the count): a client asks in chunks.
	if q.orClauses > maxOrClauses {
		return errReply(http.StatusBadRequest, "Request_UnsupportedQuery",
			"Too many child clauses specified in search filter expression containing 'OR' operators: "+itoa(q.orClauses)+". Max allowed: "+itoa(maxOrClauses)+".")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	renderGroup := func(o *object) map[string]any {
		m := deepCopy(o.props).(map[string]any)
		applySelect(m, q.selects)
		return m
	}
	switch len(rest) {
	case 0:
		return reply{status: http.StatusOK, body: page(c, t.groups.list, q, t.s.pageSize, renderGroup)}
	case 1:
		o, ok := t.groups.byID[rest[0]]
		if !ok {
			// Directory objects use the directory's error code, not Intune's.
			return errReply(http.StatusNotFound, "Request_ResourceNotFound",
				"Resource '"+rest[0]+"' does not exist or one of its queried reference-property objects are not present.")
		}
		m := renderGroup(o)
		m["@odata.context"] = c.root + "/$metadata#groups/$entity"
		return reply{status: http.StatusOK, body: m}
	}
	return segmentNotFound(rest[1]).reply()
}
