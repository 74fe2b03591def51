// Package results defines, once, the shapes of what the jobs record and the
// API shows: safety check results and their summary, the preview summary and
// per-item diffs, item counts and operation-run summaries. ent stores them as
// typed JSON columns and gqlgen binds them to the schema's objects, so a
// renamed key is a compile error rather than a silent zero.
//
// The JSON keys are the ones rows were written with before these types
// existed: changing one needs a data migration.
//
// It imports nothing of restored (ent/schema imports it).
package results

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Severity of a check result: BLOCKING, WARNING or SAFE.
type Severity string

// Severities of check results.
const (
	SeverityBlocking Severity = "BLOCKING"
	SeverityWarning  Severity = "WARNING"
	SeveritySafe     Severity = "SAFE"
)

// Check is one safety check result, on a run (run-level: permissions,
// reachability, writes enabled) or on one of its items.
type Check struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Technical blockers concern the whole run, whatever its scope.
	Technical bool `json:"technical,omitempty"`
}

// CheckSummary counts a run's check results: the run-level results by
// severity, plus each item by its worst severity.
type CheckSummary struct {
	Blocking int `json:"blocking"`
	Warning  int `json:"warning"`
	Safe     int `json:"safe"`
	Items    int `json:"items"`
}

// Add counts one result (or item) of severity sev; an unknown severity
// counts as safe, as worstSeverity judges it.
func (s *CheckSummary) Add(sev Severity) {
	switch sev {
	case SeverityBlocking:
		s.Blocking++
	case SeverityWarning:
		s.Warning++
	default:
		s.Safe++
	}
}

// Operation is the summary recorded on the checks job's operation run.
func (s CheckSummary) Operation() OperationSummary {
	return OperationSummary{Blocking: s.Blocking, Warning: s.Warning, Safe: s.Safe, Items: s.Items}
}

// PreviewSummary counts a run's preview by what execution would do.
type PreviewSummary struct {
	// Message is decision-first: "No policy changes detected." rather than zeros.
	Message         string `json:"message"`
	Items           int    `json:"items"`
	PoliciesChanged int    `json:"policiesChanged"`
	PoliciesCreated int    `json:"policiesCreated"`
	// PoliciesDeleted are objects an undo deletes (the undone run created
	// them). Left out when 0: rows written before it decode the same.
	PoliciesDeleted    int `json:"policiesDeleted,omitempty"`
	PoliciesUnchanged  int `json:"policiesUnchanged"`
	PreviewOnly        int `json:"previewOnly"`
	Skipped            int `json:"skipped"`
	AssignmentsChanged int `json:"assignmentsChanged"`
	ScopeTagsChanged   int `json:"scopeTagsChanged"`
	// Failed items could not be read from the target and were not compared.
	Failed int `json:"failed"`
}

// Operation is the summary recorded on the preview job's operation run.
func (s PreviewSummary) Operation() OperationSummary {
	return OperationSummary{Items: s.Items, PoliciesChanged: s.PoliciesChanged, PoliciesCreated: s.PoliciesCreated,
		PoliciesDeleted: s.PoliciesDeleted, PoliciesUnchanged: s.PoliciesUnchanged, PreviewOnly: s.PreviewOnly, Skipped: s.Skipped,
		AssignmentsChanged: s.AssignmentsChanged, ScopeTagsChanged: s.ScopeTagsChanged, Failed: s.Failed}
}

// Change is one difference between the target's current state and what the
// restore would write, at a JSON path. Before and After are Microsoft's own
// JSON values.
type Change struct {
	Path   string `json:"path"`
	Op     string `json:"op"` // added, removed or changed
	Before any    `json:"before,omitempty"`
	After  any    `json:"after,omitempty"`
}

// AssignmentChanges are the assignments (Microsoft's own JSON, groups
// mapped) a restore adds to, removes from and changes on the target.
type AssignmentChanges struct {
	Added   []map[string]any `json:"added"`
	Removed []map[string]any `json:"removed"`
	// Changed are the differences of assignments on both sides (same
	// target), at paths assignments[<target>].<property>.
	Changed []Change `json:"changed,omitempty"`
}

// ScopeTagChanges are the scope tag ids (mapped) a restore adds to and
// removes from the target.
type ScopeTagChanges struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
}

// Diff compares one item's target with what the restore writes: the
// preview's diff before execution, the drift found by verification after it.
// An item that could not be compared has only Note or Error.
type Diff struct {
	Settings    []Change           `json:"settings,omitempty"`
	Assignments *AssignmentChanges `json:"assignments,omitempty"`
	ScopeTags   *ScopeTagChanges   `json:"scopeTags,omitempty"`
	// PreviewOnlyReason says why the item is never executed.
	PreviewOnlyReason string `json:"previewOnlyReason,omitempty"`
	// Note says why the item was not compared (unsupported, skipped), or
	// what the comparison leaves out (certificate links, which restore does
	// not carry).
	Note string `json:"note,omitempty"`
	// Error says, safely, why the target could not be read.
	Error string `json:"error,omitempty"`
}

// ItemCounts counts a run's items by status. The keys are the item statuses
// (restorerunitem.Status), as they were in the untyped map.
type ItemCounts struct {
	Pending   int `json:"PENDING"`
	Applying  int `json:"APPLYING"`
	Succeeded int `json:"SUCCEEDED"`
	Failed    int `json:"FAILED"`
	Skipped   int `json:"SKIPPED"`
	Total     int `json:"total"`
}

// Add counts n items of status (an item status name); Total counts them all.
func (c *ItemCounts) Add(status string, n int) {
	switch status {
	case "PENDING":
		c.Pending += n
	case "APPLYING":
		c.Applying += n
	case "SUCCEEDED":
		c.Succeeded += n
	case "FAILED":
		c.Failed += n
	case "SKIPPED":
		c.Skipped += n
	}
	c.Total += n
}

// TypeCounts counts a backup set's items by policy type key.
type TypeCounts map[string]int

// TypeCount is one entry of TypeCounts.
type TypeCount struct {
	PolicyType string
	Count      int
}

// Sorted lists the counts by policy type.
func (c TypeCounts) Sorted() []TypeCount {
	out := make([]TypeCount, 0, len(c))
	for k, n := range c {
		out = append(out, TypeCount{PolicyType: k, Count: n})
	}
	slices.SortFunc(out, func(a, b TypeCount) int { return strings.Compare(a.PolicyType, b.PolicyType) })
	return out
}

// OperationSummary holds the flat numeric counts of an operation run. Each
// job type fills its own fields; the others stay zero and are not stored.
type OperationSummary struct {
	// inventory.sync
	Types       int `json:"types,omitempty"`
	TypesFailed int `json:"typesFailed,omitempty"`
	Objects     int `json:"objects,omitempty"`
	// backup_set.capture and policy.capture_snapshot
	Total     int `json:"total,omitempty"`
	Captured  int `json:"captured,omitempty"`
	Unchanged int `json:"unchanged,omitempty"`
	Version   int `json:"version,omitempty"`
	// environment.verify
	Granted         int `json:"granted,omitempty"`
	MissingForRead  int `json:"missingForRead,omitempty"`
	MissingForWrite int `json:"missingForWrite,omitempty"`
	// restore.checks
	Checked  int `json:"checked,omitempty"`
	Blocking int `json:"blocking,omitempty"`
	Warning  int `json:"warning,omitempty"`
	Safe     int `json:"safe,omitempty"`
	// restore.preview
	Previewed          int `json:"previewed,omitempty"`
	PoliciesChanged    int `json:"policiesChanged,omitempty"`
	PoliciesCreated    int `json:"policiesCreated,omitempty"`
	PoliciesDeleted    int `json:"policiesDeleted,omitempty"`
	PoliciesUnchanged  int `json:"policiesUnchanged,omitempty"`
	PreviewOnly        int `json:"previewOnly,omitempty"`
	AssignmentsChanged int `json:"assignmentsChanged,omitempty"`
	ScopeTagsChanged   int `json:"scopeTagsChanged,omitempty"`
	// shared
	// GraphRequests counts the Microsoft Graph requests the job sent
	// (attempts, retries included): what it cost against the tenant's limits.
	GraphRequests int `json:"graphRequests,omitempty"`
	Items         int `json:"items,omitempty"`
	Skipped       int `json:"skipped,omitempty"`
	Failed        int `json:"failed,omitempty"`
}

// Merge returns s with every count o sets (non-zero) replacing s's: a job's
// final counts over its last progress, which an end without counts (a
// failure, a stale job) keeps.
func (s OperationSummary) Merge(o OperationSummary) OperationSummary {
	// The omitempty tags make o's JSON exactly its non-zero counts, and
	// decoding that over s replaces only those: one rule, no field list to
	// keep in step with the struct.
	b, err := json.Marshal(o)
	if err != nil {
		panic(err) // ints only: cannot fail
	}
	if err := json.Unmarshal(b, &s); err != nil {
		panic(err)
	}
	return s
}

// OperationContext is what an operation run records besides its counts: why
// it ended as it did (reason codes and safe failures), what it was asked to
// do (a capture's selection), and what it produced or was pinned to. Each
// job type fills its own fields; the others stay empty and are not stored.
type OperationContext struct {
	// Why: machine-readable reasons for the outcome, and safe failure
	// details (never a payload, token or raw Graph message).
	ReasonCodes []string  `json:"reasonCodes,omitempty"`
	Failures    []Failure `json:"failures,omitempty"`
	// backup_set.capture: the selection it captures.
	All                bool     `json:"all,omitempty"`
	IncludeFoundations bool     `json:"includeFoundations,omitempty"`
	PolicyIDs          []string `json:"policyIds,omitempty"`
	// restore.checks and restore.preview: the scope they run for.
	ScopeFingerprint string `json:"scopeFingerprint,omitempty"`
	// policy.capture_snapshot: the version it made or found unchanged.
	PolicyVersionID string `json:"policyVersionId,omitempty"`
	// environment.verify: the permission report in plain words.
	PermissionSummary string   `json:"summary,omitempty"`
	MissingForRead    []string `json:"missingForRead,omitempty"`
	MissingForWrite   []string `json:"missingForWrite,omitempty"`
	// Set when a worker shutdown handed the run back to the queue.
	LastInterruption string `json:"lastInterruption,omitempty"`
	// What a running job is doing or waiting for, in plain words (e.g. a
	// tenant that does not answer); cleared when it ends.
	StatusMessage string `json:"statusMessage,omitempty"`
	// Set by the reconciler when it acted on the run: what it did and why.
	Reconciliation *Reconciliation `json:"reconciliation,omitempty"`
}

// Reconciliation is the reconciler's last decision about a run: the action
// (requeued, handed_back, failed, outcome_set), the machine-readable reasons
// and when. The keys are stored: renaming one needs a data migration.
type Reconciliation struct {
	Action      string    `json:"action"`
	ReasonCodes []string  `json:"reasonCodes"`
	At          time.Time `json:"at"`
	// Count is how many times the reconciler acted on the run.
	Count int `json:"count"`
}

// Failure is one object a job could not handle, with a short safe code.
type Failure struct {
	PolicyType string `json:"policyType"`
	GraphID    string `json:"graphId"`
	Code       string `json:"code"`
}

// Merge returns c with every non-empty field of o laid over it.
func (c OperationContext) Merge(o OperationContext) OperationContext {
	if o.ReasonCodes != nil {
		c.ReasonCodes = o.ReasonCodes
	}
	if o.Failures != nil {
		c.Failures = o.Failures
	}
	c.All = c.All || o.All
	c.IncludeFoundations = c.IncludeFoundations || o.IncludeFoundations
	if o.PolicyIDs != nil {
		c.PolicyIDs = o.PolicyIDs
	}
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&c.ScopeFingerprint, o.ScopeFingerprint}, {&c.PolicyVersionID, o.PolicyVersionID},
		{&c.PermissionSummary, o.PermissionSummary}, {&c.LastInterruption, o.LastInterruption},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	if o.MissingForRead != nil {
		c.MissingForRead = o.MissingForRead
	}
	if o.MissingForWrite != nil {
		c.MissingForWrite = o.MissingForWrite
	}
	if o.Reconciliation != nil {
		c.Reconciliation = o.Reconciliation
	}
	return c
}
