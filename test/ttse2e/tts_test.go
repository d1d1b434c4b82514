package ttse2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/ivr/tts"
	"github.com/ccd-platform/ccd/test/harness"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func callerNumber() string { return fmt.Sprintf("139%08d", rand.IntN(100000000)) }

// request is one request the media server answered.
type request struct {
	At                                   time.Time
	Method, Path, IfNoneMatch, UserAgent string
	Status                               int
	Took                                 time.Duration
}

// mediaServer serves h on 127.0.0.1 and logs every request.
type mediaServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func startMediaServer(t *testing.T, h http.Handler) *mediaServer {
	t.Helper()
	m := &mediaServer{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.mu.Lock()
		m.reqs = append(m.reqs, request{
			At: start, Method: r.Method, Path: r.URL.RequestURI(), IfNoneMatch: r.Header.Get("If-None-Match"),
			UserAgent: r.UserAgent(), Status: sw.status, Took: time.Since(start),
		})
		m.mu.Unlock()
	}))
	t.Cleanup(m.Close)
	return m
}

// requests returns the requests logged since the n-th.
func (m *mediaServer) requests(from int) []request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]request(nil), m.reqs[min(from, len(m.reqs)):]...)
}

func (m *mediaServer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.reqs)
}

// prompt is a rendered text: its cache key and audio.
type prompt struct {
	key  string
	pcm  audio.PCM
	took time.Duration // rendering, cache write included
}

func render(t *testing.T, c *tts.Cache, lang, text string) prompt {
	t.Helper()
	start := time.Now()
	key, err := c.Get(t.Context(), tts.Voice{Lang: lang}, text)
	if err != nil {
		t.Fatalf("render %s: %v", lang, err)
	}
	took := time.Since(start)
	path, err := c.Path(key)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := audio.ReadWAVFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return prompt{key: key, pcm: pcm, took: took}
}

func newCache(t *testing.T, opts ...tts.CacheOption) *tts.Cache {
	t.Helper()
	c, err := tts.NewCache(engine, cacheDir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// greet makes the hotline's greeting the given media and restarts ccd,
// which reads its configuration at start.
func greet(t *testing.T, ctx context.Context, media ...string) {
	t.Helper()
	stack.Config.Hotline.Greeting = media
	if err := stack.RestartCCD(ctx); err != nil {
		t.Fatalf("restart ccd with greeting %v: %v", media, err)
	}
}

// call places a call that hangs up after listening for d and returns what
// the caller heard.
func call(t *testing.T, ctx context.Context, d time.Duration) *sipcall.Result {
	t.Helper()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: harness.HotlineDID, From: callerNumber(),
		HangupAfter: d, MaxDuration: d + 20*time.Second,
	})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if !res.Answered {
		t.Fatalf("call not answered: %d %s", res.StatusCode, res.Reason)
	}
	return res
}

// match is how well ref is found in what the caller heard; the whole of the
// shorter of the two must overlap.
func match(t *testing.T, heard audio.PCM, ref audio.PCM) audio.Match {
	t.Helper()
	m, err := audio.CrossCorrelate(heard, ref, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func asteriskLogTail(n int) string {
	data, err := os.ReadFile(stack.Asterisk.LogPath())
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// The caller hears the rendered speech, in each language: Asterisk fetches
// it from the media handler once, then plays it from its own cache.
func TestTTSHeardInCall(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	c := newCache(t)
	media := startMediaServer(t, c.Handler())
	prompts := map[string]prompt{
		"zh": render(t, c, "zh", "您好，欢迎致电食品追溯热线。请输入包装上的追溯码，然后按井号键。"),
		"en": render(t, c, "en", "Welcome to the food traceability hotline. Please enter the trace code printed on the package, then press the hash key."),
	}
	other := map[string]string{"zh": "en", "en": "zh"}
	for _, lang := range []string{"zh", "en"} {
		t.Run(lang, func(t *testing.T) {
			p := prompts[lang]
			uri := tts.MediaURI(media.URL, p.key)
			path := tts.MediaPath + p.key + ".wav"
			greet(t, ctx, uri)
			listen := p.pcm.Duration() + 3*time.Second

			var offsets [2]time.Duration
			for i, phase := range []string{"cold", "cached"} {
				before := media.count()
				res := call(t, ctx, listen)
				m := match(t, res.Heard, p.pcm)
				o := match(t, res.Heard, prompts[other[lang]].pcm)
				reqs := media.requests(before)
				t.Logf("%s call: heard %s, %s speech found at %s with correlation %.4f (other language %.4f); media requests %+v",
					phase, res.Heard.Duration(), lang, m.Offset, m.Score, o.Score, reqs)
				if m.Score < 0.8 {
					t.Errorf("%s call: caller did not hear the rendered %s speech: correlation %.3f at %s (Asterisk log:\n%s)",
						phase, lang, m.Score, m.Offset, asteriskLogTail(20))
				}
				if o.Score > 0.5 {
					t.Errorf("%s call: heard audio also matches the %s rendering (%.3f): the comparison proves nothing", phase, other[lang], o.Score)
				}
				offsets[i] = m.Offset
				switch phase {
				case "cold":
					if len(reqs) != 1 || reqs[0].Method != http.MethodGet || reqs[0].Path != path || reqs[0].Status != http.StatusOK {
						t.Errorf("cold call: media requests %+v, want one GET %s answered 200", reqs, path)
					} else {
						t.Logf("Asterisk (%s) asked for %s %s after the answer; serving it took %s",
							reqs[0].UserAgent, path, reqs[0].At.Sub(res.AnsweredAt).Round(time.Microsecond), reqs[0].Took)
					}
				case "cached":
					if len(reqs) != 0 {
						t.Errorf("cached call: media requests %+v, want none within max-age", reqs)
					}
				}
			}
			// The caller's timeline keeps pauses longer than 100 ms only: a
			// fetch faster than that leaves both offsets alike.
			t.Logf("%s: speech reached the caller %s after the answer on the cold call, %s on the cached one; rendering took %s for %s of speech",
				lang, offsets[0], offsets[1], p.took.Round(time.Millisecond), p.pcm.Duration())
		})
	}
}

// With max-age 0 (Cache-Control: no-cache) Asterisk revalidates the file
// before every play: a HEAD with If-None-Match, answered 304, and plays its
// cached copy.
func TestTTSRevalidated(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	c := newCache(t, tts.CacheMaxAge(0))
	media := startMediaServer(t, c.Handler())
	p := render(t, c, "zh", "追溯码已收到，正在为您查询，请稍候。")
	path := tts.MediaPath + p.key + ".wav"
	greet(t, ctx, tts.MediaURI(media.URL, p.key))
	listen := p.pcm.Duration() + 3*time.Second

	for i, want := range []struct {
		method string
		status int
	}{
		{http.MethodGet, http.StatusOK},
		{http.MethodHead, http.StatusNotModified},
		{http.MethodHead, http.StatusNotModified},
	} {
		before := media.count()
		res := call(t, ctx, listen)
		if m := match(t, res.Heard, p.pcm); m.Score < 0.8 {
			t.Errorf("call %d: speech not heard: correlation %.3f", i+1, m.Score)
		}
		reqs := media.requests(before)
		if len(reqs) != 1 || reqs[0].Method != want.method || reqs[0].Path != path || reqs[0].Status != want.status {
			t.Fatalf("call %d: media requests %+v, want one %s %s answered %d", i+1, reqs, want.method, path, want.status)
		}
		if want.status == http.StatusNotModified && reqs[0].IfNoneMatch != `"`+p.key+`"` {
			t.Errorf("call %d: If-None-Match %q, want the ETag", i+1, reqs[0].IfNoneMatch)
		}
		t.Logf("call %d: %s %s → %d, If-None-Match %q, asked %s after the answer, served in %s",
			i+1, reqs[0].Method, reqs[0].Path, reqs[0].Status, reqs[0].IfNoneMatch, reqs[0].At.Sub(res.AnsweredAt).Round(time.Microsecond), reqs[0].Took)
	}
}

// How Asterisk 22 tells the format of HTTP media: the extension at the end
// of the URI, else the Content-Type, else the extension of the URI's path.
// The same WAV file is served under several URIs and content types; each
// case is one call.
func TestTTSMediaFormatDetection(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	c := newCache(t)
	p := render(t, c, "en", "Thank you for calling.")
	file, err := c.Path(p.key)
	if err != nil {
		t.Fatal(err)
	}
	wav, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct, ok := types[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		} else {
			w.Header()["Content-Type"] = nil // no Content-Type at all
		}
		w.Write(wav)
	})
	media := startMediaServer(t, mux)
	// Paths as long as real ones (see the short URI case).
	long := "/media/tts/" + strings.Repeat("7", 64)
	for _, tc := range []struct {
		name  string
		path  string // with query, if any
		ctype string
		plays bool
	}{
		{"wav extension, audio/wav", long + "a.wav", "audio/wav", true},
		{"wav extension, octet-stream", long + "b.wav", "application/octet-stream", true},
		{"wav extension, no Content-Type", long + "c.wav", "", true},
		{"wav extension and query, octet-stream", long + "d.wav?v=1", "application/octet-stream", true},
		{"no extension, audio/wav", long + "e", "audio/wav", true},
		{"no extension, audio/x-wav", long + "f", "audio/x-wav", true},
		{"no extension, octet-stream", long + "g", "application/octet-stream", false},
		{"gsm extension, audio/wav", long + "h.gsm", "audio/wav", true},
		// Asterisk copies the local path of its cached file into a buffer
		// sized by the URI: a URI shorter than that path (about 34
		// characters) fails. Media URIs of the cache are about 100.
		{"short URI", "/p", "audio/wav", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			types[strings.SplitN(tc.path, "?", 2)[0]] = tc.ctype
			greet(t, ctx, "sound:"+media.URL+tc.path)
			before := media.count()
			res := call(t, ctx, p.pcm.Duration()+2*time.Second)
			m := match(t, res.Heard, p.pcm)
			reqs := media.requests(before)
			t.Logf("%s (Content-Type %q): correlation %.3f; requests %+v", tc.path, tc.ctype, m.Score, reqs)
			if len(reqs) == 0 {
				t.Fatalf("Asterisk did not fetch %s", tc.path)
			}
			if played := m.Score > 0.8; played != tc.plays {
				t.Errorf("played=%v (correlation %.3f), want %v; Asterisk log:\n%s", played, m.Score, tc.plays, asteriskLogTail(10))
			}
		})
	}
}

// Asterisk fetches a file the first time it plays it, before the first
// sample goes out: the fetch is on the caller's path, the cached copy is
// not. A media server made 600 ms slow shows it.
func TestTTSColdFetchDelaysSpeech(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	c := newCache(t)
	const delay = 600 * time.Millisecond
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		c.Handler().ServeHTTP(w, r)
	})
	media := startMediaServer(t, slow)
	p := render(t, c, "en", "Please enter the trace code, then press the hash key.")
	greet(t, ctx, tts.MediaURI(media.URL, p.key))

	var offsets []time.Duration
	for _, phase := range []string{"cold", "cached"} {
		before := media.count()
		res := call(t, ctx, p.pcm.Duration()+3*time.Second)
		m := match(t, res.Heard, p.pcm)
		if m.Score < 0.8 {
			t.Fatalf("%s call: speech not heard: correlation %.3f", phase, m.Score)
		}
		t.Logf("%s call: speech at %s after the answer; media requests %+v", phase, m.Offset, media.requests(before))
		offsets = append(offsets, m.Offset)
	}
	if offsets[0]-offsets[1] < delay*8/10 {
		t.Errorf("speech began %s after the answer on the cold call and %s on the cached one: the %s fetch should show on the cold call only",
			offsets[0], offsets[1], delay)
	}
}

// A media server that does not answer costs one playback at most
// timeout_secs (deploy/asterisk/res_http_media_cache.conf.in: 10 s, not
// the 180 s default), and the call goes on.
func TestTTSFetchTimeout(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	gaveUp := make(chan time.Duration, 4)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	hung := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		select {
		case <-r.Context().Done():
			gaveUp <- time.Since(start)
		case <-done:
		}
	})
	media := startMediaServer(t, hung)
	uri := tts.MediaURI(media.URL, strings.Repeat("5", 64))
	greet(t, ctx, uri)
	caller := callerNumber()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: harness.HotlineDID, From: caller,
		HangupAfter: 13 * time.Second, MaxDuration: 40 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call: %v %+v", err, res)
	}
	select {
	case d := <-gaveUp:
		t.Logf("Asterisk gave up the fetch after %s; the call stayed up %s (hung up by %s)", d.Round(time.Millisecond), res.Duration().Round(time.Millisecond), res.HungUpBy)
		if d < 9*time.Second || d > 12*time.Second {
			t.Errorf("Asterisk gave up after %s, want timeout_secs = 10 s", d)
		}
	default:
		t.Fatalf("Asterisk did not give up the fetch within the call; requests %+v", media.requests(0))
	}
	if res.HungUpBy != sipcall.HungUpByCaller {
		t.Errorf("call hung up by %q: the failed prompt ended the call", res.HungUpBy)
	}
}
