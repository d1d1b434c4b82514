package tts

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Engine renders text to speech.
type Engine interface {
	// Name identifies the engine and every setting that shapes its output
	// (program version, rate, pitch, level, service URL): the cache keys on
	// it, so a changed setting renders anew instead of serving old audio.
	Name() string
	// Render speaks text with voice and returns telephone audio: 8 kHz mono
	// 16-bit. It stops when ctx ends.
	Render(ctx context.Context, voice Voice, text string) (audio.PCM, error)
}

// Voice selects how a text is spoken.
type Voice struct {
	// Lang is the language of the text: zh (Mandarin) or en (English).
	Lang string
	// Name is an engine-specific voice; empty selects the engine's voice
	// for Lang.
	Name string
}

func (v Voice) String() string {
	if v.Name == "" {
		return v.Lang
	}
	return v.Lang + "/" + v.Name
}

// MaxTextRunes bounds one text: about five minutes of Mandarin, two of
// English, far more than a prompt or a read-out. Longer texts are refused
// with ErrInvalidText rather than tying up an engine.
const MaxTextRunes = 1000

// DefaultPeak is the level rendered audio is normalised to: its loudest
// sample at -3 dBFS, loud on a phone and clear of G.711 clipping.
const DefaultPeak = -3.0

// checkText returns text without surrounding white space, or why it cannot
// be spoken.
func checkText(text string) (string, error) {
	if !utf8.ValidString(text) {
		return "", fmt.Errorf("%w: not UTF-8", ErrInvalidText)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return "", ErrEmptyText
	}
	if n := utf8.RuneCountInString(text); n > MaxTextRunes {
		return "", fmt.Errorf("%w: %d characters, at most %d", ErrInvalidText, n, MaxTextRunes)
	}
	return text, nil
}

// validPeak reports whether a normalisation level in dBFS is sensible.
func validPeak(dBFS float64) bool { return dBFS >= -30 && dBFS <= 0 }

// silentPeak is the peak below which rendered audio counts as silence
// (about -60 dBFS).
const silentPeak = 32

// toTelephone resamples p to 8 kHz and scales it so that its loudest sample
// sits at peakDBFS. Audio with nothing above silentPeak is ErrNoSpeech.
func toTelephone(p audio.PCM, peakDBFS float64) (audio.PCM, error) {
	x := resample(p.Samples, p.Rate, audio.Rate)
	peak := 0.0
	for _, v := range x {
		peak = max(peak, math.Abs(v))
	}
	if peak < silentPeak {
		return audio.PCM{}, ErrNoSpeech
	}
	gain := 32767 * math.Pow(10, peakDBFS/20) / peak
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = int16(max(math.MinInt16, min(math.MaxInt16, math.Round(v*gain))))
	}
	return audio.PCM{Rate: audio.Rate, Samples: out}, nil
}
