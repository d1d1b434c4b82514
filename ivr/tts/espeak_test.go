package tts

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Texts of the tests: a greeting in each language.
const (
	textZH = "您好，欢迎致电食品追溯热线。请输入包装上的追溯码，然后按井号键。"
	textEN = "Welcome to the food traceability hotline. Please enter the trace code printed on the package, then press the hash key."
)

// newEspeak is the real espeak-ng engine; the tests need it installed.
func newEspeak(t testing.TB, opts ...EspeakOption) *Espeak {
	t.Helper()
	e, err := NewEspeak(t.Context(), opts...)
	if err != nil {
		t.Fatalf("espeak-ng engine (the tests need the Debian package espeak-ng): %v", err)
	}
	return e
}

func peakOf(p audio.PCM) int {
	m := 0
	for _, v := range p.Samples {
		m = max(m, int(math.Abs(float64(v))))
	}
	return m
}

// wantPeak is the loudest sample of audio normalised to DefaultPeak.
var wantPeak = int(math.Round(32767 * math.Pow(10, DefaultPeak/20)))

func TestEspeakRendersTelephoneAudio(t *testing.T) {
	e := newEspeak(t)
	for _, tc := range []struct {
		name string
		lang string
		text string
	}{
		{"mandarin", "zh", textZH},
		{"english", "en", textEN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := e.Render(t.Context(), Voice{Lang: tc.lang}, tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if p.Rate != audio.Rate {
				t.Fatalf("rate %d, want %d", p.Rate, audio.Rate)
			}
			if d := p.Duration(); d < 4*time.Second || d > 20*time.Second {
				t.Errorf("%s of speech for a sentence of %d characters", d, len([]rune(tc.text)))
			}
			if got := peakOf(p); got != wantPeak {
				t.Errorf("peak sample %d, want %d (%g dBFS)", got, wantPeak, DefaultPeak)
			}
			segs := audio.ActiveSegments(p)
			if len(segs) == 0 || segs[0].Start > 200*time.Millisecond {
				t.Errorf("speech segments %v", segs)
			}
			again, err := e.Render(t.Context(), Voice{Lang: tc.lang}, tc.text)
			if err != nil || !equalPCM(p, again) {
				t.Errorf("a second rendering differs (%v): the engine is not deterministic", err)
			}
		})
	}
}

func equalPCM(a, b audio.PCM) bool {
	if a.Rate != b.Rate || len(a.Samples) != len(b.Samples) {
		return false
	}
	for i := range a.Samples {
		if a.Samples[i] != b.Samples[i] {
			return false
		}
	}
	return true
}

func TestEspeakRefuses(t *testing.T) {
	e := newEspeak(t)
	for _, tc := range []struct {
		name  string
		voice Voice
		text  string
		want  error
	}{
		{"empty text", Voice{Lang: "zh"}, "", ErrEmptyText},
		{"white space", Voice{Lang: "en"}, " \t\n ", ErrEmptyText},
		{"unknown language", Voice{Lang: "fr"}, "Bonjour", ErrUnknownLanguage},
		{"no language", Voice{}, "hello", ErrUnknownLanguage},
		{"too long", Voice{Lang: "zh"}, strings.Repeat("追", MaxTextRunes+1), ErrInvalidText},
		{"not UTF-8", Voice{Lang: "en"}, "caf\xe9", ErrInvalidText},
		{"voice name that is an option", Voice{Lang: "en", Name: "-w/tmp/x"}, "hello", ErrEngine},
		{"voice not installed", Voice{Lang: "en", Name: "xx-nonexistent"}, "hello", ErrEngine},
		{"punctuation only", Voice{Lang: "en"}, "...", ErrNoSpeech},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Render(t.Context(), tc.voice, tc.text)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			t.Logf("%v", err)
		})
	}
}

func TestNewEspeakChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []EspeakOption
		want error  // nil: any error
		says string // part of the message
	}{
		{"binary missing", []EspeakOption{EspeakBinary("/nonexistent/espeak-ng")}, ErrMissingTool, "apt-get install espeak-ng"},
		{"voice not installed", []EspeakOption{EspeakVoice("zh", "xx-nonexistent")}, ErrMissingTool, "no voice xx-nonexistent for language zh"},
		{"voice name not a name", []EspeakOption{EspeakVoice("en", "en;rm")}, nil, "not a voice name"},
		{"rate", []EspeakOption{EspeakRate(20)}, nil, "rate"},
		{"pitch", []EspeakOption{EspeakPitch(100)}, nil, "pitch"},
		{"peak", []EspeakOption{EspeakPeak(3)}, nil, "peak"},
		{"timeout", []EspeakOption{EspeakTimeout(0)}, nil, "timeout"},
		{"concurrency", []EspeakOption{EspeakConcurrency(0)}, nil, "concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEspeak(t.Context(), tc.opts...)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
}

func TestEspeakNameCarriesSettings(t *testing.T) {
	a, b := newEspeak(t), newEspeak(t, EspeakRate(140))
	if !strings.HasPrefix(a.Name(), "espeak-ng/") || a.Name() == b.Name() {
		t.Fatalf("names %q and %q: the rate must show", a.Name(), b.Name())
	}
	c := newEspeak(t, EspeakVoice("en", "en-gb"))
	if c.Name() == a.Name() {
		t.Fatalf("name %q does not show the voices", c.Name())
	}
}

// A text that looks like options is spoken, not obeyed.
func TestEspeakTextLikeOptions(t *testing.T) {
	e := newEspeak(t)
	out := filepath.Join(t.TempDir(), "out.wav")
	p, err := e.Render(t.Context(), Voice{Lang: "en"}, "-w "+out+" minus five degrees")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("espeak-ng took the text for options: %v", err)
	}
	if p.Duration() < time.Second {
		t.Fatalf("%s of speech", p.Duration())
	}
}

func TestEspeakVoiceName(t *testing.T) {
	e := newEspeak(t)
	us, err := e.Render(t.Context(), Voice{Lang: "en"}, textEN)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := e.Render(t.Context(), Voice{Lang: "en", Name: "en-gb"}, textEN)
	if err != nil {
		t.Fatal(err)
	}
	if equalPCM(us, gb) {
		t.Fatal("Voice.Name en-gb renders the same audio as the default en-us")
	}
}

// The process is killed, not left to finish, when the caller's ctx ends.
func TestEspeakCancelKillsProcess(t *testing.T) {
	e := newEspeak(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var pid int
	var state *os.ProcessState
	e.started = func(p *os.Process) {
		pid = p.Pid
		cancel()
	}
	e.exited = func(s *os.ProcessState) { state = s }
	// About five minutes of speech: a second or so of work for espeak-ng.
	text := strings.Repeat("食品追溯热线。", MaxTextRunes/7)
	_, err := e.Render(ctx, Voice{Lang: "zh"}, text)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if pid == 0 || state == nil {
		t.Fatalf("process not seen (pid %d, state %v)", pid, state)
	}
	ws, ok := state.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("espeak-ng ended with %v, want killed by SIGKILL", state)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process %d still exists after Render returned: %v", pid, err)
	}
}

func TestEspeakTimeout(t *testing.T) {
	e := newEspeak(t, EspeakTimeout(time.Millisecond))
	_, err := e.Render(t.Context(), Voice{Lang: "zh"}, strings.Repeat("食品追溯热线。", MaxTextRunes/7))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the deadline", err)
	}
}
