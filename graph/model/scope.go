package model

import (
	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/domain/restore"
)

// RestoreScopeItems carries restoreScopeItems' run and filter to its items
// and groups fields, which resolve in their own field context (so entgql
// pagination sees the connection's own selections).
type RestoreScopeItems struct {
	Run    *ent.RestoreRun
	Filter restore.ScopeFilter
}
