package restore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunevent"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/results"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/store"
)

// Kinds of run events.
const (
	EventStep             = "STEP"              // a wizard step or a status change (Action says which)
	EventChecksCompleted  = "CHECKS_COMPLETED"  // the safety checks finished
	EventPreviewCompleted = "PREVIEW_COMPLETED" // the preview finished
	EventItem             = "ITEM"              // one item's progress during execution
)

// RunEvent is one entry of a run's event log, as live clients get it. Its
// Sequence numbers the run's events from 1 without gaps.
type RunEvent struct {
	Sequence int                 `json:"sequence"`
	RunID    string              `json:"runId"`
	Kind     string              `json:"kind"`
	Action   string              `json:"action,omitempty"`
	Status   string              `json:"status"`
	ItemID   string              `json:"itemId,omitempty"`
	Counts   *results.ItemCounts `json:"counts,omitempty"`
	At       time.Time           `json:"at"`
}

// RunTopic is the live stream of one run's events.
func RunTopic(runID string) events.Topic { return events.Topic("restore-run:" + runID) }

// appendEvent adds an event to the run's log inside tx (the transaction of
// what it reports, so a rolled-back step leaves no event). Publish it after
// the commit with publishEvent.
func appendEvent(ctx context.Context, tx *ent.Client, runID, kind, action, itemID string, counts *results.ItemCounts, at time.Time) (*RunEvent, error) {
	run, err := tx.RestoreRun.UpdateOneID(runID).AddEventSequence(1).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("number event of run %s: %w", runID, err)
	}
	row, err := tx.RestoreRunEvent.Create().SetWorkspaceID(run.WorkspaceID).SetRunID(runID).
		SetSequence(run.EventSequence).SetKind(kind).SetAction(action).SetStatus(string(run.Status)).
		SetItemID(itemID).SetCounts(counts).SetAt(at).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("append event of run %s: %w", runID, err)
	}
	return eventOf(row), nil
}

// saveResult stores a checks or preview job's result on its run in one
// transaction: set's update (guarded by the run being editable; set adds the
// scope the job ran for to the WHERE), which also voids a confirmation given
// for the old results, the status the results imply, and the completion
// event of kind, published once committed. stale reports that the run
// changed meanwhile and nothing was stored.
func (s *Service) saveResult(ctx context.Context, runID, kind string, set func(u *ent.RestoreRunUpdate)) (stale bool, err error) {
	var ev *RunEvent
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		u := tx.RestoreRun.Update().Where(restorerun.ID(runID), restorerun.StatusIn(editable...))
		set(u)
		n, err := resetConfirmation(u).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			stale = true
			return nil
		}
		if err := refreshStatus(ctx, tx, runID); err != nil {
			return err
		}
		ev, err = appendEvent(ctx, tx, runID, kind, "", "", nil, s.Clock.Now())
		return err
	})
	if err != nil {
		return false, err
	}
	s.publishEvent(ctx, ev)
	return stale, nil
}

// publishEvent tells live subscribers about a committed event. Best effort:
// a subscriber that misses it finds it in the log by its sequence.
func (s *Service) publishEvent(ctx context.Context, ev *RunEvent) {
	if ev == nil || s.Bus == nil {
		return
	}
	if err := s.Bus.Publish(context.WithoutCancel(ctx), RunTopic(ev.RunID), ev); err != nil {
		s.Log.Warn("publish run event", "run", ev.RunID, "err", err)
	}
}

func eventOf(r *ent.RestoreRunEvent) *RunEvent {
	return &RunEvent{Sequence: r.Sequence, RunID: r.RunID, Kind: r.Kind, Action: r.Action,
		Status: r.Status, ItemID: r.ItemID, Counts: r.Counts, At: r.At}
}

// eventPage bounds one read of the log while catching up.
const eventPage = 500

// FollowEvents streams a run's events after afterSequence: first those in
// the log, then live ones, each exactly once and in order. The live
// subscription opens before the log is read, so nothing falls between; a
// live event beyond the next expected sequence (one was missed) is filled
// in from the log; one already sent is dropped. The channel closes when ctx
// ends or the live stream ends (the client reconnects with its last
// sequence and misses nothing).
func (s *Service) FollowEvents(ctx context.Context, runID string, afterSequence int) (<-chan *RunEvent, error) {
	run, err := s.Client.RestoreRun.Query().Where(restorerun.ID(runID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no restore run %q", runID)
	}
	if err != nil {
		return nil, err
	}
	if _, err := auth.Require(ctx, run.WorkspaceID, access.RunsView); err != nil {
		return nil, err
	}
	if afterSequence < 0 {
		return nil, apperr.Invalid("afterSequence", "afterSequence must not be negative")
	}
	sub, err := s.Bus.Subscribe(ctx, RunTopic(runID))
	if err != nil {
		return nil, fmt.Errorf("follow run %s: %w", runID, err)
	}
	out := make(chan *RunEvent, 16)
	go func() {
		defer close(out)
		defer sub.Close()
		last := afterSequence
		send := func(ev *RunEvent) bool {
			if ev.Sequence <= last {
				return true // already sent (from the log, or twice)
			}
			select {
			case out <- ev:
				last = ev.Sequence
				return true
			case <-ctx.Done():
				return false
			}
		}
		// catchUp sends the log's events after last, up to upTo (0: all).
		catchUp := func(upTo int) bool {
			for {
				q := s.Client.RestoreRunEvent.Query().Where(restorerunevent.RunID(runID), restorerunevent.SequenceGT(last))
				if upTo > 0 {
					q = q.Where(restorerunevent.SequenceLTE(upTo))
				}
				rows, err := q.Order(ent.Asc(restorerunevent.FieldSequence)).Limit(eventPage).All(ctx)
				if err != nil {
					if ctx.Err() == nil {
						s.Log.Warn("run events: read log", "run", runID, "err", err)
					}
					return false
				}
				for _, r := range rows {
					if !send(eventOf(r)) {
						return false
					}
				}
				if len(rows) < eventPage {
					return true
				}
			}
		}
		if !catchUp(0) {
			return
		}
		for msg := range sub.C() {
			var ev RunEvent
			if json.Unmarshal(msg, &ev) != nil {
				continue
			}
			if ev.Sequence > last+1 && !catchUp(ev.Sequence-1) {
				return
			}
			if !send(&ev) {
				return
			}
		}
	}()
	return out, nil
}
