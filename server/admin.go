package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
)

// AdminQueuesPath is where the Asynq dashboard is mounted.
const AdminQueuesPath = "/admin/queues"

// adminCookie carries an owner's token for the dashboard's own requests: a
// browser cannot add an Authorization header to a page it navigates to.
const adminCookie = "restored_admin"

// adminQueues mounts asynqmon, read-only, for owners. The token comes from
// the Authorization header, or once as ?token= (then kept in an HttpOnly,
// SameSite=Strict cookie scoped to the dashboard, and the token is removed
// from the address bar by a redirect). Read-only: tasks are the jobs of
// every workspace, so the dashboard shows them and never deletes, runs or
// archives one; runs are cancelled through the API, which knows whose they
// are.
func adminQueues(a *auth.Authenticator, redis asynq.RedisConnOpt, log *slog.Logger) http.Handler {
	mon := asynqmon.New(asynqmon.Options{RootPath: AdminQueuesPath, RedisConnOpt: redis, ReadOnly: true})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, fromHeader := bearer(r.Header.Get("Authorization"))
		fromQuery := false
		if !fromHeader {
			if q := r.URL.Query().Get("token"); q != "" {
				secret, fromQuery = q, true
			} else if c, err := r.Cookie(adminCookie); err == nil {
				secret = c.Value
			}
		}
		if secret == "" {
			graphQLError(w, http.StatusUnauthorized, apperr.Unauthenticated,
				"the queue dashboard is for owners: open "+AdminQueuesPath+"?token=<owner token> or send Authorization: Bearer <token>")
			return
		}
		v, ok := viewerFor(w, r, a, log, secret)
		if !ok {
			return
		}
		if !v.Role.Can(access.WorkspaceManage) {
			graphQLError(w, http.StatusForbidden, apperr.Forbidden, "the queue dashboard is for owners")
			return
		}
		if fromQuery {
			expires := time.Now().Add(8 * time.Hour)
			if v.ExpiresAt != nil && v.ExpiresAt.Before(expires) {
				expires = *v.ExpiresAt
			}
			http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: secret, Path: AdminQueuesPath, Expires: expires,
				HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
			u := *r.URL
			q := u.Query()
			q.Del("token")
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
		mon.ServeHTTP(w, r)
	})
}
