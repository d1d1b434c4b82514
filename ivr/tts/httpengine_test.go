package tts

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// espeakService implements the HTTP engine's contract with the espeak-ng
// program and the settings of the Espeak engine's defaults: it answers
// espeak-ng's own 22050 Hz WAV, streamed, sizes unfilled.
type espeakService struct {
	mu       sync.Mutex
	requests []synthesizeRequest
	headers  []http.Header
}

func (s *espeakService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/synthesize" {
		http.NotFound(w, r)
		return
	}
	var req synthesizeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.headers = append(s.headers, r.Header.Clone())
	s.mu.Unlock()
	voice := map[string]string{"zh": "cmn-latn-pinyin", "en": "en-us"}[req.Lang]
	if req.Voice != "" {
		voice = req.Voice
	}
	if voice == "" {
		http.Error(w, "no voice for language "+req.Lang, http.StatusUnprocessableEntity)
		return
	}
	cmd := exec.CommandContext(r.Context(), "espeak-ng", "-v", voice, "-s", "160", "-p", "50",
		"-a", strconv.Itoa(espeakAmplitude), "--stdout", "--", req.Text)
	out, err := cmd.Output()
	if err != nil {
		http.Error(w, "espeak-ng: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Write(out)
}

func newService(t *testing.T) (*espeakService, *HTTPEngine) {
	t.Helper()
	svc := &espeakService{}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	e, err := NewHTTP(srv.URL + "/v1/")
	if err != nil {
		t.Fatal(err)
	}
	return svc, e
}

func TestHTTPEngineRenders(t *testing.T) {
	svc, e := newService(t)
	local := newEspeak(t)
	for i, tc := range []struct {
		name  string
		voice Voice
		text  string
	}{
		{"mandarin", Voice{Lang: "zh"}, textZH},
		{"english", Voice{Lang: "en"}, textEN},
		{"named voice", Voice{Lang: "en", Name: "en-gb"}, textEN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := e.Render(t.Context(), tc.voice, "  "+tc.text+"\n")
			if err != nil {
				t.Fatal(err)
			}
			svc.mu.Lock()
			req, hdr := svc.requests[i], svc.headers[i]
			svc.mu.Unlock()
			if req != (synthesizeRequest{Text: tc.text, Lang: tc.voice.Lang, Voice: tc.voice.Name}) {
				t.Errorf("service got %+v", req)
			}
			if hdr.Get("Content-Type") != "application/json" || hdr.Get("Accept") != "audio/wav" {
				t.Errorf("request headers %v", hdr)
			}
			// The service runs espeak-ng as the local engine does: resampled
			// and normalised alike, the audio is the same.
			want, err := local.Render(t.Context(), tc.voice, tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if !equalPCM(p, want) {
				t.Errorf("%s at %d Hz from the service, %s at %d Hz locally", p.Duration(), p.Rate, want.Duration(), want.Rate)
			}
		})
	}
}

func TestHTTPEngineFailures(t *testing.T) {
	tone := wavBytes(t, audio.Tone(440, 200*time.Millisecond, -6, 16000))
	stereo := wavBytes(t, audio.Tone(440, 200*time.Millisecond, -6, 16000))
	binary.LittleEndian.PutUint16(stereo[22:], 2)
	for _, tc := range []struct {
		name   string
		serve  http.HandlerFunc
		voice  Voice
		want   error
		saying string
	}{
		{"language not offered", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no voice for fr", http.StatusUnprocessableEntity)
		}, Voice{Lang: "fr"}, ErrUnknownLanguage, "no voice for fr"},
		{"no language", nil, Voice{}, ErrUnknownLanguage, "no language"},
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "synthesizer crashed", http.StatusInternalServerError)
		}, Voice{Lang: "zh"}, ErrEngine, "500 Internal Server Error: synthesizer crashed"},
		{"not audio", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write(tone)
		}, Voice{Lang: "zh"}, ErrEngine, `Content-Type "text/html"`},
		{"not WAV", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "audio/wav")
			w.Write([]byte("ID3 mp3 data"))
		}, Voice{Lang: "zh"}, ErrEngine, "not a RIFF/WAVE stream"},
		{"stereo", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "audio/x-wav")
			w.Write(stereo)
		}, Voice{Lang: "zh"}, ErrEngine, "want mono"},
		{"silence", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "audio/wav")
			w.Write(wavBytes(t, audio.Silence(time.Second, 16000)))
		}, Voice{Lang: "zh"}, ErrNoSpeech, "silent"},
		{"too slow", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // then the server notices the client leave
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		}, Voice{Lang: "zh"}, context.DeadlineExceeded, "took longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				tc.serve(w, r)
			}))
			defer srv.Close()
			e, err := NewHTTP(srv.URL, HTTPTimeout(200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Render(t.Context(), tc.voice, "您好")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.saying) {
				t.Fatalf("error %v, want %v saying %q", err, tc.want, tc.saying)
			}
			if tc.serve == nil && called {
				t.Error("the service was called for a request that cannot succeed")
			}
		})
	}
}

func TestHTTPEngineResamples(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/wav; codecs=1")
		w.Write(wavBytes(t, audio.Tone(1000, time.Second, -20, 16000)))
	}))
	defer srv.Close()
	e, err := NewHTTP(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Render(t.Context(), Voice{Lang: "en"}, "tone")
	if err != nil {
		t.Fatal(err)
	}
	if p.Rate != audio.Rate || p.Duration() != time.Second || peakOf(p) != wantPeak {
		t.Fatalf("%d Hz, %s, peak %d", p.Rate, p.Duration(), peakOf(p))
	}
}

func TestNewHTTPChecks(t *testing.T) {
	for _, base := range []string{"", "tts.example:8080", "ftp://tts.example", "http://", "http://tts.example/?voice=x"} {
		if _, err := NewHTTP(base); err == nil {
			t.Errorf("NewHTTP(%q) accepted", base)
		}
	}
	if _, err := NewHTTP("http://tts.example", HTTPTimeout(0)); err == nil {
		t.Error("zero timeout accepted")
	}
	a, _ := NewHTTP("http://tts.example/v1")
	b, _ := NewHTTP("http://tts.example/v2/")
	if a.Name() == b.Name() || !strings.Contains(b.Name(), "http://tts.example/v2/synthesize") {
		t.Errorf("names %q and %q", a.Name(), b.Name())
	}
	if c, _ := NewHTTP("https://ccd:s3cret@tts.example"); strings.Contains(c.Name(), "s3cret") {
		t.Errorf("name %q shows the password", c.Name())
	}
}
