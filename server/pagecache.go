package server

import (
	"bytes"
	"container/list"
	"context"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/fanout"
	"github.com/restored/restored/internal/platform/metrics"
)

// pageCache answers a request for a page of a backup set's items from
// memory when the same request was answered at the set's current
// items_version.
//
// A backup set is a snapshot: its items are only ever added (store's
// append-only hook), and each addition moves the set's items_version in the
// same transaction. A page read at one version is therefore that page until
// the version moves, and the version is read from the database on every
// request, so every replica sees an addition at once. Reading a page costs
// one primary-key read instead of a page read and about 600 fields resolved
// through gqlgen: what a console paging through a set, or several admins
// looking at the same one, repeat most.
//
// Only requests whose one root field is backupItems and that select nothing
// beyond the page, its edges, its pageInfo and the items' own fields are
// kept: an item's backupSet is not (a set's status changes without its
// items). The viewer is authorized on every request by the rule the
// resolver applies (backup.Service.ReadableSet), and the role is part of
// the key.
type pageCache struct {
	readable func(ctx context.Context, id string) (*ent.BackupSet, *auth.Viewer, error)
	schema   *ast.Schema
	metrics  *metrics.Metrics

	mu       sync.Mutex
	max      int // bytes of responses kept
	used     int
	entries  map[string]*list.Element
	recency  *list.List // of *pageEntry, most recent first
	maxEntry int
}

type pageEntry struct {
	key  string
	data []byte
}

// pageTypes are the object types a cached request may select.
var pageTypes = map[string]bool{"BackupItemConnection": true, "BackupItemEdge": true, "PageInfo": true, "BackupItem": true}

func newPageCache(max int, schema *ast.Schema, readable func(ctx context.Context, id string) (*ent.BackupSet, *auth.Viewer, error), m *metrics.Metrics) *pageCache {
	return &pageCache{readable: readable, schema: schema, metrics: m, max: max, maxEntry: max / 16,
		entries: map[string]*list.Element{}, recency: list.New()}
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = (*pageCache)(nil)

func (*pageCache) ExtensionName() string                   { return "BackupItemPageCache" }
func (*pageCache) Validate(graphql.ExecutableSchema) error { return nil }

func (c *pageCache) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	setID, ok := c.cacheable(oc)
	if !ok {
		return next(ctx)
	}
	set, v, err := c.readable(ctx, setID)
	if err != nil {
		return next(ctx) // the resolver reports it
	}
	key, err := pageKey(oc, set, v)
	if err != nil {
		return next(ctx)
	}
	if data := c.get(key); data != nil {
		c.metrics.PageCache(true)
		return &graphql.Response{Data: data}
	}
	c.metrics.PageCache(false)
	resp := next(ctx)
	if resp != nil && len(resp.Errors) == 0 && len(graphql.GetErrors(ctx)) == 0 {
		c.put(key, bytes.Clone(resp.Data))
	}
	return resp
}

// cacheable returns the set of a request for one page of its items that
// selects only the page's own types.
func (c *pageCache) cacheable(oc *graphql.OperationContext) (string, bool) {
	op := oc.Operation
	if op == nil || op.Operation != ast.Query {
		return "", false
	}
	var root *ast.Field
	for _, f := range fields(op.SelectionSet) {
		switch {
		case f.Name == "__typename":
		case root != nil || f.Name != "backupItems":
			return "", false
		default:
			root = f
		}
	}
	if root == nil || !c.pageOnly(root.SelectionSet) {
		return "", false
	}
	id, _ := root.ArgumentMap(oc.Variables)["backupSetId"].(string)
	return id, id != ""
}

// pageOnly reports whether sel, and everything below it, selects only
// scalars, enums and the page's own object types.
func (c *pageCache) pageOnly(sel ast.SelectionSet) bool {
	for _, f := range fields(sel) {
		if f.Definition == nil {
			return false
		}
		if f.Name == "__typename" {
			continue
		}
		def := c.schema.Types[f.Definition.Type.Name()]
		if def == nil {
			return false
		}
		switch def.Kind {
		case ast.Scalar, ast.Enum:
		case ast.Object:
			if !pageTypes[def.Name] || !c.pageOnly(f.SelectionSet) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// fields flattens a selection set's fields, fragments included.
func fields(sel ast.SelectionSet) []*ast.Field {
	var out []*ast.Field
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			out = append(out, s)
		case *ast.InlineFragment:
			out = append(out, fields(s.SelectionSet)...)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				out = append(out, fields(s.Definition.SelectionSet)...)
			}
		}
	}
	return out
}

// pageKey names a response: the set at its version, who asks (the role:
// every field of a page resolves alike for one role) and what.
func pageKey(oc *graphql.OperationContext, set *ent.BackupSet, v *auth.Viewer) (string, error) {
	return fanout.RequestKey(oc, set.ID+"\x00"+strconv.FormatInt(set.ItemsVersion, 10)+"\x00"+string(v.Role))
}

func (c *pageCache) get(key string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entries[key]
	if el == nil {
		return nil
	}
	c.recency.MoveToFront(el)
	return el.Value.(*pageEntry).data
}

// put keeps data under key, forgetting the least recently used responses
// beyond the budget; a response over a sixteenth of it is not kept.
func (c *pageCache) put(key string, data []byte) {
	size := len(key) + len(data)
	if size > c.maxEntry {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.entries[key]; el != nil {
		c.recency.MoveToFront(el)
		return
	}
	c.entries[key] = c.recency.PushFront(&pageEntry{key: key, data: data})
	c.used += size
	for c.used > c.max {
		old := c.recency.Back()
		e := old.Value.(*pageEntry)
		c.recency.Remove(old)
		delete(c.entries, e.key)
		c.used -= len(e.key) + len(e.data)
	}
}
