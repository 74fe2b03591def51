package environments

import (
	"fmt"
	"slices"
	"strings"
)

// requirement is one application permission a capability area needs, and
// the granted permissions that satisfy it (the permission itself and its
// supersets: ReadWrite includes Read).
type requirement struct {
	name        string
	satisfiedBy []string
}

// readRequirements are what inventory sync and capture need: reading every
// Intune object type of the catalog (configuration, service configuration
// such as enrollment and scope tags' RBAC, apps) and the groups assignments
// point to.
var readRequirements = []requirement{
	{"DeviceManagementConfiguration.Read.All", []string{"DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All"}},
	{"DeviceManagementServiceConfig.Read.All", []string{"DeviceManagementServiceConfig.Read.All", "DeviceManagementServiceConfig.ReadWrite.All"}},
	{"DeviceManagementRBAC.Read.All", []string{"DeviceManagementRBAC.Read.All", "DeviceManagementRBAC.ReadWrite.All"}},
	{"DeviceManagementApps.Read.All", []string{"DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All"}},
	groupRead,
}

// writeRequirements are what restore needs: writing the same object types.
// Groups are only read (to map assignments), never written.
var writeRequirements = []requirement{
	{"DeviceManagementConfiguration.ReadWrite.All", []string{"DeviceManagementConfiguration.ReadWrite.All"}},
	{"DeviceManagementServiceConfig.ReadWrite.All", []string{"DeviceManagementServiceConfig.ReadWrite.All"}},
	{"DeviceManagementRBAC.ReadWrite.All", []string{"DeviceManagementRBAC.ReadWrite.All"}},
	{"DeviceManagementApps.ReadWrite.All", []string{"DeviceManagementApps.ReadWrite.All"}},
	groupRead,
}

// groupRead is satisfied by Group.Read.All and by the broader permissions
// that include reading groups.
var groupRead = requirement{"Group.Read.All", []string{"Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}}

// Report says in plain words what an environment's granted application
// permissions allow: inventory and capture need the read permissions,
// restore the write permissions.
type Report struct {
	// MissingForRead lists the permissions to grant for complete inventory
	// and capture, in a fixed order; empty when none is missing.
	MissingForRead []string
	// MissingForWrite lists the permissions to grant before restoring.
	MissingForWrite []string
	// CanRead is true when inventory and capture see everything.
	CanRead bool
	// CanWrite is true when restore may write.
	CanWrite bool
	// Summary is one or two sentences for a person, e.g. "Inventory may be
	// partial: missing DeviceManagementApps.Read.All. Restore is blocked:
	// missing DeviceManagementConfiguration.ReadWrite.All."
	Summary string
}

// PermissionReport reports which required application permissions granted
// lacks, for reads (inventory and capture) and writes (restore). Names are
// compared case-insensitively, as Entra ID treats them. It judges the list
// it is given: for an environment never checked (permissions_checked_at
// unset) callers should say "not verified yet" rather than "blocked".
func PermissionReport(granted []string) Report {
	have := make(map[string]bool, len(granted))
	for _, g := range granted {
		have[strings.ToLower(strings.TrimSpace(g))] = true
	}
	missing := func(reqs []requirement) []string {
		var out []string
		for _, r := range reqs {
			if !slices.ContainsFunc(r.satisfiedBy, func(p string) bool { return have[strings.ToLower(p)] }) {
				out = append(out, r.name)
			}
		}
		return out
	}
	r := Report{MissingForRead: missing(readRequirements), MissingForWrite: missing(writeRequirements)}
	r.CanRead = len(r.MissingForRead) == 0
	r.CanWrite = len(r.MissingForWrite) == 0
	r.Summary = summary(r)
	return r
}

// summary words a report decision-first: what works, what does not, and
// exactly which permissions to grant.
func summary(r Report) string {
	switch {
	case r.CanRead && r.CanWrite:
		return "All permissions for inventory, capture and restore are granted."
	case r.CanRead:
		return fmt.Sprintf("Inventory and capture have every permission they need. Restore is blocked: missing %s.", strings.Join(r.MissingForWrite, ", "))
	}
	// Without any read permission nothing can be read at all; with some,
	// the object types (or the groups) behind the missing ones are absent.
	read := "Inventory and capture may be partial"
	if len(r.MissingForRead) == len(readRequirements) {
		read = "Inventory and capture are blocked"
	}
	s := fmt.Sprintf("%s: missing %s.", read, strings.Join(r.MissingForRead, ", "))
	if !r.CanWrite {
		s += fmt.Sprintf(" Restore is blocked: missing %s.", strings.Join(r.MissingForWrite, ", "))
	}
	return s
}
