package apperr

import (
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWrap: Wrap adds context in front of the message and keeps the cause
// reachable, and leaves a nil error nil.
func TestWrap(t *testing.T) {
	wrapped := func(cause error) (err error) {
		defer Wrap(&err, "load run %s", "r1")
		return cause
	}
	if err := wrapped(nil); err != nil {
		t.Fatalf("Wrap of nil = %v, want nil", err)
	}

	err := wrapped(io.ErrUnexpectedEOF)
	if got, want := err.Error(), "load run r1: unexpected EOF"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("errors.Is lost the cause of %v", err)
	}
	if got := CodeOf(err); got != Internal {
		t.Errorf("CodeOf(foreign) = %s, want INTERNAL", got)
	}

	cause := &Error{Code: Conflict, Message: "the run changed meanwhile", Gates: []string{"g"}}
	err = wrapped(cause)
	e, ok := As(err)
	if !ok || e != cause {
		t.Fatalf("As(%v) = %v, %v; want the wrapped *Error", err, e, ok)
	}
	if diff := cmp.Diff([]string{"CONFLICT", "CONFLICT"}, []string{string(CodeOf(err)), SafeCode(err)}); diff != "" {
		t.Errorf("CodeOf, SafeCode of a wrapped *Error (-want +got):\n%s", diff)
	}
}
