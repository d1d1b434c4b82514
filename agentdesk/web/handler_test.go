package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

var built = fstest.MapFS{
	".keep":                    {Data: nil},
	"index.html":               {Data: []byte(`<!doctype html><title>desk</title><script type="module" src="/desk/assets/index-abc123.js"></script>`)},
	"assets/index-abc123.js":   {Data: bytes.Repeat([]byte("console.log('the desktop');\n"), 200)},
	"assets/index-abc123.css":  {Data: []byte("body{margin:0}")},
	"assets/JsSIP-def456.js":   {Data: bytes.Repeat([]byte("var sip=1;\n"), 300)},
	"favicon.ico":              {Data: []byte{0, 0, 1, 0}},
	"assets/empty-000000.json": {Data: []byte("{}")},
}

func get(t *testing.T, h http.Handler, method, target string, headers ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerNotBuilt(t *testing.T) {
	h := newHandler(fstest.MapFS{".keep": {}})
	for _, target := range []string{"/desk/", "/desk/assets/index-abc123.js", "/desk/history"} {
		res := get(t, h, "GET", target)
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503", target, res.StatusCode)
		}
		if b := body(t, res); !strings.Contains(b, "the desktop is not built: run make web") {
			t.Errorf("%s: body %q", target, b)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: content type %q, want text/plain", target, ct)
		}
	}
}

func TestHandlerServesTheApp(t *testing.T) {
	h := newHandler(built)
	index := string(built["index.html"].Data)
	tests := []struct {
		name, target string
		status       int
		body         string // "" to skip
		cache        string
		ctype        string
	}{
		{"root", "/desk/", 200, index, "no-cache", "text/html"},
		{"index by name", "/desk/index.html", 200, index, "no-cache", "text/html"},
		{"bare prefix", "/desk", 200, index, "no-cache", "text/html"},
		{"app route", "/desk/history", 200, index, "no-cache", "text/html"},
		{"deep app route", "/desk/calls/42/wrapup", 200, index, "no-cache", "text/html"},
		{"hashed script", "/desk/assets/index-abc123.js", 200, string(built["assets/index-abc123.js"].Data), "public, max-age=31536000, immutable", "text/javascript"},
		{"hashed style", "/desk/assets/index-abc123.css", 200, "body{margin:0}", "public, max-age=31536000, immutable", "text/css"},
		{"unhashed file", "/desk/favicon.ico", 200, "", "no-cache", ""},
		{"missing script", "/desk/assets/index-gone.js", 404, "", "no-store", ""},
		{"missing file", "/desk/robots.txt", 404, "", "no-store", ""},
		{"dot file", "/desk/.keep", 404, "", "no-store", ""},
		{"traversal stays in the app", "/desk/../../etc/passwd", 200, index, "no-cache", "text/html"},
		{"traversal to a missing file", "/desk/../../etc/passwd.txt", 404, "", "no-store", ""},
		{"traversal to a route", "/desk/assets/../history", 200, index, "no-cache", "text/html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, h, "GET", tt.target)
			b := body(t, res)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%q)", res.StatusCode, tt.status, b)
			}
			if tt.body != "" && b != tt.body {
				t.Errorf("body %.60q, want %.60q", b, tt.body)
			}
			if got := res.Header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if tt.ctype != "" && !strings.HasPrefix(res.Header.Get("Content-Type"), tt.ctype) {
				t.Errorf("Content-Type %q, want %s", res.Header.Get("Content-Type"), tt.ctype)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if tt.ctype == "text/html" && !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("index without its CSP: %q", res.Header.Get("Content-Security-Policy"))
			}
		})
	}
}

func TestHandlerUnderStripPrefix(t *testing.T) {
	h := http.StripPrefix("/desk/", newHandler(built))
	if res := get(t, h, "GET", "/desk/assets/index-abc123.css"); res.StatusCode != 200 || body(t, res) != "body{margin:0}" {
		t.Fatalf("asset under StripPrefix: %d", res.StatusCode)
	}
	if res := get(t, h, "GET", "/desk/agent"); res.StatusCode != 200 || !strings.Contains(body(t, res), "<title>desk</title>") {
		t.Fatalf("route under StripPrefix: %d", res.StatusCode)
	}
}

func TestHandlerGzipAndRevalidation(t *testing.T) {
	h := newHandler(built)
	plain := built["assets/index-abc123.js"].Data

	res := get(t, h, "GET", "/desk/assets/index-abc123.js", "Accept-Encoding", "br, gzip;q=0.8")
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("no gzip: %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, plain) {
		t.Fatal("gzip body does not decompress to the file")
	}

	if res := get(t, h, "GET", "/desk/assets/index-abc123.js", "Accept-Encoding", "gzip;q=0"); res.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent though refused with q=0")
	}
	if res := get(t, h, "GET", "/desk/assets/index-abc123.css", "Accept-Encoding", "gzip"); res.Header.Get("Content-Encoding") != "" {
		t.Fatal("a tiny file was compressed")
	}

	first := get(t, h, "GET", "/desk/")
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("index has no ETag")
	}
	if res := get(t, h, "GET", "/desk/", "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: status %d, want 304", res.StatusCode)
	}
	if res := get(t, h, "HEAD", "/desk/"); res.StatusCode != 200 {
		t.Fatalf("HEAD: %d", res.StatusCode)
	}
	if res := get(t, h, "POST", "/desk/"); res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

// The embedded build serves too (the 503 page before `make web`).
func TestEmbeddedHandler(t *testing.T) {
	res := get(t, Handler(), "GET", "/desk/")
	switch res.StatusCode {
	case 200, http.StatusServiceUnavailable:
	default:
		t.Fatalf("status %d", res.StatusCode)
	}
}
