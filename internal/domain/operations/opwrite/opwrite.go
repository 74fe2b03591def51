// Package opwrite marks the contexts in which an OperationRun's status and
// outcome may be written. The ent schema's hook refuses every other write of
// them, so package operations stays their only writer: it is the only
// non-test package allowed to import this one (operations_test checks the
// imports). It is a guard against a second writer creeping in, not an
// access control.
//
// It imports nothing of restored (ent/schema imports it).
package opwrite

import "context"

type key struct{}

// Allow returns ctx in which status and outcome writes pass the hook.
func Allow(ctx context.Context) context.Context { return context.WithValue(ctx, key{}, true) }

// Allowed reports whether ctx came from Allow.
func Allowed(ctx context.Context) bool {
	ok, _ := ctx.Value(key{}).(bool)
	return ok
}
