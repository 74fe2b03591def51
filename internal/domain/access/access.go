// Package access defines roles and the capabilities they grant. It is pure data
// (no storage, no transport) so the schema, the auth layer and the domain
// services all read the same table.
package access

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Role is a member's (or an API token's) role in a workspace.
type Role string

// The roles, from most to least privileged.
const (
	Owner    Role = "OWNER"
	Operator Role = "OPERATOR"
	Auditor  Role = "AUDITOR"
)

// Values lists every role; ent uses it for the enum column.
func (Role) Values() []string { return []string{string(Owner), string(Operator), string(Auditor)} }

// ParseRole accepts a role name in any case ("owner", "OWNER").
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToUpper(strings.TrimSpace(s)))
	if !slices.Contains(r.Values(), string(r)) {
		return "", fmt.Errorf("unknown role %q: want owner, operator or auditor", s)
	}
	return r, nil
}

// Capability is one thing a role may do.
type Capability string

// The capabilities of DESIGN.md, plus workspace.manage for owner-only
// administration (environments, members, tokens).
const (
	BackupCapture   Capability = "backup.capture"
	RestorePrepare  Capability = "restore.prepare"
	RestoreExecute  Capability = "restore.execute"
	RunsView        Capability = "runs.view"
	AuditView       Capability = "audit.view"
	WorkspaceManage Capability = "workspace.manage"
)

// grants is the whole authorization policy. Execution is owner-only: an
// operator prepares a restore, an owner pulls the trigger.
var grants = map[Role][]Capability{
	Owner:    {BackupCapture, RestorePrepare, RestoreExecute, RunsView, AuditView, WorkspaceManage},
	Operator: {BackupCapture, RestorePrepare, RunsView},
	Auditor:  {RunsView, AuditView},
}

// Capabilities returns what r may do.
func (r Role) Capabilities() []Capability { return slices.Clone(grants[r]) }

// Can reports whether r grants c.
func (r Role) Can(c Capability) bool { return slices.Contains(grants[r], c) }

// MarshalGQL writes the role as a GraphQL enum value.
func (r Role) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(r))) }

// UnmarshalGQL reads a GraphQL enum value.
func (r *Role) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("role must be a string")
	}
	p, err := ParseRole(s)
	if err != nil {
		return err
	}
	*r = p
	return nil
}
