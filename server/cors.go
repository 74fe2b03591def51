package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// origins is the configured list of browser origins (scheme://host[:port])
// allowed to call the API from another origin: an SPA served elsewhere.
// Empty allows none; "*" allows any. Tokens travel in the Authorization
// header, never in cookies, so no response ever allows credentials and "*"
// exposes nothing a token does not already grant.
type origins []string

func (o origins) allows(origin string) bool {
	return origin != "" && (slices.Contains(o, "*") || slices.Contains(o, strings.TrimRight(origin, "/")))
}

// cors answers preflights (without authentication: browsers send none) and
// marks responses to allowed origins readable by them.
func cors(allowed origins, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" {
			w.Header().Add("Vary", "Origin")
		}
		ok := allowed.allows(origin)
		if ok {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Expose-Headers", "X-Request-Id, WWW-Authenticate")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if ok {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, X-Request-Id")
				w.Header().Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// websocketOrigin decides whether a websocket upgrade may proceed: clients
// that send no Origin (scripts, CLIs) and same-host pages may, and so may
// the allowed origins; any other page may not, so a site a user happens to
// visit cannot open a socket with a token it got hold of.
func websocketOrigin(allowed origins) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" || allowed.allows(origin) {
			return true
		}
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
}
