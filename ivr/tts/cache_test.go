package tts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// countingEngine counts renderings of the engine it wraps. With hold set,
// each rendering first waits for hold to return (it gets the rendering's ctx).
type countingEngine struct {
	Engine
	renders atomic.Int32
	hold    func(ctx context.Context) error
}

func (c *countingEngine) Render(ctx context.Context, v Voice, text string) (audio.PCM, error) {
	c.renders.Add(1)
	if c.hold != nil {
		if err := c.hold(ctx); err != nil {
			return audio.PCM{}, err
		}
	}
	return c.Engine.Render(ctx, v, text)
}

func newCache(t *testing.T, e Engine, opts ...CacheOption) *Cache {
	t.Helper()
	c, err := NewCache(e, t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waiters is how many callers wait for the rendering of key.
func (c *Cache) waiters(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.flights[key]; f != nil {
		return f.waiters
	}
	return 0
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCacheHitRendersOnce(t *testing.T) {
	e := &countingEngine{Engine: newEspeak(t)}
	c := newCache(t, e)
	ctx := t.Context()
	zh := Voice{Lang: "zh"}

	key, err := c.Get(ctx, zh, textZH)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidKey(key) {
		t.Fatalf("key %q", key)
	}
	for _, text := range []string{textZH, "  " + textZH + "\n"} {
		again, err := c.Get(ctx, zh, text)
		if err != nil || again != key {
			t.Fatalf("Get again: %q %v, want %q", again, err, key)
		}
	}
	if n := e.renders.Load(); n != 1 {
		t.Fatalf("%d renderings for one text, want 1", n)
	}

	// The file is the rendering, as a WAV file.
	path, err := c.Path(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := audio.ReadWAVFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.Engine.Render(ctx, zh, textZH)
	if err != nil {
		t.Fatal(err)
	}
	if !equalPCM(got, want) {
		t.Fatalf("cached %s at %d Hz, rendered %s", got.Duration(), got.Rate, want.Duration())
	}
	if tmp := tempFiles(t, c.dir); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}

	// Anything that changes the audio changes the key.
	other := map[string]string{}
	for name, get := range map[string]func() (string, error){
		"other text":     func() (string, error) { return c.Get(ctx, zh, "请输入追溯码。") },
		"other language": func() (string, error) { return c.Get(ctx, Voice{Lang: "en"}, textZH) },
		"other voice":    func() (string, error) { return c.Get(ctx, Voice{Lang: "en", Name: "en-gb"}, textZH) },
	} {
		k, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if k == key || other[k] != "" {
			t.Errorf("%s has the key of %q", name, other[k])
		}
		other[k] = name
	}
	if n := e.renders.Load(); n != 4 {
		t.Errorf("%d renderings, want 4", n)
	}
	slow := newCache(t, newEspeak(t, EspeakRate(120)))
	if slow.key(zh, textZH) == key {
		t.Error("an engine with other settings has the same key")
	}
}

func TestCacheConcurrentGetRendersOnce(t *testing.T) {
	const callers = 16
	release := make(chan struct{})
	e := &countingEngine{Engine: newEspeak(t), hold: func(ctx context.Context) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}}
	c := newCache(t, e)
	v := Voice{Lang: "en"}
	key := c.key(v, textEN)

	keys := make(chan string, callers)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			k, err := c.Get(t.Context(), v, textEN)
			keys <- k
			errs <- err
		})
	}
	// Every caller waits on the one rendering before it may finish.
	waitFor(t, fmt.Sprintf("%d callers waiting", callers), func() bool { return c.waiters(key) == callers })
	close(release)
	wg.Wait()
	for range callers {
		if k, err := <-keys, <-errs; err != nil || k != key {
			t.Fatalf("Get: %q %v", k, err)
		}
	}
	if n := e.renders.Load(); n != 1 {
		t.Fatalf("%d renderings for %d concurrent callers, want 1", n, callers)
	}
}

func TestCacheCallersLeaving(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	cancelled := make(chan error, 1)
	e := &countingEngine{Engine: newEspeak(t), hold: func(ctx context.Context) error {
		started <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			cancelled <- context.Cause(ctx)
			return context.Cause(ctx)
		}
	}}
	c := newCache(t, e)
	v := Voice{Lang: "zh"}
	key := c.key(v, textZH)

	t.Run("one of two leaves, the other gets the audio", func(t *testing.T) {
		leaving, leave := context.WithCancel(t.Context())
		left := make(chan error, 1)
		go func() {
			_, err := c.Get(leaving, v, textZH)
			left <- err
		}()
		<-started
		stays := make(chan error, 1)
		go func() {
			_, err := c.Get(t.Context(), v, textZH)
			stays <- err
		}()
		waitFor(t, "two callers", func() bool { return c.waiters(key) == 2 })
		leave()
		if err := <-left; !errors.Is(err, context.Canceled) {
			t.Fatalf("the caller that left got %v", err)
		}
		close(release)
		if err := <-stays; err != nil {
			t.Fatalf("the caller that stayed got %v", err)
		}
		select {
		case err := <-cancelled:
			t.Fatalf("the rendering was cancelled (%v) though a caller still waited", err)
		default:
		}
	})

}

func TestCacheLastCallerLeavingCancelsRendering(t *testing.T) {
	started := make(chan struct{})
	cause := make(chan error, 1)
	var first atomic.Bool
	e := &countingEngine{Engine: newEspeak(t), hold: func(ctx context.Context) error {
		if first.Swap(true) {
			return nil // later renderings go through
		}
		close(started)
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return context.Cause(ctx)
	}}
	c := newCache(t, e)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, Voice{Lang: "en"}, textEN)
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get: %v", err)
	}
	if err := <-cause; !errors.Is(err, errNoWaiters) {
		t.Fatalf("rendering cancelled with %v, want %v", err, errNoWaiters)
	}
	if m, _ := filepath.Glob(filepath.Join(c.dir, "*")); len(m) != 0 {
		t.Fatalf("files left: %v", m)
	}
	// The cancelled rendering is forgotten: the next caller starts over.
	if _, err := c.Get(t.Context(), Voice{Lang: "en"}, textEN); err != nil {
		t.Fatal(err)
	}
	if n := e.renders.Load(); n != 2 {
		t.Fatalf("%d renderings, want 2", n)
	}
}

type failingEngine struct{ calls atomic.Int32 }

func (*failingEngine) Name() string { return "failing" }
func (f *failingEngine) Render(context.Context, Voice, string) (audio.PCM, error) {
	f.calls.Add(1)
	return audio.PCM{}, fmt.Errorf("%w: synthesizer down", ErrEngine)
}

func TestCacheFailureNotCached(t *testing.T) {
	e := &failingEngine{}
	c := newCache(t, e)
	for range 2 {
		if _, err := c.Get(t.Context(), Voice{Lang: "zh"}, "您好"); !errors.Is(err, ErrEngine) || !strings.Contains(err.Error(), "synthesizer down") {
			t.Fatalf("Get: %v", err)
		}
	}
	if n := e.calls.Load(); n != 2 {
		t.Fatalf("%d renderings, want one per Get after a failure", n)
	}
	if _, err := c.Get(t.Context(), Voice{Lang: "zh"}, " "); !errors.Is(err, ErrEmptyText) {
		t.Fatalf("empty text: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(c.dir, "*")); len(m) != 0 {
		t.Fatalf("files left: %v", m)
	}
}

func TestPrerender(t *testing.T) {
	e := &countingEngine{Engine: newEspeak(t)}
	c := newCache(t, e)
	texts := []string{"您好，欢迎致电。", "请输入追溯码。", "再见。", "您好，欢迎致电。", "谢谢。"}
	if err := c.Prerender(t.Context(), Voice{Lang: "zh"}, texts); err != nil {
		t.Fatal(err)
	}
	if n := e.renders.Load(); n != 4 {
		t.Fatalf("%d renderings for 4 distinct texts", n)
	}
	if err := c.Prerender(t.Context(), Voice{Lang: "zh"}, texts); err != nil || e.renders.Load() != 4 {
		t.Fatalf("second Prerender: %v, %d renderings in all", err, e.renders.Load())
	}
	err := c.Prerender(t.Context(), Voice{Lang: "zh"}, []string{"再见。", "", "。。。"})
	if !errors.Is(err, ErrEmptyText) || !errors.Is(err, ErrNoSpeech) || !strings.Contains(err.Error(), `prompt "。。。"`) {
		t.Fatalf("Prerender with bad texts: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Prerender(ctx, Voice{Lang: "zh"}, []string{"新的提示。"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Prerender: %v", err)
	}
}

func TestNewCacheRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".crashed.123.tmp")
	fresh := filepath.Join(dir, ".writing.456.tmp")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("RIFF"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	if _, err := NewCache(&failingEngine{}, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a file being written was removed: %v", err)
	}
}

func TestPrune(t *testing.T) {
	c := newCache(t, newEspeak(t))
	now := time.Now()
	c.now = func() time.Time { return now }
	v := Voice{Lang: "en"}
	oldKey, err := c.Get(t.Context(), v, "old prompt")
	if err != nil {
		t.Fatal(err)
	}
	usedKey, err := c.Get(t.Context(), v, "used prompt")
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := c.Get(t.Context(), v, "new prompt")
	if err != nil {
		t.Fatal(err)
	}
	longAgo := now.Add(-72 * time.Hour)
	for _, k := range []string{oldKey, usedKey} {
		os.Chtimes(c.path(k), longAgo, longAgo)
	}
	other := filepath.Join(c.dir, "notes.txt")
	os.WriteFile(other, nil, 0o644)
	os.Chtimes(other, longAgo, longAgo)
	// A hit counts as a use.
	if _, err := c.Get(t.Context(), v, "used prompt"); err != nil {
		t.Fatal(err)
	}

	if _, err := c.Prune(time.Hour); err == nil {
		t.Fatal("Prune with a horizon shorter than the touch interval accepted")
	}
	n, err := c.Prune(48 * time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Prune: %d %v, want 1 removed", n, err)
	}
	for k, want := range map[string]bool{oldKey: false, usedKey: true, newKey: true} {
		if _, err := os.Stat(c.path(k)); (err == nil) != want {
			t.Errorf("%s present=%v, want %v", k, err == nil, want)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not a cache file was removed: %v", err)
	}
}
