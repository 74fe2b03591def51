package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/server/gorillaws"
)

// graphQLError writes a GraphQL-shaped error response for requests refused
// before they reach the GraphQL executor.
func graphQLError(w http.ResponseWriter, status int, code apperr.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	resp := map[string]any{"errors": []map[string]any{{
		"message":    msg,
		"extensions": map[string]any{"code": code},
	}}}
	writeBody(w, resp)
}

// authenticate resolves the bearer token of HTTP requests. Websocket upgrades
// pass through: their token comes in connection_init (see newGraphQL).
func authenticate(a *auth.Authenticator, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocket(r) {
			// Authenticated in connection_init (wsInit); the override lets
			// wsInit close the socket with 4403 when its token ends.
			next.ServeHTTP(w, r.WithContext(gorillaws.WithCloseOverride(r.Context())))
			return
		}
		secret, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="restored"`)
			graphQLError(w, http.StatusUnauthorized, apperr.Unauthenticated,
				"missing API token: send Authorization: Bearer <token>")
			return
		}
		v, ok := viewerFor(w, r, a, log, secret)
		if !ok {
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithViewer(r.Context(), v)))
	})
}

// viewerFor authenticates secret for an HTTP request, or answers the
// refusal itself (401 for a bad token, 503 when authentication is down)
// and reports false.
func viewerFor(w http.ResponseWriter, r *http.Request, a *auth.Authenticator, log *slog.Logger, secret string) (*auth.Viewer, bool) {
	v, err := a.Authenticate(r.Context(), secret)
	if err == nil {
		return v, true
	}
	if apperr.CodeOf(err) == apperr.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="restored", error="invalid_token"`)
		graphQLError(w, http.StatusUnauthorized, apperr.Unauthenticated, err.(*apperr.Error).Message)
		return nil, false
	}
	log.Error("authenticate", "path", r.URL.Path, "err", err)
	graphQLError(w, http.StatusServiceUnavailable, apperr.Internal, "authentication is unavailable, try again")
	return nil, false
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// bearer extracts the token of an Authorization header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// limitBody refuses request bodies over max bytes with 413 and a GraphQL
// error, before any of it is parsed.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if max <= 0 || r.Body == nil || r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := func() {
			graphQLError(w, http.StatusRequestEntityTooLarge, apperr.BadUserInput,
				"request body exceeds the limit of "+strconv.FormatInt(max, 10)+" bytes")
		}
		if r.ContentLength > max {
			tooLarge()
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge()
			return
		}
		if err != nil {
			graphQLError(w, http.StatusBadRequest, apperr.BadUserInput, "could not read the request body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func writeBody(w http.ResponseWriter, v any) {
	json.NewEncoder(w).Encode(v)
}
