// Package mixins holds the ent mixins every schema shares: prefixed string ids,
// timestamps and the workspace every tenant-owned row belongs to.
package mixins

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"

	"github.com/restored/restored/internal/platform/ids"
)

// ID gives a schema a prefixed, time-ordered string id (see package ids).
type ID struct {
	mixin.Schema
	Prefix string
}

// Fields of the ID mixin.
func (m ID) Fields() []ent.Field {
	p := m.Prefix
	return []ent.Field{
		field.String("id").Immutable().NotEmpty().MaxLen(40).
			DefaultFunc(func() string { return ids.New(p) }),
	}
}

// Time adds created_at and updated_at.
type Time struct{ mixin.Schema }

// Fields of the Time mixin.
func (Time) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Immutable().Default(time.Now).
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Workspace adds the owning workspace id. Every tenant-owned row carries it
// directly so authorization is one comparison, never a join.
type Workspace struct{ mixin.Schema }

// Fields of the Workspace mixin.
func (Workspace) Fields() []ent.Field {
	return []ent.Field{
		field.String("workspace_id").Annotations(entgql.MapsTo("workspaceId"), entgql.Type("ID")).Immutable().NotEmpty(),
	}
}

// Indexes of the Workspace mixin.
func (Workspace) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id")}
}
