// Package notifications owns Notification: what one user is told about the
// runs they started. Other services decide when to notify (operations does,
// for its runs) and call Notify; this package stores the notification,
// publishes it on the user's topic, and lists, marks and streams a user's
// own notifications. A user only ever sees their own, and only in the
// workspace of the token they use.
package notifications

import (
	"context"
	"log/slog"

	"entgo.io/contrib/entgql"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/notification"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/events"
)

// Topic is the event topic of one user's notifications (every workspace of
// theirs: subscribers filter by the workspace of their token).
func Topic(userID string) events.Topic { return events.Topic("notify:" + userID) }

// Service stores, publishes and serves notifications.
type Service struct {
	Client *ent.Client
	Bus    *events.Bus
	Log    *slog.Logger
	// Clock tells the time (nil: the system clock).
	Clock *clock.Clock
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// New is a notification to write. Title and Body are shown as they are: only
// safe text (no token, secret, payload or raw error).
type New struct {
	WorkspaceID string
	UserID      string
	Kind        string
	Title       string
	Body        string
	SubjectID   string
}

// Notify stores n and publishes it to its user.
func (s *Service) Notify(ctx context.Context, n New) (_ *ent.Notification, err error) {
	defer apperr.Wrap(&err, "notifications.Notify(%s)", n.Kind)
	c := s.Client.Notification.Create().
		SetWorkspaceID(n.WorkspaceID).
		SetUserID(n.UserID).
		SetKind(n.Kind).
		SetTitle(n.Title).
		SetBody(n.Body)
	if n.SubjectID != "" {
		c.SetSubjectID(n.SubjectID)
	}
	row, err := c.Save(ctx)
	if err != nil {
		return nil, err
	}
	if s.Bus != nil {
		// The event carries only the id: subscribers read the row, the truth.
		if err := s.Bus.Publish(context.WithoutCancel(ctx), Topic(n.UserID), row.ID); err != nil {
			s.log().Warn("publish notification", "notification", row.ID, "err", err)
		}
	}
	return row, nil
}

// List returns a page of the user's notifications in one workspace, newest
// first; unreadOnly keeps only those not read yet.
func (s *Service) List(ctx context.Context, userID, workspaceID string, unreadOnly bool, after *entgql.Cursor[string], first *int) (*ent.NotificationConnection, error) {
	q := s.Client.Notification.Query().Where(notification.UserID(userID), notification.WorkspaceID(workspaceID))
	if unreadOnly {
		q = q.Where(notification.ReadAtIsNil())
	}
	return q.Paginate(ctx, after, first, nil, nil,
		ent.WithNotificationOrder(&ent.NotificationOrder{Direction: entgql.OrderDirectionDesc, Field: ent.NotificationOrderFieldCreatedAt}))
}

// MarkRead marks the user's unread notifications of one workspace read: those
// with the given ids, or all of them. It returns how many changed. Ids that
// are not the user's in this workspace (someone else's, unknown, or already
// read) are ignored rather than refused, so a caller learns nothing about
// notifications that are not theirs.
func (s *Service) MarkRead(ctx context.Context, userID, workspaceID string, ids []string, all bool) (_ int, err error) {
	defer apperr.Wrap(&err, "notifications.MarkRead")
	if !all && ids == nil {
		return 0, apperr.Invalid("ids", "give the ids to mark read, or all: true")
	}
	u := s.Client.Notification.Update().Where(
		notification.UserID(userID), notification.WorkspaceID(workspaceID), notification.ReadAtIsNil())
	if !all {
		if len(ids) == 0 {
			return 0, nil
		}
		u = u.Where(notification.IDIn(ids...))
	}
	return u.SetReadAt(s.Clock.Now()).Save(ctx)
}

// Follow streams the user's new notifications of one workspace until ctx
// ends or the event stream is interrupted (the channel then closes; the
// client reconnects and catches up with List).
func (s *Service) Follow(ctx context.Context, userID, workspaceID string) (<-chan *ent.Notification, error) {
	sub, err := s.Bus.Subscribe(ctx, Topic(userID))
	if err != nil {
		return nil, err
	}
	return events.ForwardIDs(ctx, sub, func(ctx context.Context, id string) (*ent.Notification, bool) {
		n, err := s.Client.Notification.Query().Where(notification.ID(id),
			notification.UserID(userID), notification.WorkspaceID(workspaceID)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) && ctx.Err() == nil { // not found: another workspace's
			s.log().Warn("notification feed: load", "notification", id, "err", err)
		}
		return n, err == nil
	}), nil
}
