package graphsim

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxBatch is Graph's limit of requests in one JSON batch.
const maxBatch = 20

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body,omitempty"`
}

// batch serves POST /$batch (JSON batching). Each inner request runs
// through the whole pipeline (permissions, throttling, faults, write log),
// as Graph counts each toward the limits; they run in order, so dependsOn
// may only name an earlier request, and a request whose dependency failed
// gets 424 without running. The envelope itself needs a valid token but
// is not throttled.
func (s *Server) batch(env *call) reply {
	env.t.countRequest()
	if env.method != http.MethodPost {
		return methodNotAllowed(env.method).reply()
	}
	if env.authErr != nil {
		return *env.authErr
	}
	var in struct {
		Requests []batchRequest `json:"requests"`
	}
	if err := json.Unmarshal(env.body, &in); err != nil {
		return badRequest("Invalid batch payload format.").reply()
	}
	switch {
	case len(in.Requests) == 0:
		return badRequest("Invalid batch payload format: no requests.").reply()
	case len(in.Requests) > maxBatch:
		return badRequest("Too many requests in the batch: the limit is " + strconv.Itoa(maxBatch) + ".").reply()
	}
	seen := map[string]bool{}
	for _, r := range in.Requests {
		if err := checkBatchRequest(r, seen); err != nil {
			return err.reply()
		}
		seen[r.ID] = true
	}
	status := map[string]int{}
	out := make([]batchResponse, 0, len(in.Requests))
	for _, r := range in.Requests {
		failedDep := false
		for _, d := range r.DependsOn {
			if status[d] >= 400 {
				failedDep = true
			}
		}
		var rep reply
		if failedDep {
			rep = errReply(http.StatusFailedDependency, "FailedDependency", "The request depends on a request that failed.")
		} else {
			rep = s.exec(innerCall(env, r))
		}
		status[r.ID] = rep.status
		id := ids{request: newGUID(), client: r.Headers["client-request-id"]}
		if id.client == "" {
			id.client = id.request
		}
		fillInner(rep, id, s.now())
		resp := batchResponse{ID: r.ID, Status: rep.status, Body: rep.body,
			Headers: map[string]string{"request-id": id.request, "client-request-id": id.client}}
		for k, v := range rep.header {
			resp.Headers[k] = v
		}
		if rep.body != nil {
			resp.Headers["Content-Type"] = contentType
		}
		out = append(out, resp)
	}
	return reply{status: http.StatusOK, body: map[string]any{"responses": out}}
}

// checkBatchRequest applies Graph's rules for one inner request; seen holds
// the ids of the requests before it.
func checkBatchRequest(r batchRequest, seen map[string]bool) *apiErr {
	switch {
	case r.ID == "":
		return badRequest("Every request in a batch needs an id.")
	case seen[r.ID]:
		return badRequest("The batch contains the request id '" + r.ID + "' more than once.")
	case r.Method == "" || r.URL == "":
		return badRequest("Request id " + r.ID + " needs a method and a url.")
	case strings.Contains(r.URL, "://"):
		return badRequest("Request id " + r.ID + ": the url must be relative to the version root.")
	}
	switch strings.ToUpper(r.Method) {
	case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
	default:
		return badRequest("Request id " + r.ID + ": unsupported method '" + r.Method + "'.")
	}
	hasBody := len(bytes.TrimSpace(r.Body)) > 0 && !bytes.Equal(bytes.TrimSpace(r.Body), []byte("null"))
	if hasBody {
		ct := ""
		for k, v := range r.Headers {
			if strings.EqualFold(k, "Content-Type") {
				ct = v
			}
		}
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return badRequest("Write request id : " + r.ID + " does not contain Content-Type header or body.")
		}
	}
	for _, d := range r.DependsOn {
		if !seen[d] {
			return badRequest("Request id " + r.ID + " depends on '" + d + "', which is not an earlier request of the batch.")
		}
	}
	return nil
}

// innerCall builds the call of one batched request from its envelope.
func innerCall(env *call, r batchRequest) *call {
	path, rawQuery, _ := strings.Cut(strings.TrimPrefix(r.URL, "/"), "?")
	q, _ := url.ParseQuery(rawQuery)
	var body []byte
	if b := bytes.TrimSpace(r.Body); len(b) > 0 && !bytes.Equal(b, []byte("null")) {
		body = b
	}
	c := *env
	c.method = strings.ToUpper(r.Method)
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	c.path = strings.Trim(path, "/")
	c.query = q
	c.body = body
	return &c
}
