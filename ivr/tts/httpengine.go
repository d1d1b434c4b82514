package tts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// HTTPEngine renders with a text-to-speech service over HTTP. The contract:
//
//	POST {base}/synthesize
//	Content-Type: application/json
//	Accept: audio/wav
//	{"text": "您好……", "lang": "zh", "voice": ""}
//
//	200 OK
//	Content-Type: audio/wav   (audio/x-wav and audio/wave are accepted too)
//	<RIFF/WAVE, 16-bit PCM, mono, any sample rate; 8000 Hz saves resampling>
//
// voice is Voice.Name, empty for the service's default voice of lang. Data
// sizes in the WAV header may be left unfilled (streamed). The service
// answers 422 when it has no voice for lang (or the named voice), which is
// reported as ErrUnknownLanguage; any other status is ErrEngine with the
// start of the response body. Audio is resampled to 8 kHz and normalised
// to the peak level like every engine's.
type HTTPEngine struct {
	url     string
	client  *http.Client
	timeout time.Duration
	peak    float64
	name    string
}

var _ Engine = (*HTTPEngine)(nil)

// HTTPOption sets an optional parameter of NewHTTP.
type HTTPOption func(*HTTPEngine)

// HTTPClient sends the requests with c (default: a client of its own).
func HTTPClient(c *http.Client) HTTPOption { return func(e *HTTPEngine) { e.client = c } }

// HTTPTimeout bounds one request, the audio included (default 10 s).
func HTTPTimeout(d time.Duration) HTTPOption { return func(e *HTTPEngine) { e.timeout = d } }

// HTTPPeak sets the level of the loudest sample in dBFS, -30 to 0 (default DefaultPeak).
func HTTPPeak(dBFS float64) HTTPOption { return func(e *HTTPEngine) { e.peak = dBFS } }

// synthesizeRequest is the JSON body of POST {base}/synthesize.
type synthesizeRequest struct {
	Text  string `json:"text"`
	Lang  string `json:"lang"`
	Voice string `json:"voice"`
}

// NewHTTP returns an engine for the service at base (http or https URL; the
// path, if any, is kept: https://tts.example/v1 posts to /v1/synthesize).
func NewHTTP(base string, opts ...HTTPOption) (*HTTPEngine, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("tts: service URL %q is not an http(s) base URL", base)
	}
	e := &HTTPEngine{
		url:     strings.TrimRight(u.String(), "/") + "/synthesize",
		client:  &http.Client{},
		timeout: 10 * time.Second,
		peak:    DefaultPeak,
	}
	for _, o := range opts {
		o(e)
	}
	switch {
	case e.client == nil:
		return nil, errors.New("tts: nil HTTP client")
	case e.timeout <= 0:
		return nil, errors.New("tts: HTTP timeout must be positive")
	case !validPeak(e.peak):
		return nil, fmt.Errorf("tts: peak %g dBFS, want -30 to 0", e.peak)
	}
	named, err := url.Parse(e.url)
	if err != nil {
		return nil, fmt.Errorf("tts: service URL %q: %v", base, err)
	}
	e.name = fmt.Sprintf("http %s peak=%g", named.Redacted(), e.peak) // logged: no password
	return e, nil
}

// Name is "http", the service URL and the peak level.
func (e *HTTPEngine) Name() string { return e.name }

// Render posts the text to the service.
func (e *HTTPEngine) Render(ctx context.Context, v Voice, text string) (audio.PCM, error) {
	text, err := checkText(text)
	if err != nil {
		return audio.PCM{}, err
	}
	if v.Lang == "" {
		return audio.PCM{}, fmt.Errorf("%w: no language", ErrUnknownLanguage)
	}
	body, err := json.Marshal(synthesizeRequest{Text: text, Lang: v.Lang, Voice: v.Name})
	if err != nil {
		return audio.PCM{}, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, e.timeout, fmt.Errorf("TTS service took longer than %s: %w", e.timeout, context.DeadlineExceeded))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return audio.PCM{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "audio/wav")
	resp, err := e.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return audio.PCM{}, fmt.Errorf("tts: POST %s: %w", e.url, context.Cause(ctx))
		}
		return audio.PCM{}, fmt.Errorf("%w: POST %s: %v", ErrEngine, e.url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxEngineAudio+1))
	if err != nil {
		if ctx.Err() != nil {
			return audio.PCM{}, fmt.Errorf("tts: POST %s: reading audio: %w", e.url, context.Cause(ctx))
		}
		return audio.PCM{}, fmt.Errorf("%w: POST %s: reading answer: %v", ErrEngine, e.url, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnprocessableEntity:
		return audio.PCM{}, fmt.Errorf("%w: %q (voice %q): service says %s", ErrUnknownLanguage, v.Lang, v.Name, snippet(data))
	case resp.StatusCode != http.StatusOK:
		return audio.PCM{}, fmt.Errorf("%w: POST %s: %s: %s", ErrEngine, e.url, resp.Status, snippet(data))
	case len(data) > maxEngineAudio:
		return audio.PCM{}, fmt.Errorf("%w: POST %s: more than %d bytes of audio", ErrEngine, e.url, maxEngineAudio)
	}
	ct, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || (ct != "audio/wav" && ct != "audio/x-wav" && ct != "audio/wave" && ct != "audio/vnd.wave") {
		return audio.PCM{}, fmt.Errorf("%w: POST %s: Content-Type %q, want audio/wav", ErrEngine, e.url, resp.Header.Get("Content-Type"))
	}
	pcm, err := decodeWAV(data)
	if err != nil {
		return audio.PCM{}, fmt.Errorf("%w: POST %s: %v", ErrEngine, e.url, err)
	}
	return toTelephone(pcm, e.peak)
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
