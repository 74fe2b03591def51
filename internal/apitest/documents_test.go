package apitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restored/restored/internal/app"
	"github.com/restored/restored/internal/platform/config"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// postRaw sends a GraphQL-over-HTTP body as is.
func (e *env) postRaw(token string, body map[string]any) *response {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return e.do(req)
}

// TestPersistedQueriesSharedByReplicas: a query registered on one replica
// (automatic persisted queries) is served by hash alone on another.
func TestPersistedQueriesSharedByReplicas(t *testing.T) {
	e := start(t)
	other := e.peer(t)
	const q = `query Mine { viewer { role } }`
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha(q)}}
	r := other.postRaw(e.owner, map[string]any{"extensions": ext})
	if r.Errors == nil || !strings.Contains(r.Raw, "PersistedQueryNotFound") {
		t.Fatalf("an unregistered hash was served: %s", r.Raw)
	}
	if r := e.postRaw(e.owner, map[string]any{"query": q, "extensions": ext}); len(r.Errors) > 0 {
		t.Fatalf("register: %s", r.Raw)
	}
	r = other.postRaw(e.owner, map[string]any{"extensions": ext})
	if len(r.Errors) > 0 || !strings.Contains(r.Raw, "OWNER") {
		t.Fatalf("the other replica does not know the registered query: %s", r.Raw)
	}
}

// TestTrustedDocuments: with a trusted documents file only its operations
// run, by text or by hash; anything else, introspection included, is
// refused; a file whose hash does not match its document stops the start.
func TestTrustedDocuments(t *testing.T) {
	const q = `query Role { viewer { role } }`
	file := filepath.Join(t.TempDir(), "docs.json")
	b, _ := json.Marshal(map[string]string{sha(q): q})
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	e := start(t, func(c *config.Config) { c.TrustedDocuments = file })
	if r := e.post(e.owner, q, nil); len(r.Errors) > 0 || !strings.Contains(r.Raw, "OWNER") {
		t.Fatalf("registered document by text: %s", r.Raw)
	}
	if r := e.postRaw(e.owner, map[string]any{"extensions": map[string]any{"documentId": "sha256:" + sha(q)}}); len(r.Errors) > 0 {
		t.Fatalf("registered document by id: %s", r.Raw)
	}
	for _, other := range []string{`{ viewer { role capabilities } }`, `{ __schema { types { name } } }`} {
		r := e.post(e.owner, other, nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != "DOCUMENT_NOT_TRUSTED" {
			t.Errorf("%s: %d %s", other, r.Status, r.Raw)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	b, _ = json.Marshal(map[string]string{sha("{ a }"): q})
	_ = os.WriteFile(bad, b, 0o600)
	cfg := *e.app.Config
	cfg.TrustedDocuments = bad
	cfg.RedisURL = e.app.Redis.URL
	if a, err := app.New(context.Background(), &cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		a.Close()
		t.Fatal("a trusted documents file with a wrong hash was accepted")
	} else if !strings.Contains(err.Error(), "not the SHA-256") {
		t.Errorf("error %v does not say why", err)
	}
}
