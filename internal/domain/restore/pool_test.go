package restore

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/restored/restored/internal/intune"
)

// TestTierOfFollowsReferences: every catalog type is written in a later
// tier than each foundation type its objects may refer to (scope tags
// through ScopeTagsProperty, filters through assignments, notification
// templates through compliance actions), and tiers never go down in
// catalog (restore) order, so cutting the sorted items by tier keeps them
// in order.
func TestTierOfFollowsReferences(t *testing.T) {
	prev := 0
	for _, typ := range intune.Types() {
		tier := tierOf(typ.Key)
		if tier < prev {
			t.Errorf("%s: tier %d after tier %d in catalog order", typ.Key, tier, prev)
		}
		prev = tier
		var refs []string
		if typ.ScopeTagsProperty != "" {
			refs = append(refs, refScopeTag)
		}
		if typ.Assignments.Supported {
			refs = append(refs, refFilter)
		}
		for _, r := range typ.Expand {
			if r.Name == "scheduledActionsForRule" {
				refs = append(refs, refTemplate)
			}
		}
		for _, r := range refs {
			if tierOf(r) >= tier {
				t.Errorf("%s (tier %d) may refer to %s (tier %d)", typ.Key, tier, r, tierOf(r))
			}
		}
	}
}

// TestPoolStopsStartingAfterAFailure: after a task fails no slot is given
// any more, and the task still running finishes before Wait returns.
func TestPoolStopsStartingAfterAFailure(t *testing.T) {
	p := newPool(2)
	var finished atomic.Int32
	release := make(chan struct{})
	boom := errors.New("boom")
	started := 0
	for i := range 10 {
		// The third Acquire waits for a slot: the failing task's.
		if !p.Acquire() {
			break
		}
		started++
		p.Go(func() error {
			defer finished.Add(1)
			if i == 1 {
				return boom
			}
			<-release
			return nil
		})
	}
	close(release)
	if err := p.Wait(); !errors.Is(err, boom) {
		t.Fatalf("Wait = %v, want the task's error", err)
	}
	if started != 2 || finished.Load() != 2 {
		t.Errorf("started %d, finished %d; want 2 and 2", started, finished.Load())
	}
}
