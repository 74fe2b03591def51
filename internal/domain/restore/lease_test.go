package restore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/restored/restored/internal/domain/restore"
)

// TestLease: one holder at a time; a second acquisition is refused while
// the lease is current; once it expired (no heartbeat for the TTL) another
// handler takes it over with a higher token, and the first one's fencing
// check fails from then on, even after the new holder releases it.
func TestLease(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	run := f.confirmedRun(t)
	if _, err := f.svc.Execute(f.owner, run.ID, ""); err != nil {
		t.Fatal(err)
	}
	first, err := f.svc.AcquireLease(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release(ctx)
	if err := first.Fence(ctx); err != nil {
		t.Fatalf("holder's fence: %v", err)
	}
	if _, err := f.svc.AcquireLease(ctx, run.ID); !errors.Is(err, restore.ErrLeaseHeld) {
		t.Fatalf("second acquisition while held: %v, want ErrLeaseHeld", err)
	}
	f.clock.Advance(restore.LeaseTTL + time.Second)
	second, err := f.svc.AcquireLease(ctx, run.ID)
	if err != nil {
		t.Fatalf("take-over of an expired lease: %v", err)
	}
	if second.Token() != first.Token()+1 {
		t.Errorf("tokens %d then %d, want consecutive", first.Token(), second.Token())
	}
	if err := first.Fence(ctx); !errors.Is(err, restore.ErrLeaseHeld) {
		t.Fatalf("the old holder's fence after the take-over: %v", err)
	}
	if err := second.Fence(ctx); err != nil {
		t.Fatalf("new holder's fence: %v", err)
	}
	second.Release(ctx)
	if err := first.Fence(ctx); !errors.Is(err, restore.ErrLeaseHeld) {
		t.Fatalf("the old holder's fence after the release: %v", err)
	}
	third, err := f.svc.AcquireLease(ctx, run.ID)
	if err != nil {
		t.Fatalf("acquisition after a release: %v", err)
	}
	defer third.Release(ctx)
	if third.Token() != second.Token()+1 {
		t.Errorf("token after release %d, want %d", third.Token(), second.Token()+1)
	}
}
