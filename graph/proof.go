package graph

// nonNil returns s, or an empty list for nil: the schema's lists are
// non-null, and an absent list means none.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
