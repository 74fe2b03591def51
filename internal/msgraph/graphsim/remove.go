package graphsim

// Remove deletes an object the way an admin deleting it in the portal
// would: no throttling, no write log (test and demo setup, like Put). It
// reports whether the object existed.
func (t *Tenant) Remove(typeKey, id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.stores[typeKey]
	if !ok {
		return false
	}
	if _, ok := st.byID[id]; !ok {
		return false
	}
	t.remove(st, id)
	return true
}
