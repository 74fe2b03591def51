package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"sync"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/internal/intune"
	"github.com/restored/restored/internal/msgraph"
	"github.com/restored/restored/internal/platform/metrics"
	"github.com/restored/restored/internal/platform/secrets"
)

// SimTrust tells how to reach Microsoft Graph endpoints that are not Microsoft's:
// the simulated Graph (graphsim) of --dev and of the tests. Environments whose
// Graph base URL is on one of Hosts authenticate against AuthorityHost and
// trust RootCAs.
type SimTrust struct {
	Hosts         []string // host:port
	AuthorityHost string   // e.g. https://127.0.0.1:8443/
	RootCAs       *x509.CertPool
}

// tenantClients builds (and caches) one Microsoft Graph client per
// environment, so the access token is reused across requests and jobs. It is
// the TenantReader of the backup and restore services.
type tenantClients struct {
	box *secrets.Box
	log *slog.Logger
	// limiter paces every tenant's requests across all processes (nil: off).
	limiter *msgraph.RedisLimiter
	// metrics counts Graph requests and throttle waits (nil: off).
	metrics *metrics.Metrics

	mu      sync.Mutex
	trust   []SimTrust
	clients map[string]*msgraph.Client
}

func (g *tenantClients) addTrust(t SimTrust) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.trust = append(g.trust, t)
}

// tenantError is a safe reason why no client could be built.
type tenantError struct{ code, msg string }

func (e *tenantError) Error() string    { return e.msg }
func (e *tenantError) SafeCode() string { return e.code }

// Reader returns the Microsoft Graph client of env.
func (g *tenantClients) Reader(ctx context.Context, env *ent.Environment) (intune.Reader, error) {
	return g.client(env)
}

// Writer returns the Microsoft Graph client of env for restore execution.
// Its writes go through the same per-tenant limiter as every read.
func (g *tenantClients) Writer(ctx context.Context, env *ent.Environment) (intune.Writer, error) {
	return g.client(env)
}

func (g *tenantClients) client(env *ent.Environment) (*msgraph.Client, error) {
	key := env.ID + "|" + env.GraphBaseURL + "|" + env.ClientID
	if env.CredentialsSetAt != nil {
		key += "|" + env.CredentialsSetAt.String()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.clients[key]; ok {
		return c, nil
	}
	if env.ClientID == "" || len(env.ClientSecretEncrypted) == 0 {
		return nil, &tenantError{"credentials_missing", "the environment has no credentials"}
	}
	if g.box == nil {
		return nil, &tenantError{"secret_key_missing", "no secret key is configured to read credentials"}
	}
	secret, err := g.box.Open(env.ClientSecretEncrypted, []byte(env.ID))
	if err != nil {
		return nil, &tenantError{"credentials_unreadable", "the stored credentials do not open with the configured key"}
	}
	cfg := msgraph.Config{
		BaseURL: env.GraphBaseURL, TenantID: env.AzureTenantID,
		ClientID: env.ClientID, ClientSecret: string(secret), Logger: g.log, Metrics: g.metrics,
	}
	if g.limiter != nil {
		cfg.Limiter = g.limiter.For(env.AzureTenantID, env.ClientID)
	}
	if u, err := url.Parse(env.GraphBaseURL); err == nil {
		for _, t := range g.trust {
			if slices.Contains(t.Hosts, u.Host) {
				cfg.AuthorityHost, cfg.RootCAs = t.AuthorityHost, t.RootCAs
				break
			}
		}
	}
	c, err := msgraph.New(cfg)
	if err != nil {
		return nil, &tenantError{"graph_client", "the Graph client could not be configured"}
	}
	if g.clients == nil {
		g.clients = map[string]*msgraph.Client{}
	}
	g.clients[key] = c
	return c, nil
}

// simTrust trusts a standalone simulated Graph at rawURL with the CA in
// caFile.
func simTrust(rawURL, caFile string) (*SimTrust, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("graphsim URL %q: want https://host:port", rawURL)
	}
	if caFile == "" {
		return nil, errors.New("--graphsim-url needs --graphsim-ca-file")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &SimTrust{Hosts: []string{u.Host}, AuthorityHost: u.Scheme + "://" + u.Host + "/", RootCAs: pool}, nil
}

// GrantedRoles acquires an app token for env through the stored credentials
// and returns its application permissions (environments.RoleSource).
func (g *tenantClients) GrantedRoles(ctx context.Context, env *ent.Environment) ([]string, error) {
	c, err := g.client(env)
	if err != nil {
		return nil, err
	}
	return c.GrantedRoles(ctx)
}
