package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/restored/restored/internal/platform/redisconn"
)

// persistedQueries is the automatic persisted queries' store in Redis, so a
// client that registered a query on one replica can send only its hash to
// any other (gqlgen's default LRU is per process).
type persistedQueries struct{ conn *redisconn.Conn }

// persistedTTL keeps a query a day after its last registration or use.
const persistedTTL = 24 * time.Hour

func (p persistedQueries) Get(ctx context.Context, hash string) (string, bool) {
	key := p.conn.PersistedQueryKey(hash)
	q, err := p.conn.Client.GetEx(ctx, key, persistedTTL).Result()
	return q, err == nil
}

func (p persistedQueries) Add(ctx context.Context, hash, query string) {
	_ = p.conn.Client.Set(ctx, p.conn.PersistedQueryKey(hash), query, persistedTTL).Err()
}

// LoadTrustedDocuments reads a trusted documents file: a JSON object of
// SHA-256 hex hash → GraphQL document, as persisted-documents tooling
// (GraphQL Code Generator's client preset, Relay, Apollo's manifest
// flattened) writes. Every hash is checked against its document.
func LoadTrustedDocuments(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted documents: %w", err)
	}
	var docs map[string]string
	if err := json.Unmarshal(raw, &docs); err != nil {
		return nil, fmt.Errorf("trusted documents %s: want a JSON object of sha256 → document: %w", path, err)
	}
	out := make(map[string]string, len(docs))
	for h, doc := range docs {
		h = strings.TrimPrefix(strings.ToLower(h), "sha256:")
		if sum := sha256.Sum256([]byte(doc)); hex.EncodeToString(sum[:]) != h {
			return nil, fmt.Errorf("trusted documents %s: %s is not the SHA-256 of its document", path, h)
		}
		out[h] = doc
	}
	return out, nil
}

// trustedDocuments accepts only registered operations: a request names one
// by hash (extensions.persistedQuery.sha256Hash, or documentId) or sends a
// document whose hash is registered. Anything else, introspection included,
// is refused before it is parsed.
type trustedDocuments struct{ docs map[string]string }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = trustedDocuments{}

func (trustedDocuments) ExtensionName() string                   { return "TrustedDocuments" }
func (trustedDocuments) Validate(graphql.ExecutableSchema) error { return nil }

func (t trustedDocuments) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	hash := ""
	if pq, ok := p.Extensions["persistedQuery"].(map[string]any); ok {
		hash, _ = pq["sha256Hash"].(string)
	}
	if id, ok := p.Extensions["documentId"].(string); ok && hash == "" {
		hash = id
	}
	hash = strings.TrimPrefix(strings.ToLower(hash), "sha256:")
	if hash == "" && p.Query != "" {
		sum := sha256.Sum256([]byte(p.Query))
		hash = hex.EncodeToString(sum[:])
	}
	doc, ok := t.docs[hash]
	if !ok {
		return &gqlerror.Error{Message: "this server accepts only registered operations (trusted documents): register this document or send a registered one's hash",
			// Like gqlgen's own request errors, the code is the reason: the
			// presenter makes it BAD_USER_INPUT with this reason.
			Extensions: map[string]any{"code": "DOCUMENT_NOT_TRUSTED"}}
	}
	p.Query = doc
	return nil
}
