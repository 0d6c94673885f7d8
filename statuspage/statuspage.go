// Package statuspage is the operator's status page: one HTML page and
// its script and style sheet, embedded in the binary. The page reads the
// management API (instances and container queue) from the same origin
// with the management token the operator types in, refreshes every five
// seconds, and offers the API's operator actions (hold, drain, run and
// kill an instance; kill a container) as buttons.
//
// The page holds no data of its own and needs no network but the
// dispatcher's own address: no CDN, no external fonts. Its assets are
// served without authentication (they hold no secrets); every API call
// the page makes carries the token as "Authorization: Bearer".
package statuspage

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"time"
)

//go:embed ui
var files embed.FS

// UIPrefix is the path under which the page's assets are served.
const UIPrefix = "/_ui/"

// csp allows the page its own script, style sheet, icon and API calls,
// and nothing else: no inline script, no other origin, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// asset is one embedded file as served.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// routes maps each served path to its file and content type. Content
// types are spelled out rather than taken from the mime package, whose
// table the host's /etc/mime.types can change.
var routes = map[string]struct{ file, contentType string }{
	"/":                      {"ui/index.html", "text/html; charset=utf-8"},
	UIPrefix + "app.js":      {"ui/app.js", "text/javascript; charset=utf-8"},
	UIPrefix + "style.css":   {"ui/style.css", "text/css; charset=utf-8"},
	UIPrefix + "favicon.svg": {"ui/favicon.svg", "image/svg+xml"},
	UIPrefix + "index.html":  {"ui/index.html", "text/html; charset=utf-8"},
	UIPrefix:                 {"ui/index.html", "text/html; charset=utf-8"},
}

// Handler serves the status page at GET / and its assets under /_ui/.
// Other paths get 404, other methods 405. It needs no authentication:
// the page asks the operator for the management token itself.
func Handler() http.Handler {
	assets := make(map[string]asset, len(routes))
	for path, r := range routes {
		body, err := fs.ReadFile(files, r.file)
		if err != nil {
			// The files are embedded: a missing one is a build error.
			panic("statuspage: " + err.Error())
		}
		sum := sha256.Sum256(body)
		assets[path] = asset{body: body, contentType: r.contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// Revalidate every time, so a new binary's page is never mixed
		// with an old cached script; the ETag keeps that cheap.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
