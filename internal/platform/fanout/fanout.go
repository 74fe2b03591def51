// Package fanout makes a subscription event cost one GraphQL execution per
// distinct subscription in a process, not one per subscriber.
//
// gqlgen executes a subscription's selection set and encodes its JSON once
// for every subscriber and every event. With 10,000 subscribers to one
// workspace's audit feed that is 10,000 identical executions per entry, which
// was most of the CPU a busy process spent on live updates. Here, when a
// resolver hands its channel to Share, the first subscriber to take an event
// executes the selection set as usual and the others asking the same thing
// (same document, operation, variables and audience) reuse its response; only
// the final write stays per subscriber.
//
// Wire it in by wrapping the executable schema with Schema. A resolver opts in
// with Share, and only where every field below the subscription resolves the
// same for every subscriber of the audience it names (no per-user field
// resolvers): authorization happens when subscribing, as before.
package fanout

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"unique"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// remembered is how many recent events keep their responses: a subscriber
// may lag behind the others by up to its buffer (events.Feed allows 256);
// one further behind executes for itself, which is correct, only slower.
const remembered = 512

type slotKey struct{}

// slot connects one subscription's resolver (Share) to its response handler
// (Schema.Exec): the handler takes each event first and passes it on to
// gqlgen's generated code only when it has to execute.
type slot struct {
	audience string
	recv     func(ctx context.Context) (any, bool)
	give     func(v any)
}

// Share hands in, a subscription resolver's channel, to the Schema so that
// subscribers of the same audience asking the same document share one
// execution per event. Values must be the same for every subscriber of an
// event (events.Feed delivers one pointer to all), and audience must name
// everything the response may depend on besides the value and the request:
// a workspace and a role, say. Outside a Schema, in is returned as it is.
func Share[T comparable](ctx context.Context, in <-chan T, audience string) <-chan T {
	s, _ := ctx.Value(slotKey{}).(*slot)
	if s == nil || s.recv != nil || audience == "" {
		return in
	}
	out := make(chan T, 1)
	s.audience = audience
	s.recv = func(ctx context.Context) (any, bool) {
		select {
		case v, ok := <-in:
			return v, ok
		case <-ctx.Done():
			return nil, false
		}
	}
	s.give = func(v any) {
		// Only the subscription's own goroutine sends and receives here; a
		// value left by an execution that ended early is replaced, so this
		// never blocks.
		select {
		case <-out:
		default:
		}
		out <- v.(T)
	}
	return out
}

// Schema wraps an executable schema so that subscriptions whose resolver
// called Share execute once per event and request. counted, if not nil, is
// told of each shared subscription's response: shared or executed.
func Schema(es graphql.ExecutableSchema, counted func(shared bool)) graphql.ExecutableSchema {
	if counted == nil {
		counted = func(bool) {}
	}
	return &schema{ExecutableSchema: es, cache: newCache(), counted: counted}
}

type schema struct {
	graphql.ExecutableSchema
	cache   *cache
	counted func(shared bool)
}

func (s *schema) Exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return s.ExecutableSchema.Exec(ctx)
	}
	sl := &slot{}
	next := s.ExecutableSchema.Exec(context.WithValue(ctx, slotKey{}, sl))
	if sl.recv == nil {
		return next // the resolver did not share, or failed
	}
	key, err := RequestKey(oc, sl.audience)
	if err != nil {
		return next
	}
	// Interned: the cache compares requests by pointer, and the string is
	// dropped once no subscription or cached response holds it.
	request := unique.Make(key)
	return func(ctx context.Context) (resp *graphql.Response) {
		v, ok := sl.recv(ctx)
		if !ok {
			return nil // the feed ended or the client left
		}
		e, first := s.cache.entry(v, request)
		if !first {
			if data, ok := e.wait(ctx); ok {
				s.counted(true)
				// A fresh Response each time: gqlgen's executor appends
				// errors and extensions to the one it is handed.
				return &graphql.Response{Data: data}
			}
		}
		if first {
			// Deferred so that waiters are released whatever happens.
			defer func() { e.settle(resp, len(graphql.GetErrors(ctx)) == 0) }()
		}
		s.counted(false)
		sl.give(v)
		return next(ctx)
	}
}

// RequestKey names what a request asked, for keeping its response: the
// audience (whom the response is for, as far as it may differ) and the
// operation with its variables. Here everything besides the event; the
// server's page cache keys its pages with it too.
// that the response depends on.
func RequestKey(oc *graphql.OperationContext, audience string) (string, error) {
	vars, err := json.Marshal(oc.Variables) // map keys sorted: one spelling per value
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	for _, part := range []string{audience, oc.OperationName, oc.RawQuery} {
		b.WriteString(part)
		b.WriteByte(0)
	}
	b.Write(vars)
	return b.String(), nil
}

// entry is one event's response to one request: computed by the first
// subscriber to get there, awaited by the others.
type entry struct {
	done chan struct{}
	data []byte // nil when the first execution failed or errored
}

func (e *entry) settle(resp *graphql.Response, clean bool) {
	if resp != nil && clean && len(resp.Errors) == 0 {
		// gqlgen reuses the executing subscriber's buffer for its next event.
		e.data = bytes.Clone(resp.Data)
	}
	close(e.done)
}

// wait returns the shared response, or false when the subscriber must
// execute for itself (the first one's had errors: they are reported per
// subscriber, never shared).
func (e *entry) wait(ctx context.Context) ([]byte, bool) {
	select {
	case <-e.done: // usually settled already: one subscriber executes while the rest are still writing
		return e.data, e.data != nil
	default:
	}
	select {
	case <-e.done:
		return e.data, e.data != nil
	case <-ctx.Done():
		return nil, false
	}
}

type cacheKey struct {
	value   any
	request unique.Handle[string]
}

// cache holds the responses to the last `remembered` events.
type cache struct {
	mu      sync.Mutex
	entries map[cacheKey]*entry
	order   []any              // events, oldest first, at most remembered
	keys    map[any][]cacheKey // each event's entries, to forget them together
}

func newCache() *cache {
	return &cache{entries: map[cacheKey]*entry{}, keys: map[any][]cacheKey{}}
}

// entry returns the entry of (v, request) and whether the caller created it
// (and so must execute and settle it).
func (c *cache) entry(v any, request unique.Handle[string]) (*entry, bool) {
	k := cacheKey{v, request}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil {
		return e, false
	}
	if _, known := c.keys[v]; !known {
		if len(c.order) == remembered {
			old := c.order[0]
			c.order = c.order[1:]
			for _, ok := range c.keys[old] {
				delete(c.entries, ok)
			}
			delete(c.keys, old)
		}
		c.order = append(c.order, v)
	}
	e := &entry{done: make(chan struct{})}
	c.entries[k] = e
	c.keys[v] = append(c.keys[v], k)
	return e, true
}
