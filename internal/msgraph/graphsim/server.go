package graphsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/restored/restored/internal/intune"
)

// Options configure a Server. The zero value works: no auth, pages of 100,
// the real clock, no logging.
type Options struct {
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
	// RequireAuth makes every Graph call present a bearer token issued by
	// this server's token endpoint for the tenant in the URL, with the roles
	// the call needs (see Tenant.SetPermissions).
	RequireAuth bool
	// PageSize is the default page size of collections (100, like Intune).
	PageSize int
	// Now is the clock for timestamps, token lifetimes and throttling
	// windows; time.Now when nil.
	Now func() time.Time
}

// Server is a simulated Microsoft Graph serving many tenants. It is safe for
// concurrent use.
type Server struct {
	log         *slog.Logger
	requireAuth bool
	pageSize    int
	now         func() time.Time
	key         []byte // HMAC key signing this server's access tokens

	mu      sync.RWMutex
	tenants map[string]*Tenant
}

// New returns a Server without tenants; create them with Server.Tenant.
func New(o Options) *Server {
	s := &Server{
		log:         o.Logger,
		requireAuth: o.RequireAuth,
		pageSize:    o.PageSize,
		now:         o.Now,
		key:         randomBytes(32),
		tenants:     map[string]*Tenant{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.pageSize <= 0 {
		s.pageSize = 100
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// BaseURL returns the Graph base URL (beta) of tenant on the server at
// serverURL, e.g. https://127.0.0.1:8443/t/contoso/beta.
func BaseURL(serverURL, tenant string) string {
	return strings.TrimSuffix(serverURL, "/") + "/t/" + url.PathEscape(tenant) + "/beta"
}

// Tenant returns the tenant with id, creating it when it does not exist. A
// new tenant has the built-in Default scope tag (id "0"), Microsoft's default
// throttling limits and every permission restored uses.
func (s *Server) Tenant(id string) *Tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tenants[id]; ok {
		return t
	}
	t := newTenant(s, id)
	s.tenants[id] = t
	return t
}

// lookup returns an existing tenant: requests never create tenants, so a
// typo in a configured URL fails instead of talking to an empty tenant.
func (s *Server) lookup(id string) *Tenant {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tenants[id]
}

// Handler returns the HTTP handler serving every tenant.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// ids identifies one HTTP request in headers and error bodies, as Graph does.
type ids struct{ request, client string }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := ids{request: newGUID()}
	id.client = r.Header.Get("client-request-id")
	if id.client == "" {
		id.client = id.request
	}
	w.Header().Set("request-id", id.request)
	w.Header().Set("client-request-id", id.client)
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}

	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	// The identity routes are matched first: a tenant named "t" must still
	// reach its token endpoint.
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token":
		s.serveToken(sw, r, segs[0])
	case len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration":
		s.serveOpenID(sw, r, segs[0])
	case len(segs) >= 3 && segs[0] == "t":
		s.serveGraph(sw, r, segs[1], segs[2], strings.Join(segs[3:], "/"), id)
	default:
		writeReply(sw, errReply(http.StatusNotFound, "NotFound", "No route for "+r.URL.Path), id, s.now())
	}
	s.log.Debug("graphsim", "method", r.Method, "path", r.URL.Path, "status", sw.status, "took", time.Since(start))
}

// statusWriter remembers the status for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// maxBody is Graph's request size limit.
const maxBody = 4 << 20

// call is one Graph request, from HTTP or from inside a $batch.
type call struct {
	t       *Tenant
	version string // "beta" or "v1.0"
	root    string // absolute URL of the version root, for nextLink and @odata.context
	method  string
	path    string // below the version root, no leading or trailing slash
	query   url.Values
	body    []byte
	app     string   // app id from the token ("" without auth)
	roles   []string // roles from the token
	authErr *reply   // set when RequireAuth and the token is bad: the call fails with it
	started time.Time
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, tenant, version, rest string, id ids) {
	now := s.now()
	if version != "beta" && version != "v1.0" {
		writeReply(w, errReply(http.StatusBadRequest, "BadRequest", "Invalid version: "+version), id, now)
		return
	}
	t := s.lookup(tenant)
	if t == nil {
		// Real Graph cannot be reached for a tenant that does not exist: the
		// token request already fails. Without auth this is the closest.
		writeReply(w, errReply(http.StatusUnauthorized, "InvalidAuthenticationToken", "Tenant '"+tenant+"' does not exist."), id, now)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeReply(w, errReply(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is larger than 4 MB."), id, now)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	c := &call{
		t: t, version: version,
		root:   scheme + "://" + r.Host + "/t/" + url.PathEscape(tenant) + "/" + version,
		method: r.Method, path: rest, query: r.URL.Query(), body: body, started: now,
	}
	if s.requireAuth {
		app, roles, rep := s.authenticate(r, tenant)
		c.app, c.roles, c.authErr = app, roles, rep
	}
	if d := t.faultsCopy().Latency; d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	var rep reply
	if rest == "$batch" {
		rep = s.batch(c)
	} else {
		rep = s.exec(c)
	}
	writeReply(w, rep, id, s.now())
}

// reply is a Graph response before it is written (to HTTP or into a $batch
// response).
type reply struct {
	status int
	body   any               // a JSON value; nil for no body
	header map[string]string // extra headers, e.g. Retry-After
}

// graphError is Graph's error body.
type graphError struct {
	Error graphErrorDetail `json:"error"`
}

type graphErrorDetail struct {
	Code       string            `json:"code"`
	Message    string            `json:"message"`
	InnerError map[string]string `json:"innerError,omitempty"`
}

func errReply(status int, code, msg string) reply {
	return reply{status: status, body: &graphError{Error: graphErrorDetail{Code: code, Message: msg}}}
}

// apiErr is a failed operation inside the store, turned into a reply at the
// edge.
type apiErr struct {
	status        int
	code, message string
}

func (e *apiErr) reply() reply { return errReply(e.status, e.code, e.message) }

func badRequest(msg string) *apiErr { return &apiErr{http.StatusBadRequest, "BadRequest", msg} }
func invalid(msg string) *apiErr {
	return &apiErr{http.StatusBadRequest, "ModelValidationFailure", msg}
}
func notFound(msg string) *apiErr { return &apiErr{http.StatusNotFound, "ResourceNotFound", msg} }
func segmentNotFound(seg string) *apiErr {
	return badRequest("Resource not found for the segment '" + seg + "'.")
}
func methodNotAllowed(method string) *apiErr {
	return &apiErr{http.StatusMethodNotAllowed, "BadRequest", "The HTTP method '" + method + "' is not supported on this resource."}
}

// codeForStatus names a Graph error code for an injected failure status.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "ResourceNotFound"
	case http.StatusConflict:
		return "Conflict"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusGatewayTimeout:
		return "GatewayTimeout"
	case http.StatusInternalServerError:
		return "InternalServerError"
	}
	return "UnknownError"
}

// contentType is what Graph sends with JSON bodies.
const contentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// fillInner adds Graph's innerError block (date and request ids) to error
// bodies; clients log the request-id when they report a failure.
func fillInner(rep reply, id ids, now time.Time) {
	if e, ok := rep.body.(*graphError); ok && e.Error.InnerError == nil {
		e.Error.InnerError = map[string]string{
			"date":              now.UTC().Format("2006-01-02T15:04:05"),
			"request-id":        id.request,
			"client-request-id": id.client,
		}
	}
}

func writeReply(w http.ResponseWriter, rep reply, id ids, now time.Time) {
	fillInner(rep, id, now)
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	b, err := marshal(rep.body)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(rep.status)
	_, _ = w.Write(b)
}

// marshal encodes JSON without HTML escaping, as Graph does ('<' in a
// script stays '<').
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// isWrite reports the methods Intune's throttling counts as writes.
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// exec runs one Graph call through the same pipeline Graph applies:
// authentication, permissions, throttling, transient faults, injected write
// failures, then the resource itself; a write is logged whatever happened.
func (s *Server) exec(c *call) reply {
	t := c.t
	write := isWrite(c.method)
	rep := func() reply {
		t.countRequest()
		if c.authErr != nil {
			return *c.authErr
		}
		if s.requireAuth {
			if need := requiredRoles(c.path, write); need != nil && !hasAny(c.roles, need) {
				return errReply(http.StatusForbidden, "Forbidden",
					"Application is not authorized to perform this operation. Application must have one of the following scopes: "+strings.Join(need, ", "))
			}
		}
		if rep, ok := t.admit(c.app, write, s.now()); !ok {
			return rep
		}
		if rep, ok := t.random503(); !ok {
			return rep
		}
		if write {
			if f := t.faultsCopy().FailWrite; f != nil {
				// Called without the tenant lock: the hook may look at the tenant.
				var body map[string]any
				_ = json.Unmarshal(c.body, &body)
				if status := f(c.method, c.path, body); status != 0 {
					return errReply(status, codeForStatus(status), "Injected failure.")
				}
			}
		}
		return s.route(c)
	}()
	if write {
		t.logWrite(Write{Method: c.method, Path: c.path, Status: rep.status, Started: c.started, At: s.now()})
	}
	return rep
}

// route dispatches a call to its resource.
func (s *Server) route(c *call) reply {
	segs := strings.Split(c.path, "/")
	if c.path == "" {
		return segmentNotFound("").reply()
	}
	if segs[0] == "groups" {
		return c.t.serveGroups(c, segs[1:])
	}
	if c.version == "beta" && len(segs) >= 2 && segs[0] == "deviceManagement" && segs[1] == "groupPolicyCategories" {
		return c.t.serveGroupPolicyCategories(c, segs[2:])
	}
	// Intune lives in beta: most catalog types have no v1.0 endpoint, and
	// v1.0 objects lack properties a restore must round-trip.
	if c.version == "beta" {
		for _, typ := range intune.Types() {
			p := strings.Split(typ.Path, "/")
			if len(segs) >= len(p) && equalSegs(segs[:len(p)], p) {
				return c.t.serveType(c, typ, segs[len(p):])
			}
		}
	}
	return segmentNotFound(firstUnknown(segs)).reply()
}

func equalSegs(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// firstUnknown names the segment Graph would complain about.
func firstUnknown(segs []string) string {
	if len(segs) > 1 && (segs[0] == "deviceManagement" || segs[0] == "deviceAppManagement") {
		return segs[1]
	}
	return segs[0]
}

// decodeObject parses a write body: Graph answers a body that is not a JSON
// object with 400.
func decodeObject(body []byte) (map[string]any, *apiErr) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("Empty payload. A JSON object is required.")
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, badRequest("Invalid JSON payload: syntax error at offset " + itoa(int(se.Offset)) + ".")
		}
		return nil, badRequest("Invalid payload: a JSON object is required.")
	}
	if m == nil {
		return nil, badRequest("Invalid payload: a JSON object is required.")
	}
	canonicalTypes(m)
	return m, nil
}
