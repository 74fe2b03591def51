package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/testenv"
)

// TestPresenterWrappedErrors: errors wrapped with context on their way up
// (apperr.Wrap) still present their own code and message to clients; the
// context of an INTERNAL error reaches the log only.
func TestPresenterWrappedErrors(t *testing.T) {
	wrap := func(cause error) (err error) {
		defer apperr.Wrap(&err, "load run %s", "r1")
		return cause
	}
	type shown struct {
		Message    string
		Extensions map[string]any
	}
	cases := []struct {
		name string
		err  error
		want shown
		log  string // "" when nothing may be logged
	}{
		{"not found", wrap(apperr.New(apperr.NotFound, "no restore run %q", "r1")),
			shown{`no restore run "r1"`, map[string]any{"code": "NOT_FOUND"}}, ""},
		{"bad input", wrap(apperr.Invalid("name", "a backup set needs a name")),
			shown{"a backup set needs a name", map[string]any{"code": "BAD_USER_INPUT", "field": "name"}}, ""},
		{"gate", wrap(&apperr.Error{Code: apperr.GateBlocked, Message: "checks are stale", Gates: []string{"CHECKS_CURRENT"}}),
			shown{"checks are stale", map[string]any{"code": "GATE_BLOCKED", "gates": []string{"CHECKS_CURRENT"}}}, ""},
		{"internal", wrap(errors.New("pq: connection reset (password=hunter2)")),
			shown{"internal error", map[string]any{"code": "INTERNAL"}}, "load run r1: pq: connection reset"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var log testenv.LockedBuffer
			p := presenter(Options{Log: slog.New(slog.NewTextHandler(&log, nil))})
			got := p(context.Background(), c.err)
			if diff := cmp.Diff(c.want, shown{got.Message, got.Extensions}); diff != "" {
				t.Errorf("presented (-want +got):\n%s", diff)
			}
			if c.log == "" && log.String() != "" {
				t.Errorf("a client error was logged: %s", log.String())
			}
			if c.log != "" && !strings.Contains(log.String(), c.log) {
				t.Errorf("log %q lacks the context %q", log.String(), c.log)
			}
		})
	}
}
