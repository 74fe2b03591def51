package apitest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
)

// TestAdminQueues: the Asynq dashboard is for owners only, reachable from a
// browser through a one-time ?token= that becomes an HttpOnly cookie (and
// leaves the address bar), and read-only.
func TestAdminQueues(t *testing.T) {
	e := start(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(c *http.Client, path, token string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, _ := get(noFollow, "/admin/queues", ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", res.StatusCode)
	}
	if res, _ := get(noFollow, "/admin/queues", e.auditor); res.StatusCode != http.StatusForbidden {
		t.Errorf("auditor: %d", res.StatusCode)
	}
	if res, _ := get(noFollow, "/admin/queues?token="+e.operator, ""); res.StatusCode != http.StatusForbidden {
		t.Errorf("operator: %d", res.StatusCode)
	}
	res, _ := get(noFollow, "/admin/queues?token="+e.owner, "")
	if res.StatusCode != http.StatusSeeOther || strings.Contains(res.Header.Get("Location"), "token") {
		t.Fatalf("owner ?token=: %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	cookie := res.Header.Get("Set-Cookie")
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") || !strings.Contains(cookie, "Path=/admin/queues") {
		t.Fatalf("cookie %q", cookie)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, body := get(browser, "/admin/queues?token="+e.owner, "")
	if res.StatusCode != 200 || !strings.Contains(strings.ToLower(body), "<html") {
		t.Fatalf("dashboard page: %d %.200s", res.StatusCode, body)
	}
	res, body = get(browser, "/admin/queues/api/queues", "")
	if res.StatusCode != 200 || !strings.Contains(body, "queues") {
		t.Fatalf("dashboard API: %d %.300s", res.StatusCode, body)
	}
	// Read-only: nothing can be deleted.
	req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/admin/queues/api/queues/"+e.app.Redis.Queue(), nil)
	res, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode < 400 {
		t.Errorf("DELETE through the dashboard answered %d", res.StatusCode)
	}
}
