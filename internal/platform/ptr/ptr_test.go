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

func TestNonZero(t *testing.T) {
	if got := NonZero(""); got != nil {
		t.Errorf("NonZero(\"\") = %v, want nil", got)
	}
	if got := NonZero("x"); got == nil || *got != "x" {
		t.Errorf("NonZero(\"x\") = %v, want &\"x\"", got)
	}
}
