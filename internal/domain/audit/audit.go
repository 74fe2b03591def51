// Package audit appends entries to the audit log and announces them on the
// workspace's live audit feed. Entries never hold secrets: callers pass
// identifiers and counts, never payloads or credentials.
package audit

import (
	"context"
	"log/slog"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/events"
)

// Entry is one audited action.
type Entry struct {
	WorkspaceID   string
	Action        string // e.g. "api_token.create"
	ObjectType    string
	ObjectID      string
	EnvironmentID string
	Metadata      map[string]any
}

// Recorder writes audit entries.
type Recorder struct {
	Bus *events.Bus
	Log *slog.Logger
}

// Record appends e, attributed to the viewer of ctx (or to "system"), using
// client, which may be a transaction's client so the entry commits or rolls
// back with the change it describes. Call Announce after the commit.
func (r *Recorder) Record(ctx context.Context, client *ent.Client, e Entry) (*ent.AuditLog, error) {
	c := client.AuditLog.Create().
		SetWorkspaceID(e.WorkspaceID).
		SetAction(e.Action).
		SetObjectType(e.ObjectType).
		SetObjectID(e.ObjectID).
		SetActorLabel("system")
	if v := auth.FromContext(ctx); v != nil && v.User != nil {
		c.SetActorID(v.User.ID).SetActorLabel(v.User.Email)
	}
	if e.EnvironmentID != "" {
		c.SetEnvironmentID(e.EnvironmentID)
	}
	if e.Metadata != nil {
		c.SetMetadata(e.Metadata)
	}
	return c.Save(ctx)
}

// Announce publishes a committed entry on the workspace's audit feed. A lost
// announcement loses nothing: the entry is in the database.
func (r *Recorder) Announce(ctx context.Context, entry *ent.AuditLog) {
	if r == nil || r.Bus == nil || entry == nil {
		return
	}
	if err := r.Bus.Publish(ctx, events.AuditTopic(entry.WorkspaceID), entry.ID); err != nil && r.Log != nil {
		r.Log.Warn("audit announce failed", "entry", entry.ID, "err", err)
	}
}

// NewFeed returns the process's relay of new audit entries (auditLogAdded):
// an entry is read once, whatever the number of subscribers of its
// workspace, and only ever delivered on its own workspace's topic.
func NewFeed(bus *events.Bus, client *ent.Client, log *slog.Logger) *events.Feed[*ent.AuditLog] {
	return events.NewFeed(bus, func(ctx context.Context, topic events.Topic, id string) (*ent.AuditLog, bool) {
		entry, err := client.AuditLog.Get(ctx, id)
		if err != nil {
			if !ent.IsNotFound(err) && log != nil {
				log.Warn("audit feed: load entry", "entry", id, "err", err)
			}
			return nil, false
		}
		return entry, events.AuditTopic(entry.WorkspaceID) == topic
	})
}
