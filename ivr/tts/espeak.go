package tts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Espeak renders with espeak-ng (Debian package espeak-ng): one process per
// text, WAV on its standard output, resampled to 8 kHz and normalised in Go.
type Espeak struct {
	bin     string
	version string
	voices  map[string]string
	rate    int
	pitch   int
	peak    float64
	timeout time.Duration
	slots   chan struct{}
	name    string

	// Test hooks: the process once started, its state once reaped.
	started func(*os.Process)
	exited  func(*os.ProcessState)
}

var _ Engine = (*Espeak)(nil)

// EspeakOption sets an optional parameter of NewEspeak.
type EspeakOption func(*Espeak)

// EspeakBinary runs this program instead of espeak-ng from PATH.
func EspeakBinary(path string) EspeakOption { return func(e *Espeak) { e.bin = path } }

// EspeakVoice speaks lang with an espeak-ng voice (as `espeak-ng -v`), e.g.
// EspeakVoice("en", "en-gb") or a variant "en-us+f3". Defaults: zh → cmn,
// en → en-us. Voice.Name, when set, overrides it for one text.
func EspeakVoice(lang, voice string) EspeakOption {
	return func(e *Espeak) { e.voices[lang] = voice }
}

// EspeakRate sets the speed in words per minute, 80 to 450 (default 160).
func EspeakRate(wpm int) EspeakOption { return func(e *Espeak) { e.rate = wpm } }

// EspeakPitch sets the pitch, 0 to 99 (default 50).
func EspeakPitch(p int) EspeakOption { return func(e *Espeak) { e.pitch = p } }

// EspeakPeak sets the level of the loudest sample in dBFS, -30 to 0 (default DefaultPeak).
func EspeakPeak(dBFS float64) EspeakOption { return func(e *Espeak) { e.peak = dBFS } }

// EspeakTimeout bounds one rendering (default 10 s; ctx may end it sooner).
func EspeakTimeout(d time.Duration) EspeakOption { return func(e *Espeak) { e.timeout = d } }

// EspeakConcurrency bounds how many espeak-ng processes run at once
// (default: the number of CPUs); more renderings wait for a slot.
func EspeakConcurrency(n int) EspeakOption {
	return func(e *Espeak) { e.slots = make(chan struct{}, max(n, 0)) }
}

// espeakAmplitude is espeak-ng's -a: below its default of 100, whose loudest
// syllables clip; normalisation restores the level.
const espeakAmplitude = 60

// maxEngineAudio bounds what an engine may return: more than MaxTextRunes of
// Mandarin at 48 kHz.
const maxEngineAudio = 64 << 20

var voiceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+-]{0,63}$`)

// NewEspeak finds espeak-ng and checks that it runs and has the voice of
// every language; ctx bounds these checks.
func NewEspeak(ctx context.Context, opts ...EspeakOption) (*Espeak, error) {
	e := &Espeak{
		bin: "espeak-ng",
		// Debian's plain cmn voice reads Chinese characters as pinyin spelled
		// out in English; cmn-latn-pinyin speaks them.
		voices:  map[string]string{"zh": "cmn-latn-pinyin", "en": "en-us"},
		rate:    160,
		pitch:   50,
		peak:    DefaultPeak,
		timeout: 10 * time.Second,
		slots:   make(chan struct{}, runtime.NumCPU()),
	}
	for _, o := range opts {
		o(e)
	}
	switch {
	case e.rate < 80 || e.rate > 450:
		return nil, fmt.Errorf("tts: espeak-ng rate %d words per minute, want 80 to 450", e.rate)
	case e.pitch < 0 || e.pitch > 99:
		return nil, fmt.Errorf("tts: espeak-ng pitch %d, want 0 to 99", e.pitch)
	case !validPeak(e.peak):
		return nil, fmt.Errorf("tts: peak %g dBFS, want -30 to 0", e.peak)
	case e.timeout <= 0:
		return nil, errors.New("tts: espeak-ng timeout must be positive")
	case cap(e.slots) < 1:
		return nil, errors.New("tts: espeak-ng concurrency must be at least 1")
	}
	for lang, v := range e.voices {
		if lang == "" || !voiceName.MatchString(v) {
			return nil, fmt.Errorf("tts: espeak-ng voice %q for language %q is not a voice name", v, lang)
		}
	}

	bin, err := exec.LookPath(e.bin)
	if err != nil {
		return nil, fmt.Errorf("%w: %s not found (install the Debian package espeak-ng: apt-get install espeak-ng): %v", ErrMissingTool, e.bin, err)
	}
	e.bin = bin
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%w: %s --version: %v: %s", ErrEngine, bin, err, firstLine(out))
	}
	// "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/..."
	if f := strings.Fields(strings.TrimPrefix(firstLine(out), "eSpeak NG text-to-speech:")); len(f) > 0 {
		e.version = f[0]
	}
	langs := make([]string, 0, len(e.voices))
	for lang := range e.voices {
		langs = append(langs, lang)
	}
	sort.Strings(langs)
	for _, lang := range langs {
		// -q: synthesise nothing; it fails when the voice is not installed.
		if out, err := exec.CommandContext(ctx, bin, "-q", "-v", e.voices[lang], "x").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%w: espeak-ng has no voice %s for language %s (Debian package espeak-ng-data): %v: %s",
				ErrMissingTool, e.voices[lang], lang, err, firstLine(out))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "espeak-ng/%s rate=%d pitch=%d amplitude=%d peak=%g", e.version, e.rate, e.pitch, espeakAmplitude, e.peak)
	for _, lang := range langs {
		fmt.Fprintf(&b, " %s=%s", lang, e.voices[lang])
	}
	e.name = b.String()
	return e, nil
}

// Name is espeak-ng, its version and settings, e.g.
// "espeak-ng/1.51 rate=160 pitch=50 amplitude=60 peak=-3 en=en-us zh=cmn".
func (e *Espeak) Name() string { return e.name }

// Render runs espeak-ng. The process is killed when ctx ends or the timeout
// passes; the error then wraps context.Cause.
func (e *Espeak) Render(ctx context.Context, v Voice, text string) (audio.PCM, error) {
	text, err := checkText(text)
	if err != nil {
		return audio.PCM{}, err
	}
	voice, ok := e.voices[v.Lang]
	if !ok {
		return audio.PCM{}, fmt.Errorf("%w: %q (espeak-ng voices: %s)", ErrUnknownLanguage, v.Lang, e.langList())
	}
	if v.Name != "" {
		if !voiceName.MatchString(v.Name) {
			return audio.PCM{}, fmt.Errorf("%w: %q is not an espeak-ng voice name", ErrEngine, v.Name)
		}
		voice = v.Name
	}

	ctx, cancel := context.WithTimeoutCause(ctx, e.timeout, fmt.Errorf("espeak-ng took longer than %s: %w", e.timeout, context.DeadlineExceeded))
	defer cancel()
	select {
	case e.slots <- struct{}{}:
		defer func() { <-e.slots }()
	case <-ctx.Done():
		return audio.PCM{}, fmt.Errorf("tts: waiting for espeak-ng: %w", context.Cause(ctx))
	}

	// The text is an argument after "--", so one starting with '-' is not
	// taken for an option (MaxTextRunes keeps it far below the kernel's
	// limit). Not standard input: espeak-ng reads a pipe slowly, waiting
	// most of a second for a last line without a newline.
	cmd := exec.CommandContext(ctx, e.bin,
		"-v", voice, "-s", strconv.Itoa(e.rate), "-p", strconv.Itoa(e.pitch),
		"-a", strconv.Itoa(espeakAmplitude), "--stdout", "--", text)
	var stdout limitedBuffer
	stdout.limit = maxEngineAudio
	var stderr limitedBuffer
	stderr.limit = 4 << 10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return audio.PCM{}, fmt.Errorf("tts: espeak-ng not started: %w", context.Cause(ctx))
		}
		return audio.PCM{}, fmt.Errorf("%w: start %s: %v", ErrEngine, e.bin, err)
	}
	if e.started != nil {
		e.started(cmd.Process)
	}
	err = cmd.Wait()
	if e.exited != nil {
		e.exited(cmd.ProcessState)
	}
	if ctx.Err() != nil {
		return audio.PCM{}, fmt.Errorf("tts: espeak-ng stopped: %w", context.Cause(ctx))
	}
	if err != nil {
		return audio.PCM{}, fmt.Errorf("%w: espeak-ng -v %s: %v: %s", ErrEngine, voice, err, firstLine(stderr.Bytes()))
	}
	if stdout.overflow {
		return audio.PCM{}, fmt.Errorf("%w: espeak-ng wrote more than %d bytes", ErrEngine, maxEngineAudio)
	}
	pcm, err := decodeWAV(stdout.Bytes())
	if err != nil {
		return audio.PCM{}, fmt.Errorf("%w: espeak-ng output: %v", ErrEngine, err)
	}
	return toTelephone(pcm, e.peak)
}

func (e *Espeak) langList() string {
	l := make([]string, 0, len(e.voices))
	for lang, v := range e.voices {
		l = append(l, lang+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ", ")
}

// limitedBuffer keeps at most limit bytes and notes whether more came.
type limitedBuffer struct {
	bytes.Buffer
	limit    int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); len(p) > room {
		b.overflow = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
