// Package web is the agent desktop's front end: a React app (built with Vite
// from this folder by `make web`) embedded in the ccd binary and served as a
// single-page application at /desk/.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// dist is the build output; dist/.keep is committed so that this compiles
// before the first build.
//
//go:embed all:dist
var dist embed.FS

// Prefix is where the desktop is mounted: mux.Handle(web.Prefix, web.Handler()).
const Prefix = "/desk/"

// NotBuilt is the body of the 503 answered when the binary was built
// without the front end.
const NotBuilt = "the desktop is not built: run make web\n"

// Handler serves the desktop embedded in the binary.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil { // cannot happen: dist is a literal directory of the embed
		panic(err)
	}
	return newHandler(sub)
}

// The security headers of every answer. The SIP WebSocket of the softphone
// is on Asterisk's port, not ours, hence ws: and wss: in connect-src.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; " +
	"frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"

type asset struct {
	name string // for the content type and http.ServeContent
	body []byte
	gz   []byte // gzip-compressed body, nil when not worth it
	etag string
	// immutable: a content-hashed file under assets/, cached for a year.
	immutable bool
}

type handler struct {
	files map[string]*asset // by path relative to dist, "index.html", "assets/index-abc.js"
	index *asset            // nil when not built
}

// newHandler reads every file of fsys once (the build output is small), so
// that requests never touch the file system and ETags are content hashes.
func newHandler(fsys fs.FS) *handler {
	h := &handler{files: map[string]*asset{}}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(p), ".") {
			return nil
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(body)
		a := &asset{name: path.Base(p), body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`,
			immutable: strings.HasPrefix(p, "assets/")}
		if compressible(p) && len(body) > 1024 {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			if b.Len() < len(body)*9/10 {
				a.gz = b.Bytes()
			}
		}
		h.files[p] = a
		return nil
	})
	h.index = h.files["index.html"]
	return h
}

func compressible(p string) bool {
	switch path.Ext(p) {
	case ".js", ".mjs", ".css", ".html", ".svg", ".json", ".map", ".txt", ".wasm":
		return true
	}
	return false
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.index == nil {
		hd.Set("Cache-Control", "no-store")
		hd.Set("Retry-After", "60")
		http.Error(w, strings.TrimSuffix(NotBuilt, "\n"), http.StatusServiceUnavailable)
		return
	}
	// Mounted at /desk/ with or without http.StripPrefix.
	p := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(Prefix, "/"))
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	a := h.files[p]
	switch {
	case a != nil && p != "index.html":
	case p == "" || p == "index.html" || !looksLikeFile(p):
		a = h.index // the app's own routes: the SPA decides
	default: // a missing script or style: a 404, not the page in its place
		hd.Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	h.serve(w, r, a)
}

// looksLikeFile tells a request for a file (assets/x.js, favicon.ico) from
// a route of the app (/desk/, /desk/history).
func looksLikeFile(p string) bool {
	return strings.HasPrefix(p, "assets/") || path.Ext(p) != ""
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	if a.immutable {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache") // always revalidated (ETag): a new build shows at once
	}
	if a == h.index {
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Frame-Options", "DENY")
	}
	ctype := mime.TypeByExtension(path.Ext(a.name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	hd.Set("Content-Type", ctype)
	hd.Set("ETag", a.etag)
	body := a.body
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hd.Set("Content-Encoding", "gzip")
			hd.Set("ETag", strings.TrimSuffix(a.etag, `"`)+`-gz"`)
			body = a.gz
		}
	}
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
