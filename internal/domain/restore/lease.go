package restore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/internal/intune"
)

// The execution lease: one executor per run at any moment, whatever Asynq
// delivers (a task delivered twice after Redis lost its data, a task handed
// back while its first worker still runs). The lease lives in the run's row:
// an owner, an expiry the holder renews (heartbeat), and a token that grows
// on every acquisition. Every Graph write is preceded by a fencing check
// (the row still holds this token, unexpired) and every outcome is written
// in a transaction that renews the lease under the same guard, so a handler
// that lost its lease stops before its next write and records nothing.
const (
	// leaseTTL is how long a lease holds without a heartbeat: a dead
	// worker's run is taken over after at most this long.
	leaseTTL = 30 * time.Second
	// heartbeatEvery renews the lease well within its TTL.
	heartbeatEvery = leaseTTL / 3
)

// ErrLeaseHeld is returned by RunExecuteJob when another executor holds the
// run's lease (or took it over): this handler wrote nothing and stops; the
// task is retried later and finds the run finished.
var ErrLeaseHeld = errors.New("restore: another executor holds the run's lease")

// lease is one executor's hold on a run.
type lease struct {
	s     *Service
	runID string
	owner string
	token int

	mu   sync.Mutex
	lost bool
	stop func()
	// held is cancelled when the lease is lost: Graph requests in flight
	// under it are abandoned rather than completed by a handler that no
	// longer owns the run.
	held       context.Context
	cancelHeld context.CancelFunc
}

// newLeaseOwner names one handler invocation: host, process and a random
// suffix, so two handlers in one process are two owners.
func newLeaseOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// acquireLease takes the run's lease when nobody holds it or its holder's
// expired (a guarded update: of two handlers racing, one matches the row),
// starts its heartbeat, and returns it; ErrLeaseHeld otherwise.
func (s *Service) acquireLease(ctx context.Context, runID string) (*lease, error) {
	owner := newLeaseOwner()
	now := s.Clock.Now()
	n, err := s.Client.RestoreRun.Update().
		Where(restorerun.ID(runID),
			restorerun.StatusIn(restorerun.StatusQUEUED, restorerun.StatusRUNNING),
			restorerun.Or(restorerun.LeaseOwnerIsNil(), restorerun.LeaseExpiresAtIsNil(), restorerun.LeaseExpiresAtLT(now))).
		SetLeaseOwner(owner).SetLeaseExpiresAt(now.Add(leaseTTL)).AddLeaseToken(1).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire lease of run %s: %w", runID, err)
	}
	if n == 0 {
		return nil, ErrLeaseHeld
	}
	run, err := s.Client.RestoreRun.Query().Where(restorerun.ID(runID), restorerun.LeaseOwner(owner)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrLeaseHeld
	}
	if err != nil {
		return nil, err
	}
	l := &lease{s: s, runID: runID, owner: owner, token: run.LeaseToken}
	l.held, l.cancelHeld = context.WithCancel(context.Background())
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	l.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				if err := l.renew(hctx, s.Client); err != nil {
					if hctx.Err() == nil {
						s.Log.Warn("restore lease heartbeat", "run", runID, "err", err)
					}
					if errors.Is(err, ErrLeaseHeld) {
						return
					}
				}
			}
		}
	}()
	return l, nil
}

// guard restricts an update of the run to this lease holder.
func (l *lease) guard(u *ent.RestoreRunUpdate) *ent.RestoreRunUpdate {
	return u.Where(restorerun.ID(l.runID), restorerun.LeaseOwner(l.owner), restorerun.LeaseToken(l.token))
}

// renew extends the lease through client (a transaction's, to make an
// outcome conditional on still holding it). ErrLeaseHeld when it was lost.
func (l *lease) renew(ctx context.Context, client *ent.Client) error {
	if l.isLost() {
		return ErrLeaseHeld
	}
	now := l.s.Clock.Now()
	n, err := l.guard(client.RestoreRun.Update()).Where(restorerun.LeaseExpiresAtGT(now)).
		SetLeaseExpiresAt(now.Add(leaseTTL)).Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		l.markLost()
		return ErrLeaseHeld
	}
	return nil
}

// fence is the check before every Graph write: the lease is still this
// handler's and unexpired.
func (l *lease) fence(ctx context.Context) error {
	if l.isLost() {
		return ErrLeaseHeld
	}
	n, err := l.s.Client.RestoreRun.Query().Where(restorerun.ID(l.runID), restorerun.LeaseOwner(l.owner),
		restorerun.LeaseToken(l.token), restorerun.LeaseExpiresAtGT(l.s.Clock.Now())).Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		l.markLost()
		return ErrLeaseHeld
	}
	return nil
}

func (l *lease) isLost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

func (l *lease) markLost() {
	l.mu.Lock()
	l.lost = true
	l.mu.Unlock()
	l.cancelHeld()
}

// bind returns ctx, also cancelled when the lease is lost.
func (l *lease) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(l.held, cancel)
	return ctx, func() { stop(); cancel() }
}

// release stops the heartbeat and frees the lease (if still held), so a
// handed-back run is resumed at once rather than after the TTL.
func (l *lease) release(ctx context.Context) {
	l.stop()
	defer l.cancelHeld()
	if l.isLost() {
		return
	}
	if _, err := l.guard(l.s.Client.RestoreRun.Update()).ClearLeaseOwner().ClearLeaseExpiresAt().
		Save(context.WithoutCancel(ctx)); err != nil {
		l.s.Log.Warn("release restore lease", "run", l.runID, "err", err)
	}
}

// fencedWriter checks the lease before every write it sends, so a handler
// that lost the lease sends nothing more, even within one item's several
// requests (object, relations, assignments).
type fencedWriter struct {
	intune.Writer
	lease *lease
}

func (w fencedWriter) Post(ctx context.Context, path string, body any) (map[string]any, error) {
	if err := w.lease.fence(ctx); err != nil {
		return nil, err
	}
	return w.Writer.Post(ctx, path, body)
}

func (w fencedWriter) Patch(ctx context.Context, path string, body any) error {
	if err := w.lease.fence(ctx); err != nil {
		return err
	}
	return w.Writer.Patch(ctx, path, body)
}

func (w fencedWriter) Put(ctx context.Context, path string, body any) error {
	if err := w.lease.fence(ctx); err != nil {
		return err
	}
	return w.Writer.Put(ctx, path, body)
}

func (w fencedWriter) Delete(ctx context.Context, path string) error {
	if err := w.lease.fence(ctx); err != nil {
		return err
	}
	return w.Writer.Delete(ctx, path)
}
