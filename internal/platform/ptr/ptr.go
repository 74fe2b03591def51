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

// NonZero returns &v, or nil when v is T's zero value: a GraphQL null for an
// empty optional field.
func NonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}
