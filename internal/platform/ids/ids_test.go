package ids_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/platform/ids"
)

// crockford is the alphabet an id body must be drawn from: Crockford's base32
// without I, L, O and U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// body returns the part of id after the prefix separator, failing the test
// when id does not have the "<prefix>_<26 chars>" shape.
func body(tb testing.TB, id, prefix string) string {
	tb.Helper()
	b, ok := strings.CutPrefix(id, prefix+"_")
	if !ok {
		tb.Fatalf("id %q does not start with %q", id, prefix+"_")
	}
	if len(b) != 26 {
		tb.Fatalf("id %q: body %q has %d characters, want 26", id, b, len(b))
	}
	for i, r := range b {
		if !strings.ContainsRune(crockford, r) {
			tb.Fatalf("id %q: body character %d is %q, not in Crockford's base32 alphabet", id, i, r)
		}
	}
	return b
}

func TestNewPrefixRoundTrip(t *testing.T) {
	prefixes := []string{
		ids.Workspace, ids.User, ids.Membership, ids.APIToken, ids.Environment,
		ids.Policy, ids.PolicyVersion, ids.BackupSet, ids.BackupItem, ids.RestoreRun,
		ids.RestoreRunItem, ids.OperationRun, ids.AuditLog, ids.Notification,
		"x", "with_underscore",
	}
	for _, p := range prefixes {
		t.Run(p, func(t *testing.T) {
			id := ids.New(p)
			body(t, id, p)
			if got := ids.Prefix(id); got != p {
				t.Errorf("Prefix(%q) = %q, want %q", id, got, p)
			}
		})
	}
}

func TestNewUnique(t *testing.T) {
	const n = 10000
	seen := make(map[string]bool, n)
	for i := 0; i < n; i++ {
		id := ids.New(ids.RestoreRun)
		body(t, id, ids.RestoreRun)
		if seen[id] {
			t.Fatalf("id %q made twice within %d ids", id, i+1)
		}
		seen[id] = true
	}
}

// TestNewTimeOrdered checks that an id made in a later millisecond sorts
// after one made earlier, which cursor pagination and index locality rely on.
// Within one millisecond the order is random, so each id is compared only
// with ids from strictly earlier milliseconds.
func TestNewTimeOrdered(t *testing.T) {
	type stamped struct {
		ms int64
		id string
	}
	var made []stamped
	distinct := map[int64]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(distinct) < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the clock advanced through only %d milliseconds in 5 s", len(distinct))
		}
		for range 3 {
			before := time.Now().UnixMilli()
			id := ids.New(ids.AuditLog)
			if after := time.Now().UnixMilli(); after != before {
				continue // unsure which millisecond New saw
			}
			made = append(made, stamped{before, id})
			distinct[before] = true
		}
		time.Sleep(time.Millisecond) // move on to a later millisecond
	}
	for i, a := range made {
		for _, b := range made[i+1:] {
			if b.ms > a.ms && !(b.id > a.id) {
				t.Fatalf("id %q (ms %d) does not sort after %q (ms %d)", b.id, b.ms, a.id, a.ms)
			}
		}
	}
}

func TestPrefixMalformed(t *testing.T) {
	valid := ids.New(ids.User)
	validBody := valid[len(ids.User)+1:]
	tests := []struct {
		name string
		id   string
		want string
	}{
		{"empty", "", ""},
		{"no separator", "usr" + validBody, ""},
		{"no prefix", "_" + validBody, ""},
		{"body too short", "usr_" + validBody[:25], ""},
		{"body too long", "usr_" + validBody + "0", ""},
		{"separator only", "_", ""},
		{"prefix only", "usr_", ""},
		{"trailing separator", valid + "_", ""},
		{"valid", valid, "usr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ids.Prefix(tt.id)); diff != "" {
				t.Errorf("Prefix(%q) mismatch (-want +got):\n%s", tt.id, diff)
			}
		})
	}
}
