// Package msgraph is restored's one Microsoft Graph client: raw JSON in
// and out, over the Microsoft Graph Go SDK's core request adapter and kiota's
// HTTP middleware.
//
// Why the core and not the SDK's root package: Intune lives mostly in Graph
// beta (configurationPolicies, groupPolicyConfigurations, device scripts and
// assignmentFilters have no v1.0 request builders), and a restore tool must
// round-trip payloads as raw JSON anyway, so the typed builders and models buy
// nothing. Importing github.com/microsoftgraph/msgraph-sdk-go compiles about
// 15,000 files (minutes and gigabytes of RAM per cold build); msgraph-sdk-go-core
// with kiota's HTTP, abstractions and azidentity builds in seconds and still
// gives us Graph's request adapter, token handling (allowed hosts, CAE
// challenges) and telemetry headers.
//
// What we deliberately do not take from the SDK: its default middleware list
// (built from a map in random order; with the compression handler a retried
// POST can go out gzip-labelled with a plain body, kiota-http-go#183), kiota's
// retry handler (it truncates a fractional Retry-After and retries POSTs that
// may already have been applied; see retry.go for our policy), and its error
// types (ODataError.Error() returns Graph's message text and panics on a `{}`
// body; azidentity's AuthenticationFailedError carries the token endpoint's
// whole response). Every failure is an *Error that is safe to store and show.
//
// This is the only package of restored that imports the Graph SDK.
package msgraph

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	kiotaazure "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"

	"github.com/restored/restored/internal/platform/metrics"
)

// Config configures a Client. BaseURL is required; so are TenantID, ClientID
// and ClientSecret unless Credential or NoAuth is set.
type Config struct {
	// BaseURL is the Graph version root, e.g. https://graph.microsoft.com/beta
	// or https://127.0.0.1:PORT/t/contoso/beta (simulated Graph).
	BaseURL                          string
	TenantID, ClientID, ClientSecret string
	// AuthorityHost defaults to https://login.microsoftonline.com/.
	AuthorityHost string
	// RootCAs replaces the system roots for Graph and the token endpoint
	// (the simulator's self-signed certificate); nil means the system roots.
	RootCAs *x509.CertPool
	// Credential overrides the client-secret credential (tests).
	Credential azcore.TokenCredential
	// NoAuth sends no Authorization header (simulator with auth off).
	NoAuth bool
	// MaxAttempts bounds the attempts per request, retries included (default 6).
	MaxAttempts int
	// MaxRetryAfter caps one wait between attempts, before jitter (default 60s).
	MaxRetryAfter time.Duration
	// Timeout bounds one attempt, token acquisition included (default 60s).
	Timeout time.Duration
	// Limiter, when set, paces every attempt to the tenant's budgets shared
	// by all workers, and spreads a 429's Retry-After to all of them.
	Limiter TenantLimiter
	// Metrics counts attempts by status and throttle waits (nil: off).
	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

// Client sends raw JSON requests to one Graph tenant. It is safe for
// concurrent use.
type Client struct {
	base          *url.URL
	adapter       abs.RequestAdapter
	cred          azcore.TokenCredential // nil only with NoAuth and no override
	scope         string
	maxAttempts   int
	maxRetryAfter time.Duration
	timeout       time.Duration
	log           *slog.Logger
	limiter       TenantLimiter // nil: no pacing
	metrics       *metrics.Metrics
	tenant        string
	sleep         func(ctx context.Context, d time.Duration) error // replaced in tests
	jitter        func(n time.Duration) time.Duration              // uniform in [0, n)
}

// maxBody bounds a response body read into memory.
const maxBody = 64 << 20

// New builds a Client. It does not contact Graph or the token endpoint.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, errors.New("msgraph: BaseURL must be an absolute http(s) URL")
	}
	if base.Scheme != "https" && !cfg.NoAuth {
		return nil, errors.New("msgraph: BaseURL must be https unless NoAuth: tokens never travel in clear")
	}
	base.RawQuery, base.Fragment = "", ""
	c := &Client{
		base:          base,
		scope:         base.Scheme + "://" + base.Host + "/.default",
		maxAttempts:   cmp.Or(cfg.MaxAttempts, 6),
		maxRetryAfter: cmp.Or(cfg.MaxRetryAfter, 60*time.Second),
		timeout:       cmp.Or(cfg.Timeout, 60*time.Second),
		log:           cfg.Logger,
		limiter:       cfg.Limiter,
		metrics:       cfg.Metrics,
		tenant:        cfg.TenantID,
		sleep:         sleepCtx,
		jitter:        func(n time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(max(n, 1)))) },
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}

	cred := cfg.Credential
	if cred == nil && !cfg.NoAuth {
		if cred, err = newSecretCredential(cfg, transport, c.timeout); err != nil {
			return nil, err
		}
	}
	var auth absauth.AuthenticationProvider = &absauth.AnonymousAuthenticationProvider{}
	if cred != nil {
		c.cred = safeCredential{inner: cred, log: c.log}
	}
	if !cfg.NoAuth {
		// Tokens go to BaseURL's host only (matched without the port). The
		// core's wrapper of this provider defaults to Graph's clouds and
		// silently sends no Authorization to a simulator; kiota's own
		// provider with an empty list would send the token to any host.
		auth, err = kiotaazure.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
			c.cred, []string{c.scope}, []string{base.Hostname()})
		if err != nil {
			return nil, fmt.Errorf("msgraph: auth provider: %w", err)
		}
	}
	httpClient := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(transport, middleware()...),
		// kiota's redirect handler follows redirects (and drops the token on
		// a host change); net/http must hand it the 3xx untouched.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	adapter, err := msgraphgocore.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, msgraphgocore.GraphClientOptions{},
		jsonser.NewJsonParseNodeFactory(), jsonser.NewJsonSerializationWriterFactory(), httpClient)
	if err != nil {
		return nil, fmt.Errorf("msgraph: request adapter: %w", err)
	}
	adapter.SetBaseUrl(base.String())
	c.adapter = adapter
	return c, nil
}

// middleware is the fixed kiota pipeline, outermost first. Graph's telemetry
// handler adds SdkVersion and a fresh client-request-id GUID to every attempt.
// There is deliberately no compression handler (kiota-http-go#183) and no
// retry handler (Client.do retries), and no URL-replace handler (it only
// rewrites the typed builders' /users/me placeholder).
func middleware() []khttp.Middleware {
	return []khttp.Middleware{
		msgraphgocore.NewGraphTelemetryHandler(&msgraphgocore.GraphClientOptions{}),
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandlerWithOptions(&khttp.UserAgentHandlerOptions{
			Enabled: true, ProductName: "restored", ProductVersion: version()}),
		khttp.NewHeadersInspectionHandler(),
	}
}

func newSecretCredential(cfg Config, transport http.RoundTripper, timeout time.Duration) (azcore.TokenCredential, error) {
	if cfg.TenantID == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("msgraph: TenantID, ClientID and ClientSecret are required unless NoAuth or Credential is set")
	}
	host := cmp.Or(cfg.AuthorityHost, cloud.AzurePublic.ActiveDirectoryAuthorityHost)
	if !strings.HasSuffix(host, "/") {
		host += "/"
	}
	cred, err := azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cfg.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions: azcore.ClientOptions{
				Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: host},
				Transport: &http.Client{Transport: transport, Timeout: timeout},
			},
			// Instance discovery asks login.microsoftonline.com about the
			// authority; a simulator's authority is unknown to it.
			DisableInstanceDiscovery: true,
		})
	if err != nil {
		return nil, errors.New("msgraph: invalid tenant or client id for the credential")
	}
	return cred, nil
}

// Get reads one object. query may be nil.
func (c *Client) Get(ctx context.Context, path string, query url.Values) (map[string]any, error) {
	return c.object(ctx, http.MethodGet, path, query, nil)
}

// List reads a collection, calling each for every item of every page in
// order and following @odata.nextLink until the last page. An error returned
// by each stops paging and is returned as is.
func (c *Client) List(ctx context.Context, path string, query url.Values, each func(item map[string]any) error) error {
	next, err := c.resolve(path, query)
	seen := map[string]bool{}
	for err == nil {
		if seen[next.String()] {
			return fmt.Errorf("msgraph: GET %s: @odata.nextLink loops", displayPath(path))
		}
		seen[next.String()] = true
		var body []byte
		if body, err = c.do(ctx, http.MethodGet, path, next, nil); err != nil {
			return err
		}
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if json.Unmarshal(body, &page) != nil {
			return fmt.Errorf("msgraph: GET %s: response is not a collection", displayPath(path))
		}
		for _, item := range page.Value {
			if err := each(item); err != nil {
				return err
			}
		}
		if page.NextLink == "" {
			return nil
		}
		next, err = c.resolve(page.NextLink, nil)
	}
	return err
}

// Post creates an object or calls an action and returns the response object,
// nil for 204 No Content. A POST is retried only on 429 (Graph refused it
// before doing anything); a 503, 504 or network failure may have been
// applied and is returned as a Retryable error: check the target before
// trying again, or risk a duplicate.
func (c *Client) Post(ctx context.Context, path string, body any) (map[string]any, error) {
	return c.object(ctx, http.MethodPost, path, nil, body)
}

// Patch updates an object.
func (c *Client) Patch(ctx context.Context, path string, body any) error {
	_, err := c.send(ctx, http.MethodPatch, path, nil, body)
	return err
}

// Put replaces an object or a reference.
func (c *Client) Put(ctx context.Context, path string, body any) error {
	_, err := c.send(ctx, http.MethodPut, path, nil, body)
	return err
}

// Delete deletes an object.
func (c *Client) Delete(ctx context.Context, path string) error {
	_, err := c.send(ctx, http.MethodDelete, path, nil, nil)
	return err
}

// GrantedRoles returns the application permissions (the "roles" claim) of
// the app token the credential acquires for this Graph. The signature is not
// checked: the token comes straight from the token endpoint over TLS.
func (c *Client) GrantedRoles(ctx context.Context) ([]string, error) {
	if c.cred == nil {
		return nil, errors.New("msgraph: no credential configured (NoAuth)")
	}
	// EnableCAE like kiota's provider, so both share one cached token.
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}, EnableCAE: true})
	if err != nil {
		return nil, err
	}
	parts := strings.Split(tok.Token, ".")
	var claims struct {
		Roles []string `json:"roles"`
	}
	if len(parts) != 3 {
		return nil, errors.New("msgraph: access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		return nil, errors.New("msgraph: access token payload is not readable")
	}
	return claims.Roles, nil
}

func (c *Client) object(ctx context.Context, method, path string, query url.Values, body any) (map[string]any, error) {
	raw, err := c.send(ctx, method, path, query, body)
	if err != nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("msgraph: %s %s: response is not a JSON object", method, displayPath(path))
	}
	return out, nil
}

func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	u, err := c.resolve(path, query)
	if err != nil {
		return nil, err
	}
	var payload []byte
	switch b := body.(type) {
	case nil:
	case json.RawMessage:
		payload = b
	case []byte:
		payload = b
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // keep script and XML payloads as written
		if err := enc.Encode(body); err != nil {
			return nil, fmt.Errorf("msgraph: %s %s: encode body: %w", method, displayPath(path), err)
		}
		payload = bytes.TrimRight(buf.Bytes(), "\n")
	}
	return c.do(ctx, method, path, u, payload)
}

// resolve turns a path relative to BaseURL, or an absolute URL on BaseURL's
// host (a nextLink), into the request URL. Other hosts are refused.
func (c *Client) resolve(path string, query url.Values) (*url.URL, error) {
	raw := path
	if !strings.HasPrefix(path, "https://") && !strings.HasPrefix(path, "http://") {
		raw = c.base.String() + "/" + strings.TrimLeft(path, "/")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("msgraph: invalid path %q", displayPath(path))
	}
	if u.Scheme != c.base.Scheme || !strings.EqualFold(u.Host, c.base.Host) {
		return nil, errors.New("msgraph: refusing a URL outside BaseURL's host")
	}
	if len(query) > 0 {
		// Graph wants %20, not +, for spaces in $filter and $search.
		q := strings.ReplaceAll(query.Encode(), "+", "%20")
		if u.RawQuery != "" {
			q = u.RawQuery + "&" + q
		}
		u.RawQuery = q
	}
	return u, nil
}

// response is what one attempt read, before any interpretation.
type response struct {
	status int
	header http.Header
	body   []byte
	sentID string // the client-request-id the telemetry handler sent
}

// once sends one attempt through the adapter. The response handler option
// hands us the raw *http.Response, so the adapter neither parses the body
// nor maps errors.
func (c *Client) once(ctx context.Context, method string, u *url.URL, body []byte) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ri := abs.NewRequestInformation() // fresh per attempt: it caches the Authorization header
	ri.Method = methods[method]
	ri.SetUri(*u)
	ri.Headers.Add("Accept", "application/json")
	if body != nil {
		ri.SetStreamContentAndContentType(body, "application/json")
		ri.Headers.Add("Content-Length", strconv.Itoa(len(body))) // else kiota sends it chunked
	}
	var out *response
	handler := abs.NewRequestHandlerOption()
	handler.SetResponseHandler(func(r any, _ abs.ErrorMappings) (any, error) {
		resp := r.(*http.Response)
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxBody {
			return nil, errors.New("response body too large")
		}
		out = &response{status: resp.StatusCode, header: resp.Header, body: b}
		if resp.Request != nil {
			out.sentID = resp.Request.Header.Get("client-request-id")
		}
		return nil, nil
	})
	ri.AddRequestOptions([]abs.RequestOption{handler})
	if err := c.adapter.SendNoContent(ctx, ri, nil); err != nil {
		return nil, err
	}
	return out, nil
}

var methods = map[string]abs.HttpMethod{
	http.MethodGet: abs.GET, http.MethodPost: abs.POST, http.MethodPatch: abs.PATCH,
	http.MethodPut: abs.PUT, http.MethodDelete: abs.DELETE,
}

// safeCredential turns every token failure into a safe *Error: azidentity's
// AuthenticationFailedError prints the token endpoint's whole response.
type safeCredential struct {
	inner azcore.TokenCredential
	log   *slog.Logger
}

func (s safeCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := s.inner.GetToken(ctx, opts)
	if err == nil {
		return tok, nil
	}
	if ctx.Err() != nil {
		return tok, ctx.Err()
	}
	status := 0
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		status = afe.RawResponse.StatusCode
	}
	s.log.Warn("graph token acquisition failed", "token_endpoint_status", status)
	return tok, &Error{Code: CodeAuthenticationFailed}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
