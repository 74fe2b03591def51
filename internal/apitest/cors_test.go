package apitest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/restored/restored/internal/platform/config"
)

// TestCORS: an SPA on an allowed origin can call the API from the browser
// (preflight answered without a token, responses readable), another origin
// cannot, and websockets check the same list.
func TestCORS(t *testing.T) {
	const spa, evil = "https://admin.example.com", "https://evil.example"
	e := start(t, func(c *config.Config) { c.CORSOrigins = []string{spa} })
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := preflight(spa)
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != spa ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight from %s: %d %v", spa, res.StatusCode, res.Header)
	}
	if res.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials allowed: tokens are never cookies")
	}
	if res := preflight(evil); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from %s allowed: %v", evil, res.Header)
	}

	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.owner)
	req.Header.Set("Origin", spa)
	r := e.do(req)
	if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != spa || len(r.Errors) > 0 {
		t.Fatalf("POST from %s: %d %v %s", spa, r.Status, r.Header, r.Raw)
	}

	dial := func(origin string) error {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
		c, _, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql", h)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(spa); err != nil {
		t.Errorf("websocket from %s: %v", spa, err)
	}
	if err := dial(""); err != nil {
		t.Errorf("websocket without Origin (a script): %v", err)
	}
	if err := dial(evil); err == nil {
		t.Errorf("websocket from %s was accepted", evil)
	}
}
