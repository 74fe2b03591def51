// Package ptr holds the one helper for optional values: ent and gqlgen give
// optional fields and arguments as pointers.
package ptr

// Deref returns *p, or the zero value of T when p is nil.
func Deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
