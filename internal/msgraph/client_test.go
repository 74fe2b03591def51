package msgraph

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// staticCred is a credential that always returns token.
type staticCred string

func (s staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func trust(srvs ...*httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, s := range srvs {
		pool.AddCert(s.Certificate())
	}
	return pool
}

// MustNew returns a client of a TLS test Graph at srv.URL/beta that
// authenticates with the token "test-token" and never really sleeps unless
// realSleep; the waits it would have made are recorded in *waits.
func MustNew(tb testing.TB, srv *httptest.Server, mutate func(*Config)) (*Client, *[]time.Duration) {
	tb.Helper()
	cfg := Config{BaseURL: srv.URL + "/beta", RootCAs: trust(srv), Credential: staticCred("test-token"), Timeout: 10 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	var waits []time.Duration
	var mu sync.Mutex
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, &waits
}

// seen records what a test Graph received.
type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (s *seen) add(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	s.body = append(s.body, string(b))
}

func (s *seen) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// MustServe starts a TLS test Graph whose i-th request (from 0) gets h(i, w, r).
func MustServe(tb testing.TB, h func(i int, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *seen) {
	tb.Helper()
	s := &seen{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.add(r)
		h(s.n()-1, w, r)
	}))
	tb.Cleanup(srv.Close)
	return srv, s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestMiddlewareIsFixed(t *testing.T) {
	var got []string
	for _, m := range middleware() {
		got = append(got, reflect.TypeOf(m).String())
	}
	want := []string{"*msgraphgocore.GraphTelemetryHandler", "*nethttplibrary.RedirectHandler",
		"*nethttplibrary.ParametersNameDecodingHandler", "*nethttplibrary.UserAgentHandler",
		"*nethttplibrary.HeadersInspectionHandler"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("middleware = %v, want %v", got, want)
	}
	for _, m := range middleware() {
		switch m.(type) {
		case *khttp.CompressionHandler, *khttp.RetryHandler:
			t.Fatalf("middleware contains %T", m)
		}
	}
	c, _ := New(Config{BaseURL: "https://graph.microsoft.com/beta", NoAuth: true})
	if _, ok := c.adapter.(*msgraphgocore.GraphRequestAdapterBase); !ok {
		t.Fatalf("adapter is %T, want the Graph core adapter", c.adapter)
	}
}

func TestRequestShape(t *testing.T) {
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
		if i == 0 {
			w.Header().Set("Retry-After", "0")
			writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests"}})
			return
		}
		writeJSON(w, 201, map[string]any{"id": "new-id"})
	})
	c, _ := MustNew(t, srv, nil)
	body := map[string]any{"displayName": "Baseline <Win11> & more", "@odata.type": "#microsoft.graph.windows10GeneralConfiguration"}
	got, err := c.Post(context.Background(), "deviceManagement/deviceConfigurations", body)
	if err != nil {
		t.Fatal(err)
	}
	if got["id"] != "new-id" || s.n() != 2 {
		t.Fatalf("got %v after %d requests, want id new-id after 2", got, s.n())
	}
	ids := map[string]bool{}
	for i, r := range s.reqs {
		if r.URL.Path != "/beta/deviceManagement/deviceConfigurations" || r.Method != http.MethodPost {
			t.Errorf("request %d: %s %s", i, r.Method, r.URL.Path)
		}
		if ce := r.Header.Get("Content-Encoding"); ce != "" {
			t.Errorf("request %d: Content-Encoding %q: the body must go out plain", i, ce)
		}
		var decoded map[string]any
		if err := json.Unmarshal([]byte(s.body[i]), &decoded); err != nil || !reflect.DeepEqual(decoded, body) {
			t.Errorf("request %d: body %q", i, s.body[i])
		}
		if strings.Contains(s.body[i], `\u003c`) {
			t.Errorf("request %d: HTML-escaped body %q", i, s.body[i])
		}
		if r.ContentLength != int64(len(s.body[i])) {
			t.Errorf("request %d: ContentLength %d, body %d bytes", i, r.ContentLength, len(s.body[i]))
		}
		if got := r.Header.Get("Authorization"); got != "Bearer test-token" {
			t.Errorf("request %d: Authorization %q", i, got)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("request %d: Content-Type %q", i, ct)
		}
		crid := r.Header.Values("client-request-id")
		if len(crid) != 1 || !guid.MatchString(crid[0]) || ids[crid[0]] {
			t.Errorf("request %d: client-request-id %q, want one fresh GUID", i, crid)
		}
		ids[r.Header.Get("client-request-id")] = true
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "restored/") {
			t.Errorf("request %d: User-Agent %q", i, ua)
		}
		if sdk := r.Header.Get("SdkVersion"); !strings.HasPrefix(sdk, "graph-go-core/") {
			t.Errorf("request %d: SdkVersion %q", i, sdk)
		}
	}
}

func TestMethodsAndQuery(t *testing.T) {
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, 200, map[string]any{"id": "a", "n": 3})
		case http.MethodPost:
			w.WriteHeader(204)
		default:
			w.WriteHeader(204)
		}
	})
	c, _ := MustNew(t, srv, nil)
	ctx := context.Background()
	q := url.Values{"$filter": {"displayName eq 'A+B'"}, "$select": {"id,displayName"}}
	got, err := c.Get(ctx, "/deviceManagement/deviceConfigurations/a", q)
	if err != nil || got["id"] != "a" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if raw := s.reqs[0].URL.RawQuery; !strings.Contains(raw, "$filter=displayName%20eq%20%27A%2BB%27") || strings.Contains(raw, "+") {
		t.Errorf("query %q: want $-names decoded and %%20 for spaces", raw)
	}
	if got := s.reqs[0].URL.Query().Get("$filter"); got != "displayName eq 'A+B'" {
		t.Errorf("server read $filter %q", got)
	}
	if m, err := c.Post(ctx, "deviceManagement/deviceConfigurations/a/assign", json.RawMessage(`{"assignments":[]}`)); err != nil || m != nil {
		t.Errorf("Post 204 = %v, %v; want nil map", m, err)
	}
	if err := c.Patch(ctx, "deviceManagement/deviceConfigurations/a", map[string]any{"description": "x"}); err != nil {
		t.Error(err)
	}
	if err := c.Put(ctx, "deviceManagement/x/a/$ref", []byte(`{"@odata.id":"y"}`)); err != nil {
		t.Error(err)
	}
	if err := c.Delete(ctx, "deviceManagement/deviceConfigurations/a"); err != nil {
		t.Error(err)
	}
	var methods []string
	for _, r := range s.reqs {
		methods = append(methods, r.Method+" "+r.URL.Path)
	}
	want := []string{"GET /beta/deviceManagement/deviceConfigurations/a", "POST /beta/deviceManagement/deviceConfigurations/a/assign",
		"PATCH /beta/deviceManagement/deviceConfigurations/a", "PUT /beta/deviceManagement/x/a/$ref", "DELETE /beta/deviceManagement/deviceConfigurations/a"}
	if !reflect.DeepEqual(methods, want) {
		t.Errorf("requests = %q, want %q", methods, want)
	}
	if s.body[1] != `{"assignments":[]}` || s.body[3] != `{"@odata.id":"y"}` {
		t.Errorf("raw bodies changed: %q", s.body)
	}
	if _, err := c.Get(ctx, "https://evil.example.com/beta/x", nil); err == nil || s.n() != 5 {
		t.Errorf("absolute URL on another host: %v, want refused before sending", err)
	}
}

func TestNoAuthSendsNoAuthorization(t *testing.T) {
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{}) })
	c, _ := MustNew(t, srv, func(cfg *Config) { cfg.NoAuth, cfg.Credential = true, nil })
	if _, err := c.Get(context.Background(), "organization", nil); err != nil {
		t.Fatal(err)
	}
	if h := s.reqs[0].Header.Get("Authorization"); h != "" {
		t.Fatalf("Authorization %q with NoAuth", h)
	}
	if _, err := c.GrantedRoles(context.Background()); err == nil {
		t.Fatal("GrantedRoles without a credential: want an error")
	}
}

// tokenServer is a minimal Microsoft Entra ID: OpenID discovery and the v2
// token endpoint, over TLS as azidentity requires.
type tokenServer struct {
	*httptest.Server
	mu   sync.Mutex
	form url.Values
}

func newTokenServer(t *testing.T, status int, body string) *tokenServer {
	ts := &tokenServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := ts.URL + "/" + r.PathValue("tenant")
		writeJSON(w, 200, map[string]any{
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"issuer":                 base + "/v2.0",
		})
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ts.mu.Lock()
		ts.form = r.PostForm
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	ts.Server = httptest.NewTLSServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func fakeJWT(claims map[string]any) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	return enc(map[string]any{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims) + ".c2ln"
}

func TestClientSecretCredential(t *testing.T) {
	roles := []string{"DeviceManagementConfiguration.ReadWrite.All", "Group.Read.All"}
	token := fakeJWT(map[string]any{"aud": "https://graph.microsoft.com", "roles": roles})
	ts := newTokenServer(t, 200, fmt.Sprintf(`{"token_type":"Bearer","expires_in":3599,"access_token":%q}`, token))
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{"id": "x"}) })
	c, _ := MustNew(t, srv, func(cfg *Config) {
		cfg.Credential = nil
		cfg.TenantID, cfg.ClientID, cfg.ClientSecret = "contoso", "11111111-2222-3333-4444-555555555555", "client-secret-value"
		cfg.AuthorityHost = ts.URL
		cfg.RootCAs = trust(srv, ts.Server)
	})
	if _, err := c.Get(context.Background(), "deviceManagement/deviceConfigurations/x", nil); err != nil {
		t.Fatal(err)
	}
	if got := s.reqs[0].Header.Get("Authorization"); got != "Bearer "+token {
		t.Fatalf("Authorization = %q, want the token endpoint's token", got)
	}
	ts.mu.Lock()
	form := ts.form
	ts.mu.Unlock()
	if form.Get("client_secret") != "client-secret-value" || form.Get("grant_type") != "client_credentials" {
		t.Errorf("token request form %v", form)
	}
	if got, want := form.Get("scope"), srv.URL+"/.default"; !strings.Contains(got, want) {
		t.Errorf("scope %q, want %q", got, want)
	}
	got, err := c.GrantedRoles(context.Background())
	if err != nil || !reflect.DeepEqual(got, roles) {
		t.Fatalf("GrantedRoles = %v, %v; want %v", got, err, roles)
	}
}

func TestAuthFailureIsSafe(t *testing.T) {
	ts := newTokenServer(t, 401, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret super-secret provided.","error_codes":[7000215]}`)
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{}) })
	c, _ := MustNew(t, srv, func(cfg *Config) {
		cfg.Credential = nil
		cfg.TenantID, cfg.ClientID, cfg.ClientSecret = "contoso", "client", "super-secret"
		cfg.AuthorityHost = ts.URL
		cfg.RootCAs = trust(srv, ts.Server)
	})
	_, err := c.Get(context.Background(), "deviceManagement/deviceConfigurations", url.Values{"$filter": {"x"}})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeAuthenticationFailed || e.Status != 0 || Retryable(err) {
		t.Fatalf("err = %#v, want a non-retryable AuthenticationFailed *Error", err)
	}
	assertSafe(t, err, "super-secret", "AADSTS", "invalid_client", "$filter")
	if s.n() != 0 {
		t.Errorf("Graph got %d requests without a token", s.n())
	}
	_, err = c.GrantedRoles(context.Background())
	if !errors.As(err, &e) || e.Code != CodeAuthenticationFailed {
		t.Fatalf("GrantedRoles err = %v", err)
	}
	assertSafe(t, err, "super-secret", "AADSTS")
}

func assertSafe(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, text := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%s", err)} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("error text %q contains %q", text, s)
			}
		}
	}
}

func TestListFollowsNextLink(t *testing.T) {
	const total, pageSize = 1050, 100
	srv, s := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
		start, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
		if i == 0 && r.URL.Query().Get("$top") != "100" {
			http.Error(w, "first page needs $top", 400)
			return
		}
		var items []map[string]any
		for n := start; n < min(start+pageSize, total); n++ {
			items = append(items, map[string]any{"id": strconv.Itoa(n)})
		}
		page := map[string]any{"value": items}
		if start+pageSize < total {
			page["@odata.nextLink"] = fmt.Sprintf("https://%s/beta/deviceManagement/deviceConfigurations?$top=100&$skiptoken=%d", r.Host, start+pageSize)
		}
		writeJSON(w, 200, page)
	})
	c, _ := MustNew(t, srv, nil)
	var got []string
	err := c.List(context.Background(), "deviceManagement/deviceConfigurations", url.Values{"$top": {"100"}}, func(item map[string]any) error {
		got = append(got, item["id"].(string))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != total || s.n() != 11 {
		t.Fatalf("%d items over %d requests, want %d over 11", len(got), s.n(), total)
	}
	for i, id := range got {
		if id != strconv.Itoa(i) {
			t.Fatalf("item %d is %s: want each once, in order", i, id)
		}
	}

	stop := errors.New("stop")
	before, n := s.n(), 0
	err = c.List(context.Background(), "deviceManagement/deviceConfigurations", url.Values{"$top": {"100"}}, func(map[string]any) error {
		if n++; n == 150 {
			return stop
		}
		return nil
	})
	if err != stop || s.n()-before != 2 {
		t.Fatalf("err %v after %d requests, want the callback's error after 2", err, s.n()-before)
	}
}

func TestListRefusesLoop(t *testing.T) {
	srv, _ := MustServe(t, func(i int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"value": []any{}, "@odata.nextLink": "https://" + r.Host + "/beta/x?$skiptoken=same"})
	})
	c, _ := MustNew(t, srv, nil)
	if err := c.List(context.Background(), "x", nil, func(map[string]any) error { return nil }); err == nil || !strings.Contains(err.Error(), "loops") {
		t.Fatalf("err = %v, want a loop error", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{
		{BaseURL: "graph.microsoft.com/beta", NoAuth: true},
		{BaseURL: "http://graph.example.com/beta", Credential: staticCred("t")}, // a token in clear
		{BaseURL: "https://graph.microsoft.com/beta"},                           // no credential
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := New(Config{BaseURL: "http://127.0.0.1:1/t/contoso/beta", NoAuth: true}); err != nil {
		t.Errorf("plain-http simulator with auth off: %v", err)
	}
}
