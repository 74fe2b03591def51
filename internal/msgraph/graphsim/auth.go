package graphsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Access tokens are JWTs signed with the server's HMAC key: clients treat
// them as opaque (as they must with Entra ID's), tests can decode the
// payload, and graphsim verifies its own signature without a key service.

// tokenLifetime is what Entra ID grants an app-only token (expires_in 3599).
const tokenLifetime = 3599 * time.Second

// graphAudiences are the audiences Graph accepts: its URL and its app id.
var graphAudiences = []string{"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"}

// selfAudience is this server's own origin: a client that derives its scope
// from the Graph base URL (as restored's does, so national clouds work) asks
// for a token for graphsim itself, as it would for graph.microsoft.com.
func selfAudience(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

// claims is the payload of a graphsim access token.
type claims struct {
	Aud   string   `json:"aud"`
	Iss   string   `json:"iss"`
	Iat   int64    `json:"iat"`
	Nbf   int64    `json:"nbf"`
	Exp   int64    `json:"exp"`
	AppID string   `json:"appid"`
	Tid   string   `json:"tid"`
	Roles []string `json:"roles,omitempty"`
	Idtyp string   `json:"idtyp"`
	Ver   string   `json:"ver"`
}

func (s *Server) signToken(c claims) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload, _ := json.Marshal(c)
	unsigned := header + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// verifyToken checks the signature of one of this server's tokens and
// returns its claims.
func (s *Server) verifyToken(tok string) (claims, bool) {
	var c claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, false
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return c, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return c, false
	}
	return c, true
}

// authenticate checks the bearer token of a Graph call to tenant and returns
// its app id and roles, or the 401 reply.
func (s *Server) authenticate(r *http.Request, tenant string) (string, []string, *reply) {
	fail := func(msg string) (string, []string, *reply) {
		rep := errReply(http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		rep.header = map[string]string{"WWW-Authenticate": `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`}
		return "", nil, &rep
	}
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return fail("Access token is empty.")
	}
	c, ok := s.verifyToken(strings.TrimSpace(tok))
	if !ok {
		return fail("Access token validation failure. Invalid signature.")
	}
	now := s.now().Unix()
	switch {
	case c.Exp <= now:
		return fail("Lifetime validation failed, the token is expired.")
	case c.Nbf > now+300: // Entra ID allows five minutes of clock skew.
		return fail("Lifetime validation failed, the token is not yet valid.")
	case !slices.Contains(graphAudiences, c.Aud) && c.Aud != selfAudience(r):
		return fail("Access token validation failure. Invalid audience.")
	case c.Tid != tenant:
		return fail("Access token validation failure. The token was issued for another tenant.")
	}
	return c.AppID, c.Roles, nil
}

// requiredRoles returns the application permissions of which a call needs
// one (nil when the path needs none: unknown paths fail on their own).
// Reads accept the Read.All or the ReadWrite.All permission of the area,
// writes only ReadWrite.All.
func requiredRoles(path string, write bool) []string {
	area := ""
	switch {
	case path == "groups" || strings.HasPrefix(path, "groups/"):
		if write {
			return []string{"Group.ReadWrite.All", "Directory.ReadWrite.All"}
		}
		return []string{"Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	case strings.HasPrefix(path, "deviceManagement/roleScopeTags"):
		area = "DeviceManagementRBAC"
	case strings.HasPrefix(path, "deviceAppManagement/"):
		area = "DeviceManagementApps"
	case strings.HasPrefix(path, "deviceManagement/deviceEnrollmentConfigurations"),
		strings.HasPrefix(path, "deviceManagement/windowsAutopilotDeploymentProfiles"):
		area = "DeviceManagementServiceConfig"
	case strings.HasPrefix(path, "deviceManagement/"):
		area = "DeviceManagementConfiguration"
	default:
		return nil
	}
	if write {
		return []string{area + ".ReadWrite.All"}
	}
	return []string{area + ".Read.All", area + ".ReadWrite.All"}
}

func hasAny(have, need []string) bool {
	for _, n := range need {
		if slices.Contains(have, n) {
			return true
		}
	}
	return false
}

// aadError is the token endpoint's error body (Entra ID's format, which
// azidentity and MSAL parse).
type aadError struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	ErrorCodes    []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	ErrorURI      string `json:"error_uri"`
}

func (s *Server) writeAAD(w http.ResponseWriter, status int, code string, aadsts int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(aadError{
		Error: code, Description: "AADSTS" + itoa(aadsts) + ": " + msg, ErrorCodes: []int{aadsts},
		Timestamp: s.now().UTC().Format("2006-01-02 15:04:05Z"), TraceID: newGUID(),
		CorrelationID: w.Header().Get("client-request-id"),
		ErrorURI:      "https://login.microsoftonline.com/error?code=" + itoa(aadsts),
	})
}

// serveToken is the client-credentials token endpoint of a tenant
// (client_secret_post or client_secret_basic).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodPost {
		s.writeAAD(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	t := s.lookup(tenant)
	if t == nil {
		s.writeAAD(w, http.StatusBadRequest, "invalid_request", 90002, "Tenant '"+tenant+"' not found.")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.writeAAD(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must be a form.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		s.writeAAD(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+gt+"'.")
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret = u, p
	}
	if clientID == "" {
		s.writeAAD(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	t.mu.Lock()
	want, known := t.secrets[clientID]
	roles := slices.Clone(t.roles)
	t.mu.Unlock()
	switch {
	case !known:
		s.writeAAD(w, http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '"+clientID+"' was not found in the directory '"+tenant+"'.")
		return
	case subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1:
		s.writeAAD(w, http.StatusUnauthorized, "invalid_client", 7000215,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+clientID+"'.")
		return
	}
	aud := ""
	for _, sc := range strings.Fields(r.PostForm.Get("scope")) {
		if res, ok := strings.CutSuffix(sc, "/.default"); ok {
			aud = res
		}
	}
	if aud == "" {
		s.writeAAD(w, http.StatusBadRequest, "invalid_scope", 1002012,
			"The provided value for scope '"+r.PostForm.Get("scope")+"' is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
		return
	}
	now := s.now()
	tok := s.signToken(claims{
		Aud: aud, Iss: "https://sts.windows.net/" + tenant + "/",
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(tokenLifetime).Unix(),
		AppID: clientID, Tid: tenant, Roles: roles, Idtyp: "app", Ver: "1.0",
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token_type": "Bearer", "expires_in": int(tokenLifetime.Seconds()),
		"ext_expires_in": int(tokenLifetime.Seconds()), "access_token": tok,
	})
}

// serveOpenID serves the tenant's OpenID metadata. MSAL (under azidentity)
// reads it before the first token request and requires the issuer to be on
// the authority's host, so every endpoint points back at this server.
func (s *Server) serveOpenID(w http.ResponseWriter, r *http.Request, tenant string) {
	if s.lookup(tenant) == nil {
		s.writeAAD(w, http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '"+tenant+"' not found.")
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host + "/" + tenant
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                base + "/v2.0",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"tenant_region_scope":                   "WW",
		"cloud_instance_name":                   "microsoftonline.com",
		"msgraph_host":                          "graph.microsoft.com",
	})
}
