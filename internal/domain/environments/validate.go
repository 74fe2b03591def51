package environments

import (
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/internal/platform/apperr"
)

// DefaultGraphBaseURL is the Graph base URL of an environment created without
// one: Microsoft Graph beta in the public cloud, because most of Intune's
// configuration endpoints exist only in beta (DESIGN.md).
const DefaultGraphBaseURL = "https://graph.microsoft.com/beta"

// Limits of the stored fields. maxDisplayName and maxTenantID match the ent
// schema's MaxLen, which counts bytes, not characters.
const (
	maxDisplayName  = 200
	maxTenantID     = 253 // the longest DNS name
	maxClientID     = 100
	maxClientSecret = 1024 // Entra ID secrets are about 40 characters
	maxGraphBaseURL = 2048
)

var (
	// guidRE matches a GUID in its usual 8-4-4-4-12 form: Entra ID tenant
	// (directory) ids and application (client) ids.
	guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// dnsLabelRE matches one lowercase DNS label.
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// simClientIDRE matches the client ids simulated tenants accept
	// ("sim-client"): characters that need no escaping in a token request.
	simClientIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// validDisplayName trims and checks a display name.
func validDisplayName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	switch {
	case name == "":
		return "", apperr.Invalid("displayName", "display name is required")
	case !utf8.ValidString(name):
		return "", apperr.Invalid("displayName", "display name must be valid UTF-8 text")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", apperr.Invalid("displayName", "display name must not contain control characters or line breaks")
	case utf8.RuneCountInString(name) > maxDisplayName:
		return "", apperr.Invalid("displayName", "display name must be 1 to %d characters", maxDisplayName)
	case len(name) > maxDisplayName:
		// The column limit counts UTF-8 bytes; say so rather than reject a
		// 150-character name with "at most 200 characters".
		return "", apperr.Invalid("displayName", "display name is too long: at most %d bytes of UTF-8 text (non-Latin characters take 2 to 4 bytes each)", maxDisplayName)
	}
	return name, nil
}

// validKind accepts PROD or TEST in any case. There is no default: whether a
// tenant is production decides how careful every later step is, so the
// owner must say it.
func validKind(k Kind) (Kind, error) {
	kind := Kind(strings.ToUpper(strings.TrimSpace(string(k))))
	if kind == "" {
		return "", apperr.Invalid("kind", "kind is required: PROD or TEST")
	}
	if environment.KindValidator(kind) != nil {
		return "", apperr.Invalid("kind", "kind must be PROD or TEST")
	}
	return kind, nil
}

// validGraphBaseURL checks and normalizes a Graph base URL and reports whether
// its host is a loopback address. It must be an absolute https URL; plain
// http is accepted only on loopback hosts, where the simulated Graph of the
// tests and of --dev runs and nothing crosses a network. User info, a query
// or a fragment would end up in every request URL (and user info in logs),
// so they are refused. The result has no trailing slash, because request
// paths are appended with one.
func validGraphBaseURL(raw string) (base string, loopback bool, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return DefaultGraphBaseURL, false, nil
	}
	invalid := func(format string, args ...any) (string, bool, error) {
		return "", false, apperr.Invalid("graphBaseUrl", format, args...)
	}
	if len(raw) > maxGraphBaseURL {
		return invalid("Graph base URL must be at most %d characters", maxGraphBaseURL)
	}
	u, perr := url.Parse(raw)
	if perr != nil || u.Opaque != "" || u.Hostname() == "" {
		return invalid("Graph base URL must be an absolute URL such as %s", DefaultGraphBaseURL)
	}
	if u.User != nil {
		return invalid("Graph base URL must not contain a user name or password")
	}
	if u.RawQuery != "" || u.ForceQuery {
		return invalid("Graph base URL must not have a query (?…)")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return invalid("Graph base URL must not have a fragment (#…)")
	}
	loopback = isLoopback(u.Hostname())
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !loopback {
			return invalid("Graph base URL must use https; plain http is accepted only for loopback hosts (127.0.0.0/8, ::1, localhost)")
		}
	default:
		return invalid("Graph base URL must use https")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	return strings.TrimRight(u.String(), "/"), loopback, nil
}

// isLoopback reports whether host (without port or brackets) names this
// machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// validTenantID checks and lowercases an Azure tenant id: the directory
// (tenant) id GUID, or a verified domain of the tenant such as
// contoso.onmicrosoft.com (Entra ID accepts either in its token endpoint).
// A single DNS label such as "contoso" is not a real tenant, but it is what
// simulated tenants (graphsim) are named, so it is accepted only with a
// loopback Graph base URL: a production environment cannot be created with a
// tenant id that Microsoft would reject.
func validTenantID(raw string, loopback bool) (string, error) {
	t := strings.ToLower(strings.TrimSpace(raw))
	if t == "" {
		return "", apperr.Invalid("azureTenantId", "Azure tenant id is required: the directory (tenant) id, a GUID, or a domain such as contoso.onmicrosoft.com")
	}
	if guidRE.MatchString(t) {
		return t, nil
	}
	bad := apperr.Invalid("azureTenantId", "Azure tenant id must be the directory (tenant) id, a GUID, or a domain such as contoso.onmicrosoft.com")
	if len(t) > maxTenantID {
		return "", bad
	}
	labels := strings.Split(t, ".")
	for _, l := range labels {
		if !dnsLabelRE.MatchString(l) {
			return "", bad
		}
	}
	if len(labels) == 1 {
		if loopback {
			return t, nil
		}
		return "", apperr.Invalid("azureTenantId", "Azure tenant id must be a GUID or a full domain such as contoso.onmicrosoft.com; a single name like %q is accepted only for simulated tenants on a loopback Graph base URL", t)
	}
	// A top-level label of digits only means an IP address, not a domain.
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", bad
	}
	return t, nil
}

// validClientID checks an application (client) id: a GUID for Entra ID, or,
// with a loopback Graph base URL, any simple name such as "sim-client",
// which is how simulated tenants register apps. The value is not echoed in
// messages: client ids are part of the credentials and never shown in full.
func validClientID(raw string, loopback bool) (string, error) {
	c := strings.TrimSpace(raw)
	switch {
	case guidRE.MatchString(c):
		return strings.ToLower(c), nil
	case c == "":
		return "", apperr.Invalid("clientId", "client id is required: the application (client) id of the app registration")
	case loopback && simClientIDRE.MatchString(c):
		return c, nil
	case loopback:
		return "", apperr.Invalid("clientId", "client id must be a GUID, or for a simulated tenant 1 to %d letters, digits, dots, dashes or underscores", maxClientID)
	default:
		return "", apperr.Invalid("clientId", "client id must be the application (client) id of the app registration, a GUID such as 00000000-0000-0000-0000-000000000000")
	}
}

// validClientSecret checks a client secret without ever putting it in a
// message. It is not trimmed: a secret is used byte for byte, so surrounding
// whitespace (a pasted line break) is refused rather than silently removed.
func validClientSecret(secret string) error {
	switch {
	case secret == "":
		return apperr.Invalid("clientSecret", "client secret is required")
	case len(secret) > maxClientSecret:
		return apperr.Invalid("clientSecret", "client secret must be at most %d characters", maxClientSecret)
	case !utf8.ValidString(secret):
		return apperr.Invalid("clientSecret", "client secret must be valid UTF-8 text")
	case strings.IndexFunc(secret, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		// Entra ID secrets never contain whitespace: this is a copy-paste slip.
		return apperr.Invalid("clientSecret", "client secret must not contain spaces, line breaks or control characters (check for a pasted line break)")
	}
	return nil
}
