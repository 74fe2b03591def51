package fanout

import (
	"context"
	"testing"
	"time"
	"unique"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestOneExecutorPerEventAndRequest: the first subscriber to reach an
// (event, request) executes, the others wait for its response; another
// request or event gets its own.
func TestOneExecutorPerEventAndRequest(t *testing.T) {
	c := newCache()
	ev1, ev2 := new(int), new(int)
	q1, q2 := unique.Make("q1"), unique.Make("q2")
	e, first := c.entry(ev1, q1)
	if !first {
		t.Fatal("the first subscriber must execute")
	}
	if _, again := c.entry(ev1, q1); again {
		t.Fatal("a second subscriber of the same event and request must wait, not execute")
	}
	if _, own := c.entry(ev1, q2); !own {
		t.Fatal("another request executes on its own")
	}
	if _, own := c.entry(ev2, q1); !own {
		t.Fatal("another event executes on its own")
	}
	got := make(chan []byte)
	go func() {
		data, ok := e.wait(context.Background())
		if !ok {
			data = nil
		}
		got <- data
	}()
	buf := []byte(`{"a":1}`)
	e.settle(&graphql.Response{Data: buf}, true)
	copy(buf, `{"b":2}`) // gqlgen reuses its buffer for the next event
	if data := <-got; string(data) != `{"a":1}` {
		t.Fatalf("waiter got %s", data)
	}
}

// TestErrorsAreNotShared: a response with errors, or none at all, releases
// the waiters to execute for themselves.
func TestErrorsAreNotShared(t *testing.T) {
	for name, settle := range map[string]func(*entry){
		"response errors": func(e *entry) {
			e.settle(&graphql.Response{Data: []byte(`{}`), Errors: gqlerror.List{{Message: "x"}}}, true)
		},
		"field errors": func(e *entry) { e.settle(&graphql.Response{Data: []byte(`{}`)}, false) },
		"no response":  func(e *entry) { e.settle(nil, true) },
	} {
		e, _ := newCache().entry(new(int), unique.Make("q"))
		settle(e)
		if data, ok := e.wait(context.Background()); ok {
			t.Errorf("%s: shared %s", name, data)
		}
	}
}

// TestWaiterLeavesWithItsContext: a subscriber that goes away while
// waiting is not held by a slow executor.
func TestWaiterLeavesWithItsContext(t *testing.T) {
	e, _ := newCache().entry(new(int), unique.Make("q"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, ok := e.wait(ctx); ok {
		t.Fatal("an unsettled entry shared a response")
	}
}

// TestCacheRemembersRecentEventsOnly: responses are kept for the last
// `remembered` events, so memory stays bounded however long a feed runs.
func TestCacheRemembersRecentEventsOnly(t *testing.T) {
	c := newCache()
	q := unique.Make("q")
	events := make([]*int, remembered+100)
	for i := range events {
		events[i] = new(int)
		e, _ := c.entry(events[i], q)
		e.settle(&graphql.Response{Data: []byte(`{}`)}, true)
	}
	if len(c.entries) != remembered || len(c.order) != remembered || len(c.keys) != remembered {
		t.Fatalf("holds %d entries, %d events, %d keys; want %d", len(c.entries), len(c.order), len(c.keys), remembered)
	}
	if _, first := c.entry(events[0], q); !first {
		t.Error("the oldest event was not forgotten")
	}
	if _, first := c.entry(events[len(events)-1], q); first {
		t.Error("the newest event was forgotten")
	}
}
