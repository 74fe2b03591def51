package restore

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/internal/domain/results"
)

// fpRun is a scoped run with every input of the fingerprint set.
func fpRun() *ent.RestoreRun {
	return &ent.RestoreRun{
		ID: "run1", WorkspaceID: "ws1", EnvironmentID: "env1", BackupSetID: "set1",
		ScopeMode:       restorerun.ScopeModeSELECTED,
		SelectedItemIds: []string{"item1", "item2", "item3"},
		GroupMapping:    map[string]string{"g1": "t1", "g2": "t2"},
		ScopeTagMapping: map[string]string{"s1": "u1"},
		FilterMapping:   map[string]string{"f1": "v1"},
		ItemTargets:     map[string]string{"item1": "obj1", "item2": "new"},
		CreateMissing:   true,
		// Not part of the scope: changing them must not change the fingerprint.
		Status: restorerun.StatusSCOPED, DryRun: true, TenantLabel: "Contoso",
	}
}

func TestScopeFingerprintChangesWithScope(t *testing.T) {
	base := scopeFingerprint(fpRun())
	tests := []struct {
		name   string
		mutate func(r *ent.RestoreRun)
	}{
		{"backup set", func(r *ent.RestoreRun) { r.BackupSetID = "set2" }},
		{"mode", func(r *ent.RestoreRun) { r.ScopeMode = restorerun.ScopeModeALL }},
		{"item added", func(r *ent.RestoreRun) { r.SelectedItemIds = append(r.SelectedItemIds, "item4") }},
		{"item removed", func(r *ent.RestoreRun) { r.SelectedItemIds = r.SelectedItemIds[:2] }},
		{"item replaced", func(r *ent.RestoreRun) { r.SelectedItemIds[2] = "item9" }},
		{"group mapped elsewhere", func(r *ent.RestoreRun) { r.GroupMapping["g1"] = "t9" }},
		{"group mapping added", func(r *ent.RestoreRun) { r.GroupMapping["g3"] = "t3" }},
		{"group mapping removed", func(r *ent.RestoreRun) { delete(r.GroupMapping, "g2") }},
		{"group mappings cleared", func(r *ent.RestoreRun) { r.GroupMapping = nil }},
		{"scope tag mapped elsewhere", func(r *ent.RestoreRun) { r.ScopeTagMapping["s1"] = "u9" }},
		{"scope tag mapping added", func(r *ent.RestoreRun) { r.ScopeTagMapping["s2"] = "u2" }},
		{"scope tag mappings cleared", func(r *ent.RestoreRun) { r.ScopeTagMapping = nil }},
		{"filter mapped elsewhere", func(r *ent.RestoreRun) { r.FilterMapping["f1"] = "v9" }},
		{"filter mappings cleared", func(r *ent.RestoreRun) { r.FilterMapping = nil }},
		{"item target changed", func(r *ent.RestoreRun) { r.ItemTargets["item1"] = "obj2" }},
		{"item target now created", func(r *ent.RestoreRun) { r.ItemTargets["item1"] = "new" }},
		{"item target added", func(r *ent.RestoreRun) { r.ItemTargets["item3"] = "obj3" }},
		{"item targets cleared", func(r *ent.RestoreRun) { r.ItemTargets = nil }},
		{"createMissing", func(r *ent.RestoreRun) { r.CreateMissing = false }},
		{"environment", func(r *ent.RestoreRun) { r.EnvironmentID = "env2" }},
		// A group mapping and a scope tag mapping of the same pair are different scopes.
		{"mapping moved between kinds", func(r *ent.RestoreRun) {
			r.GroupMapping, r.ScopeTagMapping = r.ScopeTagMapping, r.GroupMapping
		}},
	}
	seen := map[string]string{base: "base"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fpRun()
			tt.mutate(r)
			got := scopeFingerprint(r)
			if got == base {
				t.Fatalf("fingerprint unchanged (%s) after changing the %s", got, tt.name)
			}
			if other, ok := seen[got]; ok {
				t.Errorf("fingerprint %s of %q equals that of %q", got, tt.name, other)
			}
			seen[got] = tt.name
		})
	}
}

func TestScopeFingerprintStable(t *testing.T) {
	base := scopeFingerprint(fpRun())
	tests := []struct {
		name string
		run  func() *ent.RestoreRun
	}{
		{"same run again", fpRun},
		{"selection reversed", func() *ent.RestoreRun {
			r := fpRun()
			r.SelectedItemIds = []string{"item3", "item2", "item1"}
			return r
		}},
		{"selection shuffled", func() *ent.RestoreRun {
			r := fpRun()
			r.SelectedItemIds = []string{"item2", "item3", "item1"}
			return r
		}},
		{"maps built in another order", func() *ent.RestoreRun {
			r := fpRun()
			r.GroupMapping = map[string]string{}
			r.GroupMapping["g2"] = "t2"
			r.GroupMapping["g1"] = "t1"
			r.ScopeTagMapping = map[string]string{}
			r.ScopeTagMapping["s1"] = "u1"
			return r
		}},
		{"fields outside the scope changed", func() *ent.RestoreRun {
			r := fpRun()
			r.Status, r.DryRun, r.Acknowledged, r.TenantLabel = restorerun.StatusPREVIEWED, false, true, "Fabrikam"
			r.CheckFingerprint, r.PreviewFingerprint = "x", "y"
			r.CheckSummary = &results.CheckSummary{Blocking: 3}
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 3 {
				if got := scopeFingerprint(tt.run()); got != base {
					t.Fatalf("call %d: fingerprint %s, want %s", i, got, base)
				}
			}
		})
	}
}

// TestScopeFingerprintEmptyIsNil: DefineScope stores an empty selection or
// mapping as NULL, which loads as nil. The fingerprint it stores is computed
// from its input, which may hold an empty non-nil list or map (a client
// sending itemIds: [] with mode ALL); the recomputed fingerprint of the
// reloaded run must equal it, or checks and preview are stale forever.
func TestScopeFingerprintEmptyIsNil(t *testing.T) {
	scoped := func(ids []string, groups, tags map[string]string) *ent.RestoreRun {
		return &ent.RestoreRun{EnvironmentID: "env1", BackupSetID: "set1", ScopeMode: restorerun.ScopeModeALL,
			SelectedItemIds: ids, GroupMapping: groups, ScopeTagMapping: tags}
	}
	loaded := scopeFingerprint(scoped(nil, nil, nil))
	tests := []struct {
		name string
		run  *ent.RestoreRun
	}{
		{"empty selection", scoped([]string{}, nil, nil)},
		{"empty group mapping", scoped(nil, map[string]string{}, nil)},
		{"empty scope tag mapping", scoped(nil, nil, map[string]string{})},
		{"all empty", scoped([]string{}, map[string]string{}, map[string]string{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scopeFingerprint(tt.run); got != loaded {
				t.Errorf("fingerprint %s, want %s (the same scope as stored and reloaded)", got, loaded)
			}
		})
	}
}

func TestScopeFingerprintDoesNotModifyRun(t *testing.T) {
	r := fpRun()
	r.SelectedItemIds = []string{"item3", "item1", "item2"}
	scopeFingerprint(r)
	if diff := cmp.Diff([]string{"item3", "item1", "item2"}, r.SelectedItemIds); diff != "" {
		t.Errorf("SelectedItemIds changed by fingerprinting (-want +got):\n%s", diff)
	}
}
