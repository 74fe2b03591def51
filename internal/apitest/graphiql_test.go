package apitest

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/testenv"
)

// chromium finds a headless-capable Chromium. CI installs one (.ci/run);
// a laptop without one skips this test, the only one that needs a browser.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testenv.CI() {
		t.Fatal("no Chromium on PATH: .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium on PATH (CI installs it)")
	return ""
}

// TestGraphiQLOffline loads GraphiQL in headless Chromium with every host
// but the server unreachable, runs a query over HTTP and a subscription over
// the websocket with the prefilled Authorization header. Every host but
// loopback is unreachable, so the page loads only if it needs nothing else.
func TestGraphiQLOffline(t *testing.T) {
	browser := chromium(t)
	e := start(t)
	e.app.GraphiQLToken = e.owner // as serve --dev does
	srv := httptest.NewServer(e.app.Handler())
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		// Offline: no host name resolves (a CDN is one), only the server's
		// loopback address is reachable.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	editor := func(sel string) string {
		return `document.querySelector('` + sel + ` .CodeMirror').CodeMirror`
	}
	run := func(query string) error {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](editor(".graphiql-query-editor")+`.setValue(`+jsString(query)+`) === undefined`)); err != nil {
			return err
		}
		return chromedp.Do(ctx, chromedp.Click(".graphiql-execute-button"))
	}
	// response polls the result pane until it contains want.
	response := func(want string, poke func()) string {
		var got string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			if poke != nil {
				poke()
			}
			got, _ = chromedp.Run(ctx, chromedp.Evaluate[string](editor(".graphiql-response")+`.getValue()`))
			if strings.Contains(got, want) {
				return got
			}
			time.Sleep(300 * time.Millisecond)
		}
		t.Fatalf("the result pane never showed %q; it shows %q", want, got)
		return ""
	}

	// Offline, the page loads only if nothing it needs comes from elsewhere.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(".graphiql-execute-button")); err != nil {
		t.Fatalf("GraphiQL did not load offline: %v", err)
	}
	editors, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll('.CodeMirror')).map(function (e) { return e.CodeMirror.getValue(); }).join('\n')`))
	if err != nil || !strings.Contains(editors, "Bearer "+e.owner) {
		t.Fatalf("the Authorization header is not prefilled (%v): %q", err, editors)
	}
	if err := run(`{ viewer { role } }`); err != nil {
		t.Fatal(err)
	}
	response(`"OWNER"`, nil)

	if err := run(`subscription { auditLogAdded(workspaceId: "` + e.wsID + `") { action } }`); err != nil {
		t.Fatal(err)
	}
	response(`"browser.test"`, func() {
		entry, err := e.app.Audit.Record(context.Background(), e.app.DB.Client, audit.Entry{WorkspaceID: e.wsID,
			Action: "browser.test", ObjectType: "test", ObjectID: "test"})
		if err == nil {
			e.app.Audit.Announce(context.Background(), entry)
		}
	})
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
