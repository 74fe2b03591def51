package restore

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fromJSON decodes s as a stored payload or Graph response is decoded:
// numbers become float64.
func fromJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDiffValues(t *testing.T) {
	tests := []struct {
		name          string
		path          string
		before, after any
		want          []Change
	}{
		{
			name:   "equal nested maps",
			before: map[string]any{"a": 1, "b": map[string]any{"c": "x", "d": []any{1, 2}}},
			after:  map[string]any{"b": map[string]any{"d": []any{1, 2}, "c": "x"}, "a": 1},
		},
		{
			name:   "both empty",
			before: map[string]any{},
			after:  map[string]any{},
		},
		{
			name:   "added, removed, changed at the top level in key order",
			before: map[string]any{"keep": true, "gone": "old", "mod": 1},
			after:  map[string]any{"keep": true, "new": "v", "mod": 2},
			want: []Change{
				{Path: "gone", Op: "removed", Before: "old"},
				{Path: "mod", Op: "changed", Before: 1, After: 2},
				{Path: "new", Op: "added", After: "v"},
			},
		},
		{
			name: "nested paths in dot notation",
			before: map[string]any{
				"z": 1,
				"settings": map[string]any{
					"wifi":     map[string]any{"ssid": "corp", "hidden": false},
					"password": map[string]any{"minLength": 8},
				},
			},
			after: map[string]any{
				"z": 1,
				"settings": map[string]any{
					"wifi":     map[string]any{"ssid": "corp2", "hidden": false, "band": "5GHz"},
					"password": map[string]any{},
				},
			},
			want: []Change{
				{Path: "settings.password.minLength", Op: "removed", Before: 8},
				{Path: "settings.wifi.band", Op: "added", After: "5GHz"},
				{Path: "settings.wifi.ssid", Op: "changed", Before: "corp", After: "corp2"},
			},
		},
		{
			name:   "under a path",
			path:   "root",
			before: map[string]any{"a": map[string]any{"b": 1}},
			after:  map[string]any{"a": map[string]any{"b": 2}},
			want:   []Change{{Path: "root.a.b", Op: "changed", Before: 1, After: 2}},
		},
		{
			name:   "arrays are compared whole",
			before: map[string]any{"list": []any{"a", "b", "c"}},
			after:  map[string]any{"list": []any{"a", "x", "c"}},
			want:   []Change{{Path: "list", Op: "changed", Before: []any{"a", "b", "c"}, After: []any{"a", "x", "c"}}},
		},
		{
			name:   "array order matters",
			before: map[string]any{"list": []any{1, 2}},
			after:  map[string]any{"list": []any{2, 1}},
			want:   []Change{{Path: "list", Op: "changed", Before: []any{1, 2}, After: []any{2, 1}}},
		},
		{
			name:   "arrays of maps equal whatever their key order",
			before: map[string]any{"list": []any{map[string]any{"a": 1, "b": 2}}},
			after:  map[string]any{"list": []any{map[string]any{"b": 2, "a": 1}}},
		},
		{
			name:   "int and float64 of the same number are equal",
			before: map[string]any{"n": 5, "m": map[string]any{"k": int64(7)}},
			after:  fromJSON(t, `{"n": 5, "m": {"k": 7.0}}`),
		},
		{
			name:   "int and float64 of different numbers differ",
			before: map[string]any{"n": 5},
			after:  fromJSON(t, `{"n": 5.5}`),
			want:   []Change{{Path: "n", Op: "changed", Before: 5, After: 5.5}},
		},
		{
			name:   "map replaced by a scalar",
			before: map[string]any{"a": map[string]any{"b": 1}},
			after:  map[string]any{"a": "flat"},
			want:   []Change{{Path: "a", Op: "changed", Before: map[string]any{"b": 1}, After: "flat"}},
		},
		{
			name:   "null value is present, not absent",
			before: map[string]any{"a": nil},
			after:  map[string]any{"a": "set"},
			want:   []Change{{Path: "a", Op: "changed", Before: nil, After: "set"}},
		},
		{
			name:   "added key holding null",
			before: map[string]any{},
			after:  map[string]any{"a": nil},
			want:   []Change{{Path: "a", Op: "added"}},
		},
		{
			name:   "everything added from nothing",
			before: map[string]any{},
			after:  map[string]any{"b": map[string]any{"x": 1}, "a": "v"},
			want: []Change{
				{Path: "a", Op: "added", After: "v"},
				{Path: "b", Op: "added", After: map[string]any{"x": 1}},
			},
		},
		{
			name:   "scalars at the root",
			before: "x",
			after:  "y",
			want:   []Change{{Path: "", Op: "changed", Before: "x", After: "y"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The order must not depend on map iteration: compute several times.
			for range 5 {
				var got []Change
				diffValues(tt.path, tt.before, tt.after, &got)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("diffValues (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestDiffValuesAppends: diffValues appends to what out already holds.
func TestDiffValuesAppends(t *testing.T) {
	got := []Change{{Path: "earlier", Op: "added", After: 1}}
	diffValues("", map[string]any{"a": 1}, map[string]any{"a": 2}, &got)
	want := []Change{{Path: "earlier", Op: "added", After: 1}, {Path: "a", Op: "changed", Before: 1, After: 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLimitChanges(t *testing.T) {
	changes := func(n int) []Change {
		out := make([]Change, n)
		for i := range out {
			out[i] = Change{Path: fmt.Sprintf("p%03d", i), Op: "changed", Before: i, After: i + 1}
		}
		return out
	}
	big := strings.Repeat("x", maxValueBytes) // its JSON adds 2 quotes
	fits := strings.Repeat("y", maxValueBytes-2)
	bigMap := map[string]any{"blob": strings.Repeat("z", 3000)}
	bigMapNote := fmt.Sprintf("(%d bytes, not shown)", len(canonicalJSON(bigMap)))

	tests := []struct {
		name          string
		in            []Change
		want          []Change
		wantTruncated bool
	}{
		{name: "none"},
		{name: "at the limit", in: changes(maxChanges), want: changes(maxChanges)},
		{name: "beyond the limit", in: changes(maxChanges + 1), want: changes(maxChanges), wantTruncated: true},
		{name: "far beyond the limit", in: changes(3 * maxChanges), want: changes(maxChanges), wantTruncated: true},
		{
			name: "value that fits is kept",
			in:   []Change{{Path: "a", Op: "added", After: fits}},
			want: []Change{{Path: "a", Op: "added", After: fits}},
		},
		{
			name:          "large value after",
			in:            []Change{{Path: "a", Op: "added", After: big}},
			want:          []Change{{Path: "a", Op: "added", After: fmt.Sprintf("(%d bytes, not shown)", maxValueBytes+2)}},
			wantTruncated: true,
		},
		{
			name:          "large value before, small after",
			in:            []Change{{Path: "a", Op: "changed", Before: bigMap, After: "small"}},
			want:          []Change{{Path: "a", Op: "changed", Before: bigMapNote, After: "small"}},
			wantTruncated: true,
		},
		{
			name: "only the large one of several",
			in: []Change{
				{Path: "a", Op: "removed", Before: 1},
				{Path: "b", Op: "changed", Before: big, After: bigMap},
				{Path: "c", Op: "added", After: nil},
			},
			want: []Change{
				{Path: "a", Op: "removed", Before: 1},
				{Path: "b", Op: "changed", Before: fmt.Sprintf("(%d bytes, not shown)", maxValueBytes+2), After: bigMapNote},
				{Path: "c", Op: "added"},
			},
			wantTruncated: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, truncated := limitChanges(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if truncated != tt.wantTruncated {
				t.Errorf("truncated = %v, want %v", truncated, tt.wantTruncated)
			}
		})
	}
}

func TestSetDiff(t *testing.T) {
	type m = map[string]any
	tests := []struct {
		name                   string
		have, want             []m
		wantAdded, wantRemoved []m
	}{
		{name: "both empty"},
		{
			name: "same elements, other key order and element order",
			have: []m{{"target": m{"groupId": "g1", "@odata.type": "group"}}, {"target": m{"groupId": "g2"}}},
			want: []m{{"target": m{"groupId": "g2"}}, {"target": m{"@odata.type": "group", "groupId": "g1"}}},
		},
		{
			name:        "added and removed",
			have:        []m{{"target": m{"groupId": "g1"}}, {"target": m{"groupId": "g2"}}},
			want:        []m{{"target": m{"groupId": "g2"}}, {"target": m{"groupId": "g3"}}},
			wantAdded:   []m{{"target": m{"groupId": "g3"}}},
			wantRemoved: []m{{"target": m{"groupId": "g1"}}},
		},
		{
			name:      "everything added",
			want:      []m{{"a": 1}, {"b": 2}},
			wantAdded: []m{{"a": 1}, {"b": 2}},
		},
		{
			name:        "everything removed",
			have:        []m{{"a": 1}},
			wantRemoved: []m{{"a": 1}},
		},
		{
			name: "numbers compared after JSON",
			have: []m{{"n": 1.0}},
			want: []m{{"n": 1}},
		},
		{
			name:        "a nested difference makes elements different",
			have:        []m{{"target": m{"groupId": "g1", "filterType": "include"}}},
			want:        []m{{"target": m{"groupId": "g1", "filterType": "exclude"}}},
			wantAdded:   []m{{"target": m{"groupId": "g1", "filterType": "exclude"}}},
			wantRemoved: []m{{"target": m{"groupId": "g1", "filterType": "include"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			added, removed := setDiff(tt.have, tt.want)
			if diff := cmp.Diff(tt.wantAdded, added); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRemoved, removed); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetDiffStrings(t *testing.T) {
	tests := []struct {
		name                   string
		have, want             []string
		wantAdded, wantRemoved []string
	}{
		{name: "same", have: []string{"0", "1"}, want: []string{"1", "0"}},
		{name: "mapped tag", have: []string{"0", "5"}, want: []string{"0", "7"}, wantAdded: []string{"7"}, wantRemoved: []string{"5"}},
		{name: "from nothing", have: []string{}, want: []string{"3"}, wantAdded: []string{"3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			added, removed := setDiff(tt.have, tt.want)
			if diff := cmp.Diff(tt.wantAdded, added); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRemoved, removed); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
		})
	}
}
