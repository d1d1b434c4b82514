package tts

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/ivr"
)

var _ ivr.Speaker = (*Speaker)(nil)

// toneEngine renders a short tone whatever the text: for tests of what
// happens around the rendering.
type toneEngine struct{}

func (toneEngine) Name() string { return "tone" }
func (toneEngine) Render(_ context.Context, _ Voice, text string) (audio.PCM, error) {
	if _, err := checkText(text); err != nil {
		return audio.PCM{}, err
	}
	return toTelephone(audio.Tone(440, 200*time.Millisecond, -6, audio.Rate), DefaultPeak)
}

// rawGet sends path exactly as written, unlike http.Get, which would clean
// or escape it.
func rawGet(t *testing.T, addr, method, path string, header ...string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: media\r\nConnection: close\r\n", method, path)
	for _, h := range header {
		fmt.Fprintf(conn, "%s\r\n", h)
	}
	fmt.Fprint(conn, "\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

func TestHandler(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "tts")
	c, err := NewCache(toneEngine{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := c.Get(t.Context(), Voice{Lang: "zh"}, "您好")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(c.path(key))
	if err != nil {
		t.Fatal(err)
	}
	// Files beside and above the cache that must never be served.
	os.WriteFile(filepath.Join(parent, "secret.wav"), []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(dir, ".tmp.wav"), []byte("partial"), 0o644)
	os.WriteFile(filepath.Join(dir, strings.ToUpper(key)+".wav"), []byte("upper"), 0o644)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	missing := strings.Repeat("0", 64)

	for _, tc := range []struct {
		name   string
		method string
		path   string
		header []string
		status int
	}{
		{"cached file", "GET", MediaPath + key + ".wav", nil, 200},
		{"cached file, query ignored", "GET", MediaPath + key + ".wav?v=2", nil, 200},
		{"head", "HEAD", MediaPath + key + ".wav", nil, 200},
		{"revalidation", "HEAD", MediaPath + key + ".wav", []string{`If-None-Match: "` + key + `"`}, 304},
		{"revalidation with GET", "GET", MediaPath + key + ".wav", []string{`If-None-Match: "` + key + `"`}, 304},
		{"other ETag", "GET", MediaPath + key + ".wav", []string{`If-None-Match: "` + missing + `"`}, 200},
		{"range", "GET", MediaPath + key + ".wav", []string{"Range: bytes=0-43"}, 206},
		{"not cached", "GET", MediaPath + missing + ".wav", nil, 404},
		{"post", "POST", MediaPath + key + ".wav", []string{"Content-Length: 0"}, 405},
		{"no extension", "GET", MediaPath + key, nil, 404},
		{"other extension", "GET", MediaPath + key + ".gsm", nil, 404},
		{"upper-case extension", "GET", MediaPath + key + ".WAV", nil, 404},
		{"upper-case key", "GET", MediaPath + strings.ToUpper(key) + ".wav", nil, 404},
		{"short key", "GET", MediaPath + key[1:] + ".wav", nil, 404},
		{"long key", "GET", MediaPath + key + "0.wav", nil, 404},
		{"not hex", "GET", MediaPath + strings.Repeat("g", 64) + ".wav", nil, 404},
		{"temporary file", "GET", MediaPath + ".tmp.wav", nil, 404},
		{"directory", "GET", MediaPath, nil, 404},
		{"parent", "GET", MediaPath + "../secret.wav", nil, 404},
		{"parent escaped", "GET", MediaPath + "%2e%2e/secret.wav", nil, 404},
		{"slash escaped", "GET", MediaPath + "..%2fsecret.wav", nil, 404},
		{"deeper", "GET", MediaPath + "x/../" + key + ".wav", nil, 404},
		{"double slash", "GET", "/media//tts/" + key + ".wav", nil, 404},
		{"key escaped", "GET", MediaPath + "%" + fmt.Sprintf("%X", key[0]) + key[1:] + ".wav", nil, 404},
		{"trailing slash", "GET", MediaPath + key + ".wav/", nil, 404},
		{"other prefix", "GET", "/media/sounds/" + key + ".wav", nil, 404},
		{"root", "GET", "/", nil, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawGet(t, addr, tc.method, tc.path, tc.header...)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: %s, want %d", tc.method, tc.path, resp.Status, tc.status)
			}
			if tc.status == 404 || tc.status == 405 {
				if strings.Contains(string(body), "secret") || strings.Contains(string(body), "RIFF") {
					t.Fatalf("refusal carries file content: %q", body)
				}
				if tc.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("Allow %q", resp.Header.Get("Allow"))
				}
				return
			}
			h := resp.Header
			if h.Get("ETag") != `"`+key+`"` || h.Get("Cache-Control") != "public, max-age=86400" {
				t.Errorf("ETag %q, Cache-Control %q", h.Get("ETag"), h.Get("Cache-Control"))
			}
			if tc.status == 304 {
				return
			}
			if h.Get("Content-Type") != "audio/wav" {
				t.Errorf("Content-Type %q", h.Get("Content-Type"))
			}
			switch {
			case tc.method == "HEAD":
				if h.Get("Content-Length") != fmt.Sprint(len(want)) || len(body) != 0 {
					t.Errorf("HEAD: Content-Length %q, %d bytes of body", h.Get("Content-Length"), len(body))
				}
			case tc.status == 206:
				if string(body) != string(want[:44]) {
					t.Errorf("range: %d bytes", len(body))
				}
			case string(body) != string(want):
				t.Errorf("%d bytes served, the file has %d", len(body), len(want))
			}
		})
	}
}

func TestHandlerNoCache(t *testing.T) {
	c := newCache(t, toneEngine{}, CacheMaxAge(0))
	key, err := c.Get(t.Context(), Voice{Lang: "en"}, "hello")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest("GET", MediaPath+key+".wav", nil))
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("%d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
}

func FuzzMediaKey(f *testing.F) {
	key := strings.Repeat("ab", 32)
	for _, s := range []string{MediaPath + key + ".wav", MediaPath + "../x.wav", MediaPath + "%2e%2e%2fx.wav", "/", MediaPath + key + ".wav/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil {
			return
		}
		k, ok := mediaKey(r.URL)
		if !ok {
			return
		}
		if !ValidKey(k) || r.URL.Path != MediaPath+k+".wav" || strings.ContainsAny(r.URL.EscapedPath()[len(MediaPath):], "/%\\") {
			t.Fatalf("target %q accepted as key %q (path %q)", target, k, r.URL.Path)
		}
	})
}

func TestMediaURI(t *testing.T) {
	key := strings.Repeat("0f", 32)
	for _, base := range []string{"http://10.0.0.5:8080", "http://10.0.0.5:8080/"} {
		if got, want := MediaURI(base, key), "sound:http://10.0.0.5:8080/media/tts/"+key+".wav"; got != want {
			t.Errorf("MediaURI(%q) = %q, want %q", base, got, want)
		}
	}
}

func TestSpeaker(t *testing.T) {
	c := newCache(t, toneEngine{})
	s, err := NewSpeaker(c, "http://127.0.0.1:8080/")
	if err != nil {
		t.Fatal(err)
	}
	media, err := s.Speak(t.Context(), "zh", "您好")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := c.Get(t.Context(), Voice{Lang: "zh"}, "您好")
	if media != MediaURI("http://127.0.0.1:8080", key) {
		t.Fatalf("media %q", media)
	}
	if _, err := s.Speak(t.Context(), "zh", ""); err == nil {
		t.Fatal("empty text spoken")
	}
	for _, base := range []string{"", "127.0.0.1:8080", "file:///var/lib/ccd", "http://h/?x=1"} {
		if _, err := NewSpeaker(c, base); err == nil {
			t.Errorf("NewSpeaker(%q) accepted", base)
		}
	}
}
