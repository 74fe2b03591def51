package server

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"

	"github.com/restored/restored/internal/platform/apperr"
)

// Media types of GraphQL-over-HTTP responses.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// graphQLOverHTTP brings gqlgen's HTTP answers in line with the
// GraphQL-over-HTTP spec's SHOULDs and gives every error an
// extensions.code:
//   - a request that failed before execution (parse, validation, variables:
//     gqlgen's 422) answers 200 under application/json, whose clients read
//     errors from the body, and 400 under application/graphql-response+json,
//     which then carries no "data" entry;
//   - errors gqlgen's transports raise themselves (a mutation over GET, a
//     body without a content type) carry no code: they get BAD_USER_INPUT
//     (INTERNAL for 5xx) with reason TRANSPORT.
//
// Websocket upgrades pass through untouched.
func graphQLOverHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocket(r) || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		status, body := rec.status, rec.body.Bytes()
		media, _, _ := mime.ParseMediaType(rec.header.Get("Content-Type"))
		if media == "" && status >= 400 && json.Valid(body) {
			// gqlgen's own transport refusals are JSON without a type.
			media = mediaJSON
			rec.header.Set("Content-Type", mediaJSON)
		}
		if status >= 400 && (media == mediaJSON || media == mediaGraphQLResponse) {
			status, body = specResponse(media, status, body)
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// specResponse rewrites a failed response's status and body (see
// graphQLOverHTTP). Bodies that are not GraphQL responses are left alone.
func specResponse(media string, status int, body []byte) (int, []byte) {
	var resp map[string]json.RawMessage
	if json.Unmarshal(body, &resp) != nil || resp["errors"] == nil {
		return status, body
	}
	var errs []map[string]any
	if json.Unmarshal(resp["errors"], &errs) != nil {
		return status, body
	}
	for _, e := range errs {
		ext, _ := e["extensions"].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			e["extensions"] = ext
		}
		if _, ok := ext["code"]; !ok {
			code := apperr.BadUserInput
			if status >= 500 {
				code = apperr.Internal
			}
			ext["code"] = string(code)
			ext["reason"] = "TRANSPORT"
		}
	}
	resp["errors"], _ = json.Marshal(errs)
	if status == http.StatusUnprocessableEntity {
		// Parsed JSON, refused document: a request error.
		if media == mediaJSON {
			status = http.StatusOK
		} else {
			status = http.StatusBadRequest
		}
	}
	if media == mediaGraphQLResponse && status >= 400 {
		delete(resp, "data") // a request error never executed: no data entry
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return status, body
	}
	return status, out
}

// recorder buffers a response so it can be corrected before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}
