package operations

import (
	"context"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/events"
)

// WorkspaceTopic is the stream of every operation run change of a workspace
// (the global progress view); each event carries the run id.
func WorkspaceTopic(workspaceID string) events.Topic {
	return events.Topic("operations:" + workspaceID)
}

// Get returns one run to a viewer with runs.view in its workspace.
// Codes: NOT_FOUND, FORBIDDEN (another workspace's run).
func (s *Service) Get(ctx context.Context, id string) (*ent.OperationRun, error) {
	run, err := s.Client.OperationRun.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no operation run %q", id)
	}
	if err != nil {
		return nil, err
	}
	if _, err := auth.Require(ctx, run.WorkspaceID, access.RunsView); err != nil {
		return nil, err
	}
	return run, nil
}

// Follow streams one run (runs.view): its current state first, then each
// change, read from the database (events carry only the id); it ends once
// the run has completed.
func (s *Service) Follow(ctx context.Context, id string) (<-chan *ent.OperationRun, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	// Subscribe before reading the current state, so no change falls between.
	sub, err := s.Bus.Subscribe(ctx, Topic(id))
	if err != nil {
		return nil, err
	}
	out := make(chan *ent.OperationRun, 16)
	go func() {
		defer close(out)
		defer sub.Close()
		send := func() bool {
			run, err := s.Client.OperationRun.Get(ctx, id)
			if err != nil {
				return false
			}
			select {
			case out <- run:
			case <-ctx.Done():
				return false
			}
			return run.Status != operationrun.StatusCOMPLETED // a completed run changes no more
		}
		if !send() {
			return
		}
		for range sub.C() {
			if !send() {
				return
			}
		}
	}()
	return out, nil
}

// FollowWorkspace streams every change of every operation run of a
// workspace (runs.view), for a global progress view: each event is the run
// as it is when read. It runs until ctx ends or the live stream ends (the
// client resubscribes and re-reads operationRuns).
func (s *Service) FollowWorkspace(ctx context.Context, workspaceID string) (<-chan *ent.OperationRun, error) {
	if _, err := auth.Require(ctx, workspaceID, access.RunsView); err != nil {
		return nil, err
	}
	return s.workspaceFeed().Subscribe(ctx, WorkspaceTopic(workspaceID))
}

// workspaceFeed is the process's one relay of workspace run changes: each
// change is read once for all of a workspace's subscribers.
func (s *Service) workspaceFeed() *events.Feed[*ent.OperationRun] {
	s.feedOnce.Do(func() {
		s.feed = events.NewFeed(s.Bus, func(ctx context.Context, topic events.Topic, id string) (*ent.OperationRun, bool) {
			run, err := s.Client.OperationRun.Get(ctx, id)
			return run, err == nil && WorkspaceTopic(run.WorkspaceID) == topic
		})
	})
	return s.feed
}
