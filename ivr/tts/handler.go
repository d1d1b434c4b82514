package tts

import (
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// MediaPath is where the media handler serves cached files: MediaPath+KEY+".wav".
const MediaPath = "/media/tts/"

// MediaURI is the Asterisk media URI that plays a cached file fetched from
// ccd's HTTP server at base (http://HOST:PORT, as Asterisk reaches it):
// sound:http://HOST:PORT/media/tts/KEY.wav.
func MediaURI(base, key string) string {
	return "sound:" + strings.TrimRight(base, "/") + MediaPath + key + ".wav"
}

// Handler serves cached files: GET or HEAD MediaPath+KEY+".wav", nothing
// else (404 for any other path, a malformed key or a key not cached; 405 for
// other methods). Mount it at MediaPath on the server Asterisk fetches from.
//
// Answers carry Content-Type audio/wav, ETag "KEY" and Cache-Control
// public, max-age=N (CacheMaxAge; no-cache when zero). A request with
// If-None-Match naming the key is answered 304 Not Modified: that is how
// Asterisk's media cache revalidates a file once max-age has passed.
func (c *Cache) Handler() http.Handler {
	cacheControl := "no-cache"
	if c.maxAge > 0 {
		cacheControl = "public, max-age=" + strconv.FormatInt(int64(c.maxAge/time.Second), 10)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := mediaKey(r.URL)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		f, err := os.Open(c.path(key))
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, "cache file unavailable", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", "audio/wav")
		h.Set("ETag", `"`+key+`"`)
		h.Set("Cache-Control", cacheControl)
		// No Last-Modified: the modification time only says when the file
		// was last used (Prune); the ETag identifies the content.
		http.ServeContent(w, r, "", time.Time{}, f)
	})
}

// mediaKey is the key of a media path, exactly MediaPath+KEY+".wav" both
// decoded and as sent (no escapes, dot segments or extra slashes).
func mediaKey(u *url.URL) (string, bool) {
	if u.RawPath != "" && u.RawPath != u.Path {
		return "", false
	}
	name, ok := strings.CutPrefix(u.Path, MediaPath)
	if !ok {
		return "", false
	}
	key, ok := strings.CutSuffix(name, ".wav")
	if !ok || !ValidKey(key) {
		return "", false
	}
	return key, true
}
