// Package auth authenticates API tokens and carries the resulting Viewer in
// the request context. Tokens are random, shown once and stored as SHA-256
// hashes: a stolen database does not yield usable tokens.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/apitoken"
	"github.com/restored/restored/ent/membership"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/events"
)

// tokenPrefix marks restored's tokens so secret scanners can recognise them.
const tokenPrefix = "rst_"

// NewSecret returns a new random token secret.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	return tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Hash returns the stored form of a token secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Viewer is the authenticated caller: a user acting in one workspace with the
// smaller of the token's role and the user's current membership role.
type Viewer struct {
	User        *ent.User
	WorkspaceID string
	TokenID     string
	Role        access.Role
	// ExpiresAt is the token's expiry, if it has one (open websockets close then).
	ExpiresAt *time.Time
}

// Can reports whether the viewer has capability c in workspace ws.
func (v *Viewer) Can(ws string, c access.Capability) bool {
	return v != nil && v.WorkspaceID == ws && v.Role.Can(c)
}

// Authenticator resolves bearer tokens.
type Authenticator struct {
	Client *ent.Client
	// Clock tells the time (nil: the system clock).
	Clock *clock.Clock
	// Bus, when set, lets Authenticate cache viewers for CacheTTL (default
	// 10s): each workspace's access changes drop its cached viewers.
	Bus      *events.Bus
	CacheTTL time.Duration

	cacheOnce sync.Once
	cache     *viewerCache

	flightMu sync.Mutex
	flights  map[string]*flight // token hash → read in progress
}

func (a *Authenticator) viewers() *viewerCache {
	a.cacheOnce.Do(func() {
		if a.Bus != nil {
			ttl := a.CacheTTL
			if ttl <= 0 {
				ttl = 10 * time.Second
			}
			a.cache = newViewerCache(a.Bus, ttl)
		}
	})
	return a.cache
}

// Forget drops the cached viewers of a workspace: called by the process
// that revoked a token or changed a membership, before it answers, so its
// own next request already sees the change (other processes hear it
// through the bus).
func (a *Authenticator) Forget(workspaceID string) {
	if c := a.viewers(); c != nil {
		c.forget(workspaceID)
	}
}

// lastUsedGranularity bounds how often a token's last_used_at is written, so
// a busy script does not turn every read into a database write.
const lastUsedGranularity = time.Minute

// Authenticate returns the viewer for a token secret. Unknown, revoked and
// expired tokens, and tokens whose user left the workspace, are all
// UNAUTHENTICATED with the same message: the caller learns nothing about
// which tokens exist.
//
// A viewer read in the last seconds is reused (see viewerCache); Revalidate
// always reads the database.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (*Viewer, error) {
	secret = strings.TrimSpace(secret)
	if c := a.viewers(); c != nil {
		if v, ok := c.get(Hash(secret), a.Clock.Now()); ok {
			return v, nil
		}
	}
	return a.Revalidate(ctx, secret)
}

// Revalidate is Authenticate from the database, never from the cache: open
// websockets re-check their token with it when access changes. Concurrent
// revalidations of one token share one read: an access change makes every
// socket of the workspace re-check at once.
func (a *Authenticator) Revalidate(ctx context.Context, secret string) (*Viewer, error) {
	secret = strings.TrimSpace(secret)
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 200 {
		return nil, apperr.New(apperr.Unauthenticated, "missing, invalid, expired or revoked API token")
	}
	hash := Hash(secret)
	a.flightMu.Lock()
	if a.flights == nil {
		a.flights = map[string]*flight{}
	}
	if f, ok := a.flights[hash]; ok {
		a.flightMu.Unlock()
		select {
		case <-f.done:
			return f.v, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	a.flights[hash] = f
	a.flightMu.Unlock()
	f.v, f.err = a.read(context.WithoutCancel(ctx), hash)
	a.flightMu.Lock()
	delete(a.flights, hash)
	a.flightMu.Unlock()
	close(f.done)
	return f.v, f.err
}

// flight is one database read of a token that concurrent callers share.
type flight struct {
	done chan struct{}
	v    *Viewer
	err  error
}

// read authenticates the token with hash from the database.
func (a *Authenticator) read(ctx context.Context, hash string) (*Viewer, error) {
	unauth := apperr.New(apperr.Unauthenticated, "missing, invalid, expired or revoked API token")
	now := a.Clock.Now()
	tok, err := a.Client.APIToken.Query().
		Where(apitoken.TokenHash(hash)).
		WithUser().
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, unauth
	}
	if err != nil {
		return nil, err
	}
	if tok.RevokedAt != nil || (tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt)) {
		return nil, unauth
	}
	m, err := a.Client.Membership.Query().
		Where(membership.WorkspaceID(tok.WorkspaceID), membership.UserID(tok.UserID)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, unauth
	}
	if err != nil {
		return nil, err
	}
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > lastUsedGranularity {
		// Best effort: a failed bookkeeping write must not fail the request.
		_ = a.Client.APIToken.UpdateOneID(tok.ID).SetLastUsedAt(now).Exec(ctx)
	}
	v := &Viewer{
		User:        tok.Edges.User,
		WorkspaceID: tok.WorkspaceID,
		TokenID:     tok.ID,
		Role:        lesser(tok.Role, m.Role),
		ExpiresAt:   tok.ExpiresAt,
	}
	if c := a.viewers(); c != nil {
		c.put(hash, v, now)
	}
	return v, nil
}

// lesser returns the less privileged of two roles.
func lesser(a, b access.Role) access.Role {
	rank := map[access.Role]int{access.Owner: 3, access.Operator: 2, access.Auditor: 1}
	if rank[a] <= rank[b] {
		return a
	}
	return b
}

type viewerKey struct{}

// WithViewer returns ctx carrying v.
func WithViewer(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// FromContext returns the viewer of ctx, or nil.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	return v
}

// Require returns the viewer of ctx when it has capability c in workspace ws:
// UNAUTHENTICATED without a viewer, FORBIDDEN for another workspace or a
// missing capability. Another workspace's objects answer FORBIDDEN, never
// NOT_FOUND (DESIGN.md: FORBIDDEN "also for another workspace's objects").
func Require(ctx context.Context, ws string, c access.Capability) (*Viewer, error) {
	v := FromContext(ctx)
	if v == nil {
		return nil, apperr.New(apperr.Unauthenticated, "authentication required")
	}
	if v.WorkspaceID != ws {
		return nil, apperr.New(apperr.Forbidden, "this object belongs to another workspace")
	}
	if !v.Role.Can(c) {
		return nil, apperr.New(apperr.Forbidden, "your role (%s) lacks the %s capability", v.Role, c)
	}
	return v, nil
}

// RequireViewer returns the viewer of ctx or UNAUTHENTICATED.
func RequireViewer(ctx context.Context) (*Viewer, error) {
	v := FromContext(ctx)
	if v == nil {
		return nil, apperr.New(apperr.Unauthenticated, "authentication required")
	}
	return v, nil
}
