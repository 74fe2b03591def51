package ptr

import "testing"

func TestDeref(t *testing.T) {
	s := "x"
	if got := Deref(&s); got != "x" {
		t.Errorf("Deref(&%q) = %q", s, got)
	}
	if got := Deref[string](nil); got != "" {
		t.Errorf("Deref(nil) = %q, want \"\"", got)
	}
	if got := Deref[int](nil); got != 0 {
		t.Errorf("Deref[int](nil) = %d, want 0", got)
	}
}
