package apitest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/msgraph/graphsim"
)

// TestMappingSuggestionsReadGroupsInChunks: a profile assigned to 20
// groups. The mapping suggestions read the source's group names and the
// target's groups of those names in chunks of 15 ("in" filters, as Entra
// ID takes them): two requests per tenant, not one per group. A name two
// target groups share suggests nothing; a quote in a name is escaped.
func TestMappingSuggestionsReadGroupsInChunks(t *testing.T) {
	e := start(t)
	s := e.startSim()
	source, srcEnv := e.tenantEnv(s, "tpl", graphsim.GenOptions{Seed: 1})
	target, dstEnv := e.tenantEnv(s, "customer", graphsim.GenOptions{Seed: 2})

	type suggestion struct {
		Kind, SourceID string
		SourceName     *string
		Suggested      *struct{ ID, Name string }
	}
	var want []suggestion
	var assignments []any
	for i := range 20 {
		id, name := fmt.Sprintf("src-g-%02d", i), fmt.Sprintf("Team %02d", i)
		if i == 7 {
			name = "O'Brien's team"
		}
		source.AddGroup(id, name)
		assignments = append(assignments, map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": id}})
		sg := suggestion{Kind: "GROUP", SourceID: id, SourceName: &name}
		switch {
		case i == 2: // two target groups of the name: no suggestion
			target.AddGroup("t-g-02a", name)
			target.AddGroup("t-g-02b", name)
		case i < 18:
			target.AddGroup(fmt.Sprintf("t-g-%02d", i), name)
			sg.Suggested = &struct{ ID, Name string }{fmt.Sprintf("t-g-%02d", i), name}
		}
		want = append(want, sg)
	}
	mustPut(t, source, "deviceConfiguration", map[string]any{"id": "src-prof", "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
		"displayName": "Everyone's profile", "passwordRequired": true, "assignments": assignments})
	bs := e.backupOf(srcEnv.ID, "template")

	w := &wizard{e: e, t: t, token: e.operator}
	w.must("createRestoreRun", map[string]any{"environmentId": dstEnv.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": []string{e.backupItemBySource(bs, "src-prof")}, "createMissing": true})

	srcBefore, dstBefore := source.Requests(), target.Requests()
	var d struct{ RestoreMappingSuggestions []suggestion }
	e.post(e.operator, `query($id: ID!) { restoreMappingSuggestions(runId: $id) { kind sourceId sourceName suggested { id name } } }`,
		map[string]any{"id": w.id}).decode(t, &d)
	// Suggestions are sorted by source name: "O'Brien's team" first.
	want = append([]suggestion{want[7]}, append(want[:7:7], want[8:]...)...)
	if diff := cmp.Diff(want, d.RestoreMappingSuggestions); diff != "" {
		t.Errorf("suggestions (-want +got):\n%s", diff)
	}
	if got := source.Requests() - srcBefore; got != 2 {
		t.Errorf("the source tenant saw %d requests, want 2 (20 group ids in chunks of 15)", got)
	}
	if got := target.Requests() - dstBefore; got != 2 {
		t.Errorf("the target tenant saw %d requests, want 2 (20 group names in chunks of 15)", got)
	}
}
