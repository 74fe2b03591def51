// Package graphiql serves GraphiQL from the binary: the page at / and its
// assets (React, GraphiQL, graphql-ws) embedded gzipped, so the IDE works
// offline and in networks that block CDNs. The assets are the npm packages
// named in VERSIONS, rebuilt by `make graphiql` (build.sh); their licences
// are next to them in assets/.
package graphiql

import (
	"compress/gzip"
	"embed"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"path"
	"strings"
)

//go:embed assets/*.gz
var assets embed.FS

// Options configures the page.
type Options struct {
	// Endpoint is the GraphQL path, for HTTP and websockets ("/graphql").
	Endpoint string
	// Headers prefill the headers editor (the dev owner token in --dev).
	Headers map[string]string
}

// Page serves the GraphiQL page.
func Page(o Options) http.Handler {
	headers := ""
	if len(o.Headers) > 0 {
		b, _ := json.MarshalIndent(o.Headers, "", "  ")
		headers = string(b)
	}
	data := struct {
		Endpoint, Headers string
	}{o.Endpoint, headers}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store") // it may carry the dev token
		_ = page.Execute(w, data)
	})
}

// AssetPrefix is where Assets is mounted.
const AssetPrefix = "/graphiql/"

// Assets serves the embedded files under AssetPrefix: gzipped as stored to
// clients that accept it, decompressed to the others.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Base(r.URL.Path)
		f, err := assets.Open("assets/" + name + ".gz")
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		switch path.Ext(name) {
		case ".js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		case ".css":
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = io.Copy(w, f)
			return
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			http.Error(w, "corrupt asset", http.StatusInternalServerError)
			return
		}
		_, _ = io.Copy(w, zr)
	})
}

// page runs GraphiQL with a fetcher that sends queries and mutations over
// HTTP and subscriptions over the same endpoint's websocket
// (graphql-transport-ws), both with the headers of the headers editor: the
// websocket gets the Authorization header in connection_init.
var page = template.Must(template.New("graphiql").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>restored · GraphiQL</title>
<link rel="stylesheet" href="/graphiql/graphiql.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphiql/react.js"></script>
<script src="/graphiql/react-dom.js"></script>
<script src="/graphiql/graphql-ws.js"></script>
<script src="/graphiql/graphiql.js"></script>
<script>
(function () {
  var url = new URL({{.Endpoint}}, location.href).href;
  var wsUrl = url.replace(/^http/, "ws");
  var clients = {};
  function wsClient(auth) {
    if (!clients[auth]) {
      clients[auth] = graphqlWs.createClient({ url: wsUrl, lazy: true, retryAttempts: 0,
        connectionParams: auth ? { Authorization: auth } : {} });
    }
    return clients[auth];
  }
  function isSubscription(opts, query) {
    var doc = opts && opts.documentAST;
    if (doc && doc.definitions) {
      var ops = doc.definitions.filter(function (d) { return d.kind === "OperationDefinition"; });
      var name = opts.operationName;
      var op = ops.find(function (d) { return !name || (d.name && d.name.value === name); }) || ops[0];
      return op && op.operation === "subscription";
    }
    return /^\s*subscription\b/.test(query || "");
  }
  function fetcher(params, opts) {
    var headers = Object.assign({}, opts && opts.headers);
    if (isSubscription(opts, params.query)) {
      var it = wsClient(headers.Authorization || headers.authorization || "").iterate(params);
      return { [Symbol.asyncIterator]: function () { return it; } };
    }
    return fetch(url, {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json", "Accept": "application/json" }, headers),
      body: JSON.stringify(params)
    }).then(function (r) { return r.json(); });
  }
  var props = { fetcher: fetcher, shouldPersistHeaders: false,
    defaultQuery: "# Welcome to restored. Try:\n{\n  viewer { role workspace { name } }\n}\n" };
  var headers = {{.Headers}};
  if (headers) { props.defaultHeaders = headers; }
  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQL, props));
})();
</script>
</body>
</html>
`))
