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
	"github.com/restored/restored/graphclient"
	"github.com/restored/restored/intune"
	"github.com/restored/restored/secrets"
)

// GraphTrust tells how to reach Graph endpoints that are not Microsoft's:
// the simulated Graph (graphsim) of --dev and of the tests. Environments whose
// Graph base URL is on one of Hosts authenticate against AuthorityHost and
// trust RootCAs.
type GraphTrust struct {
	Hosts         []string // host:port
	AuthorityHost string   // e.g. https://127.0.0.1:8443/
	RootCAs       *x509.CertPool
}

// graphSource builds (and caches) one Graph client per environment, so the
// access token is reused across requests and jobs.
type graphSource struct {
	box   *secrets.Box
	trust *GraphTrust
	log   *slog.Logger

	mu      sync.Mutex
	clients map[string]*graphclient.Client
}

// sourceError is a safe reason why no client could be built.
type sourceError struct{ code, msg string }

func (e *sourceError) Error() string    { return e.msg }
func (e *sourceError) SafeCode() string { return e.code }

// Reader returns the Graph client of env.
func (g *graphSource) Reader(ctx context.Context, env *ent.Environment) (intune.Reader, error) {
	return g.client(env)
}

func (g *graphSource) client(env *ent.Environment) (*graphclient.Client, error) {
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
		return nil, &sourceError{"credentials_missing", "the environment has no credentials"}
	}
	if g.box == nil {
		return nil, &sourceError{"secret_key_missing", "no secret key is configured to read credentials"}
	}
	secret, err := g.box.Open(env.ClientSecretEncrypted, []byte(env.ID))
	if err != nil {
		return nil, &sourceError{"credentials_unreadable", "the stored credentials do not open with the configured key"}
	}
	cfg := graphclient.Config{
		BaseURL: env.GraphBaseURL, TenantID: env.AzureTenantID,
		ClientID: env.ClientID, ClientSecret: string(secret), Logger: g.log,
	}
	if u, err := url.Parse(env.GraphBaseURL); err == nil && g.trust != nil && slices.Contains(g.trust.Hosts, u.Host) {
		cfg.AuthorityHost = g.trust.AuthorityHost
		cfg.RootCAs = g.trust.RootCAs
	}
	c, err := graphclient.New(cfg)
	if err != nil {
		return nil, &sourceError{"graph_client", "the Graph client could not be configured"}
	}
	if g.clients == nil {
		g.clients = map[string]*graphclient.Client{}
	}
	g.clients[key] = c
	return c, nil
}

// simTrust trusts a standalone simulated Graph at rawURL with the CA in
// caFile.
func simTrust(rawURL, caFile string) (*GraphTrust, error) {
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
	return &GraphTrust{Hosts: []string{u.Host}, AuthorityHost: u.Scheme + "://" + u.Host + "/", RootCAs: pool}, nil
}

// GrantedRoles acquires an app token for env through the stored credentials
// and returns its application permissions (environments.RoleSource).
func (g *graphSource) GrantedRoles(ctx context.Context, env *ent.Environment) ([]string, error) {
	c, err := g.client(env)
	if err != nil {
		return nil, err
	}
	return c.GrantedRoles(ctx)
}
