package statuspage

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerServesPageAndAssets(t *testing.T) {
	h := Handler()
	for _, tc := range []struct{ path, contentType, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="/_ui/app.js"`},
		{"/_ui/", "text/html; charset=utf-8", `<table id="instances"`},
		{"/_ui/index.html", "text/html; charset=utf-8", `<table id="containers"`},
		{"/_ui/app.js", "text/javascript; charset=utf-8", `sessionStorage`},
		{"/_ui/style.css", "text/css; charset=utf-8", `table`},
		{"/_ui/favicon.svg", "image/svg+xml", `<svg`},
	} {
		r := get(t, h, "GET", tc.path)
		b := body(t, r)
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", tc.path, r.Status)
			continue
		}
		if got := r.Header.Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
		if !strings.Contains(b, tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "ETag", "Cache-Control"} {
			if r.Header.Get(h) == "" {
				t.Errorf("GET %s: no %s header", tc.path, h)
			}
		}
		if csp := r.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}

		// Revalidation by ETag.
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", tc.path, nil)
		req.Header.Set("If-None-Match", r.Header.Get("ETag"))
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", tc.path, rec.Code)
		}

		head := get(t, h, "HEAD", tc.path)
		if head.StatusCode != http.StatusOK || body(t, head) != "" {
			t.Errorf("HEAD %s: %s", tc.path, head.Status)
		}
	}
}

func TestHandlerRejects(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/_ui/nope.js", http.StatusNotFound},
		{"GET", "/_ui/../statuspage.go", http.StatusNotFound},
		{"GET", "/index.html", http.StatusNotFound},
		{"GET", "/arvados/v1/dispatch/instances", http.StatusNotFound},
		{"POST", "/", http.StatusMethodNotAllowed},
		{"DELETE", "/_ui/app.js", http.StatusMethodNotAllowed},
	} {
		if r := get(t, h, tc.method, tc.path); r.StatusCode != tc.code {
			t.Errorf("%s %s: %s, want %d", tc.method, tc.path, r.Status, tc.code)
		}
	}
}

// TestIndexReferencesServedAssets checks that every local URL the page
// names is one the handler serves.
func TestIndexReferencesServedAssets(t *testing.T) {
	h := Handler()
	page := body(t, get(t, h, "GET", "/"))
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html references %d assets, want the script, style sheet and icon", len(refs))
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], UIPrefix) {
			t.Errorf("index.html references %q, outside %s", m[1], UIPrefix)
			continue
		}
		if r := get(t, h, "GET", m[1]); r.StatusCode != http.StatusOK {
			t.Errorf("index.html references %s: %s", m[1], r.Status)
		}
	}
}

// TestNoNetwork checks that no embedded file names another host: the
// page must work without network access beyond the dispatcher.
func TestNoNetwork(t *testing.T) {
	// An XML namespace is a name, not a fetch.
	namespace := regexp.MustCompile(`xmlns="http://www\.w3\.org/2000/svg"`)
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(?:https?|wss?|ftp):`),
		regexp.MustCompile(`(?i)(?:src|href|action)\s*=\s*["']?//`),
		regexp.MustCompile(`(?i)url\(\s*["']?(?:[a-z]+:)?//`),
		regexp.MustCompile(`(?i)@import`),
		regexp.MustCompile(`(?i)localStorage|document\.cookie|innerHTML|outerHTML|eval\(|new Function`),
	}
	// Inline event handlers and scripts would be blocked by the CSP.
	inline := regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=|<script(?:\s[^>]*)?>[^<]`)
	n := 0
	err := fs.WalkDir(files, "ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		text := namespace.ReplaceAllString(string(b), "")
		for _, re := range forbidden {
			if m := re.FindString(text); m != "" {
				t.Errorf("%s contains %q (%s)", path, m, re)
			}
		}
		if strings.HasSuffix(path, ".html") || strings.HasSuffix(path, ".svg") {
			if m := inline.FindString(text); m != "" {
				t.Errorf("%s has inline script %q", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Errorf("walked %d embedded files, want 4", n)
	}
}
