package restore

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/restored/restored/internal/domain/results"
)

// Change is one difference between the target's current state and what the
// restore would write, at a JSON path (stored in a results.Diff).
type Change = results.Change

// Diff limits: a preview must stay readable and its row small, whatever the
// policy. Beyond them the diff is truncated and says so.
const (
	maxChanges    = 100
	maxValueBytes = 2048
)

// diffValues appends the changes from before to after under path. Maps are
// compared key by key, everything else (arrays included) as a whole.
func diffValues(path string, before, after any, out *[]Change) {
	bm, bok := before.(map[string]any)
	am, aok := after.(map[string]any)
	if bok && aok {
		keys := make([]string, 0, len(bm)+len(am))
		for k := range bm {
			keys = append(keys, k)
		}
		for k := range am {
			if _, ok := bm[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			bv, inB := bm[k]
			av, inA := am[k]
			switch {
			case !inB:
				*out = append(*out, Change{Path: p, Op: "added", After: av})
			case !inA:
				*out = append(*out, Change{Path: p, Op: "removed", Before: bv})
			default:
				diffValues(p, bv, av, out)
			}
		}
		return
	}
	if canonicalJSON(before) != canonicalJSON(after) {
		*out = append(*out, Change{Path: path, Op: "changed", Before: before, After: after})
	}
}

// limitChanges applies the diff limits; truncated reports whether anything
// was cut.
func limitChanges(changes []Change) ([]Change, bool) {
	truncated := false
	if len(changes) > maxChanges {
		changes, truncated = changes[:maxChanges], true
	}
	for i := range changes {
		if v, cut := limitValue(changes[i].Before); cut {
			changes[i].Before, truncated = v, true
		}
		if v, cut := limitValue(changes[i].After); cut {
			changes[i].After, truncated = v, true
		}
	}
	return changes, truncated
}

func limitValue(v any) (any, bool) {
	if v == nil {
		return nil, false
	}
	s := canonicalJSON(v)
	if len(s) <= maxValueBytes {
		return v, false
	}
	return fmt.Sprintf("(%d bytes, not shown)", len(s)), true
}

// setDiff returns what is in want but not in have (added) and the reverse
// (removed), comparing elements by their canonical JSON.
func setDiff[T any](have, want []T) (added, removed []T) {
	key := func(v T) string { return canonicalJSON(v) }
	hk := make([]string, len(have))
	for i, v := range have {
		hk[i] = key(v)
	}
	wk := make([]string, len(want))
	for i, v := range want {
		wk[i] = key(v)
	}
	for i, v := range want {
		if !slices.Contains(hk, wk[i]) {
			added = append(added, v)
		}
	}
	for i, v := range have {
		if !slices.Contains(wk, hk[i]) {
			removed = append(removed, v)
		}
	}
	return added, removed
}

func canonicalJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
