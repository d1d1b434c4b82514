package tts

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Speaker speaks texts for the IVR: it renders them through the cache and
// returns the media URI Asterisk plays (see ivr.Speaker).
type Speaker struct {
	cache *Cache
	base  string
}

// NewSpeaker speaks through cache, handing out URIs on base, ccd's HTTP
// server as Asterisk reaches it (config tts.media_url).
func NewSpeaker(cache *Cache, base string) (*Speaker, error) {
	if cache == nil {
		return nil, errors.New("tts: speaker without a cache")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("tts: media URL %q is not an http(s) URL Asterisk can reach", base)
	}
	return &Speaker{cache: cache, base: strings.TrimRight(base, "/")}, nil
}

// Speak renders text in lang (zh, en) and returns its media URI.
func (s *Speaker) Speak(ctx context.Context, lang, text string) (string, error) {
	key, err := s.cache.Get(ctx, Voice{Lang: lang}, text)
	if err != nil {
		return "", err
	}
	return MediaURI(s.base, key), nil
}
