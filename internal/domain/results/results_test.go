package results_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/domain/results"
)

func TestOperationSummaryMerge(t *testing.T) {
	tests := []struct {
		name        string
		stored, add results.OperationSummary
		want        results.OperationSummary
	}{
		{"into empty", results.OperationSummary{}, results.OperationSummary{Total: 3, Captured: 1},
			results.OperationSummary{Total: 3, Captured: 1}},
		{"a count given replaces, others stay", results.OperationSummary{Total: 3, Captured: 1, Failed: 1},
			results.OperationSummary{Captured: 2}, results.OperationSummary{Total: 3, Captured: 2, Failed: 1}},
		{"nothing given", results.OperationSummary{Checked: 200}, results.OperationSummary{},
			results.OperationSummary{Checked: 200}},
		{"every field merges", results.OperationSummary{},
			results.OperationSummary{Types: 1, TypesFailed: 2, Objects: 3, Total: 4, Captured: 5, Unchanged: 6, Version: 7,
				Granted: 8, MissingForRead: 9, MissingForWrite: 10, Checked: 11, Blocking: 12, Warning: 13, Safe: 14,
				Previewed: 15, PoliciesChanged: 16, PoliciesCreated: 17, PoliciesUnchanged: 18, PreviewOnly: 19,
				AssignmentsChanged: 20, ScopeTagsChanged: 21, Items: 22, Skipped: 23, Failed: 24, PoliciesDeleted: 25},
			results.OperationSummary{Types: 1, TypesFailed: 2, Objects: 3, Total: 4, Captured: 5, Unchanged: 6, Version: 7,
				Granted: 8, MissingForRead: 9, MissingForWrite: 10, Checked: 11, Blocking: 12, Warning: 13, Safe: 14,
				Previewed: 15, PoliciesChanged: 16, PoliciesCreated: 17, PoliciesUnchanged: 18, PreviewOnly: 19,
				AssignmentsChanged: 20, ScopeTagsChanged: 21, Items: 22, Skipped: 23, Failed: 24, PoliciesDeleted: 25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.stored.Merge(tt.add)); diff != "" {
				t.Errorf("Merge (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckSummaryAdd(t *testing.T) {
	var s results.CheckSummary
	for _, sev := range []results.Severity{results.SeverityBlocking, results.SeverityWarning, results.SeverityWarning, results.SeveritySafe, "INFO"} {
		s.Add(sev)
	}
	// An unknown severity counts as safe, as the checks judge it.
	if diff := cmp.Diff(results.CheckSummary{Blocking: 1, Warning: 2, Safe: 2}, s); diff != "" {
		t.Errorf("CheckSummary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(results.OperationSummary{Blocking: 1, Warning: 2, Safe: 2}, s.Operation()); diff != "" {
		t.Errorf("Operation (-want +got):\n%s", diff)
	}
}

func TestItemCountsAdd(t *testing.T) {
	var c results.ItemCounts
	for status, n := range map[string]int{"PENDING": 1, "APPLYING": 2, "SUCCEEDED": 3, "FAILED": 4, "SKIPPED": 5} {
		c.Add(status, n)
	}
	if diff := cmp.Diff(results.ItemCounts{Pending: 1, Applying: 2, Succeeded: 3, Failed: 4, Skipped: 5, Total: 15}, c); diff != "" {
		t.Errorf("ItemCounts (-want +got):\n%s", diff)
	}
}

func TestTypeCountsSorted(t *testing.T) {
	got := results.TypeCounts{"roleScopeTag": 2, "deviceConfiguration": 7, "assignmentFilter": 1}.Sorted()
	want := []results.TypeCount{{PolicyType: "assignmentFilter", Count: 1}, {PolicyType: "deviceConfiguration", Count: 7}, {PolicyType: "roleScopeTag", Count: 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sorted (-want +got):\n%s", diff)
	}
	if got := (results.TypeCounts(nil)).Sorted(); got == nil || len(got) != 0 {
		t.Errorf("Sorted of none = %#v, want an empty list", got)
	}
}

func TestPreviewSummaryOperation(t *testing.T) {
	s := results.PreviewSummary{Message: "m", Items: 9, PoliciesChanged: 1, PoliciesCreated: 2, PoliciesDeleted: 4, PoliciesUnchanged: 3,
		PreviewOnly: 1, Skipped: 1, AssignmentsChanged: 1, ScopeTagsChanged: 1, Failed: 1}
	want := results.OperationSummary{Items: 9, PoliciesChanged: 1, PoliciesCreated: 2, PoliciesDeleted: 4, PoliciesUnchanged: 3,
		PreviewOnly: 1, Skipped: 1, AssignmentsChanged: 1, ScopeTagsChanged: 1, Failed: 1}
	if diff := cmp.Diff(want, s.Operation()); diff != "" {
		t.Errorf("Operation (-want +got):\n%s", diff)
	}
}

func TestOperationContextMerge(t *testing.T) {
	base := results.OperationContext{All: true, PolicyIDs: []string{"pol_1"}, ScopeFingerprint: "fp1"}
	got := base.Merge(results.OperationContext{ReasonCodes: []string{"items_failed"}, ScopeFingerprint: "fp2",
		Failures: []results.Failure{{PolicyType: "deviceConfiguration", GraphID: "g1", Code: "forbidden"}}})
	want := results.OperationContext{All: true, PolicyIDs: []string{"pol_1"}, ScopeFingerprint: "fp2", ReasonCodes: []string{"items_failed"},
		Failures: []results.Failure{{PolicyType: "deviceConfiguration", GraphID: "g1", Code: "forbidden"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge mismatch (-want +got):\n%s", diff)
	}
	if again := got.Merge(results.OperationContext{}); !cmp.Equal(again, got) {
		t.Errorf("merging an empty context changed %+v into %+v", got, again)
	}
}
