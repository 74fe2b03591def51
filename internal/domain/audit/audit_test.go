// Tests of the audit recorder (audit.go) on a real database and Redis (see
// package testenv): Record attributes an entry to the viewer of the context
// or to "system" and stores what it is given, commits or rolls back with the
// transaction it is written in; Announce publishes the entry id on its
// workspace's audit topic only; and the audit log is append-only, so updates
// and deletes through ent fail with the schema hook's error.
package audit_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/auditlog"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/events"
	"github.com/restored/restored/internal/store"
	"github.com/restored/restored/internal/testenv"
)

// wait bounds every wait for an event. It is a deadline, never a pause.
const wait = 10 * time.Second

// mustRecord records e, failing the test on error.
func mustRecord(tb testing.TB, ctx context.Context, r *audit.Recorder, client *ent.Client, e audit.Entry) *ent.AuditLog {
	tb.Helper()
	entry, err := r.Record(ctx, client, e)
	if err != nil {
		tb.Fatalf("Record(%+v): %v", e, err)
	}
	return entry
}

// entryState is what the tests compare of an entry.
type entryState struct {
	WorkspaceID   string
	ActorID       string
	ActorLabel    string
	Action        string
	ObjectType    string
	ObjectID      string
	EnvironmentID string
	Metadata      map[string]any
}

func state(e *ent.AuditLog) entryState {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return entryState{
		WorkspaceID: e.WorkspaceID, ActorID: str(e.ActorID), ActorLabel: e.ActorLabel,
		Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID,
		EnvironmentID: str(e.EnvironmentID), Metadata: e.Metadata,
	}
}

// TestRecord checks who an entry is attributed to and that what Record is
// given is stored.
func TestRecord(t *testing.T) {
	db := testenv.DB(t)
	user := db.User.Create().SetEmail("owner@acme.test").SaveX(context.Background())
	tests := []struct {
		name  string
		ctx   context.Context
		entry audit.Entry
		want  entryState
	}{
		{
			name: "viewer",
			ctx:  auth.WithViewer(context.Background(), &auth.Viewer{User: user, WorkspaceID: "wks_1"}),
			entry: audit.Entry{
				WorkspaceID: "wks_1", Action: "environment.create", ObjectType: "Environment", ObjectID: "env_1",
				EnvironmentID: "env_1", Metadata: map[string]any{"name": "Production", "writeEnabled": false, "count": 3.0},
			},
			want: entryState{
				WorkspaceID: "wks_1", ActorID: user.ID, ActorLabel: "owner@acme.test",
				Action: "environment.create", ObjectType: "Environment", ObjectID: "env_1", EnvironmentID: "env_1",
				Metadata: map[string]any{"name": "Production", "writeEnabled": false, "count": 3.0},
			},
		},
		{
			name:  "no viewer",
			ctx:   context.Background(),
			entry: audit.Entry{WorkspaceID: "wks_1", Action: "inventory.sync", ObjectType: "OperationRun", ObjectID: "opr_1"},
			want: entryState{
				WorkspaceID: "wks_1", ActorLabel: "system",
				Action: "inventory.sync", ObjectType: "OperationRun", ObjectID: "opr_1",
			},
		},
		{
			name:  "viewer without a user",
			ctx:   auth.WithViewer(context.Background(), &auth.Viewer{WorkspaceID: "wks_1"}),
			entry: audit.Entry{WorkspaceID: "wks_1", Action: "backup.expire", Metadata: map[string]any{}},
			want:  entryState{WorkspaceID: "wks_1", ActorLabel: "system", Action: "backup.expire"},
		},
	}
	r := &audit.Recorder{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry := mustRecord(t, tt.ctx, r, db.Client, tt.entry)
			if diff := cmp.Diff(tt.want, state(entry), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Record returned (-want +got):\n%s", diff)
			}
			stored, err := db.AuditLog.Get(context.Background(), entry.ID)
			if err != nil {
				t.Fatalf("Get(%s): %v", entry.ID, err)
			}
			if diff := cmp.Diff(tt.want, state(stored), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stored entry (-want +got):\n%s", diff)
			}
			if stored.CreatedAt.IsZero() {
				t.Error("stored entry has no created_at")
			}
		})
	}
}

// TestRecordInTransaction checks that an entry recorded with a
// transaction's client commits and rolls back with it.
func TestRecordInTransaction(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	r := &audit.Recorder{}
	errAbort := errors.New("abort")

	var rolledBack string
	err := store.WithTx(ctx, db.Client, func(tx *ent.Client) error {
		rolledBack = mustRecord(t, ctx, r, tx, audit.Entry{WorkspaceID: "wks_1", Action: "x.rolled_back"}).ID
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("WithTx = %v, want %v", err, errAbort)
	}
	var committed string
	if err := store.WithTx(ctx, db.Client, func(tx *ent.Client) error {
		committed = mustRecord(t, ctx, r, tx, audit.Entry{WorkspaceID: "wks_1", Action: "x.committed"}).ID
		return nil
	}); err != nil {
		t.Fatalf("WithTx: %v", err)
	}

	got := db.AuditLog.Query().IDsX(ctx)
	if diff := cmp.Diff([]string{committed}, got); diff != "" {
		t.Errorf("stored entries (-want +got), rolled back %s:\n%s", rolledBack, diff)
	}
}

// TestAnnounce checks that Announce publishes the entry id on its
// workspace's audit topic and nowhere else.
func TestAnnounce(t *testing.T) {
	db := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	logs := &testenv.LockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	bus := events.NewBus(testenv.RedisConn(t), logger)
	t.Cleanup(bus.Close)
	r := &audit.Recorder{Bus: bus, Log: logger}

	mine := testenv.Subscribe(t, ctx, bus, events.AuditTopic("wks_1"))
	other := testenv.Subscribe(t, ctx, bus, events.AuditTopic("wks_2"))

	entry := mustRecord(t, ctx, r, db.Client, audit.Entry{WorkspaceID: "wks_1", Action: "environment.create"})
	r.Announce(ctx, entry)
	if got := testenv.NextEvent(t, mine, wait); got != entry.ID {
		t.Errorf("audit event carries %q, want the entry id %q", got, entry.ID)
	}

	// Nothing reached the other workspace: a marker published now arrives
	// first.
	const marker = "marker"
	if err := bus.Publish(ctx, events.AuditTopic("wks_2"), marker); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if got := testenv.NextEvent(t, other, wait); got != marker {
		t.Errorf("other workspace received %q, want nothing before the marker", got)
	}
	if s := logs.String(); strings.Contains(s, "audit announce failed") {
		t.Errorf("successful announce logged a failure:\n%s", s)
	}
}

// TestAnnounceNothing checks that Announce without an entry, a recorder or a
// bus publishes nothing (and does not panic).
func TestAnnounceNothing(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	bus := events.NewBus(testenv.RedisConn(t), slog.New(slog.DiscardHandler))
	t.Cleanup(bus.Close)
	sub := testenv.Subscribe(t, ctx, bus, events.AuditTopic("wks_1"))
	entry := &ent.AuditLog{ID: "aud_1", WorkspaceID: "wks_1"}

	(&audit.Recorder{Bus: bus}).Announce(ctx, nil)
	(&audit.Recorder{}).Announce(ctx, entry)
	(*audit.Recorder)(nil).Announce(ctx, entry)

	const marker = "marker"
	if err := bus.Publish(ctx, events.AuditTopic("wks_1"), marker); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if got := testenv.NextEvent(t, sub, wait); got != marker {
		t.Errorf("received %q, want nothing before the marker", got)
	}
}

// TestAnnounceFailureLogged checks that an announcement the bus cannot
// publish is logged, not lost silently (the entry is in the database).
func TestAnnounceFailureLogged(t *testing.T) {
	url, prefix := testenv.Redis(t)
	conn := testenv.OpenRedis(t, url, prefix)
	logs := &testenv.LockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	r := &audit.Recorder{Bus: events.NewBus(conn, logger), Log: logger}
	conn.Client.Close() // every publish now fails

	r.Announce(context.Background(), &ent.AuditLog{ID: "aud_lost", WorkspaceID: "wks_1"})
	if s := logs.String(); !strings.Contains(s, "audit announce failed") || !strings.Contains(s, "aud_lost") {
		t.Errorf("failed announce of aud_lost not logged:\n%s", s)
	}
}

// TestAppendOnly checks that no entry can be changed or removed through ent,
// in or out of a transaction: every update and delete fails with the
// schema hook's error and the entry stays as it was.
func TestAppendOnly(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	entry := mustRecord(t, ctx, &audit.Recorder{}, db.Client, audit.Entry{
		WorkspaceID: "wks_1", Action: "environment.delete", ObjectID: "env_1", Metadata: map[string]any{"k": "v"},
	})
	tamper := func(u *sql.UpdateBuilder) { u.Set(auditlog.FieldAction, "tampered") }
	tests := []struct {
		name string
		op   func(c *ent.Client) error
	}{
		{"update one", func(c *ent.Client) error { return c.AuditLog.UpdateOne(entry).Modify(tamper).Exec(ctx) }},
		{"update one by id", func(c *ent.Client) error { return c.AuditLog.UpdateOneID(entry.ID).Modify(tamper).Exec(ctx) }},
		{"update all", func(c *ent.Client) error { return c.AuditLog.Update().Modify(tamper).Exec(ctx) }},
		{"update where", func(c *ent.Client) error {
			_, err := c.AuditLog.Update().Where(auditlog.ID(entry.ID)).Modify(tamper).Save(ctx)
			return err
		}},
		{"delete one", func(c *ent.Client) error { return c.AuditLog.DeleteOne(entry).Exec(ctx) }},
		{"delete one by id", func(c *ent.Client) error { return c.AuditLog.DeleteOneID(entry.ID).Exec(ctx) }},
		{"delete all", func(c *ent.Client) error {
			_, err := c.AuditLog.Delete().Exec(ctx)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(where string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Errorf("%s: error = %v, want the append-only hook's error", where, err)
				}
			}
			check("client", tt.op(db.Client))
			tx, err := db.Tx(ctx)
			if err != nil {
				t.Fatalf("Tx: %v", err)
			}
			check("transaction", tt.op(tx.Client()))
			if err := tx.Commit(); err != nil {
				t.Fatalf("Commit: %v", err)
			}

			stored, err := db.AuditLog.Get(ctx, entry.ID)
			if err != nil {
				t.Fatalf("entry gone: %v", err)
			}
			if diff := cmp.Diff(state(entry), state(stored)); diff != "" {
				t.Errorf("entry changed (-want +got):\n%s", diff)
			}
		})
	}
}
